/* Per-thread cache of token rows (token_cache.h). */
#include "api/token_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/hash.h"
#include "util/tls.h"

/* Direct-mapped by identifier: 1024 rows of a few hundred bytes, under a MB per thread. */
#define TOKEN_CACHE_SLOTS 1024 /* checksrc: allow a cache's size, tuned with it (bench) */

struct entry {
    struct tk_store_snapshot snap; /* version 0: empty */
    struct tk_token t;             /* its strings point into text */
    char *text;                    /* identifier, intent, description, managed: one block */
    size_t cap;
};

static void table_free(void *p)
{
    struct entry *t = p;
    for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++)
        free(t[i].text);
    free(t);
}

static struct tk_tls tables = TK_TLS_INIT(TOKEN_CACHE_SLOTS * sizeof(struct entry), table_free);

static struct entry *slot(struct entry *t, const char *identifier)
{
    return &t[tk_fnv1a_str(identifier) % TOKEN_CACHE_SLOTS];
}

bool tk_token_cache_get(const struct tk_store_snapshot *s, const char *identifier,
                        struct tk_arena *a, struct tk_token *out)
{
    struct entry *t = s->version ? tk_tls_get(&tables, false) : NULL;
    if (t == NULL)
        return false;
    struct entry *e = slot(t, identifier);
    if (e->snap.version != s->version || e->snap.conn != s->conn || e->text == NULL ||
        strcmp(e->t.identifier, identifier) != 0)
        return false;
    *out = e->t;
    out->identifier = tk_arena_strdup(a, e->t.identifier);
    out->intent = tk_arena_strdup(a, e->t.intent);
    out->description = tk_arena_strdup(a, e->t.description);
    out->managed = e->t.managed ? tk_arena_strdup(a, e->t.managed) : NULL;
    return out->identifier && out->intent && out->description &&
           (e->t.managed == NULL || out->managed != NULL);
}

void tk_token_cache_put(const struct tk_store_snapshot *s, const struct tk_token *t)
{
    struct entry *tab = s->version ? tk_tls_get(&tables, true) : NULL;
    if (tab == NULL || t->identifier == NULL || t->intent == NULL || t->description == NULL)
        return;
    struct entry *e = slot(tab, t->identifier);
    size_t li = strlen(t->identifier) + 1, ln = strlen(t->intent) + 1;
    size_t ld = strlen(t->description) + 1, lm = t->managed ? strlen(t->managed) + 1 : 0;
    size_t need = li + ln + ld + lm;
    if (need > e->cap) {
        char *text = tk_malloc(need);
        if (text == NULL) {
            e->snap.version = 0; /* the slot's old row is no longer whole */
            return;
        }
        free(e->text);
        e->text = text;
        e->cap = need;
    }
    char *p = e->text;
    e->t = *t;
    e->t.user = NULL;
    e->t.identifier = memcpy(p, t->identifier, li);
    e->t.intent = memcpy(p += li, t->intent, ln);
    e->t.description = memcpy(p += ln, t->description, ld);
    e->t.managed = t->managed ? memcpy(p + ld, t->managed, lm) : NULL;
    e->snap = *s;
}
