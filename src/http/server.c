/* HTTP server over libmicrohttpd (http.h): a thread pool on epoll fed by our own accept thread
 * (acceptor.h, which spreads new connections over the workers), hard limits checked before
 * any work (413/414/431), a route's admission step before any body byte is read, one arena per
 * request, keep-alive kept open (in libmicrohttpd 0.9.75 a response queued on the first callback
 * of a request, before its body, closes the connection after it: responses are queued on a
 * later call, except refusals that must not read the body), graceful stop. Connection caps and
 * request deadlines are conns.c's, client addresses client_addr.c's. Every request gets an id
 * (X-Request-Id), one log line and its metrics once its response is sent. */
#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "http/acceptor.h"
#include "http/client_addr.h"
#include "http/conns.h"
#include "http/http.h"
#include "util/alloc.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/utf8.h"
#include "json/writer.h"

struct tk_http {
    struct MHD_Daemon **workers; /* one thread each */
    unsigned n_workers;
    struct tk_acceptor *acceptor; /* the listening socket and its thread */
    /* connections counted at accept, not yet started by their worker: by descriptor */
    pthread_mutex_t handoff_mu;
    struct tk_conn **handoff;
    size_t handoff_cap;
    struct tk_router *router;
    struct tk_conns *conns;    /* caps, health-only reserve, request deadlines */
    struct tk_proxies trusted; /* TOKEND_TRUSTED_PROXIES */
    atomic_int inflight;
    atomic_bool stopping; /* refuse new connections: the server is draining */
    uint16_t port;
    bool quiet;
};

/* Logged values are cut (TK_MAX_LOG_TARGET_BYTES, TK_MAX_LOG_AGENT_BYTES): a request line stays
 * well under PIPE_BUF, one write. */
#define MASK "********************"

/* Connections beyond the caps and their health-only reserve are closed at accept time
 * (libmicrohttpd's own limit would leave them waiting in the listen backlog, unanswered). An
 * admitted connection is counted at once, on the acceptor's thread, so that the next one in a
 * burst sees it, and kept by descriptor until its worker starts it (notify_connection). */
static bool accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen, int fd)
{
    (void)addrlen;
    struct tk_http *h = cls;
    if (atomic_load(&h->stopping) || fd < 0)
        return false;
    if (!tk_conns_admit(h->conns, addr)) {
        if (!h->quiet)
            tk_metrics_conn_refused();
        return false;
    }
    struct tk_conn *c = tk_conns_open(h->conns, addr, fd);
    if (c == NULL)
        return false;
    pthread_mutex_lock(&h->handoff_mu);
    if ((size_t)fd >= h->handoff_cap) {
        size_t cap = h->handoff_cap ? h->handoff_cap : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        struct tk_conn **p = tk_realloc(h->handoff, cap * sizeof(*p));
        if (p == NULL) {
            pthread_mutex_unlock(&h->handoff_mu);
            tk_conns_close(h->conns, c);
            return false;
        }
        memset(p + h->handoff_cap, 0, (cap - h->handoff_cap) * sizeof(*p));
        h->handoff = p;
        h->handoff_cap = cap;
    }
    h->handoff[fd] = c;
    pthread_mutex_unlock(&h->handoff_mu);
    return true;
}

/* The connection accept_policy counted for fd, taken from the hand-over table; NULL: none. */
static struct tk_conn *handoff_take(struct tk_http *h, int fd)
{
    struct tk_conn *c = NULL;
    pthread_mutex_lock(&h->handoff_mu);
    if (fd >= 0 && (size_t)fd < h->handoff_cap) {
        c = h->handoff[fd];
        h->handoff[fd] = NULL;
    }
    pthread_mutex_unlock(&h->handoff_mu);
    return c;
}

/* libmicrohttpd did not take an admitted connection (it closed the descriptor): uncount it. */
static void accept_dropped(void *cls, int fd)
{
    struct tk_http *h = cls;
    tk_conns_close(h->conns, handoff_take(h, fd));
}

/* Every connection is counted and watched (conns.h) from accept to CLOSED; libmicrohttpd
 * delivers CLOSED before it closes the descriptor. */
