/* GET /api/v3/events/events/ (API.md §11): the audit log for superusers, newest first, with
 * authentik's Event shape and the filters action, username, context_model_pk, client_ip. */
#include <string.h>

#include "api/api.h"
#include "api/listing.h"
#include "api/query.h"
#include "api/serialize.h"
#include "domain/pagination.h"
#include "util/limits.h"

static void event_json(struct tk_jw *w, const struct tk_event *e)
{
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "pk");
    tk_jw_cstr(w, e->uuid);
    tk_jw_keyl(w, "user");
    tk_jw_raw(w, e->user_json, strlen(e->user_json));
    tk_jw_keyl(w, "action");
    tk_jw_cstr(w, e->action);
    tk_jw_keyl(w, "app");
    tk_jw_cstr(w, e->app);
    tk_jw_keyl(w, "context");
    tk_jw_raw(w, e->context, strlen(e->context));
    tk_jw_keyl(w, "client_ip");
    tk_jw_cstr(w, e->client_ip);
    tk_jw_keyl(w, "created");
    tk_jw_time(w, e->created);
    tk_jw_keyl(w, "expires");
    tk_jw_time(w, e->expires);
    tk_jw_keyl(w, "brand");
    tk_jw_raw(w, e->brand, strlen(e->brand));
    tk_jw_obj_end(w);
}

static int events_list(struct tk_ctx *c)
{
    struct tk_request *req = c->req;
    struct tk_response *res = c->res;
    /* after the method check, unlike the users' and groups' routes: authentik's events viewset
     * answers 405 before its permission */
    if (!c->who.is_superuser)
        return TK_ERR_FORBIDDEN;
    struct tk_query q;
    int rc = tk_query_parse(req->arena, req->query, req->query_len, &q);
    if (rc)
        return rc;
    struct tk_event_query eq = {.created_desc = true};
    eq.action = tk_list_text(c, &q, "action", &c->fe);
    eq.username = tk_list_text(c, &q, "username", &c->fe);
    eq.context_model_pk = tk_list_text(c, &q, "context_model_pk", &c->fe);
    eq.client_ip = tk_list_text(c, &q, "client_ip", &c->fe);
    if (tk_field_errors_any(&c->fe))
        return TK_ERR_FIELDS;
    if (eq.context_model_pk != NULL) {
        /* accept the dashed uuid form too; stored as authentik stores it (hex) */
        char *hex = tk_arena_strdup(req->arena, eq.context_model_pk);
        if (hex != NULL) {
            size_t o = 0;
            for (const char *s = eq.context_model_pk; *s; s++)
                if (*s != '-')
                    hex[o++] = *s;
            hex[o] = '\0';
            eq.context_model_pk = hex;
        }
    }
    const struct tk_qparam *p = tk_query_get(&q, "ordering");
    if (p != NULL && p->val_len == 7 && memcmp(p->val, "created", 7) == 0)
        eq.created_desc = false;

    struct tk_page_request pr;
    p = tk_query_get(&q, "page");
    tk_page_parse(p ? p->val : NULL, p ? p->val_len : 0, &pr);
    p = tk_query_get(&q, "page_size");
    int64_t page_size = tk_page_size_parse(p ? p->val : NULL, p ? p->val_len : 0,
                                           TK_DEFAULT_PAGE_SIZE, TK_MAX_PAGE_SIZE);
    if ((rc = tk_store_read_begin(c->db)) != 0)
        return rc;
    int64_t count = 0;
    struct tk_pagination pg;
    struct tk_event *ev = NULL;
    size_t n = 0;
    rc = tk_store_event_count(c->db, &eq, req->arena, &count);
    if (rc == 0 && tk_paginate(count, &pr, page_size, &pg) != 0) {
        tk_store_read_end(c->db);
        return tk_api_refuse(c, 404, "Invalid page.");
    }
    if (rc == 0)
        rc = tk_store_event_fetch(c->db, &eq, pg.offset, pg.page_size, req->arena, &ev, &n);
    tk_store_read_end(c->db);
    if (rc)
        return rc;
    struct tk_jw w;
    tk_jw_init(&w, &res->body);
    tk_json_page_begin(&w, &pg);
    for (size_t i = 0; i < n; i++)
        event_json(&w, &ev[i]);
    tk_json_page_end(&w);
    res->status = 200;
    return 0;
}

void tk_api_events_collection(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, 0, events_list);
}
