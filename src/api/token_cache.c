/* Per-thread caches of token rows: by identifier, and whole list pages by query
 * (token_cache.h). */
#include "api/token_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/hash.h"
#include "util/tls.h"

/* Direct-mapped: 1024 rows by identifier, 64 pages; under a MB and a half per thread. */
#define ROW_SLOTS 1024 /* checksrc: allow a cache's size, tuned with it (bench) */
#define PAGE_SLOTS 64

/* Rows kept under a key, the key and every string in one block. */
struct entry {
    struct tk_store_snapshot snap; /* version 0: empty */
    int64_t owner_id, count;
    const char *key; /* key_len bytes */
    size_t key_len;
    struct tk_token *rows; /* n, their strings in the block */
    size_t n;
    char *block;
    size_t cap;
};

static void table_free(struct entry *t, size_t slots)
{
    for (size_t i = 0; i < slots; i++)
        free(t[i].block);
    free(t);
}

static void rows_free(void *p)
{
    table_free(p, ROW_SLOTS);
}

static void pages_free(void *p)
{
    table_free(p, PAGE_SLOTS);
}

static struct tk_tls row_tables = TK_TLS_INIT(ROW_SLOTS * sizeof(struct entry), rows_free);
static struct tk_tls page_tables = TK_TLS_INIT(PAGE_SLOTS * sizeof(struct entry), pages_free);

static size_t text_len(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static char *put_text(char **p, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t len = strlen(s) + 1;
    char *at = memcpy(*p, s, len);
    *p += len;
    return at;
}

/* Keeps rows[0..n) under (key, owner_id) with count for snapshot s in e. */
static void fill(struct entry *e, const struct tk_store_snapshot *s, const char *key,
                 size_t key_len, int64_t owner_id, int64_t count, const struct tk_token *rows,
                 size_t n)
{
    size_t need = n * sizeof(struct tk_token) + key_len;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].identifier == NULL || rows[i].intent == NULL || rows[i].description == NULL)
            return; /* not a whole row: the slot keeps what it has */
        need += text_len(rows[i].identifier) + text_len(rows[i].intent) +
                text_len(rows[i].description) + text_len(rows[i].managed);
    }
    if (need > e->cap) {
        char *block = tk_malloc(need);
        if (block == NULL)
            return; /* the slot keeps what it has */
        free(e->block);
        e->block = block;
        e->cap = need;
    }
    e->rows = (struct tk_token *)(void *)e->block; /* the block is malloc's: aligned for it */
    char *p = e->block + n * sizeof(struct tk_token);
    e->key = memcpy(p, key, key_len);
    p += key_len;
    for (size_t i = 0; i < n; i++) {
        struct tk_token *r = &e->rows[i];
        *r = rows[i];
        r->user = NULL;
        r->identifier = put_text(&p, rows[i].identifier);
        r->intent = put_text(&p, rows[i].intent);
        r->description = put_text(&p, rows[i].description);
        r->managed = put_text(&p, rows[i].managed);
    }
    e->key_len = key_len;
    e->owner_id = owner_id;
    e->count = count;
    e->n = n;
    e->snap = *s;
}

static bool holds(const struct entry *e, const struct tk_store_snapshot *s, const char *key,
                  size_t key_len, int64_t owner_id)
{
    return e->block != NULL && e->snap.version == s->version && e->snap.conn == s->conn &&
           e->owner_id == owner_id && e->key_len == key_len && memcmp(e->key, key, key_len) == 0;
}

/* e's rows copied into the arena; NULL when memory is short. */
static struct tk_token *copy_out(const struct entry *e, struct tk_arena *a)
{
    struct tk_token *out = tk_arena_calloc(a, e->n ? e->n : 1, sizeof(*out));
    for (size_t i = 0; out != NULL && i < e->n; i++) {
        const struct tk_token *r = &e->rows[i];
        out[i] = *r;
        out[i].identifier = tk_arena_strdup(a, r->identifier);
        out[i].intent = tk_arena_strdup(a, r->intent);
        out[i].description = tk_arena_strdup(a, r->description);
        out[i].managed = r->managed ? tk_arena_strdup(a, r->managed) : NULL;
        if (!out[i].identifier || !out[i].intent || !out[i].description ||
            (r->managed && !out[i].managed))
            return NULL;
    }
    return out;
}

bool tk_token_cache_get(const struct tk_store_snapshot *s, const char *identifier,
                        struct tk_arena *a, struct tk_token *out)
{
    struct entry *t = s->version ? tk_tls_get(&row_tables, false) : NULL;
    if (t == NULL)
        return false;
    size_t len = strlen(identifier);
    struct entry *e = &t[tk_fnv1a(identifier, len) % ROW_SLOTS];
    if (!holds(e, s, identifier, len, 0) || e->n != 1)
        return false;
    struct tk_token *row = copy_out(e, a);
    if (row == NULL)
        return false;
    *out = row[0];
    return true;
}

void tk_token_cache_put(const struct tk_store_snapshot *s, const struct tk_token *t)
{
    struct entry *tab = s->version ? tk_tls_get(&row_tables, true) : NULL;
    if (tab == NULL || t->identifier == NULL)
        return;
    size_t len = strlen(t->identifier);
    fill(&tab[tk_fnv1a(t->identifier, len) % ROW_SLOTS], s, t->identifier, len, 0, 1, t, 1);
}

static struct entry *page_slot(struct entry *t, int64_t owner_id, const char *query, size_t len)
{
    uint32_t h = tk_fnv1a(query, len) ^ (uint32_t)owner_id * TK_FNV1A_PRIME;
    return &t[h % PAGE_SLOTS];
}

bool tk_token_cache_page_get(const struct tk_store_snapshot *s, int64_t owner_id, const char *query,
                             size_t len, struct tk_arena *a, int64_t *count,
                             struct tk_token **tokens, size_t *n)
{
    struct entry *t = s->version ? tk_tls_get(&page_tables, false) : NULL;
    if (t == NULL)
        return false;
    struct entry *e = page_slot(t, owner_id, query, len);
    if (!holds(e, s, query, len, owner_id) || (*tokens = copy_out(e, a)) == NULL)
        return false;
    *count = e->count;
    *n = e->n;
    return true;
}

void tk_token_cache_page_put(const struct tk_store_snapshot *s, int64_t owner_id, const char *query,
                             size_t len, int64_t count, const struct tk_token *tokens, size_t n)
{
    if (n > TK_MAX_CACHED_PAGE_ROWS || len > TK_MAX_CACHED_QUERY_BYTES)
        return;
    struct entry *t = s->version ? tk_tls_get(&page_tables, true) : NULL;
    if (t != NULL)
        fill(page_slot(t, owner_id, query, len), s, query, len, owner_id, count, tokens, n);
}
