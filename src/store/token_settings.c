/* tokend's side of tokens (store.h, docs/api.md §19): the settings and usage list and lookup of
 * /api/v3/tokend/tokens/, settings writes, the sealed copy's erasure for view modes, rotation's
 * remembered keys (grace and reuse), the exact uses counter and the batched usage flush. */
#include "store/internal.h"

#include <string.h>

static const uint8_t no_bytes[1];

#define TOKEND_COLUMNS                                                                             \
    "SELECT t.id, t.identifier, t.intent, t.user_id, t.expires, t.expiring, t.scopes, "            \
    "t.allowed_networks, t.rate_limit, t.uses_remaining, t.view_key, t.revoke_on_reuse, "          \
    "t.last_used, t.last_used_ip, t.use_count, (SELECT MAX(o.valid_until) FROM token_old_keys o "  \
    "WHERE o.token_id = t.id AND o.valid_until >= "

static void sql_columns(struct tk_sql *q, int64_t now)
{
    tk_sql_add(q, TOKEND_COLUMNS);
    tk_sql_int(q, now);
    tk_sql_add(q, ") FROM tokens t");
}

static int read_row(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                    struct tk_tokend_token *t)
{
    memset(t, 0, sizeof(*t));
    t->id = tk_db_col_int(db, st, 0);
    t->identifier = tk_st_col_dup(db, st, 1, a);
    t->intent = tk_st_col_dup(db, st, 2, a);
    t->user_id = tk_db_col_int(db, st, 3);
    t->has_expires = !tk_db_col_null(db, st, 4);
    t->expires = tk_db_col_int(db, st, 4);
    t->expiring = tk_db_col_int(db, st, 5) != 0;
    t->s.scopes = tk_st_col_dup_null(db, st, 6, a);
    t->s.allowed_networks = tk_st_col_dup_null(db, st, 7, a);
    t->s.rate_limit = tk_st_col_dup_null(db, st, 8, a);
    t->s.has_uses = !tk_db_col_null(db, st, 9);
    t->s.uses_remaining = tk_db_col_int(db, st, 9);
    const char *mode = tk_st_col_dup(db, st, 10, a);
    if (mode == NULL || !tk_view_mode_parse(mode, strlen(mode), &t->s.view_key))
        t->s.view_key = TK_VIEW_ALWAYS;
    t->s.revoke_on_reuse = tk_db_col_int(db, st, 11) != 0;
    t->has_last_used = !tk_db_col_null(db, st, 12);
    t->last_used = tk_db_col_int(db, st, 12);
    t->last_used_ip = tk_st_col_dup_null(db, st, 13, a);
    t->use_count = tk_db_col_int(db, st, 14);
    t->has_previous_until = !tk_db_col_null(db, st, 15);
    t->previous_until = tk_db_col_int(db, st, 15);
    if (t->identifier == NULL || t->intent == NULL || mode == NULL)
        return TK_ERR_NOMEM;
    return 0;
}

/* The list's conditions (docs/api.md §19.1). */
static void sql_where(struct tk_sql *q, const struct tk_tokend_query *x)
{
    if (x->owner_id > 0) {
        tk_sql_where(q);
        tk_sql_add(q, "t.user_id = ");
        tk_sql_int(q, x->owner_id);
    }
    if (x->identifier) {
        tk_sql_where(q);
        tk_sql_add(q, "t.identifier = ");
        tk_sql_cstr(q, x->identifier);
    }
    if (x->intent) {
        tk_sql_where(q);
        tk_sql_add(q, "t.intent = ");
        tk_sql_cstr(q, x->intent);
    }
    if (x->username) {
        tk_sql_where(q);
        tk_sql_add(q, "t.user_id IN (SELECT id FROM users WHERE username = ");
        tk_sql_cstr(q, x->username);
        tk_sql_add(q, ")");
    }
    for (size_t i = 0; i < x->n_scopes; i++) {
        /* scopes hold no space: " a b " contains " a " exactly when a is one of them */
        tk_sql_where(q);
        tk_sql_add(q, "t.scopes IS NOT NULL AND ");
        size_t len = strlen(x->scopes[i]);
        char *needle = tk_arena_alloc(q->arena, len + 3);
        if (needle == NULL) {
            q->err = TK_ERR_NOMEM;
            return;
        }
        needle[0] = ' ';
        memcpy(needle + 1, x->scopes[i], len);
        needle[len + 1] = ' ';
        needle[len + 2] = '\0';
        tk_sql_contains(q, "(' ' || t.scopes || ' ')", needle);
    }
    if (x->has_used_before) {
        tk_sql_where(q);
        tk_sql_add(q, "t.last_used <= ");
        tk_sql_int(q, x->used_before);
    }
    if (x->has_used_after) {
        tk_sql_where(q);
        tk_sql_add(q, "t.last_used >= ");
        tk_sql_int(q, x->used_after);
    }
    if (x->never_used >= 0) {
        tk_sql_where(q);
        tk_sql_add(q, x->never_used ? "t.last_used IS NULL" : "t.last_used IS NOT NULL");
    }
    if (x->has_expiring_until) {
        tk_sql_where(q);
        tk_sql_add(q, "t.expiring = 1 AND t.expires <= ");
        tk_sql_int(q, x->expiring_until);
    }
}

