/* The list runner and the list parameters every list reads (listing.h). */
#include "api/listing.h"

#include <stdio.h>
#include <string.h>

#include "api/messages.h"
#include "api/serialize.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/utf8.h"
#include "util/uuid.h"
#include "json/writer.h"

/* authentik's answer to a bad attributes filter: a bare JSON list of one message (the messages
 * here need no escaping). */
static int bare_list_error(struct tk_ctx *c, const char *list)
{
    return tk_api_refuse_body(c, 400, list);
}

int tk_list_attributes(struct tk_ctx *c, const struct tk_query *q, struct tk_attr_filter **out,
                       size_t *n, json_t **root)
{
    *out = NULL;
    *n = 0;
    *root = NULL;
    const struct tk_qparam *p = tk_query_get(q, "attributes");
    if (p == NULL || p->val_len == 0)
        return 0;
    json_error_t err;
    json_t *v = json_loadb(p->val, p->val_len, JSON_DECODE_ANY, &err);
    if (v == NULL)
        return bare_list_error(c, "[\"filter: failed to parse JSON\"]");
    if (!json_is_object(v)) {
        json_decref(v);
        return bare_list_error(c, "[\"filter: value must be key:value mapping\"]");
    }
    size_t count = json_object_size(v), k = 0;
    struct tk_attr_filter *f = tk_arena_calloc(c->req->arena, count ? count : 1, sizeof(*f));
    if (f == NULL) {
        json_decref(v);
        return TK_ERR_NOMEM;
    }
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        /* Django lookups: "a__b" is the path a -> b */
        size_t parts = 1;
        for (const char *s = key; (s = strstr(s, "__")) != NULL; s += 2)
            parts++;
        const char **keys = tk_arena_calloc(c->req->arena, parts, sizeof(*keys));
        if (keys == NULL) {
            json_decref(v);
            return TK_ERR_NOMEM;
        }
        size_t i = 0;
        const char *s = key;
        for (;;) {
            const char *d = strstr(s, "__");
            size_t len = d ? (size_t)(d - s) : strlen(s);
            keys[i++] = tk_arena_strndup(c->req->arena, s, len);
            if (d == NULL)
                break;
            s = d + 2;
        }
        f[k].keys = keys;
        f[k].n_keys = i;
        f[k].value = val;
        k++;
    }
    *out = f;
    *n = k;
    *root = v;
    return 0;
}

size_t tk_list_ordering(const struct tk_query *q, const struct tk_order_name *names, size_t n_names,
                        const struct tk_order *def, size_t n_def, struct tk_order *out)
{
    const struct tk_qparam *p = tk_query_get(q, "ordering");
    return tk_ordering_parse(p ? p->val : NULL, p ? p->val_len : 0, names, n_names, def, n_def,
                             out);
}

int tk_list_search(struct tk_ctx *c, const struct tk_query *q, const char ***terms, size_t *n)
{
    *terms = NULL;
    *n = 0;
    const struct tk_qparam *p = tk_query_get(q, "search");
    if (p == NULL)
        return 0;
    char msg[64];
    if (tk_utf8_length(p->val, p->val_len) > TK_MAX_SEARCH_CHARS) {
        snprintf(msg, sizeof(msg), "Ensure this field has no more than %d characters.",
                 TK_MAX_SEARCH_CHARS);
        tk_field_errors_add(&c->fe, "search", msg);
        return TK_ERR_FIELDS;
    }
    int rc = tk_search_terms(c->req->arena, p->val, p->val_len, terms, n);
    if (rc == TK_ERR_TOOBIG) {
        /* counted after repeats and contained terms are dropped (docs/api.md §8.2): a term
         * given again adds no work, so it is not refused either */
        snprintf(msg, sizeof(msg), "Ensure this field has no more than %d distinct terms.",
                 TK_MAX_SEARCH_TERMS);
        tk_field_errors_add(&c->fe, "search", msg);
        return TK_ERR_FIELDS;
    }
    return rc;
}

