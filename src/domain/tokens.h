/* The token entity (docs/api.md §5) and the token rules that need no I/O: intents, and turning
 * a plaintext key into what the store keeps (keyed hash + sealed copy, docs/api.md §17.5). */
#ifndef TK_DOMAIN_TOKENS_H
#define TK_DOMAIN_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/keys.h"
#include "domain/token_settings.h"
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
    /* tokend's settings (docs/api.md §19): NULL lists are null; a token of view mode never is
     * stored without its sealed copy */
    const char *scopes, *allowed_networks;
    enum tk_view_mode view_key;
};

/* tokend's settings of a token (docs/api.md §19.1). Lists are kept as the store keeps them:
 * NULL for null, "" for [], else the items joined by single spaces (scopes sorted byte-wise,
 * networks canonical in input order). */
struct tk_token_settings {
    const char *scopes;
    const char *allowed_networks;
    const char *rate_limit; /* canonical (tk_rate_format) or NULL */
    bool has_uses;
    int64_t uses_remaining;
    enum tk_view_mode view_key;
    bool revoke_on_reuse;
};

/* A token as /api/v3/tokend/tokens/ shows it (docs/api.md §19.1). */
struct tk_tokend_token {
    int64_t id;
    const char *identifier, *intent;
    int64_t user_id;
    bool has_expires, expiring;
    int64_t expires;
    struct tk_token_settings s;
    bool has_last_used;
    int64_t last_used;
    const char *last_used_ip; /* NULL: never used */
    int64_t use_count;
    bool has_previous_until; /* a rotated-out key still in its grace window */
    int64_t previous_until;
};

/* True for api, app_password, recovery, verification. */
bool tk_intent_valid(const char *s, size_t len);

/* Mints a token's key, the one way every token gets one (API and command-line creates, service
 * accounts, the bootstrap token, set_key, the sweeper's rotation): key (key_len bytes) when
 * given, else a fresh one of key_length characters from the CSPRNG; its keyed hash and its
 * sealed copy, bound to t->uuid, go into t (tk_token_set_key). sealed is initialised here and
 * holds the sealed copy: tk_buf_free it once the store has taken t. key_out (NULL, or
 * TK_KEY_LENGTH_MAX + 1 bytes) receives a generated key for the one answer that shows it; no
 * other copy is left behind. */
int tk_token_mint(const struct tk_secret *s, unsigned key_length, const char *key, size_t key_len,
                  struct tk_token_new *t, struct tk_buf *sealed, char *key_out) TK_MUST_USE;

/* Fills t->key_hash and t->key_sealed (pointing into sealed, which the caller frees) for key,
 * bound to t->uuid: a key already known (tk_token_mint; re-sealing under a new secret). */
int tk_token_set_key(const struct tk_secret *s, struct tk_token_new *t, const char *key, size_t len,
                     struct tk_buf *sealed) TK_MUST_USE;

#endif
