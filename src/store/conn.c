/* The store's connections (store.h): one per thread, opened on first use, the replica's beside
 * it, the statement time budget every connection gets, transactions with their retry, and the
 * cross-process locks. Knows no table but the rows it locks. */
#include "store/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"

static void close_conn(void *p)
{
    tk_db_close(p);
}

int tk_store_open(const char *url, struct tk_store **out, char *err, size_t err_len)
{
    *out = NULL;
    struct tk_store *s = tk_calloc(1, sizeof(*s));
    if (s == NULL)
        return TK_ERR_NOMEM;
    s->url = tk_strdup(url);
    if (s->url == NULL) {
        free(s);
        return TK_ERR_NOMEM;
    }
    s->dialect = tk_db_url_is_pg(url) ? TK_DIALECT_PG : TK_DIALECT_SQLITE;
    if (s->dialect == TK_DIALECT_PG && tk_positions_new(&s->positions) != 0) {
        free(s->url);
        free(s);
        return TK_ERR_NOMEM;
    }
    if (pthread_key_create(&s->conn_key, close_conn) != 0 ||
        pthread_key_create(&s->replica_key, close_conn) != 0) {
        snprintf(err, err_len, "cannot create thread key");
        tk_positions_free(s->positions);
        free(s->url);
        free(s);
        return TK_ERR_NOMEM;
    }
    *out = s;
    return 0;
}

void tk_store_thread_done(struct tk_store *s)
{
    struct tk_db *db = pthread_getspecific(s->conn_key);
    if (db != NULL) {
        pthread_setspecific(s->conn_key, NULL);
        tk_db_close(db);
    }
    db = pthread_getspecific(s->replica_key);
    if (db != NULL) {
        pthread_setspecific(s->replica_key, NULL);
        tk_db_close(db);
    }
}

int tk_store_set_replica(struct tk_store *s, const char *url)
{
    if (!tk_db_url_is_pg(url))
        return TK_ERR_INVALID;
    free(s->replica_url);
    s->replica_url = tk_strdup(url);
    return s->replica_url ? 0 : TK_ERR_NOMEM;
}

struct tk_db *tk_store_db_read(struct tk_store *s)
{
    if (s->replica_url == NULL)
        return tk_store_db(s);
    struct tk_db *db = pthread_getspecific(s->replica_key);
    if (db == NULL) {
        if (tk_db_pg_open_lazy(s->replica_url, &db) != 0)
            return tk_store_db(s);
        tk_db_set_statement_timeout(db, s->statement_timeout_ms);
        if (pthread_setspecific(s->replica_key, db) != 0) {
            tk_db_close(db);
            return tk_store_db(s);
        }
    }
    return db;
}

void tk_store_free(struct tk_store *s)
{
    if (s == NULL)
        return;
    tk_store_thread_done(s);
    tk_store_watch_stop(s);
    pthread_key_delete(s->conn_key);
    pthread_key_delete(s->replica_key);
    tk_positions_free(s->positions);
    free(s->replica_url);
    free(s->url);
    free(s);
}

struct tk_db *tk_store_db(struct tk_store *s)
{
    struct tk_db *db = pthread_getspecific(s->conn_key);
    if (db != NULL)
        return db;
    char err[256];
    if (tk_db_open(s->url, &db, err, sizeof(err)) != 0) {
        fprintf(stderr, "tokend: %s\n", err);
        return NULL;
    }
    tk_db_set_statement_timeout(db, s->statement_timeout_ms);
    db->changes = s->changes;
    db->positions = s->positions;
    if (pthread_setspecific(s->conn_key, db) != 0) {
        tk_db_close(db);
        return NULL;
    }
    return db;
}

void tk_store_set_statement_timeout(struct tk_store *s, unsigned ms)
{
    s->statement_timeout_ms = ms;
    struct tk_db *db = pthread_getspecific(s->conn_key);
    if (db != NULL)
        tk_db_set_statement_timeout(db, ms);
    db = pthread_getspecific(s->replica_key);
    if (db != NULL)
        tk_db_set_statement_timeout(db, ms);
}

