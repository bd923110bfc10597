/* PostgreSQL driver (db.h) over libpq: '?' placeholders rewritten to $n, server-side prepared
 * statements cached per connection, text results (bytea decoded from hex), a short connect
 * timeout, the statement time budget as statement_timeout, and reconnection with backoff so
 * that an outage answers fast (TK_ERR_BUSY -> 503) and the first good request after it works.
 * Knows nothing of tokens. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "util/alloc.h"
#include "util/hash.h"
#include "util/limits.h"
#include "util/metrics.h"
#include "util/time.h"

#define STMT_CACHE_SLOTS 256
#define CONNECT_TIMEOUT_S "3"
#define OPTIONS "-c client_min_messages=warning"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define PIPELINE_MAX 4 /* statements queued for one round trip (tk_db_send) */

struct tk_db_stmt {
    struct pg_db *owner;
    char name[24];
    char *sql; /* the '?' form, cache key */
    int n_params;
    char **values;
    int *lengths, *formats;
    PGresult *res;
    int row, n_rows;
    bool executed, busy, transient;
    bool queued;         /* sent in the pipeline, its answer not read yet (or read into res) */
    int queued_rc;       /* the answer's outcome once the pipeline was read */
    unsigned char *blob; /* decoded bytea of the last col_blob */
    size_t blob_cap;
    unsigned generation; /* connection generation it was prepared on */
};

struct pg_db {
    struct tk_db base;
    PGconn *conn;
    char *url;
    struct tk_db_stmt cache[STMT_CACHE_SLOTS];
    unsigned next_id;
    unsigned generation; /* bumped on every reconnect: prepared statements are gone */
    int64_t retry_at_ms; /* no reconnect attempt before this */
    int backoff_ms;
    unsigned timeout_ms; /* statement_timeout, set again on every (re)connection; 0: none */
    struct tk_db_stmt *queue[PIPELINE_MAX]; /* sent in pipeline mode, answers not read yet */
    int n_queued;
    bool wrote; /* the open transaction wrote: its commit is a change */
};

/* libpq's blocking calls, each one round trip to the server, counted (the metric
 * tokend_store_round_trips_total; the round-trip tests read it). */
static PGresult *exec_trip(PGconn *c, const char *sql)
{
    tk_metrics_store_round_trip();
    return PQexec(c, sql);
}

static PGresult *prepare_trip(PGconn *c, const char *name, const char *sql, int n)
{
    tk_metrics_store_round_trip();
    return PQprepare(c, name, sql, n, NULL);
}

static PGresult *exec_prepared_trip(struct tk_db_stmt *st, PGconn *c)
{
    tk_metrics_store_round_trip();
    return PQexecPrepared(c, st->name, st->n_params, (const char *const *)st->values, st->lengths,
                          st->formats, 0);
}

static PGconn *connect_url(const char *url)
{
    const char *keys[] = {"dbname",           "connect_timeout", "options",
                          "application_name", "client_encoding", NULL};
    const char *vals[] = {url, CONNECT_TIMEOUT_S, OPTIONS, "tokend", "UTF8", NULL};
    return PQconnectdbParams(keys, vals, 1);
}

/* Makes sure the connection is usable; reconnects with backoff. */
static int ensure_conn(struct pg_db *d)
{
    if (d->conn != NULL && PQstatus(d->conn) == CONNECTION_OK)
        return 0;
    int64_t t = tk_mono_ms();
    if (t < d->retry_at_ms)
        return TK_ERR_BUSY; /* fail fast during an outage */
    if (d->conn != NULL)
        PQreset(d->conn);
    else
        d->conn = connect_url(d->url);
    d->generation++;
    d->wrote = false; /* a transaction open on the lost connection is gone */
    if (d->conn != NULL && PQstatus(d->conn) == CONNECTION_OK) {
        d->backoff_ms = 0;
        d->retry_at_ms = 0;
        /* explicit even when 0, so a server-wide statement_timeout does not apply instead */
        char set[96];
        snprintf(set, sizeof(set), "SET TIME ZONE 'UTC'; SET statement_timeout = %u",
                 d->timeout_ms);
        PQclear(exec_trip(d->conn, set));
        return 0;
    }
    d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (d->backoff_ms > BACKOFF_MAX_MS)
        d->backoff_ms = BACKOFF_MAX_MS;
    d->retry_at_ms = t + d->backoff_ms;
    return TK_ERR_BUSY;
}

