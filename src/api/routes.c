/* The route table: every path tokend serves, with the Allow header DRF sends for it
 * (API.md §2, §17.12). */
#include "api/api.h"

int tk_api_register(struct tk_api *api, struct tk_router *r)
{
    static const struct {
        const char *pattern, *allow;
        tk_handler_fn fn;
    } routes[] = {
        {"/api/v3/core/tokens/", "GET, POST, HEAD, OPTIONS", tk_api_tokens_collection},
        {"/api/v3/core/tokens/{}/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS", tk_api_tokens_detail},
        {"/api/v3/core/tokens/{}/view_key/", "GET, HEAD, OPTIONS", tk_api_tokens_view_key},
        {"/api/v3/core/tokens/{}/set_key/", "POST, OPTIONS", tk_api_tokens_set_key},
        {"/api/v3/core/tokens/{}/used_by/", "GET, HEAD, OPTIONS", tk_api_tokens_used_by},
        {"/api/v3/events/events/", "GET, HEAD, OPTIONS", tk_api_events_collection},
        {"/api/v3/schema/", "GET, HEAD, OPTIONS", tk_api_schema},
        /* users: the fixed names before the {id} routes */
        {"/api/v3/core/users/", "GET, POST, HEAD, OPTIONS", tk_api_users_collection},
        {"/api/v3/core/users/me/", "GET, HEAD, OPTIONS", tk_api_users_me},
        {"/api/v3/core/users/service_account/", "POST, OPTIONS", tk_api_users_service_account},
        {"/api/v3/core/users/{}/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS", tk_api_users_detail},
        {"/api/v3/core/users/{}/recovery/", "POST, OPTIONS", tk_api_users_recovery},
        {"/api/v3/core/users/{}/used_by/", "GET, HEAD, OPTIONS", tk_api_users_used_by},
        {"/api/v3/core/groups/", "GET, POST, HEAD, OPTIONS", tk_api_groups_collection},
        {"/api/v3/core/groups/{}/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS", tk_api_groups_detail},
        {"/api/v3/core/groups/{}/add_user/", "POST, OPTIONS", tk_api_groups_add_user},
        {"/api/v3/core/groups/{}/remove_user/", "POST, OPTIONS", tk_api_groups_remove_user},
        {"/api/v3/core/groups/{}/used_by/", "GET, HEAD, OPTIONS", tk_api_groups_used_by},
        /* authentik's probes: any method, no authentication (health.c) */
        {"/-/health/live/", NULL, tk_api_health_live},
        {"/-/health/ready/", NULL, tk_api_health_ready},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = tk_router_add(r, routes[i].pattern, routes[i].allow, routes[i].fn, api);
        if (rc)
            return rc;
    }
    return 0;
}
