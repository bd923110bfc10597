/* The settings table (store.h): small named values the database keeps for itself, such as
 * the installation id, whether bootstrap ran, and the secret's check value. */
#include "store/internal.h"

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
