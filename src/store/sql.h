/* The SQL text builder the store's files build their run-time queries with: text and '?'
 * parameters collected in order (bound in one call by tk_sql_prepare), WHERE conditions added
 * one way (tk_sql_where), subqueries spliced in, and substring containment, written per dialect
 * (tk_sql_contains). The queries themselves live in the
 * entity files (token_list.c, users.c, groups.c, events.c ...). Errors are sticky (q->err) and
 * answered by tk_sql_prepare. */
#ifndef TK_STORE_SQL_H
#define TK_STORE_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/limits.h" /* TK_SQL_MAX_PARAMS */

struct tk_sql_param {
    enum { TK_SQLP_INT, TK_SQLP_TEXT } type;
    int64_t i;
    const char *s;
    size_t len;
};

struct tk_sql {
    enum tk_dialect dialect;
    struct tk_buf text;
    size_t n_params, cap_params;
    struct tk_sql_param *params; /* arena-allocated, grows to TK_SQL_MAX_PARAMS */
    struct tk_arena *arena;
    int err;
    bool in_where; /* a condition was added (tk_sql_where) */
};

int tk_sql_init(struct tk_sql *q, enum tk_dialect d, struct tk_arena *a) TK_MUST_USE;
void tk_sql_free(struct tk_sql *q);
void tk_sql_add(struct tk_sql *q, const char *text);
/* Starts a condition of the WHERE clause being built: " WHERE " before the first, " AND "
 * before each other one. Every WHERE of the store is written this way, so a query without
 * conditions has no WHERE at all (SQLite then counts from the b-tree's pages). */
void tk_sql_where(struct tk_sql *q);
void tk_sql_int(struct tk_sql *q, int64_t v);                  /* appends a placeholder */
void tk_sql_text(struct tk_sql *q, const char *s, size_t len); /* appends a placeholder */
void tk_sql_cstr(struct tk_sql *q, const char *s);
/* Appends inner's text and parameters (a subquery), in place. */
void tk_sql_splice(struct tk_sql *q, const struct tk_sql *inner);
/* "<expr> contains <needle>" as a boolean expression (instr / strpos), needle taken literally. */
void tk_sql_contains(struct tk_sql *q, const char *expr, const char *needle);
/* " LIMIT ? OFFSET ?"; on PostgreSQL a first page (offset 0) whose plan depends on no parameter's
 * value (plan_by_shape: no search, whose terms' frequencies choose the plan) gets " LIMIT n", so
 * the server plans the statement once instead of at every execution. */
void tk_sql_limit(struct tk_sql *q, int64_t limit, int64_t offset, bool plan_by_shape);
/* Prepares the text and binds every parameter. */
int tk_sql_prepare(struct tk_db *db, struct tk_sql *q, struct tk_db_stmt **st) TK_MUST_USE;

#endif