static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct tk_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *f =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!h->quiet)
            tk_metrics_conn_accepted();
        if (f == NULL)
            return; /* nothing to count or watch; it cannot be: libmicrohttpd made it */
        *socket_context = handoff_take(h, f->connect_fd);
        if (*socket_context == NULL)
            shutdown(f->connect_fd, SHUT_RDWR); /* not admitted by us: cannot be; drop it */
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        tk_conns_close(h->conns, *socket_context);
        *socket_context = NULL;
        if (!h->quiet)
            tk_metrics_conn_closed();
    }
}

struct req_state {
    struct tk_arena *arena;
    char *uri;
    size_t uri_len;
    struct tk_conn *conn; /* the connection's (conns.h), NULL when it could not be counted */
    bool started;
    bool answered;    /* a response was queued early */
    bool close_after; /* answer with Connection: close (a health-only connection) */
    bool counted;
    bool too_big; /* body over the cap: the rest is discarded, then 413 */
    size_t discarded;
    struct tk_buf body;
    struct tk_http *h;
    /* for the request log and metrics, filled on the first call */
    int64_t t0_ns;
    int status; /* of the response queued, 0: none */
    int64_t user_id;
    unsigned route;  /* metrics slot */
    unsigned method; /* bit position in enum tk_method */
    char method_name[16];
    char ip[TK_IP_TEXT_MAX]; /* the client address (client_addr.h) */
    const char *user_agent;  /* in the arena, cut to TK_MAX_LOG_AGENT_BYTES */
    char request_id[TK_REQUEST_ID_MAX + 1];
};

void tk_response_detail(struct tk_response *res, int status, const char *msg)
{
    struct tk_jw w;
    res->status = status;
    res->empty = false;
    tk_buf_reset(&res->body);
    tk_jw_init(&w, &res->body);
    tk_jw_obj_begin(&w);
    tk_jw_key(&w, "detail");
    tk_jw_cstr(&w, msg);
    tk_jw_obj_end(&w);
}

void tk_response_finish(struct tk_response *res)
{
    if (res->body.err) {
        /* The answer could not be built (memory or the response cap): say so, briefly. */
        bool wipe = res->body.wipe;
        tk_buf_free(&res->body);
        tk_buf_init(&res->body, TK_MAX_TEXT_BYTES);
        res->body.wipe = wipe;
        res->content_type = NULL;
        tk_response_detail(res, 503, "The server cannot build this response now.");
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *tk_http_pct_decode(struct tk_arena *a, const char *s, size_t len, bool plus_is_space,
                         size_t *out_len)
{
    char *out = tk_arena_alloc(a, len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct req_state *st = tk_calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->h = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    st->conn = ci ? ci->socket_context : NULL;
    st->arena = tk_arena_new(TK_ARENA_MAX_BYTES);
    size_t len = strlen(uri);
    if (st->arena)
        st->uri = tk_arena_strndup(st->arena, uri, len);
    st->uri_len = len;
    tk_buf_init(&st->body, TK_MAX_BODY_BYTES);
    st->body.wipe = true; /* a set_key body holds a key; zeroing any body is cheap */
    return st;
}

static bool sensitive_name(const char *name, size_t len)
{
    static const char *const words[] = {"api",  "token",     "key",  "secret",
                                        "pass", "signature", "auth", "cookie"};
    char low[512];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        char c = name[i];
        if (c == '%' && i + 2 < len && (hi = hexval(name[i + 1])) >= 0 &&
            (lo = hexval(name[i + 2])) >= 0) {
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (n == sizeof(low) - 1)
            return true; /* too long to read: mask it */
        low[n++] = (char)tolower((unsigned char)c);
    }
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (memmem(low, n, words[i], strlen(words[i])) != NULL)
            return true;
    return false;
}

void tk_http_mask_target(struct tk_buf *out, const char *target, size_t len, size_t max_len)
{
    if (len > max_len)
        len = max_len;
    const char *q = memchr(target, '?', len);
    size_t plen = q ? (size_t)(q - target) : len;
    tk_buf_append(out, target, plen);
    if (q == NULL)
        return;
    tk_buf_putc(out, '?');
    const char *p = q + 1, *end = target + len;
    while (p <= end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq != NULL && sensitive_name(p, (size_t)(eq - p))) {
            tk_buf_append(out, p, (size_t)(eq - p) + 1);
            tk_buf_puts(out, MASK);
        } else {
            tk_buf_append(out, p, (size_t)(stop - p));
        }
        if (amp == NULL)
            break;
        tk_buf_putc(out, '&');
        p = amp + 1;
    }
}

bool tk_http_request_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > TK_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && (c == 0 || strchr("-_.:+=@/", c) == NULL))
            return false;
    }
    return true;
}