/* A connection that the server dropped (restart, failover) is noticed on first use. Outside a
 * transaction nothing was lost yet: reconnect at once (the backoff applies to failed attempts)
 * and say whether the caller may retry. */
static bool reconnect_after_loss(struct pg_db *d, bool was_idle)
{
    if (!was_idle || d->conn == NULL || PQstatus(d->conn) == CONNECTION_OK)
        return false;
    d->retry_at_ms = 0;
    d->backoff_ms = 0;
    return ensure_conn(d) == 0;
}

static int map_result(struct pg_db *d, PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return 0;
    if (PQstatus(d->conn) != CONNECTION_OK)
        return TK_ERR_BUSY;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state != NULL) {
        if (strncmp(state, "23", 2) == 0) /* integrity constraint violations */
            return TK_ERR_CONFLICT;
        if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
            return TK_ERR_RETRY; /* serialization failure, deadlock: the transaction reruns */
        if (strcmp(state, "57014") == 0)
            return TK_ERR_TIMEOUT; /* query_canceled: statement_timeout (tokend never cancels) */
        if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
            strcmp(state, "57P03") == 0 || strcmp(state, "55P03") == 0)
            return TK_ERR_BUSY; /* connection, shutdown, lock not available */
        if (strcmp(state, "54000") == 0 || strcmp(state, "54001") == 0)
            return TK_ERR_TOOBIG;
    }
    fprintf(stderr, "tokend: PostgreSQL error: %s", PQresultErrorMessage(r));
    return TK_ERR_STORE;
}

/* A write committed: this process's caches do not answer from before it, and every other
 * process has heard of it before the answer goes out (pg_sync.c). */
static void committed(struct pg_db *d)
{
    d->wrote = false;
    tk_changes_committed(d->base.changes);
    tk_changes_sync(d->base.changes, d->conn);
}

/* A statement's answer: a write outside a transaction committed, one inside is remembered for
 * the transaction's commit. */
static void note_write(struct pg_db *d, bool idle)
{
    if (idle)
        committed(d);
    else
        d->wrote = true;
}

/* Ends the pipeline (tk_db_send): a sync point, then every queued statement's answer read
 * into it, in order (after a failed one, the rest answer TK_ERR_STORE: PostgreSQL skips them).
 * Whatever else is run on the connection first calls this. A write sent outside a transaction
 * committed at the sync point, which is marked as pg_step marks one (pg_changes.c). */
static void pipeline_finish(struct pg_db *d)
{
    if (d->n_queued == 0)
        return;
    tk_metrics_store_round_trip(); /* the whole batch */
    bool wrote = false;
    bool ok = PQpipelineSync(d->conn) == 1;
    for (int i = 0; i < d->n_queued; i++) {
        struct tk_db_stmt *q = d->queue[i];
        PGresult *r = ok ? PQgetResult(d->conn) : NULL;
        if (r == NULL) {
            q->queued_rc = TK_ERR_BUSY;
            ok = false;
            continue;
        }
        q->queued_rc =
            PQresultStatus(r) == PGRES_PIPELINE_ABORTED ? TK_ERR_STORE : map_result(d, r);
        q->res = r;
        if (q->queued_rc == 0 && strncmp(PQcmdStatus(r), "SELECT", 6) != 0)
            wrote = true;
        PGresult *end; /* each statement's answer ends with NULL */
        while ((end = PQgetResult(d->conn)) != NULL)
            PQclear(end);
    }
    PGresult *r = ok ? PQgetResult(d->conn) : NULL; /* PGRES_PIPELINE_SYNC */
    PQclear(r);
    d->n_queued = 0;
    bool idle = PQtransactionStatus(d->conn) == PQTRANS_IDLE;
    if (PQexitPipelineMode(d->conn) != 1) {
        /* answers still pending: the connection cannot be trusted; the next use reconnects */
        PQfinish(d->conn);
        d->conn = NULL;
    }
    if (wrote)
        note_write(d, idle);
}

