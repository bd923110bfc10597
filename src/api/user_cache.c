/* Per-thread cache of rendered users (user_cache.h). */
#include "api/user_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/tls.h"

/* Direct-mapped by (id, rendering): 2048 entries of ~1.7 KB at most, a few MB per thread. */
#define USER_CACHE_SLOTS 2048 /* checksrc: allow a cache's size, tuned with it (bench) */

struct entry {
    int64_t id;
    enum tk_rendering r;
    struct tk_store_snapshot snap; /* version 0: empty */
    char *json;
    size_t len;
};

static void table_free(void *p)
{
    struct entry *t = p;
    for (size_t i = 0; i < USER_CACHE_SLOTS; i++)
        free(t[i].json);
    free(t);
}

static struct tk_tls tables = TK_TLS_INIT(USER_CACHE_SLOTS * sizeof(struct entry), table_free);

static struct entry *slot(struct entry *t, int64_t id, enum tk_rendering r)
{
    return &t[((uint64_t)id * TK_RENDERINGS + (unsigned)r) % USER_CACHE_SLOTS];
}

const char *tk_user_cache_get(const struct tk_store_snapshot *s, int64_t id, enum tk_rendering r,
                              size_t *len)
{
    struct entry *t = s->version ? tk_tls_get(&tables, false) : NULL;
    if (t == NULL)
        return NULL;
    struct entry *e = slot(t, id, r);
    if (e->json == NULL || e->id != id || e->r != r || e->snap.conn != s->conn ||
        e->snap.version != s->version)
        return NULL;
    *len = e->len;
    return e->json;
}

void tk_user_cache_put(const struct tk_store_snapshot *s, int64_t id, enum tk_rendering r,
                       const char *json, size_t len)
{
    struct entry *t = s->version ? tk_tls_get(&tables, true) : NULL;
    if (t == NULL)
        return;
    struct entry *e = slot(t, id, r);
    char *copy = e->json != NULL && e->len >= len ? e->json : tk_malloc(len + 1);
    if (copy == NULL)
        return;
    memcpy(copy, json, len);
    copy[len] = '\0';
    if (copy != e->json)
        free(e->json);
    *e = (struct entry){.id = id, .r = r, .snap = *s, .json = copy, .len = len};
}
