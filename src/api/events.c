/* GET /api/v3/events/events/ (docs/api.md §11): the audit log for superusers, newest first, with
 * authentik's Event shape and the filters action, username, context_model_pk, client_ip. */
#include <stddef.h>
#include <string.h>

#include "api/api.h"
#include "api/listing.h"
#include "api/messages.h"
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

/* The events list's query: the store's, and the ordering it reads from. */
struct event_list_query {
    struct tk_event_query q;
    struct tk_order order[TK_MAX_ORDERING_FIELDS];
    size_t n_order;
};

/* context_model_pk: the dashed uuid form is accepted too; stored as authentik stores it (hex). */
static int model_pk_filter(struct tk_ctx *c, const struct tk_query *q, void *query)
{
    struct event_list_query *eq = query;
    const char *v = tk_list_text(c, q, "context_model_pk", &c->fe);
    if (v == NULL)
        return 0;
    char *hex = tk_arena_strdup(c->req->arena, v);
    if (hex == NULL)
        return TK_ERR_NOMEM;
    size_t o = 0;
    for (const char *s = v; *s; s++)
        if (*s != '-')
            hex[o++] = *s;
    hex[o] = '\0';
    eq->q.context_model_pk = hex;
    return 0;
}

static int count_events(struct tk_ctx *c, struct tk_db *db, void *query, int64_t *count)
{
    struct event_list_query *eq = query;
    eq->q.created_desc = eq->order[0].desc;
    return tk_store_event_count(db, &eq->q, c->req->arena, count);
}

struct event_page {
    struct tk_event *events;
    size_t n;
};

static int fetch_events(struct tk_ctx *c, struct tk_db *db, void *query,
                        const struct tk_pagination *pg, void *page)
{
    struct event_list_query *eq = query;
    struct event_page *p = page;
    return tk_store_event_fetch(db, &eq->q, pg->offset, pg->page_size, c->req->arena, &p->events,
                                &p->n);
}

static void write_events(struct tk_ctx *c, struct tk_jw *w, void *query, void *page)
{
    struct event_page *p = page;
    for (size_t i = 0; i < p->n; i++)
        event_json(w, &p->events[i]);
}

#define Q(field) offsetof(struct event_list_query, field)
static const struct tk_filter event_filters[] = {
    {.name = "action", .kind = TK_FILTER_TEXT, .at = Q(q.action)},
    {.name = "username", .kind = TK_FILTER_TEXT, .at = Q(q.username)},
    {.name = "context_model_pk", .kind = TK_FILTER_OWN, .own = model_pk_filter},
    {.name = "client_ip", .kind = TK_FILTER_TEXT, .at = Q(q.client_ip)},
};

enum { EVENT_CREATED };
static const struct tk_order_name event_orderings[] = {{"created", EVENT_CREATED}};
static const struct tk_order event_default_order[] = {{EVENT_CREATED, true}}; /* newest first */

static const struct tk_list_spec event_list = {
    TK_LIST_FILTERS(event_filters),
    TK_LIST_ORDERING(struct event_list_query, event_orderings, event_default_order),
    .count = count_events,
    .fetch = fetch_events,
    .write = write_events,
};
#undef Q

static int events_list(struct tk_ctx *c)
{
    /* after the method check, unlike the users' and groups' routes: authentik's events viewset
     * answers 405 before its permission */
    if (!c->who.is_superuser)
        return TK_ERR_FORBIDDEN;
    struct event_list_query eq;
    memset(&eq, 0, sizeof(eq));
    struct event_page page = {0};
    return tk_list_run(c, &event_list, &eq, &page);
}

void tk_api_events_collection(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, TK_API_SCOPES(TK_SCOPE_EVENTS_READ, TK_SCOPE_EVENTS_READ),
               events_list);
}