/* '?' -> '$n' outside quoted text ('...' and "..."). The store writes no SQL comments, so a
 * '?' inside one is not looked for. */
static char *rewrite(const char *sql, int *n_params)
{
    size_t len = strlen(sql), cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += sql[i] == '?' ? 11 : 1; /* '$' and up to 10 digits */
    char *out = tk_malloc(cap);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    int n = 0;
    char quote = 0;
    for (size_t i = 0; i < len; i++) {
        char c = sql[i];
        if (quote) {
            out[o++] = c;
            if (c == quote)
                quote = 0;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            out[o++] = c;
        } else if (c == '?') {
            o += (size_t)snprintf(out + o, cap - o, "$%d", ++n);
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    *n_params = n;
    return out;
}

static void clear_params(struct tk_db_stmt *st)
{
    for (int i = 0; st->values && i < st->n_params; i++) {
        free(st->values[i]);
        st->values[i] = NULL;
        st->lengths[i] = 0;
        st->formats[i] = 0;
    }
    if (st->res) {
        PQclear(st->res);
        st->res = NULL;
    }
    st->executed = false;
    st->row = -1;
    st->n_rows = 0;
}

static void free_stmt(struct tk_db_stmt *st)
{
    clear_params(st);
    free(st->values);
    free(st->lengths);
    free(st->formats);
    free(st->sql);
    free(st->blob);
    memset(st, 0, sizeof(*st));
}

static int init_stmt(struct pg_db *d, struct tk_db_stmt *st, const char *sql)
{
    int n = 0;
    char *pgsql = rewrite(sql, &n);
    if (pgsql == NULL)
        return TK_ERR_NOMEM;
    st->owner = d;
    st->n_params = n;
    st->sql = tk_strdup(sql);
    st->values = tk_calloc((size_t)n + 1, sizeof(char *));
    st->lengths = tk_calloc((size_t)n + 1, sizeof(int));
    st->formats = tk_calloc((size_t)n + 1, sizeof(int));
    if (st->sql == NULL || st->values == NULL || st->lengths == NULL || st->formats == NULL) {
        free(pgsql);
        return TK_ERR_NOMEM;
    }
    snprintf(st->name, sizeof(st->name), "tk%u", ++d->next_id);
    bool idle = PQtransactionStatus(d->conn) == PQTRANS_IDLE;
    PGresult *r = prepare_trip(d->conn, st->name, pgsql, n);
    int rc = map_result(d, r);
    if (rc == TK_ERR_BUSY && reconnect_after_loss(d, idle)) {
        PQclear(r);
        r = prepare_trip(d->conn, st->name, pgsql, n);
        rc = map_result(d, r);
    }
    if (rc == TK_ERR_STORE)
        fprintf(stderr, "tokend: in: %s\n", pgsql);
    PQclear(r);
    free(pgsql);
    st->generation = d->generation;
    st->row = -1;
    return rc;
}

static int pg_prepare(struct tk_db *db, const char *sql, struct tk_db_stmt **out)
{
    struct pg_db *d = (struct pg_db *)db;
    int rc = ensure_conn(d);
    if (rc)
        return rc;
    /* Two-way set associative, as the SQLite driver's cache: a miss here is a round trip. */
    struct tk_db_stmt *pair = &d->cache[tk_hash_pair(tk_fnv1a_str(sql), STMT_CACHE_SLOTS)];
    for (int way = 0; way < 2; way++) {
        struct tk_db_stmt *s = &pair[way];
        if (s->sql != NULL && !s->busy && s->generation == d->generation &&
            strcmp(s->sql, sql) == 0) {
            clear_params(s);
            s->busy = true;
            *out = s;
            return 0;
        }
    }
    pipeline_finish(d); /* preparing is a round trip of its own */
    if ((rc = ensure_conn(d)) != 0)
        return rc;
    int way = tk_db_cache_way(pair[0].sql == NULL, pair[0].busy, pair[1].busy);
    struct tk_db_stmt *slot = way < 0 ? NULL : &pair[way];
    if (slot == NULL) {
        struct tk_db_stmt *t = tk_calloc(1, sizeof(*t));
        if (t == NULL)
            return TK_ERR_NOMEM;
        if ((rc = init_stmt(d, t, sql)) != 0) {
            free_stmt(t);
            free(t);
            return rc;
        }
        t->busy = t->transient = true;
        *out = t;
        return 0;
    }
    if (slot->sql != NULL) {
        if (slot->generation == d->generation) {
            char dealloc[48];
            snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", slot->name);
            PQclear(exec_trip(d->conn, dealloc));
        }
        free_stmt(slot);
    }
    if ((rc = init_stmt(d, slot, sql)) != 0) {
        free_stmt(slot);
        return rc;
    }
    slot->busy = true;
    *out = slot;
    return 0;
}

static int set_param(struct tk_db_stmt *st, int idx, const void *p, size_t len, int format)
{
    if (idx < 1 || idx > st->n_params)
        return TK_ERR_INVALID;
    free(st->values[idx - 1]);
    char *v = tk_malloc(len + 1);
    if (v == NULL)
        return TK_ERR_NOMEM;
    if (len)
        memcpy(v, p, len);
    v[len] = '\0';
    st->values[idx - 1] = v;
    st->lengths[idx - 1] = (int)len;
    st->formats[idx - 1] = format;
    return 0;
}

static int pg_bind_null(struct tk_db_stmt *st, int idx)
{
    if (idx < 1 || idx > st->n_params)
        return TK_ERR_INVALID;
    free(st->values[idx - 1]);
    st->values[idx - 1] = NULL;
    return 0;
}

static int pg_bind_int(struct tk_db_stmt *st, int idx, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return set_param(st, idx, buf, (size_t)n, 0);
}

static int pg_bind_text(struct tk_db_stmt *st, int idx, const char *s, size_t len)
{
    /* PostgreSQL text cannot hold NUL; the API refuses NUL in every value before this */
    if (memchr(s, '\0', len) != NULL)
        return TK_ERR_INVALID;
    return set_param(st, idx, s, len, 0);
}

static int pg_bind_blob(struct tk_db_stmt *st, int idx, const void *p, size_t len)
{
    return set_param(st, idx, p, len, 1);
}

static int pg_step(struct tk_db_stmt *st)
{
    struct pg_db *d = st->owner;
    if (!st->executed && st->queued) {
        pipeline_finish(d);
        st->executed = true;
        st->queued = false;
        if (st->queued_rc) {
            PQclear(st->res);
            st->res = NULL;
            return st->queued_rc;
        }
        st->n_rows = PQntuples(st->res);
        st->row = -1;
    }
    if (!st->executed) {
        pipeline_finish(d);
        st->executed = true;
        if (d->conn == NULL || st->generation != d->generation ||
            PQstatus(d->conn) != CONNECTION_OK)
            return TK_ERR_BUSY;
        bool idle = PQtransactionStatus(d->conn) == PQTRANS_IDLE;
        st->res = exec_prepared_trip(st, d->conn);
        int rc = map_result(d, st->res);
        if (rc == TK_ERR_BUSY && reconnect_after_loss(d, idle)) {
            /* the statement lived on the old connection: prepare it again, run it again */
            PQclear(st->res);
            st->res = NULL;
            int n = 0;
            char *pgsql = rewrite(st->sql, &n);
            if (pgsql == NULL)
                return TK_ERR_NOMEM;
            PGresult *pr = prepare_trip(d->conn, st->name, pgsql, n);
            free(pgsql);
            rc = map_result(d, pr);
            PQclear(pr);
            st->generation = d->generation;
            if (rc == 0) {
                st->res = exec_prepared_trip(st, d->conn);
                rc = map_result(d, st->res);
            }
        }
        if (rc) {
            PQclear(st->res);
            st->res = NULL;
            return rc;
        }
        if (strncmp(PQcmdStatus(st->res), "SELECT", 6) != 0)
            note_write(d, idle);
        st->n_rows = PQntuples(st->res);
        st->row = -1;
    }
    if (st->res == NULL)
        return 0;
    st->row++;
    return st->row < st->n_rows ? 1 : 0;
}

static int pg_send(struct tk_db_stmt *st)
{
    struct pg_db *d = st->owner;
    /* anything that cannot be queued simply runs at its first step */
    if (st->executed || st->queued || d->n_queued == PIPELINE_MAX || d->conn == NULL ||
        st->generation != d->generation || PQstatus(d->conn) != CONNECTION_OK ||
        (d->n_queued == 0 && PQenterPipelineMode(d->conn) != 1))
        return 0;
    if (PQsendQueryPrepared(d->conn, st->name, st->n_params, (const char *const *)st->values,
                            st->lengths, st->formats, 0) != 1) {
        if (d->n_queued == 0)
            (void)PQexitPipelineMode(d->conn);
        return 0;
    }
    st->queued = true;
    d->queue[d->n_queued++] = st;
    return 0;
}

static bool pg_col_null(struct tk_db_stmt *st, int col)
{
    return PQgetisnull(st->res, st->row, col) != 0;
}

static int64_t pg_col_int(struct tk_db_stmt *st, int col)
{
    if (PQgetisnull(st->res, st->row, col))
        return 0;
    return strtoll(PQgetvalue(st->res, st->row, col), NULL, 10);
}

static const char *pg_col_text(struct tk_db_stmt *st, int col, size_t *len)
{
    if (PQgetisnull(st->res, st->row, col)) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = (size_t)PQgetlength(st->res, st->row, col);
    return PQgetvalue(st->res, st->row, col);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static const void *pg_col_blob(struct tk_db_stmt *st, int col, size_t *len)
{
    /* bytea in text form: "\x" then hex digits */
    const char *v = PQgetvalue(st->res, st->row, col);
    size_t n = (size_t)PQgetlength(st->res, st->row, col);
    *len = 0;
    if (n < 2 || v[0] != '\\' || v[1] != 'x')
        return "";
    size_t out = (n - 2) / 2;
    if (out + 1 > st->blob_cap) {
        unsigned char *b = tk_realloc(st->blob, out + 1);
        if (b == NULL)
            return "";
        st->blob = b;
        st->blob_cap = out + 1;
    }
    for (size_t i = 0; i < out; i++) {
        int hi = hexval(v[2 + 2 * i]), lo = hexval(v[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return "";
        st->blob[i] = (unsigned char)(hi * 16 + lo);
    }
    *len = out;
    return st->blob;
}

static void pg_reset(struct tk_db_stmt *st)
{
    if (st->queued) {
        pipeline_finish(st->owner); /* its answer must be read off the connection */
        st->queued = false;
    }
    if (st->transient) {
        struct pg_db *d = st->owner;
        pipeline_finish(d);
        if (st->generation == d->generation && d->conn != NULL &&
            PQstatus(d->conn) == CONNECTION_OK) {
            char dealloc[48];
            snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", st->name);
            PQclear(exec_trip(d->conn, dealloc));
        }
        free_stmt(st);
        free(st);
        return;
    }
    clear_params(st);
    st->busy = false;
}

static int pg_exec(struct tk_db *db, const char *script)
{
    struct pg_db *d = (struct pg_db *)db;
    pipeline_finish(d);
    int rc = ensure_conn(d);
    if (rc)
        return rc;
    bool idle = PQtransactionStatus(d->conn) == PQTRANS_IDLE;
    PGresult *r = exec_trip(d->conn, script);
    rc = map_result(d, r);
    if (rc == TK_ERR_BUSY && reconnect_after_loss(d, idle)) {
        PQclear(r);
        r = exec_trip(d->conn, script);
        rc = map_result(d, r);
    }
    PQclear(r);
    /* a COMMIT, or a script outside a transaction (BEGIN, COMMIT and ROLLBACK write nothing) */
    bool control = strcmp(script, "BEGIN") == 0 || strcmp(script, "COMMIT") == 0 ||
                   strcmp(script, "ROLLBACK") == 0;
    if (rc == 0 && !control)
        note_write(d, PQtransactionStatus(d->conn) == PQTRANS_IDLE);
    else if (rc == 0 && PQtransactionStatus(d->conn) == PQTRANS_IDLE && d->wrote)
        committed(d);
    else if (PQtransactionStatus(d->conn) == PQTRANS_IDLE)
        d->wrote = false; /* rolled back, or failed */
    return rc;
}

static int pg_begin(struct tk_db *db, bool write)
{
    (void)write; /* READ COMMITTED; writers are ordered by row locks and unique indexes */
    return pg_exec(db, "BEGIN");
}

static int pg_commit(struct tk_db *db)
{
    return pg_exec(db, "COMMIT");
}

static void pg_rollback(struct tk_db *db)
{
    struct pg_db *d = (struct pg_db *)db;
    pipeline_finish(d);
    d->wrote = false;
    if (d->conn != NULL && PQstatus(d->conn) == CONNECTION_OK &&
        PQtransactionStatus(d->conn) != PQTRANS_IDLE)
        PQclear(exec_trip(d->conn, "ROLLBACK"));
}

static void pg_close(struct tk_db *db)
{
    struct pg_db *d = (struct pg_db *)db;
    for (int i = 0; i < STMT_CACHE_SLOTS; i++)
        free_stmt(&d->cache[i]);
    if (d->conn)
        PQfinish(d->conn);
    free(d->url);
    free(d);
}

static const char *pg_errmsg(struct tk_db *db)
{
    struct pg_db *d = (struct pg_db *)db;
    return d->conn ? PQerrorMessage(d->conn) : "not connected";
}

static int pg_version(struct tk_db *db, uint64_t *out)
{
    *out = tk_changes_version(db->changes, db);
    return 0;
}

static void pg_set_statement_timeout(struct tk_db *db, unsigned ms)
{
    struct pg_db *d = (struct pg_db *)db;
    pipeline_finish(d);
    d->timeout_ms = ms;
    /* SET inside a transaction would be undone by its rollback: callers set the budget between
     * transactions; a reconnection sets it again */
    if (d->conn != NULL && PQstatus(d->conn) == CONNECTION_OK &&
        PQtransactionStatus(d->conn) == PQTRANS_IDLE) {
        char set[64];
        snprintf(set, sizeof(set), "SET statement_timeout = %u", ms);
        PQclear(exec_trip(d->conn, set));
    }
}

static int pg_copy_in(struct tk_db *db, const char *sql, const char *data, size_t len)
{
    struct pg_db *d = (struct pg_db *)db;
    pipeline_finish(d);
    int rc = ensure_conn(d);
    if (rc)
        return rc;
    PGresult *r = exec_trip(d->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        rc = map_result(d, r);
        PQclear(r);
        return rc ? rc : TK_ERR_STORE;
    }
    PQclear(r);
    /* the data goes in pieces libpq takes whole; an error is answered by the final result */
    bool sent = true;
    for (size_t off = 0; off < len && sent;) {
        size_t n = len - off < TK_PG_COPY_CHUNK_BYTES ? len - off : TK_PG_COPY_CHUNK_BYTES;
        sent = PQputCopyData(d->conn, data + off, (int)n) == 1;
        off += n;
    }
    if (PQputCopyEnd(d->conn, sent ? NULL : "tokend: sending the data failed") != 1)
        return TK_ERR_BUSY;
    rc = 0;
    while ((r = PQgetResult(d->conn)) != NULL) {
        int e = map_result(d, r);
        if (rc == 0)
            rc = e;
        PQclear(r);
    }
    if (rc == 0 && sent)
        note_write(d, PQtransactionStatus(d->conn) == PQTRANS_IDLE);
    return rc ? rc : sent ? 0 : TK_ERR_BUSY;
}

static const struct tk_db_ops pg_ops = {
    .prepare = pg_prepare,
    .bind_null = pg_bind_null,
    .bind_int = pg_bind_int,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .send = pg_send,
    .col_null = pg_col_null,
    .col_int = pg_col_int,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .reset = pg_reset,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .close = pg_close,
    .errmsg = pg_errmsg,
    .version = pg_version,
    .set_statement_timeout = pg_set_statement_timeout,
    .copy_in = pg_copy_in,
};

int tk_db_pg_open_lazy(const char *url, struct tk_db **out)
{
    /* a handle that connects on first use, with the usual backoff (a replica may be down) */
    struct pg_db *d = tk_calloc(1, sizeof(*d));
    if (d == NULL)
        return TK_ERR_NOMEM;
    d->base.ops = &pg_ops;
    d->base.dialect = TK_DIALECT_PG;
    d->base.id = tk_db_next_id();
    d->url = tk_strdup(url);
    if (d->url == NULL) {
        free(d);
        return TK_ERR_NOMEM;
    }
    (void)ensure_conn(d);
    *out = &d->base;
    return 0;
}

/* One host of a libpq host list: a socket directory (or abstract socket), localhost or a
 * loopback address. */
static bool local_host(const char *h, size_t len)
{
    if (len == 0 || h[0] == '/' || h[0] == '@')
        return true;
    if ((len == 9 && strncmp(h, "localhost", 9) == 0) || (len == 3 && strncmp(h, "::1", 3) == 0))
        return true;
    return len >= 4 && strncmp(h, "127.", 4) == 0 && strspn(h, "0123456789.") == len;
}

static bool local_hosts(const char *list)
{
    for (const char *h = list;;) {
        size_t len = strcspn(h, ",");
        if (!local_host(h, len))
            return false;
        if (h[len] == '\0')
            return true;
        h += len + 1;
    }
}

bool tk_db_pg_is_local(const char *url)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    if (opts == NULL)
        return false;
    const char *host = NULL, *hostaddr = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val != NULL && o->val[0] != '\0' && strcmp(o->keyword, "host") == 0)
            host = o->val;
        if (o->val != NULL && o->val[0] != '\0' && strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
    }
    if (host == NULL && hostaddr == NULL)
        host = getenv("PGHOST"); /* libpq's default when the URL names none */
    /* hostaddr, when given, is what libpq connects to */
    bool local = local_hosts(hostaddr ? hostaddr : host ? host : "");
    PQconninfoFree(opts);
    return local;
}

int tk_db_pg_open(const char *url, struct tk_db **out, char *err, size_t err_len)
{
    struct pg_db *d = tk_calloc(1, sizeof(*d));
    if (d == NULL)
        return TK_ERR_NOMEM;
    d->base.ops = &pg_ops;
    d->base.dialect = TK_DIALECT_PG;
    d->base.id = tk_db_next_id();
    d->url = tk_strdup(url);
    if (d->url == NULL) {
        free(d);
        return TK_ERR_NOMEM;
    }
    int rc = ensure_conn(d);
    if (rc) {
        /* libpq's message names the host and the reason; passwords are never in it */
        snprintf(err, err_len, "cannot connect to PostgreSQL: %s",
                 d->conn ? PQerrorMessage(d->conn) : "out of memory");
        size_t l = strlen(err);
        while (l > 0 && (err[l - 1] == '\n' || err[l - 1] == ' '))
            err[--l] = '\0';
        pg_close(&d->base);
        return rc;
    }
    *out = &d->base;
    return 0;
}
