/* The thin driver interface under the store: one connection, prepared statements, rows. The
 * store's entity files (internal.h lists them) write their SQL once against this; sqlite.c and
 * pg.c implement it. SQL uses
 * '?' placeholders; a driver rewrites them for its engine. A connection is used by one thread
 * at a time. Statements returned by tk_db_prepare belong to the connection's cache: reset them
 * (tk_db_reset) when done, never free them. */
#ifndef TK_STORE_DB_H
#define TK_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/limits.h"
#include "util/metrics.h"

enum tk_dialect { TK_DIALECT_SQLITE, TK_DIALECT_PG };

struct tk_db;
struct tk_db_stmt;
struct tk_changes;
struct tk_positions;

struct tk_db_ops {
    int (*prepare)(struct tk_db *db, const char *sql, struct tk_db_stmt **out);
    int (*bind_null)(struct tk_db_stmt *st, int idx);
    int (*bind_int)(struct tk_db_stmt *st, int idx, int64_t v);
    int (*bind_text)(struct tk_db_stmt *st, int idx, const char *s, size_t len);
    int (*bind_blob)(struct tk_db_stmt *st, int idx, const void *p, size_t len);
    int (*step)(struct tk_db_stmt *st); /* 1 row, 0 done, < 0 error */
    /* Sends a bound statement now, to run in one round trip with the ones sent after it
     * (PostgreSQL's pipeline mode); its rows are read by step as usual, and the first step of
     * any of them (or anything else run on the connection) ends the batch. NULL: the engine
     * runs a statement at its first step (SQLite). */
    int (*send)(struct tk_db_stmt *st);
    bool (*col_null)(struct tk_db_stmt *st, int col);
    int64_t (*col_int)(struct tk_db_stmt *st, int col);
    const char *(*col_text)(struct tk_db_stmt *st, int col, size_t *len); /* "" for NULL */
    const void *(*col_blob)(struct tk_db_stmt *st, int col, size_t *len);
    void (*reset)(struct tk_db_stmt *st);
    int (*exec)(struct tk_db *db, const char *script); /* several statements, no rows */
    int (*begin)(struct tk_db *db, bool write);
    int (*commit)(struct tk_db *db);
    void (*rollback)(struct tk_db *db);
    void (*close)(struct tk_db *db);
    const char *(*errmsg)(struct tk_db *db);
    /* A value that changes whenever the database may have changed since it was last read on
     * this connection (by anyone, this connection included); NULL when the engine cannot
     * tell cheaply. Read inside a read transaction, it describes that transaction's data. */
    int (*version)(struct tk_db *db, uint64_t *out);
    /* The time budget of every statement run on this connection from now on, in milliseconds
     * (0: none): a statement still running when it is spent is stopped, its transaction rolled
     * back, and the call answers TK_ERR_TIMEOUT. */
    void (*set_statement_timeout)(struct tk_db *db, unsigned ms);
    /* Runs sql, a COPY ... FROM STDIN in text format, with data (whole rows) as its input;
     * NULL where the engine has no such command (SQLite). */
    int (*copy_in)(struct tk_db *db, const char *sql, const char *data, size_t len);
};

struct tk_db {
    const struct tk_db_ops *ops;
    enum tk_dialect dialect;
    uint64_t id;        /* unique among the process's connections, never 0 */
    int64_t stmt_t0_ns; /* first step of the statement being run, for the store latency metric */
    int bind_err;       /* the first failed bind since the last prepare (see tk_db_bind_int) */
    /* PostgreSQL: the process's change watch (pg_changes.c) on the store's own connections,
     * NULL elsewhere (replicas, the command line): it gives the data version, and every
     * commit made on the connection is marked in it. */
    struct tk_changes *changes;
    /* PostgreSQL: the process's positions of the token list (pg_positions.c) on the store's own
     * connections, NULL elsewhere. */
    struct tk_positions *positions;
    /* PostgreSQL: the trigrams in most tokens' search texts, as the statistics said when this
     * connection last read them (search.c): 0x1f before each and at the end, "" for none.
     * common_trigrams_at: when (tk_now_us), 0 never, -1 never again (no statistics here). */
    int64_t common_trigrams_at;
    char common_trigrams[TK_MAX_COMMON_TRIGRAM_BYTES];
};

