/* Webhooks in the store (store.h, docs/api.md §21): the receivers, the outbox written inside the
 * transaction of the change a message tells of, the claims that let one process at a time send
 * a delivery (FOR UPDATE SKIP LOCKED and a lease on PostgreSQL; SQLite has one process), the
 * recent attempts, and the expiry notices already sent. */
#include "store/internal.h"

#include <string.h>

/* ---- receivers ---- */

#define ENDPOINT_COLUMNS "id, uuid, url, event_types, enabled, description, created"

static int read_endpoint(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                         struct tk_webhook *w)
{
    w->id = tk_db_col_int(db, st, 0);
    tk_st_col_uuid(db, st, 1, w->uuid);
    w->url = tk_st_col_dup(db, st, 2, a);
    w->event_types = tk_st_col_dup_null(db, st, 3, a);
    w->enabled = tk_db_col_int(db, st, 4) != 0;
    w->description = tk_st_col_dup(db, st, 5, a);
    w->created = tk_db_col_int(db, st, 6);
    bool nomem = w->url == NULL || w->description == NULL ||
                 (!tk_db_col_null(db, st, 3) && w->event_types == NULL);
    return nomem ? TK_ERR_NOMEM : 0;
}

int tk_store_webhook_insert(struct tk_db *db, const struct tk_webhook *w, const void *sealed,
                            size_t sealed_len, int64_t *id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "INSERT INTO webhook_endpoints (uuid, url, event_types, secret_sealed, "
                           "enabled, description, created) VALUES (?, ?, ?, ?, ?, ?, ?) "
                           "RETURNING id",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, w->uuid);
    tk_db_bind_cstr(db, st, 2, w->url);
    tk_db_bind_cstr(db, st, 3, w->event_types);
    tk_db_bind_blob(db, st, 4, sealed, sealed_len);
    tk_db_bind_int(db, st, 5, w->enabled);
    tk_db_bind_cstr(db, st, 6, w->description);
    tk_db_bind_int(db, st, 7, w->created);
    return tk_st_insert_id(db, st, id);
}

int tk_store_webhook_count(struct tk_db *db, int64_t *count)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT COUNT(*) FROM webhook_endpoints", &st);
    return rc ? rc : tk_st_one_int(db, st, count);
}

int tk_store_webhook_list(struct tk_db *db, int64_t offset, int64_t limit, struct tk_arena *a,
                          struct tk_webhook **out, size_t *n_out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT " ENDPOINT_COLUMNS " FROM webhook_endpoints "
                           "ORDER BY created, id LIMIT ? OFFSET ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, limit);
    tk_db_bind_int(db, st, 2, offset);
    size_t cap = limit > 0 ? (size_t)limit : 1;
    struct tk_webhook *w = tk_arena_calloc(a, cap, sizeof(*w));
    size_t n = 0;
    if (w == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && n < cap && (rc = tk_db_step(db, st)) == 1)
        rc = read_endpoint(db, st, a, &w[n++]);
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *out = w;
    *n_out = n;
    return 0;
}

int tk_store_webhook_get(struct tk_db *db, const char *uuid, struct tk_arena *a,
                         struct tk_webhook **out)
{
    struct tk_webhook *w = tk_arena_calloc(a, 1, sizeof(*w));
    if (w == NULL)
        return TK_ERR_NOMEM;
    struct tk_db_stmt *st;
    int rc =
        tk_db_prepare(db, "SELECT " ENDPOINT_COLUMNS " FROM webhook_endpoints WHERE uuid = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, uuid);
    rc = tk_db_step(db, st);
    if (rc == 1)
        rc = read_endpoint(db, st, a, w);
    else if (rc == 0)
        rc = TK_ERR_NOTFOUND;
    tk_db_reset(db, st);
    if (rc == 0)
        *out = w;
    return rc;
}

int tk_store_webhook_secret(struct tk_db *db, int64_t id, struct tk_arena *a,
                            const uint8_t **sealed, size_t *len)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT secret_sealed FROM webhook_endpoints WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        rc = tk_st_col_blob_dup(db, st, 0, a, sealed, len);
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_webhook_update(struct tk_db *db, const struct tk_webhook *w)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "UPDATE webhook_endpoints SET url = ?, event_types = ?, enabled = ?, "
                           "description = ? WHERE id = ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, w->url);
    tk_db_bind_cstr(db, st, 2, w->event_types);
    tk_db_bind_int(db, st, 3, w->enabled);
    tk_db_bind_cstr(db, st, 4, w->description);
    tk_db_bind_int(db, st, 5, w->id);
    return tk_st_run(db, st);
}

