/* Per-thread cache of rendered users (user_cache.h). */
#include "api/user_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* Direct-mapped by (id, groups): 2048 entries of ~1.7 KB at most, a few MB per thread. */
#define USER_CACHE_SLOTS 2048

struct entry {
    int64_t id;
    bool groups;
    struct tk_store_snapshot snap; /* version 0: empty */
    char *json;
    size_t len;
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool key_ok;

static void table_free(void *p)
{
    struct entry *t = p;
    for (size_t i = 0; i < USER_CACHE_SLOTS; i++)
        free(t[i].json);
    free(t);
}

static void key_init(void)
{
    key_ok = pthread_key_create(&key, table_free) == 0;
}

static struct entry *table(bool create)
{
    pthread_once(&once, key_init);
    if (!key_ok)
        return NULL;
    struct entry *t = pthread_getspecific(key);
    if (t == NULL && create) {
        t = tk_calloc(USER_CACHE_SLOTS, sizeof(*t));
        if (t != NULL && pthread_setspecific(key, t) != 0) {
            free(t);
            t = NULL;
        }
    }
    return t;
}

static struct entry *slot(struct entry *t, int64_t id, bool groups)
{
    return &t[((uint64_t)id * 2 + (groups ? 1 : 0)) % USER_CACHE_SLOTS];
}

const char *tk_user_cache_get(const struct tk_store_snapshot *s, int64_t id, bool groups,
                              size_t *len)
{
    struct entry *t = s->version ? table(false) : NULL;
    if (t == NULL)
        return NULL;
    struct entry *e = slot(t, id, groups);
    if (e->json == NULL || e->id != id || e->groups != groups || e->snap.conn != s->conn ||
        e->snap.version != s->version)
        return NULL;
    *len = e->len;
    return e->json;
}

void tk_user_cache_put(const struct tk_store_snapshot *s, int64_t id, bool groups, const char *json,
                       size_t len)
{
    struct entry *t = s->version ? table(true) : NULL;
    if (t == NULL)
        return;
    struct entry *e = slot(t, id, groups);
    char *copy = e->json != NULL && e->len >= len ? e->json : tk_malloc(len + 1);
    if (copy == NULL)
        return;
    memcpy(copy, json, len);
    copy[len] = '\0';
    if (copy != e->json)
        free(e->json);
    *e = (struct entry){.id = id, .groups = groups, .snap = *s, .json = copy, .len = len};
}