/* pg_changes.c: the change watch's data version for a read on db (0: unknown, cache nothing),
 * and the mark of a commit made by this process. c may be NULL. */
uint64_t tk_changes_version(struct tk_changes *c, struct tk_db *db);
void tk_changes_committed(struct tk_changes *c);
/* pg_changes.c: the backend pid of this process's listening connection while it listens, else 0
 * (c may be NULL). */
int tk_changes_listener_pid(struct tk_changes *c);
/* pg_sync.c: after a commit that wrote, on its connection (idle), in any mode: returns once every
 * other process listening for changes has confirmed knowing of it, or has lost its listening
 * connection (docs/api.md §20.1). c: this process's watch, NULL for none. */
struct pg_conn;
void tk_changes_sync(struct tk_changes *c, struct pg_conn *conn);

/* Opens a connection for a database URL ("sqlite:PATH", "sqlite::memory:"). On failure returns
 * an error and writes a reason into err. */
int tk_db_open(const char *url, struct tk_db **out, char *err, size_t err_len) TK_MUST_USE;
int tk_db_sqlite_open(const char *path, struct tk_db **out, char *err, size_t err_len) TK_MUST_USE;
/* url: postgres://, postgresql:// or a libpq key=value string. */
int tk_db_pg_open(const char *url, struct tk_db **out, char *err, size_t err_len) TK_MUST_USE;
/* A PostgreSQL handle that (re)connects on use and never fails to open (for replicas). */
int tk_db_pg_open_lazy(const char *url, struct tk_db **out) TK_MUST_USE;
/* Is this database URL one for PostgreSQL? */
bool tk_db_url_is_pg(const char *url);
/* Does this PostgreSQL URL name a server on this machine only: every host (or hostaddr) a Unix
 * socket directory, localhost or a loopback address, or none (libpq's default socket, unless
 * PGHOST names another)? False for anything libpq cannot parse. */
bool tk_db_pg_is_local(const char *url);
/* The path of a SQLite URL: what follows "sqlite:" (and "//" if present: sqlite:///abs/path and
 * sqlite://rel are accepted as well as sqlite:path), possibly "" or ":memory:"; NULL when url is
 * not a SQLite URL. Points into url. */
const char *tk_db_sqlite_path(const char *url);

/* Convenience wrappers over the ops. */
static inline int tk_db_prepare(struct tk_db *db, const char *sql, struct tk_db_stmt **st)
{
    db->bind_err = 0;
    return db->ops->prepare(db, sql, st);
}
/* Binds parameter idx (1-based) of a statement just prepared. A bind cannot be forgotten to be
 * checked: these return nothing, and the first failure among a statement's binds is kept on the
 * connection and answered by its next tk_db_step, which then does not run the statement (a
 * statement with a parameter missing must not run with it NULL). tk_db_prepare and tk_db_reset
 * clear it. */
void tk_db_bind_int(struct tk_db *db, struct tk_db_stmt *st, int idx, int64_t v);
void tk_db_bind_text(struct tk_db *db, struct tk_db_stmt *st, int idx, const char *s, size_t len);
void tk_db_bind_cstr(struct tk_db *db, struct tk_db_stmt *st, int idx,
                     const char *s); /* NULL: null */
/* v when has, else null (nullable times and ids). */
void tk_db_bind_opt_int(struct tk_db *db, struct tk_db_stmt *st, int idx, bool has, int64_t v);
void tk_db_bind_blob(struct tk_db *db, struct tk_db_stmt *st, int idx, const void *p, size_t len);
/* A statement's latency runs from its first step to its reset (both ends go through these
 * wrappers); nested statements on one connection count as one. */
