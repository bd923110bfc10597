/* Schema migrations (store.h, tk_store_migrate): the versioned scripts of migrations/ applied in
 * order, each in its own transaction, once however many processes start together; then the
 * installation id. */
#include "store/internal.h"

#include <stdio.h>

#include "store/migrations.h"
#include "util/time.h"
#include "util/uuid.h"

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
                       unsigned n_migs, unsigned *n_applied, char *err, size_t err_len);

int tk_store_analyze(struct tk_db *db)
{
    /* SQLite reads at most 1000 rows of each index (its documented range is 100 to 1000): the
     * planner only needs the shape, and a full pass over a million tokens would take seconds. */
    if (db->dialect == TK_DIALECT_SQLITE)
        return tk_db_exec(db, "PRAGMA analysis_limit = 1000; ANALYZE");
    return tk_db_exec(db, "ANALYZE");
}

#define TK_RESTAT_MIN_ROWS 100 /* tk_store_restat: fewer rows off are planned well anyway */

/* What the planner believes a table holds: PostgreSQL's reltuples, SQLite's sqlite_stat1 (the
 * first number of a row of the table's; no row: an empty table when analyzed); -1: unknown. */
static int believed_rows(struct tk_db *db, const char *table, int64_t *out)
{
    *out = -1;
    struct tk_db_stmt *st;
    int rc;
    if (db->dialect == TK_DIALECT_PG) {
        rc = tk_db_prepare(db,
                           "SELECT CAST(reltuples AS BIGINT) FROM pg_class "
                           "WHERE relname = ? AND relkind = 'r'",
                           &st);
    } else {
        bool analyzed = false;
        rc = tk_db_prepare(db, "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'", &st);
        if (rc == 0) {
            rc = tk_db_step(db, st);
            analyzed = rc == 1;
            tk_db_reset(db, st);
        }
        if (rc < 0 || !analyzed)
            return rc < 0 ? rc : 0;
        rc = tk_db_prepare(db,
                           "SELECT COALESCE(MAX(CAST(stat AS INTEGER)), 0) FROM sqlite_stat1 "
                           "WHERE tbl = ?",
                           &st);
    }
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, table);
    return tk_st_one_int(db, st, out);
}

int tk_store_restat(struct tk_db *db, int *n_analyzed)
{
    /* the tables lists and authentication plan around; events grow steadily and are read by
     * their time index whatever the numbers */
    static const struct {
        const char *table, *count, *analyze_sqlite, *analyze_pg;
    } tables[] = {
        {"tokens", NULL, "PRAGMA analysis_limit = 1000; ANALYZE tokens", "ANALYZE tokens"},
        {"users", "SELECT COUNT(*) FROM users", "PRAGMA analysis_limit = 1000; ANALYZE users",
         "ANALYZE users"},
        {"groups", "SELECT COUNT(*) FROM groups", "PRAGMA analysis_limit = 1000; ANALYZE groups",
         "ANALYZE groups"},
        {"memberships", "SELECT COUNT(*) FROM memberships",
         "PRAGMA analysis_limit = 1000; ANALYZE memberships", "ANALYZE memberships"},
    };
    *n_analyzed = 0;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        int64_t believed, actual = 0;
        int rc = believed_rows(db, tables[i].table, &believed);
        if (rc)
            return rc;
        struct tk_db_stmt *st;
        const char *count = tables[i].count;
        if (count == NULL) /* the token counter (sqlite 0003, pg 0004), not a scan */
            count = db->dialect == TK_DIALECT_PG ? "SELECT SUM(n) FROM token_count_shards"
                                                 : "SELECT n FROM token_count WHERE id = 1";
        if ((rc = tk_db_prepare(db, count, &st)) != 0 || (rc = tk_st_one_int(db, st, &actual)))
            return rc;
        int64_t off = believed < 0        ? actual
                      : believed > actual ? believed - actual
                                          : actual - believed;
        /* stale: off by a fifth, and by at least TK_RESTAT_MIN_ROWS rows */
        if (off < TK_RESTAT_MIN_ROWS || off * 5 < actual)
            continue;
        rc = tk_db_exec(db, db->dialect == TK_DIALECT_PG ? tables[i].analyze_pg
                                                         : tables[i].analyze_sqlite);
        if (rc)
            return rc;
        (*n_analyzed)++;
    }
    return 0;
}

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
    unsigned n_applied = 0;
    rc = migrate_all(s, db, migs, n_migs, &n_applied, err, err_len);
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
    /* A migration may have created or filled tables: without statistics PostgreSQL plans them
     * as empty (issue 17: the authentication query then loops over every user). Best effort:
     * stale statistics make the service slower, never wrong. */
    if (rc == 0 && n_applied > 0 && tk_store_analyze(db) != 0) {
        /* ignored: the next ANALYZE (autovacuum's on PostgreSQL) catches up */
    }
    return rc;
}

static int migrate_all(struct tk_store *s, struct tk_db *db, const struct tk_migration *migs,
                       unsigned n_migs, unsigned *n_applied, char *err, size_t err_len)
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
        if (rc == 0)
            (*n_applied)++;
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