int tk_store_tokend_count(struct tk_db *db, const struct tk_tokend_query *x, struct tk_arena *a,
                          int64_t *count)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT COUNT(*) FROM tokens t");
    sql_where(&q, x);
    return tk_st_count(db, &q, count);
}

static const char *order_column(int f)
{
    switch ((enum tk_tokend_field)f) {
    case TK_XF_IDENTIFIER: return "t.identifier";
    case TK_XF_LAST_USED: return "t.last_used";
    case TK_XF_USE_COUNT: return "t.use_count";
    case TK_XF_EXPIRES: return "t.expires";
    }
    return "t.id";
}

static int read_rows(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a, int64_t limit,
                     struct tk_tokend_token **out, size_t *n)
{
    *n = 0;
    *out = tk_arena_calloc(a, limit > 0 ? (size_t)limit : 1, sizeof(**out));
    if (*out == NULL) {
        tk_db_reset(db, st);
        return TK_ERR_NOMEM;
    }
    int rc;
    while ((rc = tk_db_step(db, st)) == 1 && (int64_t)*n < limit) {
        rc = read_row(db, st, a, &(*out)[*n]);
        if (rc)
            break;
        (*n)++;
    }
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_store_tokend_fetch(struct tk_db *db, const struct tk_tokend_query *x, int64_t offset,
                          int64_t limit, struct tk_arena *a, struct tk_tokend_token **out,
                          size_t *n)
{
    *n = 0;
    *out = NULL;
    if (limit <= 0)
        return 0;
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    sql_columns(&q, x->now);
    sql_where(&q, x);
    tk_st_sql_order_page(&q, x->order, x->n_order, order_column, "t.id", limit, offset);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    return read_rows(db, st, a, limit, out, n);
}

int tk_store_tokend_get(struct tk_db *db, const char *identifier, int64_t owner_id, int64_t now,
                        struct tk_arena *a, struct tk_tokend_token **out)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    sql_columns(&q, now);
    tk_sql_where(&q);
    tk_sql_add(&q, "t.identifier = ");
    tk_sql_cstr(&q, identifier);
    if (owner_id > 0) {
        tk_sql_where(&q);
        tk_sql_add(&q, "t.user_id = ");
        tk_sql_int(&q, owner_id);
    }
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t n;
    rc = read_rows(db, st, a, 1, out, &n);
    return rc ? rc : n == 1 ? 0 : TK_ERR_NOTFOUND;
}

int tk_store_token_settings_write(struct tk_db *db, int64_t id, const struct tk_token_settings *s)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "UPDATE tokens SET scopes = ?, allowed_networks = ?, rate_limit = ?, "
                           "uses_remaining = ?, view_key = ?, revoke_on_reuse = ? WHERE id = ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, s->scopes);
    tk_db_bind_cstr(db, st, 2, s->allowed_networks);
    tk_db_bind_cstr(db, st, 3, s->rate_limit);
    tk_db_bind_opt_int(db, st, 4, s->has_uses, s->uses_remaining);
    tk_db_bind_cstr(db, st, 5, tk_view_mode_name(s->view_key));
    tk_db_bind_int(db, st, 6, s->revoke_on_reuse ? 1 : 0);
    tk_db_bind_int(db, st, 7, id);
    return tk_st_run(db, st);
}