/* The access log line (authentik's request log fields). Health checks log at debug: probes
 * every few seconds would drown the rest. */
static void log_request(struct req_state *st, int64_t ns)
{
    const char *uri = st->uri ? st->uri : "";
    bool health = strncmp(uri, "/-/health/", 10) == 0;
    struct tk_log_line l;
    if (!tk_log_begin(&l, health ? TK_LOG_DEBUG : TK_LOG_INFO, "tokend.http", "request"))
        return;
    struct tk_buf target;
    tk_buf_init(&target, 2 * TK_MAX_LOG_TARGET_BYTES);
    tk_http_mask_target(&target, uri, st->uri ? st->uri_len : 0, TK_MAX_LOG_TARGET_BYTES);
    tk_log_cstr(&l, "method", st->method_name);
    tk_log_str(&l, "path", target.data ? target.data : "", target.len);
    tk_buf_free(&target);
    tk_log_int(&l, "status", st->status);
    tk_log_ms(&l, "runtime", (double)ns / 1e6);
    tk_log_cstr(&l, "remote", st->ip);
    if (st->user_id != 0)
        tk_log_int(&l, "user", st->user_id);
    else
        tk_log_null(&l, "user");
    tk_log_cstr(&l, "request_id", st->request_id);
    tk_log_cstr(&l, "user_agent", st->user_agent ? st->user_agent : "");
    tk_log_end(&l);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    /* This request is over (answered, or its connection failed): the next one's deadline
     * starts now. */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tk_conn_reading(ci ? ci->socket_context : NULL, true);
    struct req_state *st = *con_cls;
    if (st == NULL)
        return;
    if (st->counted)
        atomic_fetch_sub(&st->h->inflight, 1);
    if (st->started && !st->h->quiet) {
        tk_metrics_inflight(-1);
        if (st->status != 0) {
            int64_t ns = tk_metrics_now_ns() - st->t0_ns;
            tk_metrics_request(st->route, st->method, st->status, ns);
            log_request(st, ns);
        }
    }
    tk_buf_free(&st->body);
    tk_arena_free(st->arena);
    free(st);
    *con_cls = NULL;
}

