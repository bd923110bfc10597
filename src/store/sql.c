/* The SQL text builder (sql.h), with substring containment, the one expression every list's
 * search writes differently per dialect (instr, or LIKE for pg_trgm's index). The other
 * dialect-specific pieces stay with their queries (the attribute filters in filters.c, FTS5 in
 * search.c, row locks in conn.c). */
#include "store/sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int tk_sql_init(struct tk_sql *q, enum tk_dialect d, struct tk_arena *a)
{
    q->dialect = d;
    tk_buf_init(&q->text, TK_MAX_SQL_BYTES);
    q->n_params = 0;
    q->cap_params = 16;
    q->err = 0;
    q->in_where = false;
    q->arena = a;
    q->params = tk_arena_alloc(a, q->cap_params * sizeof(*q->params));
    return q->params ? 0 : TK_ERR_NOMEM;
}

void tk_sql_free(struct tk_sql *q)
{
    tk_buf_free(&q->text);
}

void tk_sql_add(struct tk_sql *q, const char *text)
{
    tk_buf_puts(&q->text, text);
}

void tk_sql_where(struct tk_sql *q)
{
    tk_buf_puts(&q->text, q->in_where ? " AND " : " WHERE ");
    q->in_where = true;
}

static struct tk_sql_param *new_param(struct tk_sql *q)
{
    if (q->n_params >= TK_SQL_MAX_PARAMS) {
        q->err = TK_ERR_TOOBIG;
        return NULL;
    }
    if (q->n_params == q->cap_params) {
        struct tk_sql_param *p = tk_arena_alloc(q->arena, 2 * q->cap_params * sizeof(*p));
        if (p == NULL) {
            q->err = TK_ERR_NOMEM;
            return NULL;
        }
        memcpy(p, q->params, q->n_params * sizeof(*p));
        q->params = p;
        q->cap_params *= 2;
    }
    return &q->params[q->n_params++];
}

static struct tk_sql_param *next_param(struct tk_sql *q)
{
    struct tk_sql_param *p = new_param(q);
    if (p)
        tk_buf_putc(&q->text, '?');
    return p;
}

void tk_sql_splice(struct tk_sql *q, const struct tk_sql *inner)
{
    if (inner->err && !q->err)
        q->err = inner->err;
    if (inner->text.err)
        q->text.err = q->text.err ? q->text.err : inner->text.err;
    tk_buf_append(&q->text, inner->text.data ? inner->text.data : "", inner->text.len);
    for (size_t i = 0; i < inner->n_params; i++) {
        struct tk_sql_param *p = new_param(q);
        if (p == NULL)
            return;
        *p = inner->params[i];
    }
}

void tk_sql_int(struct tk_sql *q, int64_t v)
{
    struct tk_sql_param *p = next_param(q);
    if (p) {
        p->type = TK_SQLP_INT;
        p->i = v;
    }
}

void tk_sql_text(struct tk_sql *q, const char *s, size_t len)
{
    struct tk_sql_param *p = next_param(q);
    if (p) {
        p->type = TK_SQLP_TEXT;
        p->s = s;
        p->len = len;
    }
}

void tk_sql_cstr(struct tk_sql *q, const char *s)
{
    tk_sql_text(q, s, strlen(s));
}

void tk_sql_contains(struct tk_sql *q, const char *expr, const char *needle)
{
    if (q->dialect == TK_DIALECT_PG) {
        /* LIKE, so that pg_trgm's GIN index serves it; '%', '_' and '\' escaped. The columns
         * are COLLATE "C", so LIKE compares bytes like instr() does on SQLite. */
        size_t n = strlen(needle);
        char *pat = tk_arena_alloc(q->arena, 2 * n + 3);
        if (pat == NULL) {
            q->err = TK_ERR_NOMEM;
            return;
        }
        size_t o = 0;
        pat[o++] = '%';
        for (size_t i = 0; i < n; i++) {
            if (needle[i] == '%' || needle[i] == '_' || needle[i] == '\\')
                pat[o++] = '\\';
            pat[o++] = needle[i];
        }
        pat[o++] = '%';
        tk_sql_add(q, expr);
        tk_sql_add(q, " LIKE ");
        tk_sql_text(q, pat, o);
        tk_sql_add(q, " ESCAPE '\\'");
        return;
    }
    /* instr() needs no escaping at all: '%', '_' and '\' are ordinary characters. */
    tk_sql_add(q, "instr(");
    tk_sql_add(q, expr);
    tk_sql_add(q, ", ");
    tk_sql_cstr(q, needle);
    tk_sql_add(q, ") > 0");
}

int tk_sql_prepare(struct tk_db *db, struct tk_sql *q, struct tk_db_stmt **st)
{
    if (q->err)
        return q->err;
    if (q->text.err)
        return q->text.err;
    int rc = tk_db_prepare(db, q->text.data, st);
    if (rc)
        return rc;
    for (size_t i = 0; i < q->n_params; i++) { /* a failure is answered by the first step */
        const struct tk_sql_param *p = &q->params[i];
        if (p->type == TK_SQLP_INT)
            tk_db_bind_int(db, *st, (int)i + 1, p->i);
        else
            tk_db_bind_text(db, *st, (int)i + 1, p->s, p->len);
    }
    return 0;
}

void tk_sql_limit(struct tk_sql *q, int64_t limit, int64_t offset, bool plan_by_shape)
{
    /* PostgreSQL keeps one (generic) plan for a prepared statement only when that plan does not
     * look costlier than one made for the values. With LIMIT and OFFSET parameters the generic
     * plan assumes a tenth of the rows skipped and taken, always looks costlier, and every
     * execution was planned again: more than a third of the server's time for a filtered page
     * (bench/RESULTS.md). A first page whose plan hangs on no value writes its limit into the
     * text instead (a number tokend made, never a client's text): one statement per page size,
     * planned once. */
    if (q->dialect == TK_DIALECT_PG && plan_by_shape && offset == 0) {
        char lit[32];
        snprintf(lit, sizeof(lit), " LIMIT %" PRId64, limit);
        tk_sql_add(q, lit);
        return;
    }
    tk_sql_add(q, " LIMIT ");
    tk_sql_int(q, limit);
    tk_sql_add(q, " OFFSET ");
    tk_sql_int(q, offset);
}
