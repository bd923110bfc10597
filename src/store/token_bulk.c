/* Loading many new tokens at once (store.h, tk_store_token_bulk_*), for tokend seed (issue 17):
 * rows exactly as tk_store_token_insert writes them, many per statement (PostgreSQL: COPY), in
 * one transaction; on SQLite the work of the tokens triggers (FTS5 index, token count) is done
 * once at the end instead of once per row. Not for requests: it holds the write transaction for
 * the whole load. */
#include "store/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* The triggers of migrations 0002 and 0003 (SQLite) that a load suspends. They are dropped
 * inside the load's transaction and created again from the very text sqlite_master held, so the
 * schema is the migrations' afterwards (or, on a rollback, was never changed). */
static const char *const suspended[] = {"tokens_fts_insert", "token_count_insert"};
#define N_SUSPENDED (sizeof(suspended) / sizeof(suspended[0]))

_Static_assert(TK_TOKEN_BULK_ROWS *TK_ST_TOKEN_INSERT_N_COLUMNS <= TK_SQL_MAX_PARAMS,
               "a full batch binds at most TK_SQL_MAX_PARAMS parameters");

struct bulk_row {
    struct tk_token_new t; /* strings and sealed key in the batch's arena */
    const char *fold;
    size_t fold_len;
    int64_t now;
};

/* The owners' username folds, direct-mapped by id: a token's search text needs its owner's,
 * which is otherwise one query per token. */
struct owner_slot {
    int64_t id; /* 0: empty */
    char *fold;
    size_t len;
};

struct tk_store_token_bulk {
    struct tk_db *db;
    struct tk_arena *arena; /* the pending rows' copies */
    struct bulk_row rows[TK_TOKEN_BULK_ROWS];
    size_t n_rows;
    int64_t n_written;
    int64_t max_id_before; /* tokens.id before the load: the index gets the rows after it */
    struct tk_buf fold, sql;
    struct tk_buf copy;             /* PostgreSQL: the pending rows as COPY text */
    char *trigger_sql[N_SUSPENDED]; /* SQLite: the suspended triggers' text, NULL: none */
    int64_t cache_size;             /* SQLite: the page cache setting to restore */
    bool cache_set;
    struct owner_slot owners[TK_TOKEN_BULK_OWNERS];
};

static int one_int(struct tk_db *db, const char *sql, int64_t *v)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, sql, &st);
    return rc ? rc : tk_st_one_int(db, st, v);
}

/* SQLite: a larger page cache for the load, and the insert triggers dropped (their text kept). */
static int sqlite_suspend(struct tk_store_token_bulk *b)
{
    struct tk_db *db = b->db;
    int rc = one_int(db, "PRAGMA cache_size", &b->cache_size);
    char pragma[64];
    if (rc == 0) {
        /* The random-order indexes (uuid, key hash) of a million rows outgrow the default 2 MB
         * cache: every batch then rewrote most of their pages. */
        snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = -%d", TK_TOKEN_BULK_CACHE_KIB);
        rc = tk_db_exec(db, pragma);
        b->cache_set = rc == 0;
    }
    for (size_t i = 0; rc == 0 && i < N_SUSPENDED; i++) {
        struct tk_db_stmt *st;
        rc = tk_db_prepare(db,
                           "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND "
                           "tbl_name = 'tokens' AND name = ?",
                           &st);
        if (rc)
            break;
        tk_db_bind_cstr(db, st, 1, suspended[i]);
        rc = tk_db_step(db, st);
        if (rc == 1) {
            b->trigger_sql[i] = tk_strdup(tk_db_col_text(db, st, 0, NULL));
            rc = b->trigger_sql[i] ? 0 : TK_ERR_NOMEM;
        }
        tk_db_reset(db, st);
        if (rc == 0 && b->trigger_sql[i] != NULL) {
            snprintf(pragma, sizeof(pragma), "DROP TRIGGER %s", suspended[i]);
            rc = tk_db_exec(db, pragma);
        }
    }
    return rc;
}

/* SQLite, at the end of the load: what the suspended triggers would have done for the new rows,
 * in one statement each, then the triggers again. */
