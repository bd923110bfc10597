/* Driver selection by URL, and the bind wrappers shared by every driver (their failures are
 * answered by the statement's next step, db.h). */
#include "store/db.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

int tk_db_open(const char *url, struct tk_db **out, char *err, size_t err_len)
{
    *out = NULL;
    const char *path = tk_db_sqlite_path(url);
    if (path != NULL) {
        if (*path == '\0') {
            snprintf(err, err_len, "empty SQLite path in database URL");
            return TK_ERR_INVALID;
        }
        return tk_db_sqlite_open(path, out, err, err_len);
    }
    if (tk_db_url_is_pg(url))
        return tk_db_pg_open(url, out, err, err_len);
    snprintf(err, err_len,
             "unsupported database URL (expected sqlite:PATH, postgres://... or a libpq "
             "key=value string)");
    return TK_ERR_INVALID;
}

uint64_t tk_db_next_id(void)
{
    static _Atomic uint64_t next = 1;
    return atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
}

const char *tk_db_sqlite_path(const char *url)
{
    if (strncmp(url, "sqlite:", 7) != 0)
        return NULL;
    return strncmp(url + 7, "//", 2) == 0 ? url + 9 : url + 7;
}

bool tk_db_url_is_pg(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0 ||
           (strncmp(url, "sqlite:", 7) != 0 && strchr(url, '=') != NULL);
}

/* The first failure of a statement's binds, for its tk_db_step to answer (db.h). */
static void bound(struct tk_db *db, int rc)
{
    if (rc != 0 && db->bind_err == 0)
        db->bind_err = rc < 0 ? rc : TK_ERR_STORE;
}

void tk_db_bind_int(struct tk_db *db, struct tk_db_stmt *st, int idx, int64_t v)
{
    bound(db, db->ops->bind_int(st, idx, v));
}

void tk_db_bind_text(struct tk_db *db, struct tk_db_stmt *st, int idx, const char *s, size_t len)
{
    bound(db, db->ops->bind_text(st, idx, s, len));
}

void tk_db_bind_cstr(struct tk_db *db, struct tk_db_stmt *st, int idx, const char *s)
{
    bound(db, s == NULL ? db->ops->bind_null(st, idx) : db->ops->bind_text(st, idx, s, strlen(s)));
}

void tk_db_bind_blob(struct tk_db *db, struct tk_db_stmt *st, int idx, const void *p, size_t len)
{
    bound(db, db->ops->bind_blob(st, idx, p, len));
}

void tk_db_bind_opt_int(struct tk_db *db, struct tk_db_stmt *st, int idx, bool has, int64_t v)
{
    bound(db, has ? db->ops->bind_int(st, idx, v) : db->ops->bind_null(st, idx));
}