static enum MHD_Result queue(struct MHD_Connection *c, struct req_state *st,
                             struct tk_response *res, bool close)
{
    size_t len = 0;
    char *data = NULL;
    tk_response_finish(res);
    bool wipe = res->body.wipe; /* a body that holds a key (view_key) */
    if (res->fixed != NULL && !res->empty) {
        tk_buf_free(&res->body);
        len = res->fixed_len;
        data = (char *)(uintptr_t)res->fixed; /* never written, never freed: PERSISTENT */
        wipe = false;
    } else if (!res->empty)
        data = tk_buf_take(&res->body, &len);
    else
        tk_buf_free(&res->body);
    struct MHD_Response *r;
    if (data != NULL && wipe) /* zeroed when libmicrohttpd is done with it */
        r = MHD_create_response_from_buffer_with_free_callback(len, data, tk_free_wiped);
    else
        r = MHD_create_response_from_buffer(len, data ? data : (void *)"",
                                            data && res->fixed == NULL ? MHD_RESPMEM_MUST_FREE
                                                                       : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (wipe)
            tk_free_wiped(data);
        else if (res->fixed == NULL)
            free(data);
        return MHD_NO;
    }
    if (!res->empty)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                res->content_type ? res->content_type : "application/json");
    if (res->allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, res->allow);
    for (size_t i = 0; i < res->n_headers; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    if (res->retry_after > 0) {
        char s[16];
        snprintf(s, sizeof(s), "%u", res->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, s);
    }
    if (close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (st->request_id[0])
        MHD_add_response_header(r, "X-Request-Id", st->request_id);
    st->status = res->status;
    st->user_id = res->user_id;
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reject(struct MHD_Connection *c, struct req_state *st, int status,
                              const char *msg)
{
    struct tk_response res = {0};
    tk_buf_init(&res.body, TK_MAX_TEXT_BYTES);
    tk_response_detail(&res, status, msg);
    st->answered = true;
    return queue(c, st, &res, true);
}

struct header_sum {
    size_t total;
};

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct header_sum *s = cls;
    s->total += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static enum tk_method method_of(const char *m)
{
    static const struct {
        const char *name;
        enum tk_method m;
    } map[] = {{"GET", TK_M_GET},        {"HEAD", TK_M_HEAD},   {"POST", TK_M_POST},
               {"PUT", TK_M_PUT},        {"PATCH", TK_M_PATCH}, {"DELETE", TK_M_DELETE},
               {"OPTIONS", TK_M_OPTIONS}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(m, map[i].name) == 0)
            return map[i].m;
    return TK_M_OTHER;
}

static const char *header(struct MHD_Connection *c, const char *name, size_t *len)
{
    const char *v = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(c, MHD_HEADER_KIND, name, strlen(name), &v, &n) != MHD_YES)
        return NULL;
    if (len)
        *len = n;
    return v;
}

/* The X-Forwarded-For field's values in the order received, the last TK_MAX_FORWARDED_HOPS of
 * them (tk_client_ip reads no more entries than that, from the right). */
struct forwarded {
    const char *v[TK_MAX_FORWARDED_HOPS];
    size_t len[TK_MAX_FORWARDED_HOPS];
    size_t n;
};

static enum MHD_Result collect_forwarded(void *cls, enum MHD_ValueKind kind, const char *key,
                                         size_t key_size, const char *value, size_t value_size)
{
    struct forwarded *f = cls;
    if (value == NULL || strcasecmp(key, "X-Forwarded-For") != 0)
        return MHD_YES;
    if (f->n == TK_MAX_FORWARDED_HOPS) {
        memmove(f->v, f->v + 1, (f->n - 1) * sizeof(f->v[0]));
        memmove(f->len, f->len + 1, (f->n - 1) * sizeof(f->len[0]));
        f->n--;
    }
    f->v[f->n] = value;
    f->len[f->n++] = value_size;
    return MHD_YES;
}

/* The request's client address, once (README "Connections, deadlines, client addresses"): the
 * peer's, or behind a trusted proxy the X-Forwarded-For one; IPv4-mapped IPv6 written as IPv4. */
static void resolve_client(struct MHD_Connection *c, struct req_state *st)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct tk_ip peer, client;
    if (ci == NULL || !tk_ip_from_sockaddr(ci->client_addr, &peer))
        return; /* not IP: no address to give */
    struct forwarded f = {.n = 0};
    if (st->h->trusted.n > 0 && tk_proxies_contains(&st->h->trusted, &peer))
        MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_forwarded, &f);
    tk_client_ip(&st->h->trusted, &peer, f.v, f.len, f.n, &client);
    tk_ip_format(&client, st->ip);
}

/* What the log line and the handlers need from the connection, taken once. */
static void identify(struct MHD_Connection *c, struct req_state *st, const char *method)
{
    st->t0_ns = tk_metrics_now_ns();
    enum tk_method m = method_of(method);
    st->method = (unsigned)__builtin_ctz((unsigned)m);
    snprintf(st->method_name, sizeof(st->method_name), "%s", method);
    resolve_client(c, st);
    if (st->h->quiet)
        return;
    tk_metrics_inflight(1);
    size_t n = 0;
    const char *rid = header(c, "X-Request-Id", &n);
    if (rid != NULL && tk_http_request_id_valid(rid, n)) {
        memcpy(st->request_id, rid, n);
        st->request_id[n] = '\0';
    } else {
        /* authentik's uuid4().hex shape */
        uint8_t r[16];
        randombytes_buf(r, sizeof(r));
        sodium_bin2hex(st->request_id, sizeof(st->request_id), r, sizeof(r));
    }
    const char *ua = header(c, MHD_HTTP_HEADER_USER_AGENT, &n);
    if (ua != NULL && st->arena != NULL)
        st->user_agent = tk_arena_strndup(st->arena, ua,
                                          n < TK_MAX_LOG_AGENT_BYTES ? n : TK_MAX_LOG_AGENT_BYTES);
}

/* The request as handlers see it, without its body; the route it names (NULL: none). False
 * when out of memory (res then holds the answer). */
