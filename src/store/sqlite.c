/* SQLite driver (db.h): WAL, synchronous=FULL, foreign keys on, a busy timeout, a per-
 * connection cache of prepared statements keyed by SQL text, and a time budget per statement
 * (a progress handler). Knows nothing of tokens. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db.h"
#include "store/sqlite_file.h"
#include "util/alloc.h"
#include "util/hash.h"

#define STMT_CACHE_SLOTS 256
#define BUSY_TIMEOUT_MS 5000
/* VM instructions between two looks at the clock by the progress handler: a few microseconds of
 * work, so a statement overruns its budget by about that; a statement shorter than this never
 * reads the clock at all. */
#define PROGRESS_OPS 1000

struct tk_db_stmt {
    sqlite3_stmt *st;
    char *sql;
    struct sq_db *owner;
    bool busy;           /* handed out and not yet reset */
    bool transient;      /* not in the cache: finalized and freed by reset */
    int64_t deadline_ns; /* from its first step to its reset; 0: not started, or no budget */
};

struct sq_db {
    struct tk_db base;
    sqlite3 *h;
    uint32_t commits;    /* this connection's own commits (sqlite3_commit_hook) */
    int64_t budget_ns;   /* each statement's time budget, 0: none */
    int64_t deadline_ns; /* of the statement running now, for the progress handler; 0: none */
    bool timed_out;      /* the progress handler stopped it */
    struct tk_db_stmt cache[STMT_CACHE_SLOTS];
};

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE: return 0;
    case SQLITE_ROW: return 1;
    case SQLITE_NOMEM: return TK_ERR_NOMEM;
    case SQLITE_TOOBIG: return TK_ERR_TOOBIG;
    case SQLITE_CONSTRAINT: return TK_ERR_CONFLICT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return TK_ERR_BUSY;
    default: return TK_ERR_STORE;
    }
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Stops the running statement once its deadline has passed (SQLITE_INTERRUPT). SQLite then
 * rolls back a write statement's whole transaction itself; any other is rolled back by the
 * caller on the error (tk_store_write_tx). Work inside one VM instruction (a sort's merge, an
 * FTS5 doclist) is not interrupted: the budget is checked between instructions. */
static int sq_progress(void *p)
{
    struct sq_db *d = p;
    if (d->deadline_ns == 0 || mono_ns() < d->deadline_ns)
        return 0;
    d->timed_out = true;
    return 1;
}

/* The cache is two-way set associative: a statement lives in either slot of its pair, so two
 * statements of one request that hash alike (BEGIN and a page's users query did) do not evict
 * each other and get parsed again on every request. */
static int sq_prepare(struct tk_db *db, const char *sql, struct tk_db_stmt **out)
{
    struct sq_db *d = (struct sq_db *)db;
    struct tk_db_stmt *pair = &d->cache[tk_hash_pair(tk_fnv1a_str(sql), STMT_CACHE_SLOTS)];
    for (int way = 0; way < 2; way++) {
        struct tk_db_stmt *slot = &pair[way];
        if (slot->st != NULL && !slot->busy && strcmp(slot->sql, sql) == 0) {
            sqlite3_reset(slot->st);
            sqlite3_clear_bindings(slot->st);
            slot->busy = true;
            slot->deadline_ns = 0;
            *out = slot;
            return 0;
        }
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "tokend: SQLite cannot prepare: %s\n", sqlite3_errmsg(d->h));
        return map_rc(rc) ? map_rc(rc) : TK_ERR_STORE;
    }
    /* a way for the new statement (tk_db_cache_way), or a one-off statement */
    int way = tk_db_cache_way(pair[0].st == NULL, pair[0].busy, pair[1].busy);
    struct tk_db_stmt *slot = way < 0 ? NULL : &pair[way];
    if (slot == NULL) {
        struct tk_db_stmt *t = tk_calloc(1, sizeof(*t));
        if (t == NULL) {
            sqlite3_finalize(st);
            return TK_ERR_NOMEM;
        }
        t->st = st;
        t->owner = d;
        t->busy = t->transient = true;
        *out = t;
        return 0;
    }
    char *copy = tk_strdup(sql);
    if (copy == NULL) {
        sqlite3_finalize(st);
        return TK_ERR_NOMEM;
    }
    if (slot->st != NULL) {
        sqlite3_finalize(slot->st);
        free(slot->sql);
    }
    slot->st = st;
    slot->sql = copy;
    slot->owner = d;
    slot->busy = true;
    slot->deadline_ns = 0;
    *out = slot;
    return 0;
}

