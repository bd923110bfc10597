/* Metrics registry (metrics.h). Histograms keep one counter per bucket (not cumulative) plus a
 * sum; the exposition accumulates them and derives _count from the buckets, so a scrape racing
 * with updates still shows cumulative buckets whose +Inf equals _count. */
#include "util/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util/limits.h"

#define N_BUCKETS 16
#define ROUTE_MAX_BYTES 128

static const int64_t bucket_ns[N_BUCKETS] = {
    100000,   250000,    500000,    1000000,   2500000,    5000000,    10000000,   25000000,
    50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const bucket_le[N_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10",
};
static const char *const method_names[TK_METRICS_N_METHODS] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"};
static const char *const authf_names[TK_AUTHF_N] = {"missing", "unsupported_scheme", "malformed",
                                                    "invalid_token", "throttled"};

struct hist {
    atomic_uint_fast64_t bucket[N_BUCKETS + 1]; /* the last one is +Inf only */
    atomic_uint_fast64_t sum_ns;
};

static struct {
    pthread_mutex_t mu; /* registration of routes and status codes only */
    char routes[TK_METRICS_MAX_ROUTES][ROUTE_MAX_BYTES];
    atomic_uint n_routes;
    atomic_uchar status_slot[600]; /* code -> slot + 1; 0: none yet */
    int status_code[TK_METRICS_MAX_STATUS];
    atomic_uint n_status;
    atomic_uint_fast64_t requests[TK_METRICS_MAX_ROUTES][TK_METRICS_N_METHODS]
                                 [TK_METRICS_MAX_STATUS];
    struct hist latency[TK_METRICS_MAX_ROUTES][TK_METRICS_MAX_STATUS];
    atomic_long inflight;
    atomic_long conns_open;
    atomic_uint_fast64_t conns_accepted, conns_refused;
    atomic_uint_fast64_t round_trips;
    atomic_uint_fast64_t watch_up; /* 0 or 1 */
    atomic_uint_fast64_t auth_failures[TK_AUTHF_N];
    struct hist store;
    atomic_uint_fast64_t sweeps_ok, sweeps_failed, rotated, deleted, events_expired;
    atomic_uint_fast64_t webhook[TK_WEBHOOK_OUTCOME_N];
    atomic_llong webhook_pending, webhook_oldest_s;
    atomic_bool webhook_known;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER, .routes = {"unmatched"}, .n_routes = 1};

#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void observe(struct hist *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    unsigned i = 0;
    while (i < N_BUCKETS && ns > bucket_ns[i])
        i++;
    ADD(h->bucket[i], 1);
    ADD(h->sum_ns, (uint_fast64_t)ns);
}

unsigned tk_metrics_route(const char *pattern)
{
    pthread_mutex_lock(&M.mu);
    unsigned n = GET(M.n_routes), slot = 0;
    for (unsigned i = 1; i < n && slot == 0; i++)
        if (strncmp(M.routes[i], pattern, ROUTE_MAX_BYTES - 1) == 0)
            slot = i;
    if (slot == 0 && n < TK_METRICS_MAX_ROUTES) {
        snprintf(M.routes[n], ROUTE_MAX_BYTES, "%s", pattern);
        atomic_store(&M.n_routes, n + 1);
        slot = n;
    }
    pthread_mutex_unlock(&M.mu);
    return slot;
}

static unsigned status_slot(int status)
{
    if (status < 0 || status >= 600)
        status = 0;
    unsigned s = atomic_load_explicit(&M.status_slot[status], memory_order_acquire);
    if (s != 0)
        return s - 1;
    /* first request with this code: take a slot (the last one is shared, "other") */
    pthread_mutex_lock(&M.mu);
    s = atomic_load(&M.status_slot[status]);
    if (s == 0) {
        unsigned n = GET(M.n_status);
        if (n < TK_METRICS_MAX_STATUS - 1) {
            M.status_code[n] = status;
            atomic_store(&M.n_status, n + 1);
            s = n + 1;
        } else {
            s = TK_METRICS_MAX_STATUS;
        }
        atomic_store_explicit(&M.status_slot[status], (unsigned char)s, memory_order_release);
    }
    pthread_mutex_unlock(&M.mu);
    return s - 1;
}

void tk_metrics_request(unsigned route, unsigned method, int status, int64_t duration_ns)
{
    if (route >= TK_METRICS_MAX_ROUTES)
        route = 0;
    if (method >= TK_METRICS_N_METHODS)
        method = TK_METRICS_N_METHODS - 1;
    unsigned s = status_slot(status);
    ADD(M.requests[route][method][s], 1);
    observe(&M.latency[route][s], duration_ns);
}

void tk_metrics_inflight(int delta)
{
    ADD(M.inflight, delta);
}

void tk_metrics_conn_accepted(void)
{
    ADD(M.conns_accepted, 1);
    ADD(M.conns_open, 1);
}

void tk_metrics_conn_closed(void)
{
    ADD(M.conns_open, -1);
}

void tk_metrics_conn_refused(void)
{
    ADD(M.conns_refused, 1);
}