static int sqlite_resume(struct tk_store_token_bulk *b)
{
    struct tk_db *db = b->db;
    struct tk_db_stmt *st;
    int rc = 0;
    if (b->trigger_sql[0] != NULL && b->n_written > 0 &&
        (rc = tk_db_prepare(db,
                            "INSERT INTO tokens_fts(rowid, search_fold) SELECT id, search_fold "
                            "FROM tokens WHERE id > ? ORDER BY id",
                            &st)) == 0) {
        tk_db_bind_int(db, st, 1, b->max_id_before);
        rc = tk_st_run(db, st);
    }
    if (rc == 0 && b->trigger_sql[1] != NULL && b->n_written > 0 &&
        (rc = tk_db_prepare(db, "UPDATE token_count SET n = n + ? WHERE id = 1", &st)) == 0) {
        tk_db_bind_int(db, st, 1, b->n_written);
        rc = tk_st_run(db, st);
    }
    for (size_t i = 0; rc == 0 && i < N_SUSPENDED; i++)
        if (b->trigger_sql[i] != NULL)
            rc = tk_db_exec(db, b->trigger_sql[i]);
    return rc;
}

int tk_store_token_bulk_begin(struct tk_db *db, struct tk_store_token_bulk **out)
{
    *out = NULL;
    struct tk_store_token_bulk *b = tk_calloc(1, sizeof(*b));
    if (b == NULL)
        return TK_ERR_NOMEM;
    b->db = db;
    tk_buf_init(&b->fold, TK_MAX_TOKEN_FOLD_BYTES);
    tk_buf_init(&b->sql, TK_MAX_SQL_BYTES);
    /* a row may be as long as its description and search text allow */
    tk_buf_init(&b->copy, TK_TOKEN_BULK_COPY_BYTES + 3 * TK_MAX_TOKEN_FOLD_BYTES);
    int rc = tk_db_begin(db, true);
    if (rc) {
        free(b);
        return rc;
    }
    rc = one_int(db, "SELECT COALESCE(MAX(id), 0) FROM tokens", &b->max_id_before);
    if (rc == 0 && db->dialect == TK_DIALECT_SQLITE)
        rc = sqlite_suspend(b);
    if (rc) {
        int ignored = tk_store_token_bulk_end(b, false);
        (void)ignored;
        return rc;
    }
    *out = b;
    return 0;
}

/* PostgreSQL: the pending rows in one COPY, which costs the server far less per row than an
 * INSERT of many VALUES (whose executor start was 40 % of its time, issue 17). */
static int flush_copy(struct tk_store_token_bulk *b)
{
    if (b->copy.len == 0)
        return 0;
    if (b->copy.err)
        return b->copy.err;
    int rc = tk_db_copy_in(b->db, "COPY tokens (" TK_ST_TOKEN_INSERT_COLUMNS ") FROM STDIN",
                           b->copy.data, b->copy.len);
    if (rc == 0)
        b->n_written += (int64_t)b->n_rows;
    b->n_rows = 0;
    tk_buf_reset(&b->copy);
    return rc;
}

/* Writes the pending rows in one statement. */
static int flush(struct tk_store_token_bulk *b)
{
    if (b->db->dialect == TK_DIALECT_PG)
        return flush_copy(b);
    if (b->n_rows == 0)
        return 0;
    struct tk_db *db = b->db;
    tk_buf_reset(&b->sql);
    tk_buf_puts(&b->sql, "INSERT INTO tokens (" TK_ST_TOKEN_INSERT_COLUMNS ") VALUES ");
    for (size_t i = 0; i < b->n_rows; i++) {
        if (i)
            tk_buf_putc(&b->sql, ',');
        tk_buf_puts(&b->sql, TK_ST_TOKEN_INSERT_ROW);
    }
    if (b->sql.err)
        return b->sql.err;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, b->sql.data, &st);
    if (rc)
        return rc;
    for (size_t i = 0; i < b->n_rows; i++) {
        const struct bulk_row *r = &b->rows[i];
        tk_st_token_bind_row(db, st, 1 + (int)i * TK_ST_TOKEN_INSERT_N_COLUMNS, &r->t, r->fold,
                             r->fold_len, r->now);
    }
    rc = tk_st_run(db, st);
    if (rc == 0)
        b->n_written += (int64_t)b->n_rows;
    b->n_rows = 0;
    tk_arena_free(b->arena);
    b->arena = NULL;
    return rc;
}