int tk_store_token_key_state(struct tk_db *db, int64_t id, enum tk_view_mode *mode, bool *viewed,
                             bool *sealed)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT view_key, key_viewed, length(key_sealed) FROM tokens "
                           "WHERE id = ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        size_t len = 0;
        const char *m = tk_db_col_text(db, st, 0, &len);
        if (m == NULL || !tk_view_mode_parse(m, len, mode))
            *mode = TK_VIEW_ALWAYS;
        *viewed = tk_db_col_int(db, st, 1) != 0;
        *sealed = tk_db_col_int(db, st, 2) > 0;
        rc = 0;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_token_key_viewed(struct tk_db *db, int64_t id, bool erase)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           erase ? "UPDATE tokens SET key_viewed = 1, key_sealed = ? WHERE id = ?"
                                 : "UPDATE tokens SET key_viewed = 1 WHERE id = ?",
                           &st);
    if (rc)
        return rc;
    if (erase)
        tk_db_bind_blob(db, st, 1, no_bytes, 0);
    tk_db_bind_int(db, st, erase ? 2 : 1, id);
    return tk_st_run(db, st);
}

int tk_store_token_erase_sealed(struct tk_db *db, int64_t id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "UPDATE tokens SET key_sealed = ? WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_blob(db, st, 1, no_bytes, 0);
    tk_db_bind_int(db, st, 2, id);
    return tk_st_run(db, st);
}

int tk_store_token_end_grace(struct tk_db *db, int64_t id, int64_t now)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "UPDATE token_old_keys SET valid_until = ? WHERE token_id = ? AND "
                           "valid_until >= ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, now - 1);
    tk_db_bind_int(db, st, 2, id);
    tk_db_bind_int(db, st, 3, now);
    return tk_st_run(db, st);
}

int tk_store_token_supersede(struct tk_db *db, int64_t id, int64_t now, int64_t valid_until,
                             int64_t forget_after)
{
    int rc = tk_store_token_end_grace(db, id, now);
    struct tk_db_stmt *st;
    if (rc == 0)
        rc = tk_db_prepare(db,
                           "INSERT INTO token_old_keys (key_hash, token_id, valid_until, "
                           "forget_after) SELECT key_hash, id, ?, ? FROM tokens WHERE id = ? "
                           "ON CONFLICT (key_hash) DO UPDATE SET token_id = excluded.token_id, "
                           "valid_until = excluded.valid_until, "
                           "forget_after = excluded.forget_after",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, valid_until);
    tk_db_bind_int(db, st, 2, forget_after);
    tk_db_bind_int(db, st, 3, id);
    return tk_st_run(db, st);
}

int tk_store_token_old_key(struct tk_db *db, const uint8_t hash[TK_KEY_HASH_BYTES], int64_t now,
                           int64_t *token_id, int64_t *valid_until)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT token_id, valid_until FROM token_old_keys WHERE key_hash = ? "
                           "AND forget_after >= ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_blob(db, st, 1, hash, TK_KEY_HASH_BYTES);
    tk_db_bind_int(db, st, 2, now);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        *token_id = tk_db_col_int(db, st, 0);
        *valid_until = tk_db_col_int(db, st, 1);
        rc = 0;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_token_reuse_alert(struct tk_db *db, int64_t id, int64_t now, int64_t quiet_us,
                               bool *alert)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "UPDATE tokens SET reuse_alerted = ? WHERE id = ? AND "
                           "(reuse_alerted IS NULL OR reuse_alerted <= ?) RETURNING id",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, now);
    tk_db_bind_int(db, st, 2, id);
    tk_db_bind_int(db, st, 3, now - quiet_us);
    rc = tk_db_step(db, st);
    *alert = rc == 1;
    if (rc == 1)
        return tk_st_run(db, st);
    tk_db_reset(db, st);
    return rc;
}

int tk_store_old_keys_forget(struct tk_db *db, int64_t now)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM token_old_keys WHERE forget_after < ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, now);
    return tk_st_run(db, st);
}

int tk_store_token_take_use(struct tk_db *db, int64_t id, bool *ok)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "UPDATE tokens SET uses_remaining = uses_remaining - 1 WHERE id = ? "
                           "AND uses_remaining > 0 RETURNING uses_remaining",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    *ok = rc == 1;
    if (rc == 1)
        return tk_st_run(db, st);
    tk_db_reset(db, st);
    return rc;
}

