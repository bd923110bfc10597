/* Usage buffers and rate windows in memory (api/usage.h; docs/api.md §19.3): uses from several
 * threads drained as one entry per token (counts added, the latest use and its address kept),
 * put back after a failed write, many tokens past a table's first size, and rate windows aligned
 * to the period, with the other processes' share counted against the limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "api/usage.h"

#define S 1000000LL /* one second in microseconds */

static const struct tk_usage *find(const struct tk_usage *u, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (u[i].token_id == id)
            return &u[i];
    return NULL;
}

struct worker {
    struct tk_usage_book *b;
    int64_t base;
};

static void *record_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 1000; i++)
        tk_usage_record(w->b, 1 + i % 3, w->base + i, w->base == 0 ? "10.0.0.1" : "::1");
    return NULL;
}

static void test_threads_drain_as_one_entry_per_token(void **state)
{
    (void)state;
    struct tk_usage_book *b = tk_usage_new();
    assert_non_null(b);
    struct worker w1 = {b, 0}, w2 = {b, 5000};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, record_many, &w1), 0);
    assert_int_equal(pthread_create(&t2, NULL, record_many, &w2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    struct tk_usage *u;
    size_t n;
    assert_int_equal(tk_usage_drain(b, &u, &n), 0);
    assert_int_equal(n, 3);
    int64_t total = 0;
    for (int64_t id = 1; id <= 3; id++) {
        const struct tk_usage *e = find(u, n, id);
        assert_non_null(e);
        total += e->count;
        assert_true(e->last_used >= 5000); /* the latest use: the second thread's */
        assert_string_equal(e->last_used_ip, "::1");
    }
    assert_int_equal(total, 2000);
    free(u);
    /* drained: nothing left */
    assert_int_equal(tk_usage_drain(b, &u, &n), 0);
    assert_int_equal(n, 0);
    free(u);
    tk_usage_free(b);
}

static void test_restore_puts_a_failed_batch_back(void **state)
{
    (void)state;
    struct tk_usage_book *b = tk_usage_new();
    tk_usage_record(b, 7, 100, "192.0.2.1");
    tk_usage_record(b, 7, 200, "192.0.2.2");
    struct tk_usage *u;
    size_t n;
    assert_int_equal(tk_usage_drain(b, &u, &n), 0);
    assert_int_equal(n, 1);
    tk_usage_restore(b, u, n); /* the write failed */
    free(u);
    tk_usage_record(b, 7, 150, "192.0.2.3"); /* older than the restored latest use */
    assert_int_equal(tk_usage_drain(b, &u, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].count, 3);
    assert_int_equal(u[0].last_used, 200);
    assert_string_equal(u[0].last_used_ip, "192.0.2.2");
    free(u);
    tk_usage_free(b);
}

static void test_many_tokens_grow_the_table(void **state)
{
    (void)state;
    struct tk_usage_book *b = tk_usage_new();
    for (int64_t id = 1; id <= 5000; id++)
        tk_usage_record(b, id, id, "127.0.0.1");
    struct tk_usage *u;
    size_t n;
    assert_int_equal(tk_usage_drain(b, &u, &n), 0);
    assert_int_equal(n, 5000);
    for (size_t i = 0; i < n; i++) /* sorted by token, one use each */
        assert_true(u[i].token_id == (int64_t)i + 1 && u[i].count == 1);
    free(u);
    tk_usage_free(b);
}

static void test_rate_window_is_aligned_and_exact(void **state)
{
    (void)state;
    struct tk_usage_book *b = tk_usage_new();
    struct tk_rate r = {3, 60};
    int64_t t0 = 1000 * 60 * S + 50 * S; /* 50 s into a minute */
    unsigned wait = 0;
    for (int i = 0; i < 3; i++)
        assert_true(tk_usage_rate(b, 9, &r, t0 + i, &wait));
    assert_false(tk_usage_rate(b, 9, &r, t0 + 5, &wait));
    assert_int_equal(wait, 10); /* the window ends on the minute */
    /* the next minute is a new window */
    assert_true(tk_usage_rate(b, 9, &r, t0 + 10 * S, &wait));
    /* another token has its own window */
    assert_true(tk_usage_rate(b, 10, &r, t0, &wait));
    tk_usage_free(b);
}

static void test_shared_counts_narrow_the_window(void **state)
{
    (void)state;
    struct tk_usage_book *b = tk_usage_new();
    struct tk_rate r = {5, 60};
    int64_t t0 = 2000 * 60 * S;
    unsigned wait = 0;
    assert_true(tk_usage_rate(b, 4, &r, t0, &wait));
    assert_true(tk_usage_rate(b, 4, &r, t0 + 1, &wait));
    struct tk_rate_share *x;
    size_t n;
    assert_int_equal(tk_usage_rate_collect(b, t0 + 2, &x, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(x[0].token_id, 4);
    assert_int_equal(x[0].window_start, t0);
    assert_int_equal(x[0].added, 2);
    x[0].total = 4; /* another process admitted 2 */
    tk_usage_rate_apply(b, x, n);
    free(x);
    assert_true(tk_usage_rate(b, 4, &r, t0 + 3, &wait)); /* 3 here + 2 there = 5 */
    assert_false(tk_usage_rate(b, 4, &r, t0 + 4, &wait));
    /* a share that failed is added again next time */
    assert_int_equal(tk_usage_rate_collect(b, t0 + 5, &x, &n), 0);
    assert_int_equal(x[0].added, 1);
    tk_usage_rate_restore(b, x, n);
    free(x);
    assert_int_equal(tk_usage_rate_collect(b, t0 + 6, &x, &n), 0);
    assert_int_equal(x[0].added, 1);
    free(x);
    /* an ended window is not shared */
    assert_int_equal(tk_usage_rate_collect(b, t0 + 61 * S, &x, &n), 0);
    assert_int_equal(n, 0);
    free(x);
    tk_usage_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_drain_as_one_entry_per_token),
        cmocka_unit_test(test_restore_puts_a_failed_batch_back),
        cmocka_unit_test(test_many_tokens_grow_the_table),
        cmocka_unit_test(test_rate_window_is_aligned_and_exact),
        cmocka_unit_test(test_shared_counts_narrow_the_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
