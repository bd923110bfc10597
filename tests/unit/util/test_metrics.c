/* Unit tests for src/util/metrics.c: route and status slots, histogram buckets (cumulative,
 * +Inf equal to _count), label escaping, and counts from many threads without a lock. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/metrics.h"

static char *render(struct tk_buf *b)
{
    tk_buf_init(b, 1 << 22);
    assert_int_equal(tk_metrics_render(b), 0);
    return b->data;
}

static void routes_keep_their_slot(void **state)
{
    (void)state;
    unsigned a = tk_metrics_route("/a/{}/");
    assert_true(a > 0);
    assert_int_equal(tk_metrics_route("/a/{}/"), a);
    assert_int_not_equal(tk_metrics_route("/b/"), a);
}

static void histogram_is_cumulative(void **state)
{
    (void)state;
    unsigned r = tk_metrics_route("/hist/");
    tk_metrics_request(r, 0, 200, 50000);       /* 50 µs: first bucket */
    tk_metrics_request(r, 0, 200, 3000000);     /* 3 ms: le 0.005 */
    tk_metrics_request(r, 0, 200, 60000000000); /* 60 s: +Inf only */
    struct tk_buf b;
    const char *t = render(&b);
    const char *want[] = {
        "tokend_http_request_duration_seconds_bucket{route=\"/hist/"
        "\",status=\"200\",le=\"0.0001\"} 1\n",
        "tokend_http_request_duration_seconds_bucket{route=\"/hist/"
        "\",status=\"200\",le=\"0.0025\"} 1\n",
        "tokend_http_request_duration_seconds_bucket{route=\"/hist/\",status=\"200\",le=\"0.005\"} "
        "2\n",
        "tokend_http_request_duration_seconds_bucket{route=\"/hist/\",status=\"200\",le=\"10\"} "
        "2\n",
        "tokend_http_request_duration_seconds_bucket{route=\"/hist/\",status=\"200\",le=\"+Inf\"} "
        "3\n",
        "tokend_http_request_duration_seconds_sum{route=\"/hist/\",status=\"200\"} 60.003050000\n",
        "tokend_http_request_duration_seconds_count{route=\"/hist/\",status=\"200\"} 3\n",
        "tokend_http_requests_total{route=\"/hist/\",method=\"GET\",status=\"200\"} 3\n",
        "# TYPE tokend_http_request_duration_seconds histogram\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(t, want[i]) == NULL)
            fail_msg("missing %s in\n%s", want[i], t);
    tk_buf_free(&b);
}

static void label_values_are_escaped(void **state)
{
    (void)state;
    unsigned r = tk_metrics_route("/q\"\\\n/");
    tk_metrics_request(r, 7, 418, 1);
    struct tk_buf b;
    const char *t = render(&b);
    assert_non_null(strstr(t, "tokend_http_requests_total{route=\"/q\\\"\\\\\\n/"
                              "\",method=\"OTHER\",status=\"418\"} 1\n"));
    tk_buf_free(&b);
}

static void auth_failures_and_sweeps(void **state)
{
    (void)state;
    tk_metrics_auth_failure(TK_AUTHF_INVALID);
    tk_metrics_auth_failure(TK_AUTHF_INVALID);
    tk_metrics_auth_failure(TK_AUTHF_THROTTLED);
    tk_metrics_sweep(true, 3, 2, 1);
    tk_metrics_sweep(false, 0, 0, 0);
    struct tk_buf b;
    const char *t = render(&b);
    assert_non_null(strstr(t, "tokend_auth_failures_total{reason=\"invalid_token\"} 2\n"));
    assert_non_null(strstr(t, "tokend_auth_failures_total{reason=\"throttled\"} 1\n"));
    assert_non_null(strstr(t, "tokend_auth_failures_total{reason=\"missing\"} 0\n"));
    assert_non_null(strstr(t, "tokend_sweeper_runs_total{result=\"ok\"} 1\n"));
    assert_non_null(strstr(t, "tokend_sweeper_runs_total{result=\"failed\"} 1\n"));
    assert_non_null(strstr(t, "tokend_sweeper_tokens_rotated_total 3\n"));
    assert_non_null(strstr(t, "tokend_sweeper_tokens_deleted_total 2\n"));
    assert_non_null(strstr(t, "tokend_build_info{version=\"" TOKEND_VERSION "\"} 1\n"));
    tk_buf_free(&b);
}

#define N_THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
    unsigned r = *(unsigned *)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        tk_metrics_inflight(1);
        tk_metrics_request(r, 2, 201 + (i % 3), i);
        tk_metrics_inflight(-1);
    }
    return NULL;
}

static void counts_from_many_threads(void **state)
{
    (void)state;
    unsigned r = tk_metrics_route("/threads/");
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &r), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    struct tk_buf b;
    const char *text = render(&b);
    char want[160];
    for (int s = 201; s <= 203; s++) {
        /* 20000 = 3 * 6666 + 2: codes 201 and 202 get one more per thread */
        int n = N_THREADS * (PER_THREAD / 3 + (s - 201 < PER_THREAD % 3 ? 1 : 0));
        snprintf(want, sizeof(want),
                 "tokend_http_requests_total{route=\"/threads/\",method=\"POST\",status=\"%d\"} "
                 "%d\n",
                 s, n);
        if (strstr(text, want) == NULL)
            fail_msg("missing %s", want);
    }
    assert_non_null(strstr(text, "tokend_http_requests_in_flight 0\n"));
    tk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_keep_their_slot),   cmocka_unit_test(histogram_is_cumulative),
        cmocka_unit_test(label_values_are_escaped), cmocka_unit_test(auth_failures_and_sweeps),
        cmocka_unit_test(counts_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