void tk_metrics_auth_failure(enum tk_auth_failure reason)
{
    if ((unsigned)reason < TK_AUTHF_N)
        ADD(M.auth_failures[reason], 1);
}

void tk_metrics_store_query(int64_t duration_ns)
{
    observe(&M.store, duration_ns);
}

void tk_metrics_store_round_trip(void)
{
    ADD(M.round_trips, 1);
}

void tk_metrics_change_watch(bool up)
{
    atomic_store_explicit(&M.watch_up, up ? 1 : 0, memory_order_relaxed);
}

void tk_metrics_webhook_attempt(enum tk_webhook_outcome outcome)
{
    ADD(M.webhook[outcome], 1);
}

void tk_metrics_webhook_queue(int64_t pending, int64_t oldest_s)
{
    atomic_store_explicit(&M.webhook_pending, pending, memory_order_relaxed);
    atomic_store_explicit(&M.webhook_oldest_s, oldest_s, memory_order_relaxed);
    atomic_store_explicit(&M.webhook_known, true, memory_order_relaxed);
}

void tk_metrics_sweep(bool ok, int64_t rotated, int64_t deleted, int64_t events_expired)
{
    if (ok)
        ADD(M.sweeps_ok, 1);
    else
        ADD(M.sweeps_failed, 1);
    ADD(M.rotated, (uint_fast64_t)(rotated > 0 ? rotated : 0));
    ADD(M.deleted, (uint_fast64_t)(deleted > 0 ? deleted : 0));
    ADD(M.events_expired, (uint_fast64_t)(events_expired > 0 ? events_expired : 0));
}

/* ---- exposition ---- */

static void family(struct tk_buf *b, const char *name, const char *type, const char *help)
{
    tk_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void label_value(struct tk_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            tk_buf_puts(b, "\\\\");
        else if (*v == '"')
            tk_buf_puts(b, "\\\"");
        else if (*v == '\n')
            tk_buf_puts(b, "\\n");
        else
            tk_buf_putc(b, *v);
    }
}

static void status_label(struct tk_buf *b, unsigned s)
{
    if (s < GET(M.n_status) && M.status_code[s] != 0)
        tk_buf_printf(b, "%d", M.status_code[s]);
    else
        tk_buf_puts(b, "other");
}

/* labels: the rendered label pairs without braces ("" for none). */
static void hist_series(struct tk_buf *b, const char *name, const char *labels,
                        const struct hist *h)
{
    uint_fast64_t cum = 0;
    const char *sep = *labels ? "," : "";
    for (unsigned i = 0; i <= N_BUCKETS; i++) {
        cum += GET(h->bucket[i]);
        tk_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
                      i < N_BUCKETS ? bucket_le[i] : "+Inf", (unsigned long long)cum);
    }
    uint_fast64_t sum = GET(h->sum_ns);
    tk_buf_printf(b, "%s_sum%s%s%s %llu.%09llu\n", name, *labels ? "{" : "", labels,
                  *labels ? "}" : "", (unsigned long long)(sum / 1000000000),
                  (unsigned long long)(sum % 1000000000));
    tk_buf_printf(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
                  (unsigned long long)cum);
}

static bool hist_empty(const struct hist *h)
{
    for (unsigned i = 0; i <= N_BUCKETS; i++)
        if (GET(h->bucket[i]))
            return false;
    return true;
}