static int sq_bind_null(struct tk_db_stmt *st, int idx)
{
    return map_rc(sqlite3_bind_null(st->st, idx));
}

static int sq_bind_int(struct tk_db_stmt *st, int idx, int64_t v)
{
    return map_rc(sqlite3_bind_int64(st->st, idx, v));
}

static int sq_bind_text(struct tk_db_stmt *st, int idx, const char *s, size_t len)
{
    return map_rc(sqlite3_bind_text64(st->st, idx, s, len, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int sq_bind_blob(struct tk_db_stmt *st, int idx, const void *p, size_t len)
{
    return map_rc(sqlite3_bind_blob64(st->st, idx, p, len, SQLITE_TRANSIENT));
}

static int sq_step(struct tk_db_stmt *st)
{
    /* The budget runs from the statement's first step to its reset, across its rows: each
     * statement has its own, whatever ran before it in the transaction. */
    struct sq_db *d = st->owner;
    if (d->budget_ns > 0 && st->deadline_ns == 0)
        st->deadline_ns = mono_ns() + d->budget_ns;
    d->deadline_ns = st->deadline_ns;
    d->timed_out = false;
    int rc = sqlite3_step(st->st);
    d->deadline_ns = 0;
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    int e = map_rc(sqlite3_reset(st->st));
    if ((rc & 0xff) == SQLITE_INTERRUPT && d->timed_out)
        return TK_ERR_TIMEOUT;
    if (e != TK_ERR_CONFLICT && e != TK_ERR_BUSY)
        fprintf(stderr, "tokend: SQLite error: %s\n", sqlite3_errmsg(st->owner->h));
    return e < 0 ? e : TK_ERR_STORE;
}

static bool sq_col_null(struct tk_db_stmt *st, int col)
{
    return sqlite3_column_type(st->st, col) == SQLITE_NULL;
}

static int64_t sq_col_int(struct tk_db_stmt *st, int col)
{
    return sqlite3_column_int64(st->st, col);
}

static const char *sq_col_text(struct tk_db_stmt *st, int col, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(st->st, col);
    if (len)
        *len = t ? (size_t)sqlite3_column_bytes(st->st, col) : 0;
    return t ? (const char *)t : "";
}

static const void *sq_col_blob(struct tk_db_stmt *st, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(st->st, col);
    *len = (size_t)sqlite3_column_bytes(st->st, col);
    return p;
}

static void sq_reset(struct tk_db_stmt *st)
{
    if (st->transient) {
        sqlite3_finalize(st->st);
        free(st);
        return;
    }
    sqlite3_reset(st->st);
    sqlite3_clear_bindings(st->st);
    st->busy = false;
    st->deadline_ns = 0;
}

static int sq_exec(struct tk_db *db, const char *script)
{
    struct sq_db *d = (struct sq_db *)db;
    char *msg = NULL;
    d->deadline_ns = d->budget_ns > 0 ? mono_ns() + d->budget_ns : 0; /* one for the script */
    d->timed_out = false;
    int rc = sqlite3_exec(d->h, script, NULL, NULL, &msg);
    d->deadline_ns = 0;
    if (rc != SQLITE_OK && (rc & 0xff) == SQLITE_INTERRUPT && d->timed_out) {
        sqlite3_free(msg);
        return TK_ERR_TIMEOUT;
    }
    if (rc != SQLITE_OK) {
        fprintf(stderr, "tokend: SQLite: %s\n", msg ? msg : sqlite3_errmsg(d->h));
        sqlite3_free(msg);
        return map_rc(rc) < 0 ? map_rc(rc) : TK_ERR_STORE;
    }
    return 0;
}

/* One statement through the cache: BEGIN and COMMIT run on every request, and sqlite3_exec
 * would parse them each time. */
static int sq_run(struct tk_db *db, const char *sql)
{
    struct tk_db_stmt *st;
    int rc = sq_prepare(db, sql, &st);
    if (rc)
        return rc;
    rc = sq_step(st);
    sq_reset(st);
    return rc < 0 ? rc : 0;
}

static int sq_begin(struct tk_db *db, bool write)
{
    return sq_run(db, write ? "BEGIN IMMEDIATE" : "BEGIN");
}

static int sq_commit(struct tk_db *db)
{
    return sq_run(db, "COMMIT");
}

static void sq_rollback(struct tk_db *db)
{
    struct sq_db *d = (struct sq_db *)db;
    if (!sqlite3_get_autocommit(d->h))
        sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
}

static void sq_close(struct tk_db *db)
{
    struct sq_db *d = (struct sq_db *)db;
    for (int i = 0; i < STMT_CACHE_SLOTS; i++) {
        sqlite3_finalize(d->cache[i].st);
        free(d->cache[i].sql);
    }
    sqlite3_close_v2(d->h);
    free(d);
}

static const char *sq_errmsg(struct tk_db *db)
{
    return sqlite3_errmsg(((struct sq_db *)db)->h);
}

/* PRAGMA data_version changes when another connection (of any process) committed since this
 * one last looked, and never for this connection's own commits: those are counted by the
 * commit hook. Together they change whenever the data may have. */
static int sq_commit_hook(void *p)
{
    ((struct sq_db *)p)->commits++;
    return 0;
}

static int sq_version(struct tk_db *db, uint64_t *out)
{
    struct sq_db *d = (struct sq_db *)db;
    struct tk_db_stmt *st;
    int rc = sq_prepare(db, "PRAGMA data_version", &st);
    if (rc)
        return rc;
    rc = sq_step(st);
    if (rc == 1)
        *out = ((uint64_t)(uint32_t)sqlite3_column_int(st->st, 0) << 32) | d->commits;
    sq_reset(st);
    return rc == 1 ? 0 : rc < 0 ? rc : TK_ERR_STORE;
}

static void sq_set_statement_timeout(struct tk_db *db, unsigned ms)
{
    ((struct sq_db *)db)->budget_ns = (int64_t)ms * 1000000;
}

static const struct tk_db_ops sqlite_ops = {
    .prepare = sq_prepare,
    .bind_null = sq_bind_null,
    .bind_int = sq_bind_int,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .col_null = sq_col_null,
    .col_int = sq_col_int,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .reset = sq_reset,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .close = sq_close,
    .errmsg = sq_errmsg,
    .version = sq_version,
    .set_statement_timeout = sq_set_statement_timeout,
};

int tk_db_sqlite_open(const char *path, struct tk_db **out, char *err, size_t err_len)
{
    struct sq_db *d = tk_calloc(1, sizeof(*d));
    if (d == NULL)
        return TK_ERR_NOMEM;
    d->base.ops = &sqlite_ops;
    d->base.dialect = TK_DIALECT_SQLITE;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    tk_sqlite_create_private(path); /* 0600, not SQLite's 0644 */
    int rc = sqlite3_open_v2(path, &d->h, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot open SQLite database %s: %s", path,
                 d->h ? sqlite3_errmsg(d->h) : "out of memory");
        sqlite3_close_v2(d->h);
        free(d);
        return TK_ERR_IO;
    }
    d->base.id = tk_db_next_id();
    sqlite3_commit_hook(d->h, sq_commit_hook, d);
    sqlite3_extended_result_codes(d->h, 1);
    sqlite3_busy_timeout(d->h, BUSY_TIMEOUT_MS);
    sqlite3_progress_handler(d->h, PROGRESS_OPS, sq_progress, d);
    /* Durability first (issue: crash safety): WAL with a full fsync per commit. */
    static const char pragmas[] = "PRAGMA journal_mode=WAL;"
                                  "PRAGMA synchronous=FULL;"
                                  "PRAGMA foreign_keys=ON;"
                                  /* deleted and overwritten content is zeroed in the file,
                                   * erased sealed keys too (docs/api.md §19.4) */
                                  "PRAGMA secure_delete=ON;"
                                  /* the first 32 MiB of the file (a small database whole)
                                   * are read through a mapping, without a read() per page;
                                   * each connection keeps 8 MiB of hot pages. A larger map
                                   * counts every page a deep scan touches in the process's
                                   * RSS: 170 MB at a million tokens with 256 MiB. */
                                  "PRAGMA mmap_size=33554432;"
                                  "PRAGMA cache_size=-8192;";
    char *msg = NULL;
    rc = sqlite3_exec(d->h, pragmas, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot configure SQLite database %s: %s", path,
                 msg ? msg : sqlite3_errmsg(d->h));
        sqlite3_free(msg);
        sqlite3_close_v2(d->h);
        free(d);
        return map_rc(rc) == TK_ERR_BUSY ? TK_ERR_BUSY : TK_ERR_IO;
    }
    *out = &d->base;
    return 0;
}