static bool prepare(struct tk_http *h, struct MHD_Connection *c, struct req_state *st,
                    const char *method, struct tk_request *req, struct tk_response *res,
                    const struct tk_route **route)
{
    *route = NULL;
    req->arena = st->arena;
    req->method = method_of(method);
    req->method_name = method;
    const char *q = memchr(st->uri, '?', st->uri_len);
    size_t plen = q ? (size_t)(q - st->uri) : st->uri_len;
    req->query = q ? q + 1 : "";
    req->query_len = q ? st->uri_len - plen - 1 : 0;
    size_t dlen = 0;
    char *path = tk_http_pct_decode(st->arena, st->uri, plen, false, &dlen);
    if (path == NULL) {
        tk_response_detail(res, 503, "The server is out of memory.");
        return false;
    }
    req->path = path;
    req->authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION, &req->authorization_len);
    req->content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE, NULL);
    req->user_agent = header(c, MHD_HTTP_HEADER_USER_AGENT, NULL);
    req->accept_encoding = header(c, MHD_HTTP_HEADER_ACCEPT_ENCODING, NULL);
    req->if_none_match = header(c, MHD_HTTP_HEADER_IF_NONE_MATCH, NULL);
    req->body = "";
    req->client_ip = st->ip;
    req->request_id = st->request_id[0] ? st->request_id : NULL;
    /* A decoded path with NUL or invalid UTF-8 names nothing. */
    if (strlen(path) == dlen && tk_utf8_valid(path, dlen))
        *route = tk_router_match(h->router, req);
    st->route = tk_route_metric(*route);
    return true;
}

/* Queues an answer decided before the body: Connection: close, and libmicrohttpd 0.9.75 then
 * reads no byte of the body (every method; checked with a raw client). */
static enum MHD_Result answer_now(struct MHD_Connection *c, struct req_state *st,
                                  struct tk_response *res)
{
    st->answered = true;
    return queue(c, st, res, true);
}

/* A connection past a cap (conns.h) serves the health probes only, one request each. */
static enum MHD_Result health_only(struct MHD_Connection *c, struct req_state *st,
                                   bool announces_body)
{
    if (!announces_body && strncmp(st->uri, "/-/health/", 10) == 0) {
        st->close_after = true;
        return MHD_YES;
    }
    struct tk_response res = {0};
    tk_buf_init(&res.body, TK_MAX_TEXT_BYTES);
    if (tk_conn_class_of(st->conn) == TK_CONN_OVER_ADDRESS)
        tk_response_detail(&res, 429, "Too many connections from this address.");
    else
        tk_response_detail(&res, 503, "The server has too many open connections.");
    res.retry_after = 1;
    return answer_now(c, st, &res);
}

/* A request that announces a body is decided from its headers first: an unknown path, or a
 * route whose admission step refuses (a missing or bad credential), is answered at once and
 * its body never read, so unauthenticated clients cannot make the server hold their bodies. */
static enum MHD_Result admit(struct MHD_Connection *c, struct req_state *st, const char *method)
{
    struct tk_request req = {0};
    struct tk_response res = {0};
    tk_buf_init(&res.body, TK_MAX_TEXT_BYTES);
    res.status = 200;
    const struct tk_route *route = NULL;
    if (!prepare(st->h, c, st, method, &req, &res, &route))
        return answer_now(c, st, &res);
    req.has_body = true;
    if (route == NULL) {
        tk_response_detail(&res, 404, "Not found.");
        return answer_now(c, st, &res);
    }
    if (!tk_route_admit(route, &req, &res))
        return answer_now(c, st, &res);
    tk_buf_free(&res.body);
    return MHD_YES;
}

static enum MHD_Result first_call(struct MHD_Connection *c, struct req_state *st,
                                  const char *method)
{
    st->started = true;
    atomic_fetch_add(&st->h->inflight, 1);
    st->counted = true;
    identify(c, st, method);
    if (st->arena == NULL || st->uri == NULL)
        return reject(c, st, 503, "The server is out of memory.");
    const char *q = memchr(st->uri, '?', st->uri_len);
    size_t qlen = q ? st->uri_len - (size_t)(q - st->uri) - 1 : 0;
    if (st->uri_len > TK_MAX_URI_BYTES || qlen > TK_MAX_QUERY_BYTES)
        return reject(c, st, 414, "Request-URI too long.");
    struct header_sum hs = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, sum_header, &hs);
    if (hs.total > TK_MAX_HEADER_BYTES)
        return reject(c, st, 431, "Request header fields too large.");
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH, NULL);
    unsigned long long n = 0;
    if (cl != NULL) {
        char *end = NULL;
        n = strtoull(cl, &end, 10);
        if (end == cl || *end != '\0' || n > TK_MAX_BODY_BYTES)
            return reject(c, st, 413, "Request body too large.");
    }
    bool announces_body = n > 0 || header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING, NULL) != NULL;
    tk_conn_spoke(st->conn);
    if (tk_conn_class_of(st->conn) != TK_CONN_NORMAL)
        return health_only(c, st, announces_body);
    return announces_body ? admit(c, st, method) : MHD_YES;
}

