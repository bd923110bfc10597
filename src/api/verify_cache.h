/* What verification and introspection answered for a key, kept per thread for one store
 * snapshot (the principal cache's rule, principal_cache.h): a key seen in the same snapshot is
 * answered from memory, with no statement. Only the keyed hash of a key is kept. An entry of a
 * token with allowed_networks holds the address it was checked against and serves that address
 * only. */
#ifndef TK_API_VERIFY_CACHE_H
#define TK_API_VERIFY_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "store/store.h"
#include "util/limits.h"

/* An active key's answer: the principal and everything the 200 shows. */
struct tk_verified {
    struct tk_principal who;
    int64_t valid_until;
    char ip[48]; /* who.has_networks: the address checked ("" for none) */
    uint16_t body_len;
    char body[TK_VERIFIED_BODY_MAX]; /* {"active":true,...} */
    /* NUL-terminated strings at these offsets into text: identifier, intent, username, scopes
     * (TK_VERIFIED_NULL: scopes is null) */
    uint16_t off[4];
    char text[TK_VERIFIED_TEXT_MAX];
    /* an answer too large for the arrays above (many long scopes) is never cached: its body and
     * text live in the request's arena instead (NULL: the arrays hold them) */
    const char *big_body, *big_text;
    size_t big_body_len;
};
#define TK_VERIFIED_NULL 0xffff
enum { TK_VF_IDENTIFIER, TK_VF_INTENT, TK_VF_USERNAME, TK_VF_SCOPES };
/* The string f of v, NULL for null scopes. */
static inline const char *tk_verified_str(const struct tk_verified *v, int f)
{
    const char *text = v->big_text ? v->big_text : v->text;
    return v->off[f] == TK_VERIFIED_NULL ? NULL : text + v->off[f];
}

/* The entry for hash and ip in snapshot s at now, or NULL: valid until this thread's next put. */
const struct tk_verified *tk_verify_cache_get(const struct tk_store_snapshot *s,
                                              const uint8_t hash[TK_KEY_HASH_BYTES], int64_t now,
                                              const char *ip);
void tk_verify_cache_put(const struct tk_store_snapshot *s, const uint8_t hash[TK_KEY_HASH_BYTES],
                         const struct tk_verified *v);

#endif
