/* The route table: every path tokend serves, with the Allow header DRF sends for it
 * (docs/api.md §2.1, §2.3), and its admission step: authenticated routes authenticate from the
 * headers before a body is read (tk_api_admit); the probes and the schema need nothing. */
#include "api/api.h"
#include "api/console.h"

int tk_api_register(struct tk_api *api, struct tk_router *r)
{
/* authenticated: the credential is checked from the headers, before any body byte */
#define AUTH tk_api_admit
    static const struct {
        const char *pattern, *allow;
        tk_handler_fn fn;
        tk_admit_fn admit;
    } routes[] = {
        {"/api/v3/core/tokens/", "GET, POST, HEAD, OPTIONS", tk_api_tokens_collection, AUTH},
        {"/api/v3/core/tokens/{}/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS", tk_api_tokens_detail,
         AUTH},
        {"/api/v3/core/tokens/{}/view_key/", "GET, HEAD, OPTIONS", tk_api_tokens_view_key, AUTH},
        {"/api/v3/core/tokens/{}/set_key/", "POST, OPTIONS", tk_api_tokens_set_key, AUTH},
        {"/api/v3/core/tokens/{}/used_by/", "GET, HEAD, OPTIONS", tk_api_tokens_used_by, AUTH},
        {"/api/v3/events/events/", "GET, HEAD, OPTIONS", tk_api_events_collection, AUTH},
        {"/api/v3/schema/", "GET, HEAD, OPTIONS", tk_api_schema, NULL},
        /* users: the fixed names before the {id} routes */
        {"/api/v3/core/users/", "GET, POST, HEAD, OPTIONS", tk_api_users_collection, AUTH},
        {"/api/v3/core/users/me/", "GET, HEAD, OPTIONS", tk_api_users_me, AUTH},
        {"/api/v3/core/users/service_account/", "POST, OPTIONS", tk_api_users_service_account,
         AUTH},
        {"/api/v3/core/users/{}/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS", tk_api_users_detail,
         AUTH},
        {"/api/v3/core/users/{}/recovery/", "POST, OPTIONS", tk_api_users_recovery, AUTH},
        {"/api/v3/core/users/{}/used_by/", "GET, HEAD, OPTIONS", tk_api_users_used_by, AUTH},
        {"/api/v3/core/groups/", "GET, POST, HEAD, OPTIONS", tk_api_groups_collection, AUTH},
        {"/api/v3/core/groups/{}/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS", tk_api_groups_detail,
         AUTH},
        {"/api/v3/core/groups/{}/add_user/", "POST, OPTIONS", tk_api_groups_add_user, AUTH},
        {"/api/v3/core/groups/{}/remove_user/", "POST, OPTIONS", tk_api_groups_remove_user, AUTH},
        {"/api/v3/core/groups/{}/used_by/", "GET, HEAD, OPTIONS", tk_api_groups_used_by, AUTH},
        /* tokend's own (docs/api.md §19) */
        {"/api/v3/tokend/tokens/", "GET, HEAD, OPTIONS", tk_api_tokend_tokens_collection, AUTH},
        {"/api/v3/tokend/tokens/{}/", "GET, PATCH, HEAD, OPTIONS", tk_api_tokend_tokens_detail,
         AUTH},
        {"/api/v3/tokend/tokens/{}/rotate/", "POST, OPTIONS", tk_api_tokend_tokens_rotate, AUTH},
        /* verification: any method, the request's own credential is the one asked about */
        {"/api/v3/tokend/verify/", NULL, tk_api_tokend_verify, NULL},
        {"/api/v3/tokend/introspect/", "POST, OPTIONS", tk_api_tokend_introspect, AUTH},
        /* webhook receivers, superusers only (docs/api.md §21) */
        {"/api/v3/tokend/webhooks/", "GET, POST, HEAD, OPTIONS", tk_api_tokend_webhooks_collection,
         AUTH},
        {"/api/v3/tokend/webhooks/{}/", "GET, PATCH, DELETE, HEAD, OPTIONS",
         tk_api_tokend_webhooks_detail, AUTH},
        {"/api/v3/tokend/webhooks/{}/deliveries/", "GET, HEAD, OPTIONS",
         tk_api_tokend_webhooks_deliveries, AUTH},
        /* authentik's probes: any method, no authentication (health.c) */
        {"/-/health/live/", NULL, tk_api_health_live, NULL},
        {"/-/health/ready/", NULL, tk_api_health_ready, NULL},
    };
#undef AUTH
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = tk_router_add(r, routes[i].pattern, routes[i].allow, routes[i].fn, routes[i].admit,
                               api);
        if (rc)
            return rc;
    }
    /* the admin console, on this listener only (docs/api.md §22) */
    return tk_console_register(r);
}
