/* Per-thread principal cache (principal_cache.h). */
#include "api/principal_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client_addr.h"
#include "util/tls.h"

#define PRINCIPAL_SLOTS 256 /* direct-mapped by the hash's first bytes: ~40 KB per thread */

struct entry {
    struct tk_store_snapshot snap; /* version 0: empty */
    uint8_t hash[TK_KEY_HASH_BYTES];
    struct tk_principal who;
    int64_t valid_until;
    char ip[TK_IP_TEXT_MAX]; /* who.has_networks: the address it was admitted from */
};

static struct tk_tls tables = TK_TLS_INIT(PRINCIPAL_SLOTS * sizeof(struct entry), free);

static struct entry *slot(struct entry *t, const uint8_t hash[TK_KEY_HASH_BYTES])
{
    return &t[tk_key_hash_slot(hash, PRINCIPAL_SLOTS)];
}

bool tk_principal_cache_get(const struct tk_store_snapshot *s,
                            const uint8_t hash[TK_KEY_HASH_BYTES], int64_t now, const char *ip,
                            struct tk_principal *out)
{
    struct entry *t = s->version ? tk_tls_get(&tables, false) : NULL;
    if (t == NULL)
        return false;
    struct entry *e = slot(t, hash);
    if (e->snap.version != s->version || e->snap.conn != s->conn ||
        memcmp(e->hash, hash, TK_KEY_HASH_BYTES) != 0 || now > e->valid_until)
        return false;
    if (e->who.has_networks && strcmp(e->ip, ip ? ip : "") != 0)
        return false;
    *out = e->who;
    return true;
}

void tk_principal_cache_put(const struct tk_store_snapshot *s,
                            const uint8_t hash[TK_KEY_HASH_BYTES], const struct tk_principal *p,
                            int64_t valid_until, const char *ip)
{
    struct entry *t = s->version ? tk_tls_get(&tables, true) : NULL;
    if (t == NULL)
        return;
    struct entry *e = slot(t, hash);
    e->snap = *s;
    memcpy(e->hash, hash, TK_KEY_HASH_BYTES);
    e->who = *p;
    e->valid_until = valid_until;
    snprintf(e->ip, sizeof(e->ip), "%s", p->has_networks && ip ? ip : "");
}