static int owner_fold(struct tk_store_token_bulk *b, int64_t user_id, const char **fold,
                      size_t *len)
{
    struct owner_slot *o = &b->owners[(uint64_t)user_id % TK_TOKEN_BULK_OWNERS];
    if (o->id != user_id || o->fold == NULL) {
        struct tk_buf f;
        tk_buf_init(&f, TK_MAX_FOLD_BYTES);
        int rc = tk_st_owner_fold(b->db, user_id, &f);
        if (rc == 0 && tk_buf_append(&f, "", 0) != 0) /* storage even for an empty fold */
            rc = f.err;
        if (rc) {
            tk_buf_free(&f);
            return rc;
        }
        free(o->fold);
        o->id = user_id;
        o->fold = tk_buf_take(&f, &o->len);
    }
    *fold = o->fold;
    *len = o->len;
    return 0;
}

static const char *copy(struct tk_arena *a, const char *s, bool *failed)
{
    if (s == NULL)
        return NULL;
    const char *c = tk_arena_strdup(a, s);
    *failed |= c == NULL;
    return c;
}

/* A field of COPY's text format: \N for NULL, backslash, newline, carriage return and tab
 * escaped; the row's fields separated by tabs. */
static void copy_text(struct tk_buf *c, const char *s, size_t len, bool last)
{
    if (s == NULL) {
        tk_buf_puts(c, "\\N");
    } else {
        size_t from = 0;
        for (size_t i = 0; i < len; i++) {
            char e = s[i] == '\\'   ? '\\'
                     : s[i] == '\n' ? 'n'
                     : s[i] == '\r' ? 'r'
                     : s[i] == '\t' ? 't'
                                    : 0;
            if (e) {
                tk_buf_append(c, s + from, i - from);
                tk_buf_putc(c, '\\');
                tk_buf_putc(c, e);
                from = i + 1;
            }
        }
        tk_buf_append(c, s + from, len - from);
    }
    tk_buf_putc(c, last ? '\n' : '\t');
}

static void copy_cstr(struct tk_buf *c, const char *s)
{
    copy_text(c, s, s ? strlen(s) : 0, false);
}

static void copy_int(struct tk_buf *c, bool has, int64_t v)
{
    if (has)
        tk_buf_printf(c, "%lld\t", (long long)v);
    else
        tk_buf_puts(c, "\\N\t");
}

/* bytea in hex form, its backslash escaped for COPY: \\x0a1b... */
static void copy_bytes(struct tk_buf *c, const void *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *u = p;
    tk_buf_puts(c, "\\\\x");
    char *o = tk_buf_extend(c, 2 * len);
    for (size_t i = 0; o != NULL && i < len; i++) {
        o[2 * i] = hex[u[i] >> 4];
        o[2 * i + 1] = hex[u[i] & 15];
    }
    tk_buf_putc(c, '\t');
}

/* The row tk_st_token_bind_row binds, as a line of COPY text (the same columns in the same
 * order, TK_ST_TOKEN_INSERT_COLUMNS). */
static int copy_row(struct tk_buf *c, const struct tk_token_new *t, const char *fold,
                    size_t fold_len, int64_t now)
{
    copy_cstr(c, t->uuid);
    copy_cstr(c, t->identifier);
    copy_cstr(c, t->intent);
    copy_int(c, true, t->user_id);
    copy_cstr(c, t->description);
    copy_int(c, t->has_expires, t->expires);
    copy_int(c, true, t->expiring);
    copy_cstr(c, t->managed);
    copy_bytes(c, t->key_hash, TK_KEY_HASH_BYTES);
    bool never = t->view_key == TK_VIEW_NEVER; /* no sealed copy (docs/api.md §19.4) */
    copy_bytes(c, t->key_sealed, never ? 0 : t->key_sealed_len);
    copy_text(c, fold, fold_len, false);
    copy_int(c, true, now);
    copy_cstr(c, t->scopes);
    copy_cstr(c, t->allowed_networks);
    copy_text(c, tk_view_mode_name(t->view_key), strlen(tk_view_mode_name(t->view_key)), true);
    return c->err;
}