void tk_list_page(const struct tk_query *q, struct tk_page_request *pr, int64_t *page_size)
{
    const struct tk_qparam *p = tk_query_get(q, "page");
    tk_page_parse(p ? p->val : NULL, p ? p->val_len : 0, pr);
    p = tk_query_get(q, "page_size");
    *page_size = tk_page_size_parse(p ? p->val : NULL, p ? p->val_len : 0, TK_DEFAULT_PAGE_SIZE,
                                    TK_MAX_PAGE_SIZE);
}

int tk_list_bool(const struct tk_query *q, const char *name)
{
    const struct tk_qparam *p = tk_query_get(q, name);
    return p ? tk_query_bool(p->val, p->val_len) : -1;
}

const char *tk_list_text(struct tk_ctx *c, const struct tk_query *q, const char *name,
                         struct tk_field_errors *fe)
{
    const struct tk_qparam *p = tk_query_get(q, name);
    if (p == NULL)
        return NULL;
    size_t st, len;
    tk_strip(p->val, p->val_len, &st, &len);
    if (len == 0)
        return NULL;
    if (memchr(p->val + st, '\0', len) != NULL) {
        tk_field_errors_add(fe, name, TK_MSG_NUL_CHARS);
        return NULL;
    }
    return tk_arena_strndup(c->req->arena, p->val + st, len);
}

void tk_list_choice_error(struct tk_field_errors *fe, const char *field, const char *value)
{
    if (fe->open_field != NULL && strcmp(fe->open_field, field) == 0)
        return;
    struct tk_buf m;
    tk_buf_init(&m, TK_MAX_TEXT_BYTES);
    tk_buf_puts(&m, TK_MSG_CHOICE_PREFIX);
    tk_buf_puts(&m, value);
    tk_buf_puts(&m, TK_MSG_CHOICE_SUFFIX);
    tk_field_errors_add_n(fe, field, m.data ? m.data : "", m.len);
    tk_buf_free(&m);
}

int tk_list_id_set(struct tk_ctx *c, const struct tk_query *q, const char *name,
                   tk_list_resolve_fn resolve, const char *malformed, struct tk_id_set *set,
                   struct tk_field_errors *fe)
{
    const struct tk_qparam **vals;
    size_t nv;
    int rc = tk_query_get_all(q, name, c->req->arena, &vals, &nv);
    if (rc)
        return rc;
    int64_t *ids = tk_arena_calloc(c->req->arena, nv + 1, sizeof(*ids));
    if (ids == NULL)
        return TK_ERR_NOMEM;
    set->ids = ids;
    for (size_t i = 0; i < nv; i++) {
        const char *v = vals[i]->val;
        if (vals[i]->val_len == 0)
            continue;
        set->active = true;
        int64_t id = 0;
        rc = resolve(c, v, vals[i]->val_len, &id);
        if (rc == TK_ERR_INVALID) {
            if (fe->open_field == NULL || strcmp(fe->open_field, name) != 0) {
                struct tk_buf m;
                tk_buf_init(&m, TK_MAX_TEXT_BYTES);
                tk_buf_printf(&m, "\xe2\x80\x9c%s\xe2\x80\x9d %s", v, malformed);
                tk_field_errors_add_n(fe, name, m.data ? m.data : "", m.len);
                tk_buf_free(&m);
            }
        } else if (rc == TK_ERR_NOTFOUND) {
            tk_list_choice_error(fe, name, v);
        } else if (rc) {
            return rc;
        } else {
            ids[set->n++] = id;
        }
    }
    return 0;
}

/* ---- the list runner ---- */

#define AT(query, off, type) ((type *)(void *)((char *)(query) + (off)))

