/* The HTTP transport over libmicrohttpd: limits, request reading, routing by method and path,
 * response writing. It knows no resource: api/ registers routes into a router. */
#ifndef TK_HTTP_HTTP_H
#define TK_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/limits.h"

enum tk_method {
    TK_M_GET = 1 << 0,
    TK_M_HEAD = 1 << 1,
    TK_M_POST = 1 << 2,
    TK_M_PUT = 1 << 3,
    TK_M_PATCH = 1 << 4,
    TK_M_DELETE = 1 << 5,
    TK_M_OPTIONS = 1 << 6,
    TK_M_OTHER = 1 << 7,
};

#define TK_HTTP_MAX_PARAMS 4

struct tk_request {
    enum tk_method method;
    const char *method_name;
    const char *path;  /* percent-decoded path */
    const char *query; /* raw query string without '?', "" when none */
    size_t query_len;
    const char *authorization; /* NULL when absent */
    size_t authorization_len;
    const char *content_type; /* NULL when absent */
    const char *user_agent;
    const char *accept_encoding; /* NULL when absent */
    const char *if_none_match;   /* NULL when absent */
    const char *body;
    size_t body_len;
    bool has_body; /* Content-Length > 0 or chunked data received */
    /* The client's address, canonical text, resolved once per request: the TCP peer, or behind
     * a trusted proxy the X-Forwarded-For address (README, "Connections, deadlines, client
     * addresses"). What the request log, events and the throttle use. */
    const char *client_ip;
    const char *request_id; /* X-Request-Id as received when valid, else generated */
    const char *params[TK_HTTP_MAX_PARAMS]; /* captured path segments, decoded */
    size_t n_params;
    struct tk_arena *arena;
};

struct tk_response {
    int status;
    struct tk_buf body;       /* JSON unless content_type says otherwise */
    const char *allow;        /* Allow header, set from the route */
    bool empty;               /* no body and no Content-Type (204, set_key's bare 400) */
    const char *content_type; /* NULL: application/json */
    /* a body living as long as the program (the console's embedded files): sent as is, body
     * unused; NULL: body */
    const void *fixed;
    size_t fixed_len;
    unsigned retry_after; /* > 0: a Retry-After header (seconds) */
    /* more headers, names and values living until the response is sent (verification's
     * WWW-Authenticate and X-Tokend-*, docs/api.md §19.7) */
    struct tk_header {
        const char *name, *value;
    } headers[TK_RESPONSE_MAX_HEADERS];
    size_t n_headers;
    int64_t user_id; /* the authenticated user's pk for the request log, 0: none */
};

typedef void (*tk_handler_fn)(struct tk_request *req, struct tk_response *res, void *ctx);
/* A route's admission step: called once the request line and headers are complete and before
 * any byte of the body is read, for requests that announce a body (Content-Length > 0 or
 * chunked). req has everything but the body (body_len 0, has_body true); ctx is the route's.
 * Returns true to read the body and then call the handler; false with res filled to answer at
 * once: the response is sent with Connection: close and the body is never read. Routes without
 * one (NULL) are admitted. */
typedef bool (*tk_admit_fn)(struct tk_request *req, struct tk_response *res, void *ctx);

struct tk_router;

struct tk_router *tk_router_new(void);
void tk_router_free(struct tk_router *r);
/* Adds a route. pattern: "/api/v3/core/tokens/{}/view_key/" where {} captures one segment
 * matching [^/.]+; a final * captures the rest of the path, any bytes, possibly none (the
 * console's "/if/admin/" then "*"). allow: the Allow header of every response of this route.
 * admit: its admission step, NULL: none. */
int tk_router_add(struct tk_router *r, const char *pattern, const char *allow, tk_handler_fn fn,
                  tk_admit_fn admit, void *ctx) TK_MUST_USE;
/* Matches a decoded path; fills req->params. NULL when no route matches. */
const struct tk_route *tk_router_match(const struct tk_router *r, struct tk_request *req);
void tk_route_call(const struct tk_route *route, struct tk_request *req, struct tk_response *res);
/* The route's admission step (tk_admit_fn); true when it has none. Sets res->allow as
 * tk_route_call does. */
bool tk_route_admit(const struct tk_route *route, struct tk_request *req, struct tk_response *res);
/* The route's slot in util/metrics.h (0, "unmatched", for NULL). */
unsigned tk_route_metric(const struct tk_route *route);

/* Percent-decodes s into the arena (no '+' handling). NULL on failure. *out_len: bytes. */
char *tk_http_pct_decode(struct tk_arena *a, const char *s, size_t len, bool plus_is_space,
                         size_t *out_len);

struct tk_http_opts {
    const char *listen;  /* "host:port" */
    const char *setting; /* the setting named in errors, NULL: "TOKEND_LISTEN" */
    unsigned threads;
    unsigned max_connections;
    unsigned max_connections_per_ip; /* per TCP peer address (IPv6: per /64), 0: no limit */
    unsigned connection_timeout_s;   /* idle: no byte either way */
    unsigned request_timeout_s;      /* to deliver one request, head and body; 0: the default */
    const char *trusted_proxies;     /* TOKEND_TRUSTED_PROXIES text, NULL or "": none */
    bool health_reserve;             /* a few health-only connections past the caps */
    bool quiet; /* no request log, no request metrics (the metrics listener itself) */
};

/* Longest X-Request-Id taken from a client; longer or unsafe ones are replaced. */
#define TK_REQUEST_ID_MAX 128

/* Is this X-Request-Id value one to keep: 1..TK_REQUEST_ID_MAX of [A-Za-z0-9._:+=@/-]? */
bool tk_http_request_id_valid(const char *s, size_t len);

/* Checks a "host:port" listen address as tk_http_start would (numeric IPv4, [IPv6] or
 * localhost) for setting (e.g. "TOKEND_LISTEN"); on failure one line naming it in err. */
int tk_http_listen_check(const char *listen, const char *setting, char *err,
                         size_t err_len) TK_MUST_USE;

/* Appends a request target's path and query to out with the value of every query parameter
 * whose name contains api, token, key, secret, pass, signature, auth or cookie
 * (case-insensitively, after decoding; a name too long to read is masked too) replaced by
 * "********************", at most max_len bytes of the target. For logs. */
void tk_http_mask_target(struct tk_buf *out, const char *target, size_t len, size_t max_len);

struct tk_http;

/* Binds and serves in background threads. err receives a reason on failure. */
int tk_http_start(const struct tk_http_opts *o, struct tk_router *r, struct tk_http **out,
                  char *err, size_t err_len) TK_MUST_USE;
/* The port actually bound (useful with port 0). */
uint16_t tk_http_port(const struct tk_http *h);
/* Stops accepting, lets in-flight requests finish (up to grace_ms), stops every thread. */
void tk_http_stop(struct tk_http *h, unsigned grace_ms);

/* Sets a JSON body {"detail": msg} and status. */
void tk_response_detail(struct tk_response *res, int status, const char *msg);
/* The last step of every response before it is sent, by the server and by the in-process test
 * harness alike: a body that could not be built whole (memory, the response cap) is replaced
 * by a short 503. */
void tk_response_finish(struct tk_response *res);

#endif
