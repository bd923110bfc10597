/* SQL the user and group lists share (internal.h): attributes (JSON equality at a key path, per
 * dialect), memberships by id sets, text lists, search terms, and ORDER BY with the page. */
#include "store/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SQLite JSON path '$."a"."b"'; NULL when a key cannot be written in one. */
static char *json_path(struct tk_arena *a, const char *const *keys, size_t n)
{
    struct tk_buf b;
    tk_buf_init(&b, TK_MAX_TEXT_BYTES);
    tk_buf_putc(&b, '$');
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        if (strchr(keys[i], '"') != NULL)
            ok = false;
        tk_buf_puts(&b, ".\"");
        tk_buf_puts(&b, keys[i]);
        tk_buf_putc(&b, '"');
    }
    char *r = ok && b.err == 0 ? tk_arena_strndup(a, b.data, b.len) : NULL;
    tk_buf_free(&b);
    return r;
}

/* PostgreSQL text[] literal {"a","b"} for the #> operators. */
static char *pg_path(struct tk_arena *a, const char *const *keys, size_t n)
{
    struct tk_buf b;
    tk_buf_init(&b, TK_MAX_TEXT_BYTES);
    tk_buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            tk_buf_putc(&b, ',');
        tk_buf_putc(&b, '"');
        for (const char *k = keys[i]; *k; k++) {
            if (*k == '"' || *k == '\\')
                tk_buf_putc(&b, '\\');
            tk_buf_putc(&b, *k);
        }
        tk_buf_putc(&b, '"');
    }
    tk_buf_putc(&b, '}');
    char *r = b.err == 0 ? tk_arena_strndup(a, b.data, b.len) : NULL;
    tk_buf_free(&b);
    return r;
}

static void sql_attr_filter_pg(struct tk_sql *q, struct tk_arena *a, const char *column,
                               const struct tk_attr_filter *f)
{
    char *path = pg_path(a, f->keys, f->n_keys);
    char node[256];
    snprintf(node, sizeof(node), "(CAST(%s AS jsonb) #> CAST(", column);
    const json_t *v = f->value;
    /* jsonb equality: numbers by value, objects regardless of key order */
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    tk_sql_where(q);
    tk_sql_add(q, node);
    tk_sql_cstr(q, path ? path : "{}");
    tk_sql_add(q, " AS text[])) = CAST(");
    tk_sql_cstr(q, text ? tk_arena_strdup(a, text) : "null");
    tk_sql_add(q, " AS jsonb)");
    free(text);
}

/* A condition: <column> at the filter's key path equals its value, in JSON terms. */
static void sql_attr_filter(struct tk_sql *q, struct tk_arena *a, const char *column,
                            const struct tk_attr_filter *f)
{
    if (q->dialect == TK_DIALECT_PG) {
        sql_attr_filter_pg(q, a, column, f);
        return;
    }
    char *path = json_path(a, f->keys, f->n_keys);
    tk_sql_where(q);
    if (path == NULL) {
        tk_sql_add(q, "0 = 1");
        return;
    }
    char expr_type[256], expr_val[256];
    snprintf(expr_type, sizeof(expr_type), "json_type(%s, ", column);
    snprintf(expr_val, sizeof(expr_val), "json_extract(%s, ", column);
    tk_sql_add(q, expr_type);
    tk_sql_cstr(q, path);
    const json_t *v = f->value;
    switch (json_typeof(v)) {
    case JSON_STRING:
        tk_sql_add(q, ") = 'text' AND ");
        tk_sql_add(q, expr_val);
        tk_sql_cstr(q, path);
        tk_sql_add(q, ") = ");
        tk_sql_text(q, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
    case JSON_REAL: {
        char num[64];
        if (json_is_integer(v))
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        else
            snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        tk_sql_add(q, ") IN ('integer', 'real') AND ");
        tk_sql_add(q, expr_val);
        tk_sql_cstr(q, path);
        tk_sql_add(q, ") = CAST(");
        tk_sql_cstr(q, tk_arena_strdup(a, num));
        tk_sql_add(q, json_is_integer(v) ? " AS INTEGER)" : " AS REAL)");
        break;
    }
    case JSON_TRUE: tk_sql_add(q, ") = 'true'"); break;
    case JSON_FALSE: tk_sql_add(q, ") = 'false'"); break;
    case JSON_NULL: tk_sql_add(q, ") = 'null'"); break;
    default: {
        char *text = json_dumps(v, JSON_COMPACT);
        tk_sql_add(q, ") IN ('object', 'array') AND ");
        tk_sql_add(q, expr_val);
        tk_sql_cstr(q, path);
        tk_sql_add(q, ") = json(");
        tk_sql_cstr(q, text ? tk_arena_strdup(a, text) : "null");
        tk_sql_add(q, ")");
        free(text);
        break;
    }
    }
}

/* The two membership filters of a list (by pk and by name, both resolved to ids): each active
 * one keeps rows with a membership "<link> IN (ids)"; an empty set matches nothing. */
static void sql_membership_filter(struct tk_sql *q, const struct tk_id_set sets[2],
                                  const char *link)
{
    for (int k = 0; k < 2; k++) {
        if (!sets[k].active)
            continue;
        tk_sql_where(q);
        if (sets[k].n == 0) {
            tk_sql_add(q, "0 = 1");
            continue;
        }
        tk_sql_add(q, "EXISTS (SELECT 1 FROM memberships m WHERE ");
        tk_sql_add(q, link);
        tk_sql_add(q, " IN ");
        tk_st_sql_id_list(q, sets[k].ids, sets[k].n);
        tk_sql_add(q, ")");
    }
}

void tk_st_sql_strs(struct tk_sql *q, const char *const *v, size_t n)
{
    tk_sql_add(q, "(");
    for (size_t i = 0; i < n; i++) {
        if (i)
            tk_sql_add(q, ",");
        tk_sql_cstr(q, v[i]);
    }
    tk_sql_add(q, ")");
}

void tk_st_sql_list_tail(struct tk_sql *q, struct tk_arena *a, const struct tk_list_tail *t)
{
    sql_membership_filter(q, t->sets, t->membership_link);
    for (size_t i = 0; i < t->n_attrs; i++)
        sql_attr_filter(q, a, t->attributes_column, &t->attrs[i]);
    for (size_t i = 0; i < t->n_terms; i++) {
        tk_sql_where(q);
        tk_sql_contains(q, t->fold_column, t->terms[i]);
    }
}

void tk_st_sql_order_page(struct tk_sql *q, const struct tk_order *order, size_t n_order,
                          const char *(*column)(int field), const char *tie, int64_t limit,
                          int64_t offset)
{
    tk_sql_add(q, " ORDER BY ");
    for (size_t i = 0; i < n_order; i++) {
        tk_sql_add(q, column(order[i].field));
        /* PostgreSQL's default NULL placement, on every engine (docs/api.md §8.3) */
        tk_sql_add(q, order[i].desc ? " DESC NULLS FIRST, " : " ASC NULLS LAST, ");
    }
    tk_sql_add(q, tie);
    tk_sql_limit(q, limit, offset, false);
}
