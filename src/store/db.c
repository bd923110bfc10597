/* Driver selection by URL, and the bind wrappers shared by every driver. */
#include "store/db.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

int tk_db_open(const char *url, struct tk_db **out, char *err, size_t err_len)
{
    *out = NULL;
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        /* Accept sqlite:///abs/path and sqlite://rel as well as sqlite:path. */
        if (strncmp(path, "//", 2) == 0)
            path += 2;
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

bool tk_db_url_is_pg(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0 ||
           (strncmp(url, "sqlite:", 7) != 0 && strchr(url, '=') != NULL);
}

int tk_db_bind_null(struct tk_db *db, struct tk_db_stmt *st, int idx)
{
    return db->ops->bind_null(st, idx);
}

int tk_db_bind_int(struct tk_db *db, struct tk_db_stmt *st, int idx, int64_t v)
{
    return db->ops->bind_int(st, idx, v);
}

int tk_db_bind_text(struct tk_db *db, struct tk_db_stmt *st, int idx, const char *s, size_t len)
{
    return db->ops->bind_text(st, idx, s, len);
}

int tk_db_bind_cstr(struct tk_db *db, struct tk_db_stmt *st, int idx, const char *s)
{
    if (s == NULL)
        return db->ops->bind_null(st, idx);
    return db->ops->bind_text(st, idx, s, strlen(s));
}

int tk_db_bind_blob(struct tk_db *db, struct tk_db_stmt *st, int idx, const void *p, size_t len)
{
    return db->ops->bind_blob(st, idx, p, len);
}

int tk_db_bind_opt_int(struct tk_db *db, struct tk_db_stmt *st, int idx, bool has, int64_t v)
{
    return has ? db->ops->bind_int(st, idx, v) : db->ops->bind_null(st, idx);
}
