/* The store (store.h) over the driver interface (db.h). Every query tokend runs against its
 * tables is here or in sql.c, written once for all engines. No HTTP, no policy: callers
 * decide who may see what and pass it in (owner_id). */
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"
#include "store/migrations.h"
#include "store/sql.h"
#include "util/alloc.h"
#include "util/time.h"
#include "util/utf8.h"

struct tk_store {
    char *url;
    char *replica_url; /* NULL without a replica */
    pthread_key_t replica_key;
    char *file_path; /* SQLite file, NULL otherwise */
    enum tk_dialect dialect;
    pthread_key_t conn_key;
    char installation_id[37];
    unsigned statement_timeout_ms; /* for every connection opened, 0: none */
};

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
    if (!tk_db_url_is_pg(url)) {
        s->dialect = TK_DIALECT_SQLITE;
        const char *p = url + 7;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        if (strcmp(p, ":memory:") != 0 && *p != '\0')
            s->file_path = tk_strdup(p);
    } else {
        s->dialect = TK_DIALECT_PG;
    }
    if (pthread_key_create(&s->conn_key, close_conn) != 0 ||
        pthread_key_create(&s->replica_key, close_conn) != 0) {
        snprintf(err, err_len, "cannot create thread key");
        free(s->file_path);
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
    pthread_key_delete(s->conn_key);
    pthread_key_delete(s->replica_key);
    free(s->replica_url);
    free(s->file_path);
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

const char *tk_store_file_path(const struct tk_store *s)
{
    return s->file_path;
}

/* ---- helpers ---- */

const char *tk_st_col_dup(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a)
{
    size_t len;
    const char *t = tk_db_col_text(db, st, c, &len);
    return tk_arena_strndup(a, t, len);
}

const char *tk_st_col_dup_null(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a)
{
    return tk_db_col_null(db, st, c) ? NULL : tk_st_col_dup(db, st, c, a);
}

void tk_st_col_uuid(struct tk_db *db, struct tk_db_stmt *st, int c, char out[37])
{
    size_t len;
    const char *t = tk_db_col_text(db, st, c, &len);
    if (len > 36)
        len = 36;
    memcpy(out, t, len);
    out[len] = '\0';
}

int tk_st_col_token_brief(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                          struct tk_token *x)
{
    x->id = tk_db_col_int(db, st, 0);
    tk_st_col_uuid(db, st, 1, x->uuid);
    x->identifier = tk_st_col_dup(db, st, 2, a);
    x->intent = tk_st_col_dup(db, st, 3, a);
    x->has_expires = !tk_db_col_null(db, st, 4);
    x->expires = tk_db_col_int(db, st, 4);
    return x->identifier && x->intent ? 0 : TK_ERR_NOMEM;
}

int tk_st_one_int(struct tk_db *db, struct tk_db_stmt *st, int64_t *v)
{
    int rc = tk_db_step(db, st);
    if (rc == 1) {
        *v = tk_db_col_int(db, st, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = TK_ERR_STORE;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_st_lock_user(struct tk_db *db, int64_t id)
{
    bool exists = false;
    int rc = tk_store_user_lock(db, id);
    if (rc == 0)
        rc = tk_store_user_exists(db, id, &exists);
    return rc ? rc : exists ? 0 : TK_ERR_NOTFOUND;
}

/* Runs a statement expected to return no rows (or to be fully consumed). */
int tk_st_run(struct tk_db *db, struct tk_db_stmt *st)
{
    int rc;
    while ((rc = tk_db_step(db, st)) == 1)
        ;
    tk_db_reset(db, st);
    return rc;
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
    return tk_db_begin(db, false);
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

void tk_store_read_end(struct tk_db *db)
{
    /* A read transaction has nothing to keep; rolling back also ends it after an error. */
    tk_db_rollback(db);
}

/* ---- migrations ---- */

static int current_version(struct tk_db *db, unsigned *v)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &st);
    if (rc)
        return rc;
    int64_t n = 0;
    rc = tk_st_one_int(db, st, &n);
    *v = (unsigned)n;
    return rc;
}

static int ensure_installation_id(struct tk_store *s, struct tk_db *db)
{
    char fresh[37];
    tk_uuid4(fresh);
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "INSERT INTO settings (key, value) SELECT 'installation_id', "
                           "CAST(? AS TEXT) WHERE NOT EXISTS (SELECT 1 FROM settings "
                           "WHERE key = 'installation_id')",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, fresh);
    if ((rc = tk_st_run(db, st)) != 0)
        return rc;
    rc = tk_db_prepare(db, "SELECT value FROM settings WHERE key = 'installation_id'", &st);
    if (rc)
        return rc;
    rc = tk_db_step(db, st);
    if (rc == 1) {
        tk_st_col_uuid(db, st, 0, s->installation_id);
        rc = 0;
    } else if (rc == 0) {
        rc = TK_ERR_STORE;
    }
    tk_db_reset(db, st);
    return rc;
}

static int migrate_all(struct tk_store *s, struct tk_db *db, const struct tk_migration *migs,
                       unsigned n_migs, char *err, size_t err_len);

int tk_store_migrate(struct tk_store *s, char *err, size_t err_len)
{
    struct tk_db *db = tk_store_db(s);
    if (db == NULL) {
        snprintf(err, err_len, "cannot open the database");
        return TK_ERR_IO;
    }
    bool pg = s->dialect == TK_DIALECT_PG;
    const struct tk_migration *migs = pg ? tk_migrations_pg : tk_migrations_sqlite;
    unsigned n_migs = pg ? tk_n_migrations_pg : tk_n_migrations_sqlite;
    /* Several processes starting at once on one PostgreSQL migrate one after the other:
     * a session advisory lock around the whole run (SQLite's BEGIN IMMEDIATE does the same). */
    int rc = pg ? tk_db_exec(db, "SELECT pg_advisory_lock(7206314)") : 0;
    if (rc == 0)
        rc = tk_db_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                            " applied BIGINT NOT NULL)");
    if (rc) {
        snprintf(err, err_len, "cannot create schema_migrations: %s", db->ops->errmsg(db));
        if (pg)
            (void)tk_db_exec(db, "SELECT pg_advisory_unlock(7206314)");
        return rc;
    }
    rc = migrate_all(s, db, migs, n_migs, err, err_len);
    if (pg) {
        /* Trigram indexes make substring search use an index (same answers without them). */
        if (rc == 0 && tk_db_exec(db, "CREATE EXTENSION IF NOT EXISTS pg_trgm") == 0) {
            (void)tk_db_exec(db, "CREATE INDEX IF NOT EXISTS tokens_search_trgm ON tokens "
                                 "USING gin (search_fold gin_trgm_ops)");
            (void)tk_db_exec(db, "CREATE INDEX IF NOT EXISTS users_search_trgm ON users "
                                 "USING gin (search_fold gin_trgm_ops)");
        }
        (void)tk_db_exec(db, "SELECT pg_advisory_unlock(7206314)");
    }
    return rc;
}

static int migrate_all(struct tk_store *s, struct tk_db *db, const struct tk_migration *migs,
                       unsigned n_migs, char *err, size_t err_len)
{
    int rc = 0;
    for (unsigned i = 0; i < n_migs; i++) {
        /* Each migration in its own write transaction; the version is re-read inside it so
         * that processes starting together apply each migration exactly once. */
        if ((rc = tk_db_begin(db, true)) != 0)
            break;
        unsigned have = 0;
        if ((rc = current_version(db, &have)) != 0) {
            tk_db_rollback(db);
            break;
        }
        if (migs[i].version <= have) {
            tk_db_rollback(db);
            continue;
        }
        rc = tk_db_exec(db, migs[i].sql);
        if (rc == 0) {
            struct tk_db_stmt *st;
            rc = tk_db_prepare(db,
                               "INSERT INTO schema_migrations (version, name, applied) "
                               "VALUES (?, ?, ?)",
                               &st);
            if (rc == 0) {
                tk_db_bind_int(db, st, 1, migs[i].version);
                tk_db_bind_cstr(db, st, 2, migs[i].name);
                tk_db_bind_int(db, st, 3, tk_now_us() / 1000000);
                rc = tk_st_run(db, st);
            }
        }
        if (rc == 0)
            rc = tk_db_commit(db);
        if (rc) {
            snprintf(err, err_len, "migration %s failed: %s", migs[i].name, db->ops->errmsg(db));
            tk_db_rollback(db);
            return rc;
        }
    }
    if (rc == 0) {
        unsigned have = 0;
        rc = current_version(db, &have);
        if (rc == 0 && n_migs > 0 && have > migs[n_migs - 1].version) {
            snprintf(err, err_len,
                     "the database schema (version %u) is newer than this tokend (version %u)",
                     have, migs[n_migs - 1].version);
            return TK_ERR_INVALID;
        }
    }
    if (rc == 0)
        rc = ensure_installation_id(s, db);
    if (rc && err[0] == '\0')
        snprintf(err, err_len, "cannot migrate: %s", tk_strerror(rc));
    return rc;
}

/* ---- settings ---- */

int tk_store_setting_get(struct tk_db *db, const char *key, struct tk_arena *a, const char **value)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT value FROM settings WHERE key = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, key);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        *value = tk_st_col_dup(db, st, 0, a);
        rc = *value ? 0 : TK_ERR_NOMEM;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_setting_put(struct tk_db *db, const char *key, const char *value)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "INSERT INTO settings (key, value) VALUES (?, ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, key);
    tk_db_bind_cstr(db, st, 2, value);
    return tk_st_run(db, st);
}

