/* Per-thread cache of verification answers (verify_cache.h). */
#include "api/verify_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/tls.h"

#define VERIFY_SLOTS 256 /* direct-mapped by the hash's first bytes: ~600 KB per thread */

struct entry {
    struct tk_store_snapshot snap; /* version 0: empty */
    uint8_t hash[TK_KEY_HASH_BYTES];
    struct tk_verified v;
};

static struct tk_tls tables = TK_TLS_INIT(VERIFY_SLOTS * sizeof(struct entry), free);

static struct entry *slot(struct entry *t, const uint8_t hash[TK_KEY_HASH_BYTES])
{
    return &t[tk_key_hash_slot(hash, VERIFY_SLOTS)];
}

const struct tk_verified *tk_verify_cache_get(const struct tk_store_snapshot *s,
                                              const uint8_t hash[TK_KEY_HASH_BYTES], int64_t now,
                                              const char *ip)
{
    struct entry *t = s->version ? tk_tls_get(&tables, false) : NULL;
    if (t == NULL)
        return NULL;
    struct entry *e = slot(t, hash);
    if (e->snap.version != s->version || e->snap.conn != s->conn ||
        memcmp(e->hash, hash, TK_KEY_HASH_BYTES) != 0 || now > e->v.valid_until)
        return NULL;
    if (e->v.who.has_networks && strcmp(e->v.ip, ip ? ip : "") != 0)
        return NULL;
    return &e->v;
}

void tk_verify_cache_put(const struct tk_store_snapshot *s, const uint8_t hash[TK_KEY_HASH_BYTES],
                         const struct tk_verified *v)
{
    struct entry *t = s->version ? tk_tls_get(&tables, true) : NULL;
    if (t == NULL)
        return;
    struct entry *e = slot(t, hash);
    e->snap = *s;
    memcpy(e->hash, hash, TK_KEY_HASH_BYTES);
    e->v = *v;
}
