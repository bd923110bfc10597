/* Standard Webhooks signing (docs/api.md §21.4): the whsec_ secrets of receivers and the
 * webhook-signature of a message. Secrets are wiped after use by the callers that hold them.
 * Thread-safe after tk_crypto_init(). */
#ifndef TK_CRYPTO_WEBHOOK_SIGN_H
#define TK_CRYPTO_WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/limits.h"

#define TK_WEBHOOK_SIG_MAX 64 /* "v1," and base64 of 32 bytes, NUL included */

/* A fresh secret: "whsec_" and the base64 (with padding) of TK_WEBHOOK_SECRET_BYTES random
 * bytes, NUL-terminated. */
void tk_webhook_secret_new(char out[TK_WEBHOOK_SECRET_TEXT_MAX]);

/* The webhook-signature header of a message: "v1," and the base64 of HMAC-SHA256, keyed with
 * the bytes the secret's base64 (after "whsec_") decodes to, over "<msg_id>.<timestamp>.<body>".
 * TK_ERR_INVALID when the secret is not of that form. */
int tk_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const char *body,
                    size_t body_len, char out[TK_WEBHOOK_SIG_MAX]) TK_MUST_USE;

#endif
