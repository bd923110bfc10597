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
        {"/api/v3/core/tokens/{}/", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
         tk_api_tokens_detail},
        {"/api/v3/core/tokens/{}/view_key/", "GET, HEAD, OPTIONS", tk_api_tokens_view_key},
        {"/api/v3/core/tokens/{}/set_key/", "POST, OPTIONS", tk_api_tokens_set_key},
        {"/api/v3/core/tokens/{}/used_by/", "GET, HEAD, OPTIONS", tk_api_tokens_used_by},
        {"/api/v3/events/events/", "GET, HEAD, OPTIONS", tk_api_events_collection},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = tk_router_add(r, routes[i].pattern, routes[i].allow, routes[i].fn, api);
        if (rc)
            return rc;
    }
    return 0;
}
