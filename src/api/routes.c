/* The route table: every path tokend serves, with the Allow header DRF sends for it. */
#include "api/api.h"

int tk_api_register(struct tk_api *api, struct tk_router *r)
{
    int rc = 0;
    rc = rc ? rc : tk_router_add(r, "/api/v3/core/tokens/", "GET, HEAD, OPTIONS",
                                 tk_api_tokens_collection, api);
    return rc;
}