/* Runs a one-row-or-none statement (RETURNING) with text parameters; *done: a row came back. */
static int run_returning(struct tk_db *db, const char *sql, const char *const *params, int n,
                         bool *done)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, sql, &st);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        tk_db_bind_cstr(db, st, i + 1, params[i]);
    rc = tk_db_step(db, st);
    *done = rc == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_store_setting_insert(struct tk_db *db, const char *key, const char *value, bool *done)
{
    const char *p[] = {key, value};
    return run_returning(db,
                         "INSERT INTO settings (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO NOTHING RETURNING key",
                         p, 2, done);
}

int tk_store_setting_replace(struct tk_db *db, const char *key, const char *old, const char *value,
                             bool *done)
{
    const char *p[] = {value, key, old};
    return run_returning(
        db, "UPDATE settings SET value = ? WHERE key = ? AND value = ? RETURNING key", p, 3, done);
}

int tk_store_token_keys(struct tk_db *db, int64_t after_id, size_t limit, struct tk_arena *a,
                        struct tk_token_key **out, size_t *n)
{
    *n = 0;
    *out = tk_arena_calloc(a, limit ? limit : 1, sizeof(**out));
    if (*out == NULL)
        return TK_ERR_NOMEM;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT id, uuid, key_sealed FROM tokens WHERE id > ? ORDER BY id "
                           "LIMIT ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, after_id);
    tk_db_bind_int(db, st, 2, (int64_t)limit);
    while ((rc = tk_db_step(db, st)) == 1 && *n < limit) {
        struct tk_token_key *k = &(*out)[*n];
        k->id = tk_db_col_int(db, st, 0);
        tk_st_col_uuid(db, st, 1, k->uuid);
        size_t len = 0;
        const void *p = tk_db_col_blob(db, st, 2, &len);
        uint8_t *copy = tk_arena_alloc(a, len ? len : 1);
        if (copy == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        if (len)
            memcpy(copy, p, len);
        k->sealed = copy;
        k->sealed_len = len;
        (*n)++;
    }
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

void tk_store_snapshot(struct tk_db *db, struct tk_store_snapshot *out)
{
    out->conn = db->id;
    out->version = tk_db_version(db);
}

/* ---- authentication and superusers ---- */

#define STR_(x) #x
#define STR(x) STR_(x)
/* The groups that make their members superusers: the superuser groups and their descendants
 * down to TK_MAX_GROUP_DEPTH levels (tk_st_sql_superusers). */
#define GRANTING_CTE                                                                               \
    "WITH RECURSIVE granting(id, depth) AS (SELECT id, 0 FROM groups WHERE is_superuser = 1 "      \
    "UNION ALL SELECT g.id, granting.depth + 1 FROM groups g JOIN granting ON g.parent_id = "      \
    "granting.id WHERE granting.depth < " STR(TK_MAX_GROUP_DEPTH) ") "

int tk_store_authenticate(struct tk_db *db, const uint8_t key_hash[TK_KEY_HASH_BYTES], int64_t now,
                          struct tk_principal *out, int64_t *valid_until)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           GRANTING_CTE
                           "SELECT t.user_id, t.expiring, t.expires, CASE WHEN EXISTS (SELECT 1 "
                           "FROM memberships m WHERE m.user_id = t.user_id AND m.group_id IN "
                           "(SELECT id FROM granting)) THEN 1 ELSE 0 END " /* PG: a boolean */
                           "FROM tokens t JOIN users u ON u.id = "
                           "t.user_id WHERE t.key_hash = ? AND t.intent = 'api' AND "
                           "u.is_active = 1 ORDER BY (t.expiring = 0 OR t.expires IS NULL) DESC, "
                           "t.expires DESC LIMIT 1", /* the token valid longest, if several */
                           &st);
    if (rc)
        return rc;
    tk_db_bind_blob(db, st, 1, key_hash, TK_KEY_HASH_BYTES);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        out->user_id = tk_db_col_int(db, st, 0);
        bool expires = tk_db_col_int(db, st, 1) != 0 && !tk_db_col_null(db, st, 2);
        *valid_until = expires ? tk_db_col_int(db, st, 2) : INT64_MAX;
        out->is_superuser = tk_db_col_int(db, st, 3) != 0;
        rc = now <= *valid_until ? 0 : TK_ERR_NOTFOUND;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

/* Appends "(?, ?, ...)" with the ids. */
void tk_st_sql_id_list(struct tk_sql *q, const int64_t *ids, size_t n)
{
    tk_sql_add(q, "(");
    for (size_t i = 0; i < n; i++) {
        if (i)
            tk_sql_add(q, ",");
        tk_sql_int(q, ids[i]);
    }
    tk_sql_add(q, ")");
}

/* The users among ids that are superusers through their groups' ancestry (API.md §4.1). A user
 * is a superuser when a group it belongs to, or an ancestor of that group up to
 * TK_MAX_GROUP_DEPTH levels, has is_superuser. Walking down from the (few) superuser groups to
 * their descendants once, and matching the users' memberships against that set, gives the same
 * answer as walking up from every membership, at a fraction of the cost: the descent touches
 * only the superuser subtrees, through groups_parent, and needs no temporary b-tree per user. */
void tk_st_sql_superusers(struct tk_sql *q, const int64_t *ids, size_t n)
{
    tk_sql_add(q, GRANTING_CTE);
    tk_sql_add(q, "SELECT DISTINCT m.user_id FROM memberships m WHERE m.user_id IN ");
    tk_st_sql_id_list(q, ids, n);
    tk_sql_add(q, " AND m.group_id IN (SELECT id FROM granting)");
}

/* ---- users ---- */

int tk_st_find_id(struct tk_db *db, const char *sql, const char *value, int64_t *id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, sql, &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, value);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        *id = tk_db_col_int(db, st, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_user_find(struct tk_db *db, const char *username, int64_t *id)
{
    return tk_st_find_id(db, "SELECT id FROM users WHERE username = ?", username, id);
}

int tk_store_group_find(struct tk_db *db, const char *name, int64_t *id)
{
    return tk_st_find_id(db, "SELECT id FROM groups WHERE name = ?", name, id);
}

struct tk_user *tk_store_user_in(struct tk_user *users, size_t n, int64_t id)
{
    /* users are sorted by id (see tk_store_users_get): binary search */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (users[mid].id == id)
            return &users[mid];
        if (users[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct owned_group {
    int64_t owner;
    struct tk_group g;
};

/* By user, then by name and id: the order of groups_obj. Names compare as bytes, as the
 * columns' collation does (BINARY on SQLite, "C" on PostgreSQL). */
static int cmp_owned_group(const void *a, const void *b)
{
    const struct owned_group *x = a, *y = b;
    if (x->owner != y->owner)
        return (x->owner > y->owner) - (x->owner < y->owner);
    int c = strcmp(x->g.name, y->g.name);
    if (c != 0)
        return c;
    return (x->g.id > y->g.id) - (x->g.id < y->g.id);
}

static int load_groups(struct tk_db *db, struct tk_arena *a, struct tk_user *users, size_t n,
                       const int64_t *ids, size_t n_ids)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    /* No ORDER BY: the rows are few, and sorting them here spares SQLite a sorter (about
     * half of this query's work). */
    tk_sql_add(&q, "SELECT m.user_id, g.id, g.uuid, g.name, g.is_superuser, p.uuid, p.name, "
                   "g.attributes FROM memberships m JOIN groups g ON g.id = m.group_id "
                   "LEFT JOIN groups p ON p.id = g.parent_id WHERE m.user_id IN ");
    tk_st_sql_id_list(&q, ids, n_ids);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t cap = 0, used = 0;
    struct owned_group *rows = NULL;
    while ((rc = tk_db_step(db, st)) == 1) {
        struct owned_group *grown = tk_arena_reserve(a, rows, used, &cap, sizeof(*rows));
        if (grown == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        rows = grown;
        struct owned_group *r = &rows[used];
        struct tk_group *g = &r->g;
        memset(r, 0, sizeof(*r));
        r->owner = tk_db_col_int(db, st, 0);
        g->id = tk_db_col_int(db, st, 1);
        tk_st_col_uuid(db, st, 2, g->uuid);
        g->name = tk_st_col_dup(db, st, 3, a);
        g->is_superuser = tk_db_col_int(db, st, 4) != 0;
        g->has_parent = !tk_db_col_null(db, st, 5);
        if (g->has_parent) {
            tk_st_col_uuid(db, st, 5, g->parent_uuid);
            g->parent_name = tk_st_col_dup(db, st, 6, a);
        }
        g->attributes = tk_st_col_dup(db, st, 7, a);
        if (g->name == NULL || g->attributes == NULL || (g->has_parent && !g->parent_name)) {
            rc = TK_ERR_NOMEM;
            break;
        }
        used++;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    if (used == 0)
        return 0;
    qsort(rows, used, sizeof(*rows), cmp_owned_group);
    struct tk_group *all = tk_arena_calloc(a, used, sizeof(*all));
    if (all == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < used; i++)
        all[i] = rows[i].g;
    for (size_t i = 0; i < used;) {
        size_t j = i;
        while (j < used && rows[j].owner == rows[i].owner)
            j++;
        struct tk_user *u = tk_store_user_in(users, n, rows[i].owner);
        if (u != NULL) {
            u->groups = &all[i];
            u->n_groups = j - i;
        }
        i = j;
    }
    return 0;
}

static int load_superusers(struct tk_db *db, struct tk_arena *a, struct tk_user *users, size_t n,
                           const int64_t *ids, size_t n_ids)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_st_sql_superusers(&q, ids, n_ids);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    while ((rc = tk_db_step(db, st)) == 1) {
        struct tk_user *u = tk_store_user_in(users, n, tk_db_col_int(db, st, 0));
        if (u != NULL)
            u->is_superuser = true;
    }
    tk_db_reset(db, st);
    return rc;
}

/* The groups that make their members superusers (tk_st_sql_superusers), sorted by id. */
static int load_granting(struct tk_db *db, struct tk_arena *a, int64_t **out, size_t *n_out)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, GRANTING_CTE);
    tk_sql_add(&q, "SELECT id FROM granting");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t n = 0, cap = 0;
    int64_t *ids = NULL;
    while ((rc = tk_db_step(db, st)) == 1) {
        int64_t *grown = tk_arena_reserve(a, ids, n, &cap, sizeof(*ids));
        if (grown == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        ids = grown;
        ids[n++] = tk_db_col_int(db, st, 0);
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    if (n > 1)
        qsort(ids, n, sizeof(*ids), cmp_i64);
    *out = ids;
    *n_out = n;
    return 0;
}

int tk_store_users_get(struct tk_db *db, const int64_t *ids_in, size_t n, bool with_groups,
                       struct tk_arena *a, struct tk_user **users_out, size_t *n_out)
{
    *users_out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    /* Sorted, unique ids. */
    int64_t *ids = tk_arena_calloc(a, n, sizeof(*ids));
    if (ids == NULL)
        return TK_ERR_NOMEM;
    memcpy(ids, ids_in, n * sizeof(*ids));
    qsort(ids, n, sizeof(*ids), cmp_i64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || ids[m - 1] != ids[i])
            ids[m++] = ids[i];

    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT id, uuid, username, name, email, is_active, last_login, path, type, "
                   "attributes FROM users WHERE id IN ");
    tk_st_sql_id_list(&q, ids, m);
    tk_sql_add(&q, " ORDER BY id");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    struct tk_user *users = tk_arena_calloc(a, m, sizeof(*users));
    size_t got = 0;
    if (users == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && got < m && (rc = tk_db_step(db, st)) == 1) {
        struct tk_user *u = &users[got++];
        u->id = tk_db_col_int(db, st, 0);
        tk_st_col_uuid(db, st, 1, u->uuid);
        u->username = tk_st_col_dup(db, st, 2, a);
        u->name = tk_st_col_dup(db, st, 3, a);
        u->email = tk_st_col_dup(db, st, 4, a);
        u->is_active = tk_db_col_int(db, st, 5) != 0;
        u->has_last_login = !tk_db_col_null(db, st, 6);
        u->last_login = tk_db_col_int(db, st, 6);
        u->path = tk_st_col_dup(db, st, 7, a);
        u->type = tk_st_col_dup(db, st, 8, a);
        u->attributes = tk_st_col_dup(db, st, 9, a);
        if (!u->username || !u->name || !u->email || !u->path || !u->type || !u->attributes)
            rc = TK_ERR_NOMEM;
        else
            rc = 0;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    if (with_groups) {
        /* The page's memberships are at hand: the superusers follow from them and the (small)
         * set of groups that grant superuser, without a query per page over memberships. */
        int64_t *granting = NULL;
        size_t n_granting = 0;
        if ((rc = load_groups(db, a, users, got, ids, m)) != 0 ||
            (rc = load_granting(db, a, &granting, &n_granting)) != 0)
            return rc;
        for (size_t i = 0; i < got; i++)
            for (size_t k = 0; k < users[i].n_groups && !users[i].is_superuser; k++)
                users[i].is_superuser = bsearch(&users[i].groups[k].id, granting, n_granting,
                                                sizeof(*granting), cmp_i64) != NULL;
    } else if ((rc = load_superusers(db, a, users, got, ids, m)) != 0) {
        return rc;
    }
    *users_out = users;
    *n_out = got;
    return 0;
}

/* ---- token list ---- */

/* The FTS5 trigram index (migration 0002) finds exact substrings of three characters or more;
 * shorter terms are compared with instr(). */
static bool fts_term(const char *term)
{
    return tk_utf8_length(term, strlen(term)) >= 3;
}

/* Trigrams one search hands to FTS5, over all its terms. FTS5 evaluates a phrase inside one VM
 * instruction, which the statement time budget cannot interrupt, at a cost of about one doclist
 * walk per trigram: 1,022 trigrams of one common character took 1.2 s at 100k tokens
 * (docs/robustness.md). Past this many, terms are checked by instr() alone, row by row, which
 * the budget does stop; a longer term gives the index its first characters and instr() the
 * rest. */
#define FTS_MAX_TRIGRAMS 64

/* The part of term for the index: its first characters, as many as the trigrams *left allow
 * (taken from *left). Its length in bytes; 0: none (instr alone). */
static size_t fts_piece(const char *term, size_t *left)
{
    size_t len = strlen(term), chars = tk_utf8_length(term, len);
    if (chars < 3 || *left == 0)
        return 0;
    size_t take = chars < *left + 2 ? chars : *left + 2, bytes = 0;
    *left -= take - 2;
    for (size_t k = 0; k < take; k++) {
        uint32_t cp;
        bytes += tk_utf8_decode(term + bytes, len - bytes, &cp);
    }
    return bytes;
}

/* The FTS5 query over the terms' pieces (fts_piece) on SQLite: each piece one quoted phrase
 * ('"' doubled), joined by AND. covered[i]: term i is matched by the index alone (its whole
 * text is a phrase). NULL when no term has a piece (or on PostgreSQL). */
static const char *fts_match(struct tk_sql *q, const struct tk_token_query *t, bool *covered)
{
    if (q->dialect != TK_DIALECT_SQLITE || covered == NULL)
        return NULL;
    size_t len = 0;
    for (size_t i = 0; i < t->n_terms; i++)
        len += 2 * strlen(t->terms[i]) + 7; /* quotes, doubled quotes, " AND " */
    char *m = tk_arena_alloc(q->arena, len + 1);
    if (m == NULL) {
        q->err = TK_ERR_NOMEM;
        return NULL;
    }
    size_t o = 0, left = FTS_MAX_TRIGRAMS;
    for (size_t i = 0; i < t->n_terms; i++) {
        const char *term = t->terms[i];
        size_t piece = fts_piece(term, &left);
        covered[i] = piece > 0 && term[piece] == '\0';
        if (piece == 0)
            continue;
        if (o > 0) {
            memcpy(m + o, " AND ", 5);
            o += 5;
        }
        m[o++] = '"';
        for (size_t k = 0; k < piece; k++) {
            if (term[k] == '"')
                m[o++] = '"';
            m[o++] = term[k];
        }
        m[o++] = '"';
    }
    m[o] = '\0';
    return o > 0 ? m : NULL;
}

static void sql_token_where(struct tk_sql *q, const struct tk_token_query *t)
{
    /* no WHERE at all when nothing filters: SQLite then counts from the b-tree's pages */
    bool first = true;
#define AND() (tk_sql_add(q, first ? " WHERE " : " AND "), first = false)
    if (t->owner_id > 0) {
        AND();
        tk_sql_add(q, "t.user_id = ");
        tk_sql_int(q, t->owner_id);
    }
    if (t->id > 0) {
        AND();
        tk_sql_add(q, "t.id = ");
        tk_sql_int(q, t->id);
    }
    if (t->identifier) {
        AND();
        tk_sql_add(q, "t.identifier = ");
        tk_sql_cstr(q, t->identifier);
    }
    if (t->intent) {
        AND();
        tk_sql_add(q, "t.intent = ");
        tk_sql_cstr(q, t->intent);
    }
    if (t->managed) {
        AND();
        tk_sql_add(q, "t.managed = ");
        tk_sql_cstr(q, t->managed);
    }
    if (t->username) {
        AND();
        tk_sql_add(q, "u.username = ");
        tk_sql_cstr(q, t->username);
    }
    if (t->description) {
        AND();
        tk_sql_add(q, "t.description = ");
        tk_sql_cstr(q, t->description);
    }
    if (t->has_expires) {
        AND();
        tk_sql_add(q, "t.expires = ");
        tk_sql_int(q, t->expires);
    }
    if (t->expiring >= 0) {
        AND();
        tk_sql_add(q, "t.expiring = ");
        tk_sql_int(q, t->expiring ? 1 : 0);
    }
    /* search (API.md §8): every term is a substring of identifier, intent, username or
     * description, compared on case folds stored at write time (identical on every engine).
     * The terms come de-duplicated (tk_search_terms), so each one is a distinct constraint. */
    bool *covered = t->n_terms ? tk_arena_calloc(q->arena, t->n_terms, sizeof(*covered)) : NULL;
    const char *match = fts_match(q, t, covered);
    if (match != NULL) {
        /* the terms the FTS5 trigram index can answer, as one MATCH: one lookup, however many
         * terms (one subquery per term made SQLite build and probe a list per term) */
        AND();
        tk_sql_add(q, "t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH ");
        tk_sql_cstr(q, match);
        tk_sql_add(q, ")");
    }
    for (size_t i = 0; i < t->n_terms; i++) {
        if (match != NULL && covered[i])
            continue;
        AND();
        tk_sql_contains(q, "t.search_fold", t->terms[i]);
    }
}
#undef AND

static const char *order_column(enum tk_token_field f)
{
    switch (f) {
    case TK_TF_PK: return "t.uuid";
    case TK_TF_MANAGED: return "t.managed";
    case TK_TF_IDENTIFIER: return "t.identifier";
    case TK_TF_INTENT: return "t.intent";
    case TK_TF_USER: return "t.user_id";
    case TK_TF_DESCRIPTION: return "t.description";
    case TK_TF_EXPIRES: return "t.expires";
    case TK_TF_EXPIRING: return "t.expiring";
    }
    return "t.id";
}

/* ---- searches on SQLite: the match evaluated once per request ---- */

static void sql_token_order(struct tk_sql *q, const struct tk_token_query *tq, bool reverse);

/* Does the query hold a term for the FTS5 index (fts_match)? Its MATCH is evaluated whole before
 * the first row comes back (SQLite builds the list of matching rowids), so a COUNT(*) and a page
 * query would evaluate it twice: such searches are walked once instead (search_walk). Short
 * terms alone are instr() per row, which the page query stops evaluating at the page's end. */
static bool fts_search(struct tk_db *db, const struct tk_token_query *tq)
{
    if (db->dialect != TK_DIALECT_SQLITE)
        return false;
    for (size_t i = 0; i < tq->n_terms; i++)
        if (fts_term(tq->terms[i]))
            return true;
    return false;
}

/* One statement walks the ids of every matching token in list order: their number is the
 * count, and the ids of the page the caller asked for (tq->page_offset, page_limit, page_last)
 * are kept for tk_store_token_fetch, which then reads just those rows. Memory: the page's ids
 * (the last page's through a ring of page_limit ids), whatever the count. */
static int search_walk(struct tk_db *db, struct tk_token_query *tq, struct tk_arena *a,
                       int64_t *count)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT t.id FROM tokens t");
    if (tq->username)
        tk_sql_add(&q, " JOIN users u ON u.id = t.user_id");
    sql_token_where(&q, tq);
    sql_token_order(&q, tq, false);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    int64_t limit = tq->page_limit, first = tq->page_last ? 0 : tq->page_offset, i = 0;
    int64_t *ids = tk_arena_calloc(a, (size_t)limit, sizeof(*ids));
    if (ids == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && (rc = tk_db_step(db, st)) == 1) {
        int64_t id = tk_db_col_int(db, st, 0);
        if (tq->page_last)
            ids[i % limit] = id;
        else if (i >= first && i - first < limit)
            ids[i - first] = id;
        i++;
        rc = 0;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *count = i;
    int64_t n = i > first ? i - first : 0;
    if (tq->page_last) {
        /* the last page starts where tk_paginate puts it; its rows are the ring's newest */
        first = i > 0 ? (i - 1) / limit * limit : 0;
        n = i - first;
        int64_t *ordered = tk_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*ordered));
        if (ordered == NULL)
            return TK_ERR_NOMEM;
        for (int64_t k = 0; k < n; k++)
            ordered[k] = ids[(first + k) % limit];
        ids = ordered;
    }
    tq->page_ids = ids;
    tq->n_page_ids = (size_t)(n < limit ? n : limit);
    tq->page_ids_offset = first;
    return 0;
}

int tk_store_token_count(struct tk_db *db, struct tk_token_query *tq, struct tk_arena *a,
                         int64_t *count)
{
    tq->page_ids = NULL;
    if (tq->page_limit > 0 && fts_search(db, tq))
        return search_walk(db, tq, a, count);
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    if (tq->username)
        tk_sql_add(&q, "SELECT COUNT(*) FROM tokens t JOIN users u ON u.id = t.user_id");
    else
        tk_sql_add(&q, "SELECT COUNT(*) FROM tokens t");
    size_t unfiltered = q.text.len;
    sql_token_where(&q, tq);
    struct tk_db_stmt *st;
    if (db->dialect == TK_DIALECT_SQLITE && !tq->username && q.text.len == unfiltered)
        rc = tk_db_prepare(db, "SELECT n FROM token_count WHERE id = 1", &st); /* 0003 */
    else
        rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    return tk_st_one_int(db, st, count);
}

#define TOKEN_COLUMNS                                                                              \
    "SELECT t.id, t.uuid, t.managed, t.identifier, t.intent, t.user_id, t.description, "           \
    "t.expires, t.expiring"
#define TK_DEFERRED_JOIN_OFFSET 1000

/* ORDER BY the query's fields, t.id last (a total order), reversed when reverse. Terms after a
 * unique, non-null column (identifier, pk) cannot change the order and are left out: then the
 * column's own index covers the ordering (the default "identifier,-expires" otherwise made a
 * deep page look up every skipped row for its expires). */
static void sql_token_order(struct tk_sql *q, const struct tk_token_query *tq, bool reverse)
{
    tk_sql_add(q, " ORDER BY ");
    for (size_t i = 0; i < tq->n_order; i++) {
        enum tk_token_field f = tq->order[i].field;
        tk_sql_add(q, order_column(f));
        bool desc = tq->order[i].desc != reverse;
        if (f == TK_TF_IDENTIFIER || f == TK_TF_PK) {
            tk_sql_add(q, desc ? " DESC" : "");
            return;
        }
        /* PostgreSQL's default NULL placement, on every engine (API.md §8). */
        tk_sql_add(q, desc ? " DESC NULLS FIRST, " : " ASC NULLS LAST, ");
    }
    tk_sql_add(q, reverse ? "t.id DESC" : "t.id");
}

static int read_token(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                      struct tk_token *t)
{
    t->id = tk_db_col_int(db, st, 0);
    tk_st_col_uuid(db, st, 1, t->uuid);
    t->managed = tk_st_col_dup_null(db, st, 2, a);
    t->identifier = tk_st_col_dup(db, st, 3, a);
    t->intent = tk_st_col_dup(db, st, 4, a);
    t->user_id = tk_db_col_int(db, st, 5);
    t->description = tk_st_col_dup(db, st, 6, a);
    t->has_expires = !tk_db_col_null(db, st, 7);
    t->expires = tk_db_col_int(db, st, 7);
    t->expiring = tk_db_col_int(db, st, 8) != 0;
    return (t->identifier && t->intent && t->description) ? 0 : TK_ERR_NOMEM;
}

struct id_pos {
    int64_t id;
    size_t pos;
};

static int by_id(const void *x, const void *y)
{
    const struct id_pos *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The rows of the ids search_walk kept, in their order (a row deleted since cannot be: the
 * walk and this read are one snapshot). */
static int fetch_ids(struct tk_db *db, const int64_t *ids, size_t n, struct tk_arena *a,
                     struct tk_token *tokens, size_t *n_out)
{
    *n_out = 0;
    if (n == 0)
        return 0;
    struct id_pos *where = tk_arena_calloc(a, n, sizeof(*where));
    if (where == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        where[i] = (struct id_pos){ids[i], i};
    qsort(where, n, sizeof(*where), by_id);
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, TOKEN_COLUMNS " FROM tokens t WHERE t.id IN ");
    tk_st_sql_id_list(&q, ids, n);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t got = 0;
    while (rc == 0 && (rc = tk_db_step(db, st)) == 1) {
        struct id_pos key = {tk_db_col_int(db, st, 0), 0};
        struct id_pos *w = bsearch(&key, where, n, sizeof(*where), by_id);
        rc = w ? read_token(db, st, a, &tokens[w->pos]) : TK_ERR_STORE;
        got++;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    if (got != n)
        return TK_ERR_STORE;
    *n_out = n;
    return 0;
}

/* Rows [offset, offset + limit) of the list by its own query. */
static int fetch_query(struct tk_db *db, const struct tk_token_query *tq, int64_t offset,
                       int64_t limit, struct tk_arena *a, struct tk_token *tokens, size_t *n_out)
{
    *n_out = 0;
    size_t n = 0;
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    /* OFFSET walks the skipped rows: a page past the middle is the same rows read in the
     * reverse of the (total: t.id breaks ties) order from the end, then turned around. */
    bool reverse = tq->count_known && offset > tq->count / 2 && offset < tq->count;
    if (reverse) {
        int64_t from_end = tq->count - offset - limit;
        if (from_end < 0) {
            limit += from_end; /* the last page, shorter */
            from_end = 0;
        }
        offset = from_end;
    }
    /* A deep page is a deferred join: the skipped rows are walked for their ids only (in the
     * ordering's index alone, when it covers them), and just the page's rows are read whole.
     * Three times faster 200,000 rows deep; not worth its sort for a shallow page. */
    bool deferred = offset >= TK_DEFERRED_JOIN_OFFSET;
    tk_sql_add(&q, deferred ? "SELECT t.id" : TOKEN_COLUMNS);
    tk_sql_add(&q, " FROM tokens t");
    if (tq->username)
        tk_sql_add(&q, " JOIN users u ON u.id = t.user_id");
    sql_token_where(&q, tq);
    sql_token_order(&q, tq, reverse);
    tk_sql_add(&q, " LIMIT ");
    tk_sql_int(&q, limit);
    tk_sql_add(&q, " OFFSET ");
    tk_sql_int(&q, offset);
    if (deferred) {
        struct tk_sql outer;
        if ((rc = tk_sql_init(&outer, db->dialect, a)) != 0) {
            tk_sql_free(&q);
            return rc;
        }
        tk_sql_add(&outer, TOKEN_COLUMNS " FROM (");
        tk_sql_splice(&outer, &q);
        tk_sql_add(&outer, ") p JOIN tokens t ON t.id = p.id");
        sql_token_order(&outer, tq, reverse);
        tk_sql_free(&q);
        q = outer;
    }
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    while (rc == 0 && n < (size_t)limit && (rc = tk_db_step(db, st)) == 1)
        rc = read_token(db, st, a, &tokens[n++]);
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    for (size_t i = 0; reverse && i < n / 2; i++) {
        struct tk_token tmp = tokens[i];
        tokens[i] = tokens[n - 1 - i];
        tokens[n - 1 - i] = tmp;
    }
    *n_out = n;
    return 0;
}

int tk_store_token_fetch(struct tk_db *db, const struct tk_token_query *tq, int64_t offset,
                         int64_t limit, struct tk_arena *a, struct tk_token **tokens_out,
                         size_t *n_out)
{
    *tokens_out = NULL;
    *n_out = 0;
    if (limit <= 0)
        return 0;
    struct tk_token *tokens = tk_arena_calloc(a, (size_t)limit, sizeof(*tokens));
    if (tokens == NULL)
        return TK_ERR_NOMEM;
    size_t n = 0;
    int rc;
    if (tq->page_ids != NULL && offset == tq->page_ids_offset && limit == tq->page_limit)
        rc = fetch_ids(db, tq->page_ids, tq->n_page_ids, a, tokens, &n); /* search_walk's */
    else
        rc = fetch_query(db, tq, offset, limit, a, tokens, &n);
    if (rc)
        return rc;
    if (tq->without_users) {
        *tokens_out = tokens;
        *n_out = n;
        return 0;
    }
    int64_t *uids = tk_arena_calloc(a, n ? n : 1, sizeof(*uids));
    if (uids == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        uids[i] = tokens[i].user_id;
    struct tk_user *users;
    size_t n_users;
    rc = tk_store_users_get(db, uids, n, tq->with_groups, a, &users, &n_users);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        tokens[i].user = tk_store_user_in(users, n_users, tokens[i].user_id);
    *tokens_out = tokens;
    *n_out = n;
    return 0;
}

/* ---- writes ---- */

int tk_store_membership_add(struct tk_db *db, int64_t user_id, int64_t group_id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "INSERT INTO memberships (user_id, group_id) VALUES (?, ?) "
                           "ON CONFLICT DO NOTHING",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, user_id);
    tk_db_bind_int(db, st, 2, group_id);
    return tk_st_run(db, st);
}

int tk_store_membership_remove(struct tk_db *db, int64_t user_id, int64_t group_id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM memberships WHERE user_id = ? AND group_id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, user_id);
    tk_db_bind_int(db, st, 2, group_id);
    return tk_st_run(db, st);
}

int tk_store_token_insert(struct tk_db *db, const struct tk_token_new *t, int64_t now, int64_t *id)
{
    struct tk_buf fold;
    tk_buf_init(&fold, TK_MAX_TOKEN_FOLD_BYTES);
    int rc = tk_st_token_fold(db, t->identifier, t->intent, t->user_id, t->description, &fold);
    if (rc) {
        tk_buf_free(&fold);
        return rc;
    }
    struct tk_db_stmt *st;
    rc = tk_db_prepare(db,
                       "INSERT INTO tokens (uuid, identifier, intent, user_id, description, "
                       "expires, expiring, managed, key_hash, key_sealed, search_fold, created) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                       &st);
    if (rc == 0) {
        tk_db_bind_cstr(db, st, 1, t->uuid);
        tk_db_bind_cstr(db, st, 2, t->identifier);
        tk_db_bind_cstr(db, st, 3, t->intent);
        tk_db_bind_int(db, st, 4, t->user_id);
        tk_db_bind_cstr(db, st, 5, t->description);
        tk_db_bind_opt_int(db, st, 6, t->has_expires, t->expires);
        tk_db_bind_int(db, st, 7, t->expiring);
        tk_db_bind_cstr(db, st, 8, t->managed);
        tk_db_bind_blob(db, st, 9, t->key_hash, TK_KEY_HASH_BYTES);
        tk_db_bind_blob(db, st, 10, t->key_sealed, t->key_sealed_len);
        tk_db_bind_text(db, st, 11, fold.data, fold.len);
        tk_db_bind_int(db, st, 12, now);
        rc = tk_db_step(db, st);
        if (rc == 1) {
            *id = tk_db_col_int(db, st, 0);
            rc = tk_st_run(db, st);
        } else {
            tk_db_reset(db, st);
            if (rc == 0)
                rc = TK_ERR_STORE;
        }
    }
    tk_buf_free(&fold);
    return rc;
}

int tk_store_token_delete(struct tk_db *db, const char *identifier)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM tokens WHERE identifier = ? RETURNING id", &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, identifier);
    rc = tk_db_step(db, st);
    bool found = rc == 1;
    if (found)
        rc = tk_st_run(db, st);
    else
        tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    return found ? 0 : TK_ERR_NOTFOUND;
}

int tk_store_token_sealed_key(struct tk_db *db, int64_t id, struct tk_arena *a, char uuid[37],
                              const uint8_t **sealed, size_t *len)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT uuid, key_sealed FROM tokens WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        tk_st_col_uuid(db, st, 0, uuid);
        size_t n;
        const void *p = tk_db_col_blob(db, st, 1, &n);
        uint8_t *copy = tk_arena_alloc(a, n ? n : 1);
        if (copy == NULL) {
            rc = TK_ERR_NOMEM;
        } else {
            if (n)
                memcpy(copy, p, n);
            *sealed = copy;
            *len = n;
            rc = 0;
        }
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_token_quota(struct tk_db *db, int64_t user_id, unsigned max, bool *full)
{
    *full = false;
    int rc = tk_st_lock_user(db, user_id);
    if (rc || max == 0)
        return rc;
    struct tk_db_stmt *st;
    rc = tk_db_prepare(
        db, "SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE user_id = ? LIMIT ?) AS t", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, user_id);
    tk_db_bind_int(db, st, 2, max);
    int64_t n = 0;
    rc = tk_st_one_int(db, st, &n);
    *full = rc == 0 && n >= (int64_t)max;
    return rc;
}

/* ---- single tokens ---- */

int tk_store_token_get(struct tk_db *db, const char *identifier, int64_t owner_id,
                       struct tk_arena *a, struct tk_token **out)
{
    struct tk_token_query q;
    memset(&q, 0, sizeof(q));
    q.identifier = identifier;
    q.owner_id = owner_id;
    q.expiring = -1;
    q.with_groups = true;
    q.n_order = 0;
    struct tk_token *t;
    size_t n;
    int rc = tk_store_token_fetch(db, &q, 0, 1, a, &t, &n);
    if (rc)
        return rc;
    if (n == 0)
        return TK_ERR_NOTFOUND;
    *out = t;
    return 0;
}

int tk_store_token_get_by_id(struct tk_db *db, int64_t id, int64_t owner_id, struct tk_arena *a,
                             struct tk_token **out)
{
    if (id <= 0)
        return TK_ERR_NOTFOUND;
    struct tk_token_query q;
    memset(&q, 0, sizeof(q));
    q.id = id;
    q.owner_id = owner_id;
    q.expiring = -1;
    q.with_groups = true;
    struct tk_token *t;
    size_t n;
    int rc = tk_store_token_fetch(db, &q, 0, 1, a, &t, &n);
    if (rc)
        return rc;
    if (n == 0)
        return TK_ERR_NOTFOUND;
    *out = t;
    return 0;
}

int tk_st_taken(struct tk_db *db, const char *sql, const char *value, int64_t exclude_id, bool *out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, sql, &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, value);
    tk_db_bind_int(db, st, 2, exclude_id);
    rc = tk_db_step(db, st);
    *out = rc == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_store_token_identifier_taken(struct tk_db *db, const char *identifier, int64_t exclude_id,
                                    bool *out)
{
    return tk_st_taken(db, "SELECT 1 FROM tokens WHERE identifier = ? AND id <> ?", identifier,
                       exclude_id, out);
}

int tk_store_token_managed_taken(struct tk_db *db, const char *managed, int64_t exclude_id,
                                 bool *out)
{
    return tk_st_taken(db, "SELECT 1 FROM tokens WHERE managed = ? AND id <> ?", managed,
                       exclude_id, out);
}

/* The owner's username fold, for the token search text. */
static int owner_fold(struct tk_db *db, int64_t user_id, struct tk_buf *out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT username_fold FROM users WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, user_id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        size_t len;
        const char *t = tk_db_col_text(db, st, 0, &len);
        rc = tk_buf_append(out, t, len);
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_st_token_fold(struct tk_db *db, const char *identifier, const char *intent, int64_t user_id,
                     const char *description, struct tk_buf *fold)
{
    /* One text per token for search: the four searched fields, separated by 0x1f, which no
     * search term can contain (it is whitespace to the term splitter). */
    int rc = tk_utf8_fold(identifier, strlen(identifier), fold);
    if (rc == 0)
        rc = tk_buf_putc(fold, '\x1f');
    if (rc == 0)
        rc = tk_buf_puts(fold, intent);
    if (rc == 0)
        rc = tk_buf_putc(fold, '\x1f');
    if (rc == 0)
        rc = owner_fold(db, user_id, fold);
    if (rc == 0)
        rc = tk_buf_putc(fold, '\x1f');
    if (rc == 0)
        rc = tk_utf8_fold(description, strlen(description), fold);
    return rc;
}

int tk_st_refold_user_tokens(struct tk_db *db, int64_t user_id)
{
    struct tk_arena *a = tk_arena_new(TK_REFOLD_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    struct tk_token *tokens;
    size_t n;
    int rc = tk_store_user_tokens(db, user_id, a, &tokens, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = tk_store_token_update(db, &tokens[i]);
    tk_arena_free(a);
    return rc;
}

int tk_store_token_update(struct tk_db *db, const struct tk_token *t)
{
    struct tk_buf fold;
    tk_buf_init(&fold, TK_MAX_TOKEN_FOLD_BYTES);
    int rc = tk_st_token_fold(db, t->identifier, t->intent, t->user_id, t->description, &fold);
    struct tk_db_stmt *st = NULL;
    if (rc == 0)
        rc = tk_db_prepare(db,
                           "UPDATE tokens SET identifier = ?, intent = ?, description = ?, "
                           "expires = ?, expiring = ?, managed = ?, search_fold = ? "
                           "WHERE id = ?",
                           &st);
    if (rc == 0) {
        tk_db_bind_cstr(db, st, 1, t->identifier);
        tk_db_bind_cstr(db, st, 2, t->intent);
        tk_db_bind_cstr(db, st, 3, t->description);
        tk_db_bind_opt_int(db, st, 4, t->has_expires, t->expires);
        tk_db_bind_int(db, st, 5, t->expiring);
        tk_db_bind_cstr(db, st, 6, t->managed);
        tk_db_bind_text(db, st, 7, fold.data, fold.len);
        tk_db_bind_int(db, st, 8, t->id);
        rc = tk_st_run(db, st);
    }
    tk_buf_free(&fold);
    return rc;
}

int tk_store_token_set_key(struct tk_db *db, int64_t id, const uint8_t hash[TK_KEY_HASH_BYTES],
                           const void *sealed, size_t sealed_len)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "UPDATE tokens SET key_hash = ?, key_sealed = ? WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_blob(db, st, 1, hash, TK_KEY_HASH_BYTES);
    tk_db_bind_blob(db, st, 2, sealed, sealed_len);
    tk_db_bind_int(db, st, 3, id);
    return tk_st_run(db, st);
}

int tk_store_token_set_expires(struct tk_db *db, int64_t id, int64_t expires)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "UPDATE tokens SET expires = ? WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, expires);
    tk_db_bind_int(db, st, 2, id);
    return tk_st_run(db, st);
}

int tk_store_token_delete_id(struct tk_db *db, int64_t id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM tokens WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    return tk_st_run(db, st);
}

int tk_store_key_viewer_add(struct tk_db *db, int64_t token_id, int64_t user_id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "INSERT INTO token_key_viewers (token_id, user_id) VALUES (?, ?) "
                           "ON CONFLICT DO NOTHING",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, token_id);
    tk_db_bind_int(db, st, 2, user_id);
    return tk_st_run(db, st);
}

int tk_store_key_viewer_has(struct tk_db *db, int64_t token_id, int64_t user_id, bool *has)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT 1 FROM token_key_viewers WHERE token_id = ? AND user_id = ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, token_id);
    tk_db_bind_int(db, st, 2, user_id);
    rc = tk_db_step(db, st);
    *has = rc == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_store_user_exists(struct tk_db *db, int64_t id, bool *exists)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT 1 FROM users WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    *exists = rc == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_store_user_attributes(struct tk_db *db, int64_t id, struct tk_arena *a, const char **json)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT attributes FROM users WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        *json = tk_st_col_dup(db, st, 0, a);
        rc = *json ? 0 : TK_ERR_NOMEM;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_user_group_attributes(struct tk_db *db, int64_t id, struct tk_arena *a,
                                   const char ***json, size_t *n)
{
    char depth[16];
    snprintf(depth, sizeof(depth), "%d", TK_MAX_GROUP_DEPTH);
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "WITH RECURSIVE anc(group_id, depth) AS ("
                   "SELECT m.group_id, 0 FROM memberships m WHERE m.user_id = ");
    tk_sql_int(&q, id);
    tk_sql_add(&q, " UNION SELECT g.parent_id, anc.depth + 1 FROM anc "
                   "JOIN groups g ON g.id = anc.group_id "
                   "WHERE g.parent_id IS NOT NULL AND anc.depth < ");
    tk_sql_add(&q, depth);
    tk_sql_add(&q, ") SELECT g.attributes FROM groups g WHERE g.id IN "
                   "(SELECT group_id FROM anc) ORDER BY g.name, g.id");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t cap = 0, used = 0;
    const char **out = tk_arena_reserve(a, NULL, 0, &cap, sizeof(*out));
    while (out != NULL && (rc = tk_db_step(db, st)) == 1) {
        if ((out = tk_arena_reserve(a, out, used, &cap, sizeof(*out))) == NULL)
            break;
        if ((out[used++] = tk_st_col_dup(db, st, 0, a)) == NULL) {
            out = NULL;
            break;
        }
    }
    tk_db_reset(db, st);
    if (out == NULL)
        return TK_ERR_NOMEM;
    if (rc < 0)
        return rc;
    *json = out;
    *n = used;
    return 0;
}

/* ---- events ---- */

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
    tk_sql_add(q, " WHERE 1 = 1");
    if (e->action) {
        tk_sql_add(q, " AND action = ");
        tk_sql_cstr(q, e->action);
    }
    if (e->username) {
        tk_sql_add(q, " AND username = ");
        tk_sql_cstr(q, e->username);
    }
    if (e->context_model_pk) {
        tk_sql_add(q, " AND context_model_pk = ");
        tk_sql_cstr(q, e->context_model_pk);
    }
    if (e->client_ip) {
        tk_sql_add(q, " AND client_ip = ");
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

int tk_store_token_expired(struct tk_db *db, int64_t now, size_t limit, struct tk_arena *a,
                           struct tk_token **out, size_t *n_out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT id, uuid, identifier, intent, expires FROM tokens "
                           "WHERE expiring = 1 AND (expires IS NULL OR expires <= ?) "
                           "ORDER BY id LIMIT ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, now);
    tk_db_bind_int(db, st, 2, (int64_t)limit);
    struct tk_token *t = tk_arena_calloc(a, limit ? limit : 1, sizeof(*t));
    size_t n = 0;
    if (t == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && n < limit && (rc = tk_db_step(db, st)) == 1) {
        struct tk_token *x = &t[n++];
        x->expiring = true;
        rc = tk_st_col_token_brief(db, st, a, x);
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *out = t;
    *n_out = n;
    return 0;
}
