/* The token entity (docs/api.md §5) and the token rules that need no I/O: intents, and turning
 * a plaintext key into what the store keeps (keyed hash + sealed copy, API.md §17.5). */
#ifndef TK_DOMAIN_TOKENS_H
#define TK_DOMAIN_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/keys.h"
#include "domain/user.h"
#include "util/buf.h"

struct tk_token {
    int64_t id;
    char uuid[37];
    const char *managed; /* NULL when not managed */
    const char *identifier;
    const char *intent;
    int64_t user_id;
    const char *description;
    bool has_expires;
    int64_t expires;
    bool expiring;
    struct tk_user *user; /* filled by list/get */
};

struct tk_token_new {
    const char *uuid;
    const char *identifier, *intent, *description, *managed;
    int64_t user_id;
    bool has_expires;
    int64_t expires;
    bool expiring;
    uint8_t key_hash[TK_KEY_HASH_BYTES];
    const void *key_sealed;
    size_t key_sealed_len;
};

/* True for api, app_password, recovery, verification. */
bool tk_intent_valid(const char *s, size_t len);

/* Fills t->key_hash and t->key_sealed (pointing into sealed, which the caller frees) for key,
 * bound to t->uuid. */
int tk_token_set_key(const struct tk_secret *s, struct tk_token_new *t, const char *key, size_t len,
                     struct tk_buf *sealed) TK_MUST_USE;

#endif
