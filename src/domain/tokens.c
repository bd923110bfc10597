/* Token rules without I/O (tokens.h): intents, and minting a key into what the store keeps. */
#include "domain/tokens.h"

#include <string.h>

#include <sodium.h>

#include "util/limits.h"

bool tk_intent_valid(const char *s, size_t len)
{
    static const char *const intents[] = {"api", "app_password", "recovery", "verification"};
    for (size_t i = 0; i < sizeof(intents) / sizeof(intents[0]); i++)
        if (strlen(intents[i]) == len && memcmp(intents[i], s, len) == 0)
            return true;
    return false;
}

int tk_token_mint(const struct tk_secret *s, unsigned key_length, const char *key, size_t key_len,
                  struct tk_token_new *t, struct tk_buf *sealed, char *key_out)
{
    char fresh[TK_KEY_LENGTH_MAX + 1];
    tk_buf_init(sealed, TK_SEALED_KEY_MAX_BYTES);
    if (key == NULL) {
        if (key_length > TK_KEY_LENGTH_MAX)
            return TK_ERR_INVALID;
        tk_key_generate(fresh, key_length);
        key = fresh;
        key_len = key_length;
    }
    int rc = tk_token_set_key(s, t, key, key_len, sealed);
    if (rc == 0 && key_out != NULL && key == fresh)
        memcpy(key_out, fresh, key_len + 1);
    sodium_memzero(fresh, sizeof(fresh));
    return rc;
}

int tk_token_set_key(const struct tk_secret *s, struct tk_token_new *t, const char *key, size_t len,
                     struct tk_buf *sealed)
{
    tk_key_hash(s, key, len, t->key_hash);
    tk_buf_reset(sealed);
    int rc = tk_key_seal(s, t->uuid, key, len, sealed);
    if (rc)
        return rc;
    t->key_sealed = sealed->data;
    t->key_sealed_len = sealed->len;
    return 0;
}
