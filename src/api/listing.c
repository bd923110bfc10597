/* Shared list parameters (listing.h). */
#include "api/listing.h"

#include <stdio.h>
#include <string.h>

#include "util/limits.h"
#include "util/utf8.h"
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
                        const struct tk_field_order *def, size_t n_def, struct tk_field_order *out)
{
    size_t n = 0;
    const struct tk_qparam *p = tk_query_get(q, "ordering");
    const char *s = p ? p->val : "";
    size_t len = p ? p->val_len : 0, i = 0;
    while (len > 0 && i <= len) {
        const char *comma = memchr(s + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - s) : len;
        size_t st, sl;
        tk_strip(s + i, end - i, &st, &sl);
        const char *name = s + i + st;
        bool desc = sl > 0 && name[0] == '-';
        if (desc) {
            name++;
            sl--;
        }
        for (size_t f = 0; f < n_names; f++) {
            if (strlen(names[f].name) != sl || memcmp(names[f].name, name, sl) != 0)
                continue;
            bool seen = false;
            for (size_t k = 0; k < n; k++)
                seen = seen || out[k].field == names[f].field;
            if (!seen && n < TK_MAX_LIST_ORDER)
                out[n++] = (struct tk_field_order){names[f].field, desc};
        }
        if (comma == NULL)
            break;
        i = end + 1;
    }
    if (n == 0) {
        memcpy(out, def, n_def * sizeof(*def));
        n = n_def;
    }
    return n;
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
        /* counted after repeats and contained terms are dropped (README, "Limits"): a term
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
        tk_field_errors_add(fe, name, "Null characters are not allowed.");
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
    tk_buf_puts(&m, "Select a valid choice. ");
    tk_buf_puts(&m, value);
    tk_buf_puts(&m, " is not one of the available choices.");
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