/* A statement built for a batch of rows, in an arena of its own (*a, freed by the caller). */
static int batch_begin(struct tk_db *db, struct tk_arena **a, struct tk_sql *q)
{
    *a = tk_arena_new(TK_ROW_ARENA_BYTES);
    if (*a == NULL)
        return TK_ERR_NOMEM;
    int rc = tk_sql_init(q, db->dialect, *a);
    if (rc) {
        tk_arena_free(*a);
        *a = NULL;
    }
    return rc;
}

int tk_store_usage_flush(struct tk_db *db, const struct tk_usage *u, size_t n)
{
    if (n == 0)
        return 0;
    struct tk_arena *a;
    struct tk_sql q;
    int rc = batch_begin(db, &a, &q);
    if (rc)
        return rc;
    /* one statement for the batch (docs/api.md §19.3): the counts add up, the latest use wins */
    tk_sql_add(&q, "UPDATE tokens SET use_count = use_count + v.n, last_used = CASE WHEN "
                   "tokens.last_used IS NULL OR tokens.last_used < v.t THEN v.t ELSE "
                   "tokens.last_used END, last_used_ip = CASE WHEN tokens.last_used IS NULL OR "
                   "tokens.last_used < v.t THEN v.ip ELSE tokens.last_used_ip END FROM (");
    for (size_t i = 0; i < n; i++) {
        tk_sql_add(&q, i ? " UNION ALL SELECT " : "SELECT ");
        tk_sql_int(&q, u[i].token_id);
        tk_sql_add(&q, db->dialect == TK_DIALECT_PG ? "::bigint AS id, " : " AS id, ");
        tk_sql_int(&q, u[i].count);
        tk_sql_add(&q, db->dialect == TK_DIALECT_PG ? "::bigint AS n, " : " AS n, ");
        tk_sql_int(&q, u[i].last_used);
        tk_sql_add(&q, db->dialect == TK_DIALECT_PG ? "::bigint AS t, " : " AS t, ");
        tk_sql_cstr(&q, u[i].last_used_ip);
        tk_sql_add(&q, db->dialect == TK_DIALECT_PG ? "::text AS ip" : " AS ip");
    }
    tk_sql_add(&q, ") AS v WHERE tokens.id = v.id");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc == 0)
        rc = tk_st_run(db, st);
    tk_arena_free(a);
    return rc;
}

int tk_store_scrub(struct tk_db *db)
{
    /* SQLite: the WAL still holds the pages as they were; a TRUNCATE checkpoint copies the
     * current pages into the database file (secure_delete zeroed what was erased) and empties
     * the WAL. PostgreSQL keeps the old row version until vacuum reclaims it. */
    if (db->dialect != TK_DIALECT_SQLITE)
        return 0;
    return tk_db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
}

int tk_store_rate_share(struct tk_db *db, struct tk_rate_share *x, size_t n)
{
    if (n == 0)
        return 0;
    struct tk_arena *a;
    struct tk_sql q;
    int rc = batch_begin(db, &a, &q);
    if (rc)
        return rc;
    tk_sql_add(&q, "INSERT INTO token_rate (token_id, window_start, n) VALUES ");
    for (size_t i = 0; i < n; i++) {
        tk_sql_add(&q, i ? ", (" : "(");
        tk_sql_int(&q, x[i].token_id);
        tk_sql_add(&q, ", ");
        tk_sql_int(&q, x[i].window_start);
        tk_sql_add(&q, ", ");
        tk_sql_int(&q, x[i].added);
        tk_sql_add(&q, ")");
    }
    tk_sql_add(&q, " ON CONFLICT (token_id, window_start) DO UPDATE SET n = token_rate.n + "
                   "excluded.n RETURNING token_id, window_start, n");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc == 0) {
        while ((rc = tk_db_step(db, st)) == 1) {
            int64_t id = tk_db_col_int(db, st, 0), start = tk_db_col_int(db, st, 1);
            for (size_t i = 0; i < n; i++) /* a page of open windows: small */
                if (x[i].token_id == id && x[i].window_start == start)
                    x[i].total = tk_db_col_int(db, st, 2);
        }
        tk_db_reset(db, st);
    }
    tk_arena_free(a);
    return rc < 0 ? rc : 0;
}

int tk_store_rate_forget(struct tk_db *db, int64_t now)
{
    struct tk_db_stmt *st;
    /* the longest period is a day: a window that started two days ago has ended */
    int rc = tk_db_prepare(db, "DELETE FROM token_rate WHERE window_start < ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, now - 2 * 86400 * 1000000LL);
    return tk_st_run(db, st);
}