int tk_metrics_render(struct tk_buf *b)
{
    unsigned n_routes = atomic_load(&M.n_routes);
    unsigned n_status = atomic_load(&M.n_status);
    /* the shared "other" slot is used once n_status reached its end */
    unsigned n_slots = n_status + 1 < TK_METRICS_MAX_STATUS ? n_status : TK_METRICS_MAX_STATUS;

    family(b, "tokend_build_info", "gauge", "Version of this tokend build.");
    tk_buf_printf(b, "tokend_build_info{version=\"%s\"} 1\n", TOKEND_VERSION);

    family(b, "tokend_http_requests_total", "counter",
           "HTTP requests answered, by route pattern, method and status.");
    for (unsigned r = 0; r < n_routes; r++)
        for (unsigned m = 0; m < TK_METRICS_N_METHODS; m++)
            for (unsigned s = 0; s < n_slots; s++) {
                uint_fast64_t v = GET(M.requests[r][m][s]);
                if (v == 0)
                    continue;
                tk_buf_puts(b, "tokend_http_requests_total{route=\"");
                label_value(b, M.routes[r]);
                tk_buf_printf(b, "\",method=\"%s\",status=\"", method_names[m]);
                status_label(b, s);
                tk_buf_printf(b, "\"} %llu\n", (unsigned long long)v);
            }

    family(b, "tokend_http_request_duration_seconds", "histogram",
           "Time from the start of a request to its response being sent, by route and status.");
    struct tk_buf labels;
    tk_buf_init(&labels, TK_MAX_TEXT_BYTES);
    for (unsigned r = 0; r < n_routes; r++)
        for (unsigned s = 0; s < n_slots; s++) {
            if (hist_empty(&M.latency[r][s]))
                continue;
            tk_buf_reset(&labels);
            tk_buf_puts(&labels, "route=\"");
            label_value(&labels, M.routes[r]);
            tk_buf_puts(&labels, "\",status=\"");
            status_label(&labels, s);
            tk_buf_putc(&labels, '"');
            if (labels.err == 0)
                hist_series(b, "tokend_http_request_duration_seconds", labels.data,
                            &M.latency[r][s]);
        }
    tk_buf_free(&labels);

    family(b, "tokend_http_requests_in_flight", "gauge", "HTTP requests being served now.");
    tk_buf_printf(b, "tokend_http_requests_in_flight %ld\n", (long)GET(M.inflight));
    family(b, "tokend_http_connections_open", "gauge", "HTTP connections open now.");
    tk_buf_printf(b, "tokend_http_connections_open %ld\n", (long)GET(M.conns_open));
    family(b, "tokend_http_connections_accepted_total", "counter", "HTTP connections accepted.");
    tk_buf_printf(b, "tokend_http_connections_accepted_total %llu\n",
                  (unsigned long long)GET(M.conns_accepted));
    family(b, "tokend_http_connections_refused_total", "counter",
           "HTTP connections refused at accept (TOKEND_MAX_CONNECTIONS reached).");
    tk_buf_printf(b, "tokend_http_connections_refused_total %llu\n",
                  (unsigned long long)GET(M.conns_refused));

    family(b, "tokend_auth_failures_total", "counter", "Failed API authentications, by reason.");
    for (unsigned i = 0; i < TK_AUTHF_N; i++)
        tk_buf_printf(b, "tokend_auth_failures_total{reason=\"%s\"} %llu\n", authf_names[i],
                      (unsigned long long)GET(M.auth_failures[i]));

    family(b, "tokend_store_query_duration_seconds", "histogram",
           "Duration of store statements (first step to reset), scripts and commits.");
    hist_series(b, "tokend_store_query_duration_seconds", "", &M.store);

    family(b, "tokend_store_round_trips_total", "counter",
           "Round trips to PostgreSQL: statements, prepares, scripts, pipelines of statements.");
    tk_buf_printf(b, "tokend_store_round_trips_total %llu\n",
                  (unsigned long long)GET(M.round_trips));
    family(b, "tokend_store_change_watch_up", "gauge",
           "1 while the PostgreSQL change watch listens (caches on), else 0.");
    tk_buf_printf(b, "tokend_store_change_watch_up %llu\n", (unsigned long long)GET(M.watch_up));

    family(b, "tokend_sweeper_runs_total", "counter", "Expiry sweeper passes, by result.");
    tk_buf_printf(b, "tokend_sweeper_runs_total{result=\"ok\"} %llu\n",
                  (unsigned long long)GET(M.sweeps_ok));
    tk_buf_printf(b, "tokend_sweeper_runs_total{result=\"failed\"} %llu\n",
                  (unsigned long long)GET(M.sweeps_failed));
    family(b, "tokend_sweeper_tokens_rotated_total", "counter",
           "Expired API tokens given a new key by the sweeper.");
    tk_buf_printf(b, "tokend_sweeper_tokens_rotated_total %llu\n",
                  (unsigned long long)GET(M.rotated));
    family(b, "tokend_sweeper_tokens_deleted_total", "counter",
           "Expired non-API tokens deleted by the sweeper.");
    tk_buf_printf(b, "tokend_sweeper_tokens_deleted_total %llu\n",
                  (unsigned long long)GET(M.deleted));
    family(b, "tokend_sweeper_events_expired_total", "counter",
           "Audit events removed by the sweeper after their retention.");
    tk_buf_printf(b, "tokend_sweeper_events_expired_total %llu\n",
                  (unsigned long long)GET(M.events_expired));

    static const char *const outcomes[TK_WEBHOOK_OUTCOME_N] = {"delivered", "retried", "failed"};
    family(b, "tokend_webhook_deliveries_total", "counter",
           "Webhook delivery attempts by outcome: delivered (2xx), retried (to be tried again), "
           "failed (given up after 24 hours).");
    for (unsigned i = 0; i < TK_WEBHOOK_OUTCOME_N; i++)
        tk_buf_printf(b, "tokend_webhook_deliveries_total{outcome=\"%s\"} %llu\n", outcomes[i],
                      (unsigned long long)GET(M.webhook[i]));
    if (GET(M.webhook_known)) {
        family(b, "tokend_webhook_pending", "gauge",
               "Webhook deliveries not yet delivered or failed (every process's).");
        tk_buf_printf(b, "tokend_webhook_pending %lld\n", (long long)GET(M.webhook_pending));
        family(b, "tokend_webhook_oldest_pending_seconds", "gauge",
               "Age of the oldest pending webhook delivery's message (0: none pending).");
        tk_buf_printf(b, "tokend_webhook_oldest_pending_seconds %lld\n",
                      (long long)GET(M.webhook_oldest_s));
    }
    return b->err;
}
