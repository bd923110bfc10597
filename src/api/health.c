/* Health checks and metrics. /-/health/live/ and /-/health/ready/ answer as authentik's do:
 * 200 with an empty body, ready 503 when the store does not answer; any method, no
 * authentication, no throttling, so probes stay cheap. /metrics (on its own listener) is the
 * Prometheus exposition of util/metrics.h. */
#include "api/api.h"
#include "util/metrics.h"

static void empty(struct tk_response *res, int status)
{
    res->status = status;
    res->empty = true;
    tk_buf_reset(&res->body);
}

void tk_api_health_live(struct tk_request *req, struct tk_response *res, void *ctx)
{
    empty(res, 200);
}

/* The store answers when a trivial statement runs on this thread's connection. */
void tk_api_health_ready(struct tk_request *req, struct tk_response *res, void *ctx)
{
    struct tk_api *api = ctx;
    struct tk_db *db = tk_store_db(api->store);
    struct tk_db_stmt *st = NULL;
    bool ok = db != NULL && tk_db_prepare(db, "SELECT 1", &st) == 0;
    if (ok) {
        ok = tk_db_step(db, st) == 1;
        tk_db_reset(db, st);
    }
    empty(res, ok ? 200 : 503);
}

void tk_api_metrics(struct tk_request *req, struct tk_response *res, void *ctx)
{
    if (req->method != TK_M_GET && req->method != TK_M_HEAD) {
        tk_response_detail(res, 405, "Method not allowed.");
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (tk_metrics_render(&res->body) != 0)
        tk_response_detail(res, 503, "The server cannot build this response now.");
}

int tk_api_register_metrics(struct tk_router *r)
{
    return tk_router_add(r, "/metrics", "GET, HEAD", tk_api_metrics, NULL, NULL);
}