static inline int tk_db_step(struct tk_db *db, struct tk_db_stmt *st)
{
    if (db->bind_err != 0)
        return db->bind_err; /* a bind failed: the statement does not run */
    if (db->stmt_t0_ns == 0)
        db->stmt_t0_ns = tk_metrics_now_ns();
    return db->ops->step(st);
}
/* ops->send: statements sent one after another cost one round trip together. Call it right
 * after the statement's binds: a failed bind is answered here (the statement is not sent, and
 * the caller resets it), since preparing the next statement forgets it. 0 otherwise, whether or
 * not the engine batches (a statement not sent runs at its first step). */
static inline int tk_db_send(struct tk_db *db, struct tk_db_stmt *st)
{
    if (db->bind_err != 0)
        return db->bind_err;
    return db->ops->send == NULL ? 0 : db->ops->send(st);
}
static inline void tk_db_reset(struct tk_db *db, struct tk_db_stmt *st)
{
    db->bind_err = 0;
    db->ops->reset(st);
    if (db->stmt_t0_ns != 0) {
        tk_metrics_store_query(tk_metrics_now_ns() - db->stmt_t0_ns);
        db->stmt_t0_ns = 0;
    }
}
static inline int tk_db_exec(struct tk_db *db, const char *sql)
{
    int64_t t0 = tk_metrics_now_ns();
    int rc = db->ops->exec(db, sql);
    tk_metrics_store_query(tk_metrics_now_ns() - t0);
    return rc;
}
static inline int tk_db_begin(struct tk_db *db, bool write)
{
    return db->ops->begin(db, write);
}
static inline int tk_db_commit(struct tk_db *db)
{
    int64_t t0 = tk_metrics_now_ns();
    int rc = db->ops->commit(db);
    tk_metrics_store_query(tk_metrics_now_ns() - t0);
    return rc;
}
static inline void tk_db_rollback(struct tk_db *db)
{
    db->ops->rollback(db);
}
/* The drivers' statement caches are two-way set associative: which way of a pair takes a new
 * statement. An empty first way, else the second unless in use, else the first unless in use;
 * -1 when both are in use (nested queries): the caller hands out a one-off statement. */
static inline int tk_db_cache_way(bool first_empty, bool first_busy, bool second_busy)
{
    if (first_empty)
        return 0;
    if (!second_busy)
        return 1;
    return first_busy ? -1 : 0;
}

/* The connection's data version (ops->version); 0 when it cannot be known, or on error. */
static inline uint64_t tk_db_version(struct tk_db *db)
{
    uint64_t v = 0;
    if (db->ops->version == NULL || db->ops->version(db, &v) != 0)
        return 0;
    return v;
}
/* The connection's statement time budget (ops->set_statement_timeout); 0: none. Each statement
 * gets the whole budget: SQLite counts from its first step, PostgreSQL from its execution (a
 * transaction of many statements may take longer than one budget). */
static inline void tk_db_set_statement_timeout(struct tk_db *db, unsigned ms)
{
    db->ops->set_statement_timeout(db, ms);
}
/* ops->copy_in; TK_ERR_INVALID on an engine without it. */
static inline int tk_db_copy_in(struct tk_db *db, const char *sql, const char *data, size_t len)
{
    if (db->ops->copy_in == NULL)
        return TK_ERR_INVALID;
    int64_t t0 = tk_metrics_now_ns();
    int rc = db->ops->copy_in(db, sql, data, len);
    tk_metrics_store_query(tk_metrics_now_ns() - t0);
    return rc;
}
/* A fresh connection id (tk_db.id). */
uint64_t tk_db_next_id(void);
static inline void tk_db_close(struct tk_db *db)
{
    if (db)
        db->ops->close(db);
}
static inline bool tk_db_col_null(struct tk_db *db, struct tk_db_stmt *st, int c)
{
    return db->ops->col_null(st, c);
}
static inline int64_t tk_db_col_int(struct tk_db *db, struct tk_db_stmt *st, int c)
{
    return db->ops->col_int(st, c);
}
static inline const char *tk_db_col_text(struct tk_db *db, struct tk_db_stmt *st, int c,
                                         size_t *len)
{
    return db->ops->col_text(st, c, len);
}
static inline const void *tk_db_col_blob(struct tk_db *db, struct tk_db_stmt *st, int c,
                                         size_t *len)
{
    return db->ops->col_blob(st, c, len);
}

#endif
