/* In-process request path for unit tests and fuzz targets: an in-memory SQLite store with the
 * bootstrap admin, the real router and handlers, requests built without a socket, and the
 * response finished as the server finishes it (tk_response_finish) before it is read. */
#ifndef TK_TESTS_INPROC_H
#define TK_TESTS_INPROC_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "config.h"
#include "http/http.h"
#include "util/alloc.h"

#define INPROC_ADMIN_KEY "inproc-admin-key"

struct inproc {
    struct tk_config cfg;
    struct tk_cli cli;
    struct tk_api api;
    struct tk_router *router;
};

struct inproc_res {
    int status;
    char *body; /* malloc'd, NUL-terminated ("" when empty) */
    const char *allow;
    bool wiped; /* the body was marked to be zeroed when freed (it held a key) */
};

static inline int inproc_open(struct inproc *p)
{
    char err[256];
    memset(p, 0, sizeof(*p));
    tk_alloc_init();
    if (tk_config_from_env(&p->cfg, err, sizeof(err)) != 0)
        return -1;
    p->cfg.database = "sqlite::memory:";
    p->cfg.secret_key = "inproc-secret";
    p->cfg.bootstrap_token = INPROC_ADMIN_KEY;
    if (tk_config_finish(&p->cfg, err, sizeof(err)) != 0 || tk_crypto_init() != 0)
        return -1;
    p->cli.cfg = &p->cfg;
    if (tk_store_open(p->cfg.database, &p->cli.store, err, sizeof(err)) != 0 ||
        tk_store_migrate(p->cli.store, err, sizeof(err)) != 0 ||
        tk_cli_secret(&p->cfg, tk_store_db(p->cli.store), TK_SECRET_OPEN, &p->cli.secret, err,
                      sizeof(err)) != 0 ||
        tk_cli_bootstrap(&p->cli, stderr, NULL) != 0)
        return -1;
    p->api = (struct tk_api){.store = p->cli.store,
                             .secret = p->cli.secret,
                             .avatars = p->cfg.avatars,
                             .default_token_duration_us = p->cfg.default_token_duration_us,
                             .key_length = p->cfg.key_length,
                             .max_tokens_per_user = p->cfg.max_tokens_per_user,
                             .event_retention_us = p->cfg.event_retention_us};
    p->router = tk_router_new();
    return p->router && tk_api_register(&p->api, p->router) == 0 ? 0 : -1;
}

static inline void inproc_close(struct inproc *p)
{
    tk_router_free(p->router);
    tk_store_free(p->cli.store);
}

/* One request; auth NULL: no Authorization header. */
static inline struct inproc_res inproc_call(struct inproc *p, const char *method, const char *path,
                                            const char *query, const char *auth, const char *body,
                                            size_t body_len)
{
    static const struct {
        const char *name;
        enum tk_method m;
    } methods[] = {{"GET", TK_M_GET},        {"HEAD", TK_M_HEAD},   {"POST", TK_M_POST},
                   {"PUT", TK_M_PUT},        {"PATCH", TK_M_PATCH}, {"DELETE", TK_M_DELETE},
                   {"OPTIONS", TK_M_OPTIONS}};
    struct tk_request req = {0};
    struct tk_response res = {0};
    struct inproc_res out = {0};
    req.arena = tk_arena_new(1u << 26);
    if (req.arena == NULL) { /* as the HTTP layer answers when a request's arena fails */
        out.status = 503;
        out.body = strdup("{\"detail\":\"The server is out of memory.\"}");
        return out;
    }
    req.method = TK_M_OTHER;
    req.method_name = method;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(method, methods[i].name) == 0)
            req.method = methods[i].m;
    req.path = path;
    req.query = query ? query : "";
    req.query_len = strlen(req.query);
    req.authorization = auth;
    req.authorization_len = auth ? strlen(auth) : 0;
    req.content_type = body ? "application/json" : NULL;
    req.body = body ? body : "";
    req.body_len = body ? body_len : 0;
    req.has_body = req.body_len > 0;
    req.client_ip = "127.0.0.1";
    tk_buf_init(&res.body, 1u << 26);
    res.status = 200;
    const struct tk_route *route = tk_router_match(p->router, &req);
    /* as the server does: a body is admitted from the headers before it is read */
    if (route == NULL)
        tk_response_detail(&res, 404, "Not found.");
    else if (!req.has_body || tk_route_admit(route, &req, &res))
        tk_route_call(route, &req, &res);
    tk_response_finish(&res); /* as the server's queue() does before sending */
    out.status = res.status;
    out.allow = res.allow;
    out.body = strdup(res.body.data && !res.empty ? res.body.data : "");
    out.wiped = res.body.wipe;
    tk_buf_free(&res.body);
    tk_arena_free(req.arena);
    return out;
}

#endif