static int read_filter(struct tk_ctx *c, const struct tk_query *q, const struct tk_filter *f,
                       void *query)
{
    const struct tk_qparam *p = NULL;
    size_t st, len;
    switch (f->kind) {
    case TK_FILTER_TEXT:
        *AT(query, f->at, const char *) = tk_list_text(c, q, f->name, &c->fe);
        break;
    case TK_FILTER_BOOL: *AT(query, f->at, int) = tk_list_bool(q, f->name); break;
    case TK_FILTER_DATETIME:
        p = tk_query_get(q, f->name);
        if (p == NULL)
            break;
        tk_strip(p->val, p->val_len, &st, &len);
        if (len == 0)
            break;
        if (tk_time_parse(p->val + st, len, AT(query, f->at, int64_t)) == 0)
            *AT(query, f->has, bool) = true;
        else
            tk_field_errors_add(&c->fe, f->name, TK_MSG_DATETIME);
        break;
    case TK_FILTER_UUID: {
        p = tk_query_get(q, f->name);
        if (p == NULL || p->val_len == 0)
            break;
        tk_strip(p->val, p->val_len, &st, &len);
        char *uuid = tk_arena_alloc(c->req->arena, 37);
        if (uuid == NULL)
            return TK_ERR_NOMEM;
        if (tk_uuid_parse(p->val + st, len, uuid))
            *AT(query, f->at, const char *) = uuid;
        else
            tk_field_errors_add(&c->fe, f->name, TK_MSG_UUID);
        break;
    }
    case TK_FILTER_ID_SET:
        return tk_list_id_set(c, q, f->name, f->resolve, f->malformed,
                              AT(query, f->at, struct tk_id_set), &c->fe);
    case TK_FILTER_OWN: return f->own(c, q, query);
    }
    return 0;
}

/* The read of a list: the count and, unless the page is outside the list, the page. */
static int read_page(struct tk_ctx *c, const struct tk_list_spec *spec, void *query,
                     const struct tk_page_request *pr, int64_t page_size, struct tk_pagination *pg,
                     void *page)
{
    for (;;) {
        struct tk_db *db = spec->replica ? tk_api_rdb(c) : c->db;
        int64_t count = 0;
        int rc = tk_store_read_begin(db);
        if (rc == 0) {
            rc = spec->count(c, db, query, &count);
            if (rc == 0 && tk_paginate(count, pr, page_size, pg) != 0)
                rc = tk_api_refuse(c, 404, TK_MSG_INVALID_PAGE);
            if (rc == 0)
                rc = spec->fetch(c, db, query, pg, page);
            tk_store_read_end(db);
        }
        if (rc == 0 || !spec->replica || !tk_api_rdb_failed(c, rc))
            return rc;
    }
}

int tk_list_run(struct tk_ctx *c, const struct tk_list_spec *spec, void *query, void *page)
{
    struct tk_request *req = c->req;
    struct tk_query q;
    int rc = tk_query_parse(req->arena, req->query, req->query_len, &q);
    for (size_t i = 0; rc == 0 && i < spec->n_filters; i++)
        rc = read_filter(c, &q, &spec->filters[i], query);
    if (rc)
        return rc;
    if (tk_field_errors_any(&c->fe))
        return TK_ERR_FIELDS;
    json_t *attrs_root = NULL; /* the attributes filters' values, alive until the read is done */
    if (spec->attributes &&
        (rc = tk_list_attributes(c, &q, AT(query, spec->attrs, struct tk_attr_filter *),
                                 AT(query, spec->n_attrs, size_t), &attrs_root)) != 0)
        return rc;
    if (spec->search)
        rc = tk_list_search(c, &q, AT(query, spec->terms, const char **),
                            AT(query, spec->n_terms, size_t));
    if (rc == 0 && spec->orderings != NULL)
        *AT(query, spec->n_order, size_t) =
            tk_list_ordering(&q, spec->orderings, spec->n_orderings, spec->default_order,
                             spec->n_default_order, AT(query, spec->order, struct tk_order));
    struct tk_page_request pr;
    int64_t page_size;
    tk_list_page(&q, &pr, &page_size);
    if (rc == 0 && spec->plan != NULL)
        spec->plan(query, &pr, page_size);
    struct tk_pagination pg;
    if (rc == 0)
        rc = read_page(c, spec, query, &pr, page_size, &pg, page);
    json_decref(attrs_root);
    if (rc)
        return rc;
    struct tk_jw w;
    tk_jw_init(&w, &c->res->body);
    tk_json_page_begin(&w, &pg);
    spec->write(c, &w, query, page);
    tk_json_page_end(&w);
    c->res->status = 200;
    return 0;
}
