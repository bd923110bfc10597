/* Standard Webhooks signing (webhook_sign.h). */
#include "crypto/webhook_sign.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PREFIX "whsec_"

void tk_webhook_secret_new(char out[TK_WEBHOOK_SECRET_TEXT_MAX])
{
    uint8_t raw[TK_WEBHOOK_SECRET_BYTES];
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, PREFIX, strlen(PREFIX));
    sodium_bin2base64(out + strlen(PREFIX), TK_WEBHOOK_SECRET_TEXT_MAX - strlen(PREFIX), raw,
                      sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof(raw));
}

int tk_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
                    size_t body_len, char out[TK_WEBHOOK_SIG_MAX])
{
    if (strncmp(secret, PREFIX, strlen(PREFIX)) != 0)
        return TK_ERR_INVALID;
    const char *b64 = secret + strlen(PREFIX);
    uint8_t key[TK_WEBHOOK_SECRET_TEXT_MAX];
    size_t key_len = 0;
    if (sodium_base642bin(key, sizeof(key), b64, strlen(b64), NULL, &key_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        key_len == 0) {
        sodium_memzero(key, sizeof(key));
        return TK_ERR_INVALID;
    }
    char ts[24];
    int ts_len = snprintf(ts, sizeof(ts), "%" PRId64, timestamp);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, (size_t)ts_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, body_len);
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(key, sizeof(key));
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, TK_WEBHOOK_SIG_MAX - 3, mac, sizeof(mac),
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}
