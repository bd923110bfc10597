/* Small pieces every store file uses (internal.h): copying columns into an arena, running a
 * statement of one row or none, id lists and id reads. No table of its own. */
#include "store/internal.h"

#include <string.h>

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

int tk_st_col_blob_dup(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a,
                       const uint8_t **p, size_t *len)
{
    size_t n = 0;
    const void *v = tk_db_col_blob(db, st, c, &n);
    uint8_t *copy = tk_arena_alloc(a, n ? n : 1);
    if (copy == NULL)
        return TK_ERR_NOMEM;
    if (n)
        memcpy(copy, v, n);
    *p = copy;
    *len = n;
    return 0;
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

/* Runs a statement expected to return no rows (or to be fully consumed). */
int tk_st_run(struct tk_db *db, struct tk_db_stmt *st)
{
    int rc;
    while ((rc = tk_db_step(db, st)) == 1)
        ;
    tk_db_reset(db, st);
    return rc;
}

int tk_st_insert_id(struct tk_db *db, struct tk_db_stmt *st, int64_t *id)
{
    int rc = tk_db_step(db, st);
    if (rc != 1) {
        tk_db_reset(db, st);
        return rc == 0 ? TK_ERR_STORE : rc;
    }
    *id = tk_db_col_int(db, st, 0);
    return tk_st_run(db, st);
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

int tk_st_count(struct tk_db *db, struct tk_sql *q, int64_t *count)
{
    struct tk_db_stmt *st;
    int rc = tk_sql_prepare(db, q, &st);
    tk_sql_free(q);
    if (rc)
        return rc;
    return tk_st_one_int(db, st, count);
}

/* Reads a column of ids from a prepared statement into the arena. */
int tk_st_read_ids(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a, size_t max,
                   int64_t **ids, size_t *n)
{
    int64_t *out = tk_arena_calloc(a, max ? max : 1, sizeof(*out));
    size_t k = 0;
    int rc = out ? 0 : TK_ERR_NOMEM;
    while (rc == 0 && k < max && (rc = tk_db_step(db, st)) == 1) {
        out[k++] = tk_db_col_int(db, st, 0);
        rc = 0;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *ids = out;
    *n = k;
    return 0;
}

int tk_st_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}