const char *tk_store_installation_id(const struct tk_store *s)
{
    return s->installation_id;
}

int tk_store_write_tx(struct tk_db *db, int (*fn)(struct tk_db *db, void *ctx), void *ctx)
{
    /* A transaction that lost a deadlock or serialization race (PostgreSQL) is rolled back
     * and run again from the start, a few times, before the client hears of it (503). */
    int rc = TK_ERR_RETRY;
    for (int attempt = 0; attempt < 5 && rc == TK_ERR_RETRY; attempt++) {
        if (attempt > 0) {
            struct timespec ts = {0, (long)(1 + attempt * 3) * 1000000L};
            nanosleep(&ts, NULL);
        }
        rc = tk_db_begin(db, true);
        if (rc)
            continue;
        rc = fn(db, ctx);
        if (rc == 0)
            rc = tk_db_commit(db);
        if (rc)
            tk_db_rollback(db);
    }
    return rc == TK_ERR_RETRY ? TK_ERR_BUSY : rc;
}

int tk_store_read_begin(struct tk_db *db)
{
    return db->dialect == TK_DIALECT_PG ? 0 : tk_db_begin(db, false);
}

void tk_store_read_end(struct tk_db *db)
{
    /* A read transaction has nothing to keep; rolling back also ends it after an error. */
    if (db->dialect != TK_DIALECT_PG)
        tk_db_rollback(db);
}

int tk_store_watch_start(struct tk_store *s, bool notified)
{
    if (s->dialect != TK_DIALECT_PG || s->changes != NULL)
        return 0;
    return tk_changes_start(s->url, notified, &s->changes);
}

void tk_store_watch_stop(struct tk_store *s)
{
    tk_changes_stop(s->changes);
    s->changes = NULL;
}

int tk_store_try_lock(struct tk_db *db, int64_t key, bool *got)
{
    *got = true;
    if (db->dialect != TK_DIALECT_PG)
        return 0;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT CASE WHEN pg_try_advisory_lock(CAST(? AS BIGINT)) "
                           "THEN 1 ELSE 0 END",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, key);
    rc = tk_db_step(db, st);
    *got = rc == 1 && tk_db_col_int(db, st, 0) == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

void tk_store_unlock(struct tk_db *db, int64_t key)
{
    if (db->dialect != TK_DIALECT_PG)
        return;
    struct tk_db_stmt *st;
    if (tk_db_prepare(db, "SELECT pg_advisory_unlock(CAST(? AS BIGINT))", &st) == 0) {
        tk_db_bind_int(db, st, 1, key);
        (void)tk_st_run(db, st);
    }
}

/* FOR NO KEY UPDATE, not FOR UPDATE: foreign-key checks of concurrent membership writes take
 * KEY SHARE locks on the same rows, which this does not block (FOR UPDATE deadlocked them). */
static int lock_row(struct tk_db *db, const char *sql, int64_t id)
{
    if (db->dialect != TK_DIALECT_PG)
        return 0;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, sql, &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    return tk_st_run(db, st);
}

int tk_store_token_lock(struct tk_db *db, int64_t id)
{
    return lock_row(db, "SELECT id FROM tokens WHERE id = ? FOR NO KEY UPDATE", id);
}

int tk_store_user_lock(struct tk_db *db, int64_t id)
{
    return lock_row(db, "SELECT id FROM users WHERE id = ? FOR NO KEY UPDATE", id);
}

int tk_store_group_lock(struct tk_db *db, int64_t id)
{
    return lock_row(db, "SELECT id FROM groups WHERE id = ? FOR NO KEY UPDATE", id);
}

void tk_store_snapshot(struct tk_db *db, struct tk_store_snapshot *out)
{
    out->conn = db->id;
    out->version = tk_db_version(db);
}

bool tk_store_is_pg(const struct tk_store *s)
{
    return s->dialect == TK_DIALECT_PG;
}
