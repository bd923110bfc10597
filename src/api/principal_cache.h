/* Who a key hash authenticates as, kept per thread for one store snapshot (tk_store_snapshot),
 * so that a request whose key was seen in the same snapshot costs no store lookup at all. Any
 * commit anywhere (a revoked or deleted token, a deactivated user, a group change) retires
 * every entry; expiry is checked against the clock on every use. Only the keyed hash of a key
 * is kept, never the key. Failures are never kept (throttling deals with guessing). */
#ifndef TK_API_PRINCIPAL_CACHE_H
#define TK_API_PRINCIPAL_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "store/store.h"

/* A principal whose token has allowed_networks was admitted from one client address: it is
 * kept with that address (ip) and found only for the same one. */
bool tk_principal_cache_get(const struct tk_store_snapshot *s,
                            const uint8_t hash[TK_KEY_HASH_BYTES], int64_t now, const char *ip,
                            struct tk_principal *out);
void tk_principal_cache_put(const struct tk_store_snapshot *s,
                            const uint8_t hash[TK_KEY_HASH_BYTES], const struct tk_principal *p,
                            int64_t valid_until, const char *ip);

#endif