int tk_store_token_bulk_add(struct tk_store_token_bulk *b, const struct tk_token_new *t,
                            int64_t now)
{
    const char *owner;
    size_t owner_len;
    int rc = owner_fold(b, t->user_id, &owner, &owner_len);
    if (rc)
        return rc;
    tk_buf_reset(&b->fold);
    rc = tk_st_token_fold_owner(t->identifier, t->intent, owner, owner_len, t->description,
                                &b->fold);
    if (rc)
        return rc;
    if (b->db->dialect == TK_DIALECT_PG) {
        if ((rc = copy_row(&b->copy, t, b->fold.data ? b->fold.data : "", b->fold.len, now)))
            return rc;
        b->n_rows++;
        return b->copy.len >= TK_TOKEN_BULK_COPY_BYTES ? flush_copy(b) : 0;
    }
    if (b->arena == NULL && (b->arena = tk_arena_new(TK_TOKEN_BULK_ARENA_BYTES)) == NULL)
        return TK_ERR_NOMEM;
    struct bulk_row *r = &b->rows[b->n_rows];
    bool failed = false;
    r->t = *t;
    r->t.uuid = copy(b->arena, t->uuid, &failed);
    r->t.identifier = copy(b->arena, t->identifier, &failed);
    r->t.intent = copy(b->arena, t->intent, &failed);
    r->t.description = copy(b->arena, t->description, &failed);
    r->t.managed = copy(b->arena, t->managed, &failed);
    r->t.scopes = copy(b->arena, t->scopes, &failed);
    r->t.allowed_networks = copy(b->arena, t->allowed_networks, &failed);
    void *sealed = tk_arena_alloc(b->arena, t->key_sealed_len ? t->key_sealed_len : 1);
    if (sealed != NULL && t->key_sealed_len)
        memcpy(sealed, t->key_sealed, t->key_sealed_len);
    r->t.key_sealed = sealed;
    r->fold = tk_arena_strndup(b->arena, b->fold.data ? b->fold.data : "", b->fold.len);
    r->fold_len = b->fold.len;
    r->now = now;
    if (failed || sealed == NULL || r->fold == NULL) {
        /* the batch is full of what the arena could hold: write it, then try this row again */
        if (b->n_rows == 0)
            return TK_ERR_NOMEM;
        rc = flush(b);
        return rc ? rc : tk_store_token_bulk_add(b, t, now);
    }
    b->n_rows++;
    return b->n_rows == TK_TOKEN_BULK_ROWS ? flush(b) : 0;
}

int tk_store_token_bulk_end(struct tk_store_token_bulk *b, bool commit)
{
    if (b == NULL)
        return 0;
    struct tk_db *db = b->db;
    int rc = 0;
    if (commit) {
        rc = flush(b);
        if (rc == 0 && db->dialect == TK_DIALECT_SQLITE)
            rc = sqlite_resume(b);
        if (rc == 0)
            rc = tk_db_commit(db);
    }
    if (!commit || rc)
        tk_db_rollback(db); /* the triggers come back with the rest */
    if (b->cache_set) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = %lld", (long long)b->cache_size);
        int ignored = tk_db_exec(db, pragma); /* only the load's speed depends on it */
        (void)ignored;
    }
    for (size_t i = 0; i < N_SUSPENDED; i++)
        free(b->trigger_sql[i]);
    for (size_t i = 0; i < TK_TOKEN_BULK_OWNERS; i++)
        free(b->owners[i].fold);
    tk_arena_free(b->arena);
    tk_buf_free(&b->fold);
    tk_buf_free(&b->sql);
    tk_buf_free(&b->copy);
    free(b);
    return commit ? rc : 0;
}