static enum MHD_Result handle(struct tk_http *h, struct MHD_Connection *c, struct req_state *st,
                              const char *method)
{
    tk_conn_reading(st->conn, false); /* all of it is in: no deadline while it is answered */
    struct tk_request req = {0};
    struct tk_response res = {0};
    tk_buf_init(&res.body, TK_MAX_RESPONSE_BYTES);
    res.status = 200;
    const struct tk_route *route = NULL;
    if (!prepare(h, c, st, method, &req, &res, &route))
        return queue(c, st, &res, st->close_after);
    req.body = st->body.data ? st->body.data : "";
    req.body_len = st->body.len;
    req.has_body = st->body.len > 0;
    if (route == NULL)
        tk_response_detail(&res, 404, "Not found.");
    else
        tk_route_call(route, &req, &res);
    return queue(c, st, &res, st->close_after);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct tk_http *h = cls;
    struct req_state *st = *con_cls;
    if (st == NULL)
        return MHD_NO; /* out of memory in uri_logger: drop the connection */
    if (!st->started)
        return first_call(c, st, method);
    if (st->answered) {
        *upload_data_size = 0; /* discard the rest of a refused body */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* libmicrohttpd 0.9.75 cannot answer in the middle of a chunked upload: discard the
         * rest (up to a bound, then drop the connection) and answer 413 at its end. */
        if (st->too_big) {
            st->discarded += *upload_data_size;
            *upload_data_size = 0;
            return st->discarded > TK_MAX_DISCARD_BYTES ? MHD_NO : MHD_YES;
        }
        if (tk_buf_append(&st->body, upload_data, *upload_data_size) != 0) {
            if (st->body.err != TK_ERR_TOOBIG)
                return MHD_NO; /* out of memory: drop this connection, keep serving others */
            st->too_big = true;
            st->discarded = *upload_data_size;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->too_big)
        return reject(c, st, 413, "Request body too large.");
    return handle(h, c, st, method);
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    /* We decode paths and queries ourselves, from the raw request target. */
    return strlen(s);
}

static int parse_listen(const char *listen, const char *setting, struct sockaddr_storage *ss,
                        socklen_t *len, char *err, size_t err_len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof(host)) {
        snprintf(err, err_len, "%s must be host:port, got \"%s\"", setting, listen);
        return TK_ERR_INVALID;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*(colon + 1) == '\0' || *end != '\0' || port < 0 || port > 65535) {
        snprintf(err, err_len, "%s has an invalid port: \"%s\"", setting, listen);
        return TK_ERR_INVALID;
    }
    memset(ss, 0, sizeof(*ss));
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (strcmp(h, "localhost") == 0)
        h = "127.0.0.1";
    if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*s6);
        return 0;
    }
    snprintf(err, err_len, "%s needs a numeric IP address or localhost, got \"%s\"", setting, host);
    return TK_ERR_INVALID;
}

int tk_http_listen_check(const char *listen, const char *setting, char *err, size_t err_len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    return parse_listen(listen, setting, &ss, &sl, err, err_len);
}

/* libmicrohttpd's own messages, as log lines. fmt is a printf format: said so, clang's
 * -Wformat-nonliteral accepts passing it on to vsnprintf. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    tk_log(TK_LOG_WARNING, "tokend.http", "%s", msg);
}

/* The server's own memory, last. */
static void free_http(struct tk_http *h)
{
    free(h->handoff);
    pthread_mutex_destroy(&h->handoff_mu);
    free(h);
}

static void stop_workers(struct tk_http *h)
{
    for (unsigned i = 0; h->workers != NULL && i < h->n_workers; i++)
        if (h->workers[i] != NULL)
            MHD_stop_daemon(h->workers[i]);
    free(h->workers);
    h->workers = NULL;
}

