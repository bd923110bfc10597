/* Audit events in the store (store.h, docs/api.md §11): inserts (many rows per statement for a
 * user's deletion), the events list with its filters, and expiry in bounded batches. */
#include "store/internal.h"

/* "INSERT INTO events (...) VALUES (?, ...), (?, ...)" with rows rows, in out. */
static int events_insert_sql(size_t rows, struct tk_buf *out)
{
    tk_buf_puts(out, "INSERT INTO events (uuid, action, app, user_json, username, context, "
                     "context_model_pk, client_ip, brand, created, expires) VALUES ");
    for (size_t i = 0; i < rows; i++)
        tk_buf_puts(out, i ? ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                           : "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    return out->err;
}

/* Rows per statement: the largest power of TK_EVENT_INSERT_STEP up to TK_EVENT_INSERT_ROWS
 * that n fills, so a batch of any size takes a few statements of a few distinct texts (each
 * stays in the connection's statement cache). */
static size_t events_chunk(size_t n)
{
    size_t rows = 1;
    while (rows * TK_EVENT_INSERT_STEP <= n && rows * TK_EVENT_INSERT_STEP <= TK_EVENT_INSERT_ROWS)
        rows *= TK_EVENT_INSERT_STEP;
    return rows;
}

int tk_store_events_insert(struct tk_db *db, const struct tk_event *ev, size_t n)
{
    int rc = 0;
    while (rc == 0 && n > 0) {
        size_t rows = events_chunk(n);
        struct tk_buf sql;
        tk_buf_init(&sql, TK_MAX_SQL_BYTES);
        struct tk_db_stmt *st = NULL;
        rc = events_insert_sql(rows, &sql);
        if (rc == 0)
            rc = tk_db_prepare(db, sql.data, &st);
        tk_buf_free(&sql);
        if (rc)
            return rc;
        for (size_t i = 0; i < rows; i++) {
            const struct tk_event *e = &ev[i];
            int b = (int)i * 11;
            tk_db_bind_cstr(db, st, b + 1, e->uuid);
            tk_db_bind_cstr(db, st, b + 2, e->action);
            tk_db_bind_cstr(db, st, b + 3, e->app);
            tk_db_bind_cstr(db, st, b + 4, e->user_json ? e->user_json : "{}");
            tk_db_bind_cstr(db, st, b + 5, e->username);
            tk_db_bind_cstr(db, st, b + 6, e->context ? e->context : "{}");
            tk_db_bind_cstr(db, st, b + 7, e->context_model_pk);
            tk_db_bind_cstr(db, st, b + 8, e->client_ip);
            tk_db_bind_cstr(db, st, b + 9, e->brand ? e->brand : "{}");
            tk_db_bind_int(db, st, b + 10, e->created);
            tk_db_bind_int(db, st, b + 11, e->expires);
        }
        rc = tk_st_run(db, st);
        ev += rows;
        n -= rows;
    }
    return rc;
}

int tk_store_event_insert(struct tk_db *db, const struct tk_event *e)
{
    return tk_store_events_insert(db, e, 1);
}

static void sql_event_where(struct tk_sql *q, const struct tk_event_query *e)
{
    if (e->action) {
        tk_sql_where(q);
        tk_sql_add(q, "action = ");
        tk_sql_cstr(q, e->action);
    }
    if (e->username) {
        tk_sql_where(q);
        tk_sql_add(q, "username = ");
        tk_sql_cstr(q, e->username);
    }
    if (e->context_model_pk) {
        tk_sql_where(q);
        tk_sql_add(q, "context_model_pk = ");
        tk_sql_cstr(q, e->context_model_pk);
    }
    if (e->client_ip) {
        tk_sql_where(q);
        tk_sql_add(q, "client_ip = ");
        tk_sql_cstr(q, e->client_ip);
    }
}

int tk_store_event_count(struct tk_db *db, const struct tk_event_query *eq, struct tk_arena *a,
                         int64_t *count)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT COUNT(*) FROM events");
    sql_event_where(&q, eq);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    return tk_st_one_int(db, st, count);
}

int tk_store_event_fetch(struct tk_db *db, const struct tk_event_query *eq, int64_t offset,
                         int64_t limit, struct tk_arena *a, struct tk_event **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (limit <= 0)
        return 0;
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT uuid, action, app, user_json, username, context, context_model_pk, "
                   "client_ip, brand, created, expires FROM events");
    sql_event_where(&q, eq);
    tk_sql_add(&q, eq->created_desc ? " ORDER BY created DESC, id DESC LIMIT "
                                    : " ORDER BY created ASC, id ASC LIMIT ");
    tk_sql_int(&q, limit);
    tk_sql_add(&q, " OFFSET ");
    tk_sql_int(&q, offset);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    struct tk_event *ev = tk_arena_calloc(a, (size_t)limit, sizeof(*ev));
    size_t n = 0;
    if (ev == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && n < (size_t)limit && (rc = tk_db_step(db, st)) == 1) {
        struct tk_event *e = &ev[n++];
        tk_st_col_uuid(db, st, 0, e->uuid);
        e->action = tk_st_col_dup(db, st, 1, a);
        e->app = tk_st_col_dup(db, st, 2, a);
        e->user_json = tk_st_col_dup(db, st, 3, a);
        e->username = tk_st_col_dup_null(db, st, 4, a);
        e->context = tk_st_col_dup(db, st, 5, a);
        e->context_model_pk = tk_st_col_dup_null(db, st, 6, a);
        e->client_ip = tk_st_col_dup_null(db, st, 7, a);
        e->brand = tk_st_col_dup(db, st, 8, a);
        e->created = tk_db_col_int(db, st, 9);
        e->expires = tk_db_col_int(db, st, 10);
        rc = (e->action && e->app && e->user_json && e->context && e->brand) ? 0 : TK_ERR_NOMEM;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *out = ev;
    *n_out = n;
    return 0;
}

int tk_store_event_expire(struct tk_db *db, int64_t now, int64_t *n_deleted)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
                           "expires <= ? ORDER BY expires LIMIT ?) RETURNING id",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, now);
    tk_db_bind_int(db, st, 2, TK_EVENT_EXPIRE_BATCH);
    int64_t n = 0;
    while ((rc = tk_db_step(db, st)) == 1)
        n++;
    tk_db_reset(db, st);
    *n_deleted = n;
    return rc;
}
