/* Routing by path pattern (http.h). Patterns are few and fixed; a linear scan over segment
 * lists is faster than anything clever at this size. */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "util/alloc.h"
#include "util/metrics.h"

#define MAX_ROUTES 64

struct tk_route {
    char *pattern;
    const char *allow;
    tk_handler_fn fn;
    tk_admit_fn admit;
    void *ctx;
    unsigned metric; /* slot in util/metrics.h: the pattern is the route label */
};

struct tk_router {
    struct tk_route routes[MAX_ROUTES];
    size_t n;
};

struct tk_router *tk_router_new(void)
{
    return tk_calloc(1, sizeof(struct tk_router));
}

void tk_router_free(struct tk_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->routes[i].pattern);
    free(r);
}

int tk_router_add(struct tk_router *r, const char *pattern, const char *allow, tk_handler_fn fn,
                  tk_admit_fn admit, void *ctx)
{
    if (r->n == MAX_ROUTES)
        return TK_ERR_TOOBIG;
    char *p = tk_strdup(pattern);
    if (p == NULL)
        return TK_ERR_NOMEM;
    r->routes[r->n++] = (struct tk_route){p, allow, fn, admit, ctx, tk_metrics_route(pattern)};
    return 0;
}

/* Matches path against pattern; captures into req. */
static bool match(const char *pat, const char *path, struct tk_request *req)
{
    size_t n = 0;
    while (*pat) {
        if (pat[0] == '*' && pat[1] == '\0' && n < TK_HTTP_MAX_PARAMS) {
            /* the rest of the path, whatever it holds, possibly nothing */
            req->params[n++] = path;
            req->n_params = n;
            return true;
        }
        if (*path == '\0')
            break;
        if (pat[0] == '{' && pat[1] == '}') {
            const char *start = path;
            while (*path && *path != '/' && *path != '.')
                path++;
            if (path == start || *path == '.' || n == TK_HTTP_MAX_PARAMS)
                return false;
            char *seg = tk_arena_strndup(req->arena, start, (size_t)(path - start));
            if (seg == NULL)
                return false;
            req->params[n++] = seg;
            pat += 2;
            continue;
        }
        if (*pat != *path)
            return false;
        pat++;
        path++;
    }
    if (*pat || *path)
        return false;
    req->n_params = n;
    return true;
}

const struct tk_route *tk_router_match(const struct tk_router *r, struct tk_request *req)
{
    for (size_t i = 0; i < r->n; i++)
        if (match(r->routes[i].pattern, req->path, req))
            return &r->routes[i];
    return NULL;
}

void tk_route_call(const struct tk_route *route, struct tk_request *req, struct tk_response *res)
{
    res->allow = route->allow;
    route->fn(req, res, route->ctx);
}

bool tk_route_admit(const struct tk_route *route, struct tk_request *req, struct tk_response *res)
{
    res->allow = route->allow;
    return route->admit == NULL || route->admit(req, res, route->ctx);
}

unsigned tk_route_metric(const struct tk_route *route)
{
    return route ? route->metric : 0;
}