int tk_http_start(const struct tk_http_opts *o, struct tk_router *r, struct tk_http **out,
                  char *err, size_t err_len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc =
        parse_listen(o->listen, o->setting ? o->setting : "TOKEND_LISTEN", &ss, &sl, err, err_len);
    if (rc)
        return rc;
    struct tk_http *h = tk_calloc(1, sizeof(*h));
    if (h == NULL)
        return TK_ERR_NOMEM;
    pthread_mutex_init(&h->handoff_mu, NULL);
    h->router = r;
    h->quiet = o->quiet;
    rc = tk_proxies_parse(o->trusted_proxies ? o->trusted_proxies : "", "TOKEND_TRUSTED_PROXIES",
                          &h->trusted, err, err_len);
    if (rc) {
        free_http(h);
        return rc;
    }
    struct tk_conns_opts co = {
        .max_total = o->max_connections,
        .max_per_address = o->max_connections_per_ip,
        .reserve_per_address = o->health_reserve ? TK_CONN_RESERVE_PER_IP : 0,
        .reserve_total = o->health_reserve ? TK_CONN_RESERVE_TOTAL : 0,
        .reserve_life_s = TK_CONN_RESERVE_LIFE_S,
        .request_timeout_s = o->request_timeout_s ? o->request_timeout_s : TK_REQUEST_TIMEOUT_S,
        .trusted = &h->trusted,
    };
    rc = tk_conns_new(&co, &h->conns);
    if (rc) {
        tk_proxies_free(&h->trusted);
        free_http(h);
        return rc;
    }
    rc = tk_acceptor_listen((struct sockaddr *)&ss, sl, TK_LISTEN_BACKLOG, &h->acceptor, &h->port);
    if (rc) {
        snprintf(err, err_len, "%s: cannot listen on %s (address in use or not available)",
                 o->setting ? o->setting : "TOKEND_LISTEN", o->listen);
        tk_conns_free(h->conns);
        tk_proxies_free(&h->trusted);
        free_http(h);
        return rc;
    }
    /* One daemon of one thread per worker, not libmicrohttpd's pool: the acceptor gives new
     * connections to the workers in turn (acceptor.h) */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    h->n_workers = o->threads > 0 ? o->threads : 1;
    h->workers = tk_calloc(h->n_workers, sizeof(*h->workers));
    for (unsigned i = 0; h->workers != NULL && i < h->n_workers; i++) {
        h->workers[i] = MHD_start_daemon(
            flags, 0, NULL, NULL, access_handler, h,
            /* first, so that every message of the daemon goes to our log */
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            /* libmicrohttpd's own limit stays out of the way: ours (and the health-only
             * reserve past it) decide, at accept */
            MHD_OPTION_CONNECTION_LIMIT, o->max_connections + TK_CONN_RESERVE_TOTAL + 64,
            MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h, MHD_OPTION_CONNECTION_TIMEOUT,
            o->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)TK_MHD_POOL_BYTES,
            MHD_OPTION_URI_LOG_CALLBACK, uri_logger, h, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_END);
        if (h->workers[i] == NULL) {
            rc = TK_ERR_IO;
            break;
        }
    }
    if (h->workers == NULL || rc != 0 ||
        (rc = tk_acceptor_start(h->acceptor, h->workers, h->n_workers, accept_policy,
                                accept_dropped, h)) != 0) {
        snprintf(err, err_len, "%s: cannot start the HTTP server on %s",
                 o->setting ? o->setting : "TOKEND_LISTEN", o->listen);
        rc = h->workers == NULL ? TK_ERR_NOMEM : TK_ERR_IO;
        stop_workers(h);
        tk_acceptor_stop(h->acceptor);
        tk_conns_free(h->conns);
        tk_proxies_free(&h->trusted);
        free_http(h);
        return rc;
    }
    *out = h;
    return 0;
}

uint16_t tk_http_port(const struct tk_http *h)
{
    return h->port;
}

void tk_http_stop(struct tk_http *h, unsigned grace_ms)
{
    if (h == NULL)
        return;
    /* New connections are refused at accept while in-flight requests finish; then the
     * listening socket is closed and libmicrohttpd stopped. */
    atomic_store(&h->stopping, true);
    for (unsigned waited = 0; waited < grace_ms && atomic_load(&h->inflight) > 0; waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    tk_acceptor_stop(h->acceptor);
    stop_workers(h); /* every connection is closed: nothing left to watch */
    tk_conns_free(h->conns);
    tk_proxies_free(&h->trusted);
    free_http(h);
}
