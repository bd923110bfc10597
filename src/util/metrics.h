/* Process-wide metrics for the Prometheus text exposition format (version 0.0.4). Every update
 * on the request path is a relaxed C11 atomic add into fixed arrays: no lock, no allocation.
 * Routes and status codes get their array slots on first use (a lock then, once per route or
 * code). Label cardinality is bounded by construction: routes are the router's patterns,
 * methods and auth-failure reasons are enums, at most TK_METRICS_MAX_STATUS distinct codes.
 * Thread-safe. */
#ifndef TK_UTIL_METRICS_H
#define TK_UTIL_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

#define TK_METRICS_MAX_ROUTES 64 /* slot 0 is "unmatched": no route or refused before routing */
#define TK_METRICS_MAX_STATUS 32 /* distinct status codes; more share status="other" */
#define TK_METRICS_N_METHODS 8   /* bit order of enum tk_method: GET HEAD ... OTHER */

enum tk_auth_failure {
    TK_AUTHF_MISSING,     /* no Authorization header (or no credentials in it) */
    TK_AUTHF_UNSUPPORTED, /* another scheme than Bearer */
    TK_AUTHF_MALFORMED,   /* a header that is not UTF-8 or holds NUL */
    TK_AUTHF_INVALID,     /* unknown key, expired token, inactive user, non-api intent */
    TK_AUTHF_THROTTLED,   /* a failure past its address's bucket: 429 instead of 403 */
    TK_AUTHF_N,
};

/* Monotonic nanoseconds, for durations. */
static inline int64_t tk_metrics_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The slot of a route pattern for tk_metrics_request, registering it on first use (at
 * startup; the same pattern always gets the same slot). 0 ("unmatched") when the table is
 * full. */
unsigned tk_metrics_route(const char *pattern);

/* One answered request: route slot, method index (0..7, bit position in enum tk_method),
 * status, and its duration. */
void tk_metrics_request(unsigned route, unsigned method, int status, int64_t duration_ns);
void tk_metrics_inflight(int delta);
/* A connection accepted (open gauge +1), closed (-1), or refused at accept. */
void tk_metrics_conn_accepted(void);
void tk_metrics_conn_closed(void);
void tk_metrics_conn_refused(void);
void tk_metrics_auth_failure(enum tk_auth_failure reason);
/* One store statement (first step to reset), script or commit. */
void tk_metrics_store_query(int64_t duration_ns);
/* One round trip to PostgreSQL (a statement, a prepare, a script, or a pipeline of several). */
void tk_metrics_store_round_trip(void);
/* PostgreSQL's change watch connected and listening (caches on) or not. */
void tk_metrics_change_watch(bool up);
/* One sweeper pass. */
void tk_metrics_sweep(bool ok, int64_t rotated, int64_t deleted, int64_t events_expired);

/* Webhook deliveries (docs/api.md §21.5): one attempt's outcome, and the queue as the delivery
 * worker last read it (pending deliveries, age of the oldest one's message in seconds). */
enum tk_webhook_outcome {
    TK_WEBHOOK_DELIVERED,
    TK_WEBHOOK_RETRIED,
    TK_WEBHOOK_FAILED,
    TK_WEBHOOK_OUTCOME_N
};
void tk_metrics_webhook_attempt(enum tk_webhook_outcome outcome);
void tk_metrics_webhook_queue(int64_t pending, int64_t oldest_s);

/* Appends the exposition of every metric to out (text format 0.0.4). */
int tk_metrics_render(struct tk_buf *out) TK_MUST_USE;

#endif