int tk_store_webhook_delete(struct tk_db *db, int64_t id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM webhook_endpoints WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    return tk_st_run(db, st);
}

int tk_store_webhook_attempt_count(struct tk_db *db, int64_t endpoint_id, int64_t *count)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT COUNT(*) FROM webhook_attempts WHERE endpoint_id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, endpoint_id);
    return tk_st_one_int(db, st, count);
}

int tk_store_webhook_attempts(struct tk_db *db, int64_t endpoint_id, int64_t offset, int64_t limit,
                              struct tk_arena *a, struct tk_webhook_attempt **out, size_t *n_out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT msg_id, type, attempt, status, error, at FROM webhook_attempts "
                           "WHERE endpoint_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, endpoint_id);
    tk_db_bind_int(db, st, 2, limit);
    tk_db_bind_int(db, st, 3, offset);
    size_t cap = limit > 0 ? (size_t)limit : 1;
    struct tk_webhook_attempt *x = tk_arena_calloc(a, cap, sizeof(*x));
    size_t n = 0;
    if (x == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && n < cap && (rc = tk_db_step(db, st)) == 1) {
        struct tk_webhook_attempt *e = &x[n++];
        e->msg_id = tk_st_col_dup(db, st, 0, a);
        e->type = tk_st_col_dup(db, st, 1, a);
        e->attempt = tk_db_col_int(db, st, 2);
        e->has_status = !tk_db_col_null(db, st, 3);
        e->status = tk_db_col_int(db, st, 3);
        e->error = tk_st_col_dup_null(db, st, 4, a);
        e->at = tk_db_col_int(db, st, 5);
        rc = e->msg_id && e->type ? 0 : TK_ERR_NOMEM;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *out = x;
    *n_out = n;
    return 0;
}

/* ---- the outbox ---- */

/* The receivers that want a type: enabled, and every type or this one in their list (the list
 * is space-joined, so the type is searched with a space on each side). */
#define WANTS "enabled = 1 AND (event_types IS NULL OR (' ' || event_types || ' ') LIKE ?)"

static char *type_pattern(const char *type, char *buf, size_t len)
{
    size_t n = strlen(type);
    if (n + 5 > len)
        return NULL;
    buf[0] = '%';
    buf[1] = ' ';
    memcpy(buf + 2, type, n);
    memcpy(buf + 2 + n, " %", 3);
    return buf;
}

int tk_store_outbox_wanted(struct tk_db *db, const char *type, bool *wanted)
{
    char pat[64];
    if (type_pattern(type, pat, sizeof(pat)) == NULL)
        return TK_ERR_INVALID;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT 1 FROM webhook_endpoints WHERE " WANTS " LIMIT 1", &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, pat);
    rc = tk_db_step(db, st);
    *wanted = rc == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_store_outbox_add(struct tk_db *db, const char *msg_id, const char *type, const char *body,
                        int64_t now)
{
    char pat[64];
    if (type_pattern(type, pat, sizeof(pat)) == NULL)
        return TK_ERR_INVALID;
    struct tk_db_stmt *st;
    int64_t id = 0;
    int rc = tk_db_prepare(db,
                           "INSERT INTO webhook_messages (msg_id, type, body, created) "
                           "VALUES (?, ?, ?, ?) RETURNING id",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, msg_id);
    tk_db_bind_cstr(db, st, 2, type);
    tk_db_bind_cstr(db, st, 3, body);
    tk_db_bind_int(db, st, 4, now);
    if ((rc = tk_st_insert_id(db, st, &id)) != 0)
        return rc;
    rc = tk_db_prepare(db,
                       "INSERT INTO webhook_deliveries (message_id, endpoint_id, next_attempt, "
                       "updated) SELECT ?, id, ?, ? FROM webhook_endpoints WHERE " WANTS,
                       &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    tk_db_bind_int(db, st, 2, now);
    tk_db_bind_int(db, st, 3, now);
    tk_db_bind_cstr(db, st, 4, pat);
    return tk_st_run(db, st);
}

int tk_store_outbox_next(struct tk_db *db, bool *any, int64_t *next_attempt)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > "
                           "next_attempt THEN claimed_until ELSE next_attempt END) "
                           "FROM webhook_deliveries WHERE state = 'pending'",
                           &st);
    if (rc)
        return rc;
    rc = tk_db_step(db, st);
    *any = rc == 1 && !tk_db_col_null(db, st, 0);
    *next_attempt = *any ? tk_db_col_int(db, st, 0) : 0;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_store_outbox_claim(struct tk_db *db, int64_t now, int64_t lease_until, size_t limit,
                          const int64_t *skip, size_t n_skip, tk_store_outbox_take_fn take,
                          void *ctx, struct tk_arena *a, struct tk_outbox_item **out, size_t *n_out)
{
    *n_out = 0;
    /* due and not claimed by a live lease, of receivers with room; on PostgreSQL rows another
     * process is claiming right now are skipped, not waited for */
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT id, endpoint_id FROM webhook_deliveries WHERE state = 'pending' AND "
                   "next_attempt <= ");
    tk_sql_int(&q, now);
    tk_sql_add(&q, " AND (claimed_until IS NULL OR claimed_until <= ");
    tk_sql_int(&q, now);
    tk_sql_add(&q, ")");
    if (n_skip > 0) {
        tk_sql_add(&q, " AND endpoint_id NOT IN ");
        tk_st_sql_id_list(&q, skip, n_skip);
    }
    tk_sql_add(&q, " ORDER BY next_attempt LIMIT ");
    tk_sql_int(&q, TK_WEBHOOK_CLAIM_SCAN);
    if (db->dialect == TK_DIALECT_PG)
        tk_sql_add(&q, " FOR UPDATE SKIP LOCKED");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    int64_t *ids = tk_arena_calloc(a, limit ? limit : 1, sizeof(*ids));
    size_t n = 0;
    if (ids == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && n < limit && (rc = tk_db_step(db, st)) == 1) {
        int64_t id = tk_db_col_int(db, st, 0);
        if (take(ctx, tk_db_col_int(db, st, 1)))
            ids[n++] = id;
        rc = 0;
    }
    tk_db_reset(db, st);
    if (rc < 0 || n == 0)
        return rc < 0 ? rc : 0;

    if ((rc = tk_sql_init(&q, db->dialect, a)) != 0)
        return rc;
    tk_sql_add(&q, "UPDATE webhook_deliveries SET claimed_until = ");
    tk_sql_int(&q, lease_until);
    tk_sql_add(&q, " WHERE id IN ");
    tk_st_sql_id_list(&q, ids, n);
    rc = tk_sql_prepare(db, &q, &st);
    if (rc == 0)
        rc = tk_st_run(db, st);
    tk_sql_free(&q);
    if (rc)
        return rc;

    if ((rc = tk_sql_init(&q, db->dialect, a)) != 0)
        return rc;
    tk_sql_add(&q, "SELECT d.id, d.attempts, e.id, e.uuid, e.url, m.msg_id, m.type, m.body, "
                   "m.created FROM webhook_deliveries d "
                   "JOIN webhook_endpoints e ON e.id = d.endpoint_id "
                   "JOIN webhook_messages m ON m.id = d.message_id WHERE d.id IN ");
    tk_st_sql_id_list(&q, ids, n);
    rc = tk_sql_prepare(db, &q, &st);
    bool prepared = rc == 0;
    struct tk_outbox_item *items = tk_arena_calloc(a, n, sizeof(*items));
    size_t k = 0;
    if (rc == 0 && items == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && k < n && (rc = tk_db_step(db, st)) == 1) {
        struct tk_outbox_item *x = &items[k++];
        x->delivery_id = tk_db_col_int(db, st, 0);
        x->attempts = tk_db_col_int(db, st, 1);
        x->endpoint_id = tk_db_col_int(db, st, 2);
        tk_st_col_uuid(db, st, 3, x->endpoint_uuid);
        x->url = tk_st_col_dup(db, st, 4, a);
        x->msg_id = tk_st_col_dup(db, st, 5, a);
        x->type = tk_st_col_dup(db, st, 6, a);
        x->body = tk_st_col_dup(db, st, 7, a);
        x->created = tk_db_col_int(db, st, 8);
        rc = x->url && x->msg_id && x->type && x->body ? 0 : TK_ERR_NOMEM;
    }
    if (prepared)
        tk_db_reset(db, st);
    tk_sql_free(&q);
    if (rc < 0)
        return rc;
    *out = items;
    *n_out = k;
    return 0;
}

int tk_store_outbox_result(struct tk_db *db, const struct tk_outbox_item *x,
                           const struct tk_outbox_result *r, int64_t now)
{
    static const char *const states[] = {"pending", "delivered", "failed"};
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "UPDATE webhook_deliveries SET state = ?, attempts = ?, "
                           "next_attempt = ?, claimed_until = NULL, last_status = ?, "
                           "last_error = ?, updated = ? WHERE id = ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, states[r->state]);
    tk_db_bind_int(db, st, 2, x->attempts + 1);
    tk_db_bind_int(db, st, 3, r->next_attempt);
    tk_db_bind_opt_int(db, st, 4, r->status > 0, r->status);
    tk_db_bind_cstr(db, st, 5, r->error);
    tk_db_bind_int(db, st, 6, now);
    tk_db_bind_int(db, st, 7, x->delivery_id);
    if ((rc = tk_st_run(db, st)) != 0)
        return rc;
    rc = tk_db_prepare(db,
                       "INSERT INTO webhook_attempts (endpoint_id, msg_id, type, attempt, status, "
                       "error, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, x->endpoint_id);
    tk_db_bind_cstr(db, st, 2, x->msg_id);
    tk_db_bind_cstr(db, st, 3, x->type);
    tk_db_bind_int(db, st, 4, x->attempts + 1);
    tk_db_bind_opt_int(db, st, 5, r->status > 0, r->status);
    tk_db_bind_cstr(db, st, 6, r->error);
    tk_db_bind_int(db, st, 7, now);
    return tk_st_run(db, st);
}

int tk_store_outbox_release_all(struct tk_db *db)
{
    return tk_db_exec(db, "UPDATE webhook_deliveries SET claimed_until = NULL "
                          "WHERE claimed_until IS NOT NULL");
}

int tk_store_outbox_stats(struct tk_db *db, int64_t *pending, bool *has_oldest, int64_t *oldest)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT COUNT(*), MIN(m.created) FROM webhook_deliveries d "
                           "JOIN webhook_messages m ON m.id = d.message_id "
                           "WHERE d.state = 'pending'",
                           &st);
    if (rc)
        return rc;
    rc = tk_db_step(db, st);
    if (rc == 1) {
        *pending = tk_db_col_int(db, st, 0);
        *has_oldest = !tk_db_col_null(db, st, 1);
        *oldest = tk_db_col_int(db, st, 1);
        rc = 0;
    } else if (rc == 0) {
        rc = TK_ERR_STORE;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_outbox_forget(struct tk_db *db, int64_t before)
{
    static const char *const sql[] = {
        "DELETE FROM webhook_attempts WHERE at < ?",
        "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated < ?",
        /* a message without deliveries left: sent everywhere, or its receivers removed */
        "DELETE FROM webhook_messages WHERE created < ? AND NOT EXISTS "
        "(SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        struct tk_db_stmt *st;
        int rc = tk_db_prepare(db, sql[i], &st);
        if (rc)
            return rc;
        tk_db_bind_int(db, st, 1, before);
        if ((rc = tk_st_run(db, st)) != 0)
            return rc;
    }
    return 0;
}

/* ---- expiry notices ---- */

int tk_store_notice_due(struct tk_db *db, int64_t now, int64_t notice_us, size_t limit,
                        struct tk_arena *a, int64_t **ids, size_t *n)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT t.id FROM tokens t WHERE t.expiring = 1 AND t.expires > ? AND "
                           "t.expires <= ? AND NOT EXISTS (SELECT 1 FROM expiry_notices n "
                           "WHERE n.token_id = t.id AND n.notice = ? AND n.expires = t.expires) "
                           "ORDER BY t.expires, t.id LIMIT ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, now);
    tk_db_bind_int(db, st, 2, now > INT64_MAX - notice_us ? INT64_MAX : now + notice_us);
    tk_db_bind_int(db, st, 3, notice_us);
    tk_db_bind_int(db, st, 4, (int64_t)limit);
    return tk_st_read_ids(db, st, a, limit, ids, n);
}

int tk_store_notice_record(struct tk_db *db, int64_t token_id, int64_t notice_us, int64_t expires,
                           bool *first)
{
    struct tk_db_stmt *st;
    int rc =
        tk_db_prepare(db,
                      "INSERT INTO expiry_notices (token_id, notice, expires) VALUES (?, ?, ?) "
                      "ON CONFLICT DO NOTHING RETURNING token_id",
                      &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, token_id);
    tk_db_bind_int(db, st, 2, notice_us);
    tk_db_bind_int(db, st, 3, expires);
    rc = tk_db_step(db, st);
    *first = rc == 1;
    if (rc == 1)
        return tk_st_run(db, st);
    tk_db_reset(db, st);
    return rc;
}

int tk_store_notice_forget(struct tk_db *db, int64_t before)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM expiry_notices WHERE expires < ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, before);
    return tk_st_run(db, st);
}
