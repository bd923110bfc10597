/* Parsing of the Authorization header exactly as authentik's validate_auth (docs/api.md §3):
 * strip, require a space, split at the first space, scheme "bearer" case-insensitively, the
 * credential untrimmed. No I/O; the lookup of the credential is the store's. */
#ifndef TK_DOMAIN_AUTH_H
#define TK_DOMAIN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/token_settings.h"

enum tk_auth_kind {
    TK_AUTH_NONE,        /* no credentials: "Authentication credentials were not provided." */
    TK_AUTH_UNSUPPORTED, /* another scheme: "Unsupported authentication type" */
    TK_AUTH_MALFORMED,   /* bytes that are not UTF-8 (authentik crashes; we answer 400) */
    TK_AUTH_BEARER,      /* *cred, *cred_len: the credential to look up */
};

/* header may be NULL (absent). The credential points into header. */
enum tk_auth_kind tk_auth_parse(const char *header, size_t len, const char **cred,
                                size_t *cred_len);

/* Who a request is, once its credential was looked up (the store answers it), with what the
 * token allows (docs/api.md §19.2, §19.3). */
struct tk_principal {
    int64_t user_id;
    bool is_superuser;
    bool is_service; /* the owner is a service account (internal or not) */
    int64_t token_id;
    bool scoped;         /* the token's scopes are a list: only these of tokend's scopes apply */
    unsigned scopes;     /* enum tk_scope bits, when scoped */
    bool has_networks;   /* allowed_networks is a list (checked at each authentication) */
    bool has_uses;       /* uses_remaining is set: each use takes one, in the store */
    struct tk_rate rate; /* n 0: no rate limit */
};

#endif
