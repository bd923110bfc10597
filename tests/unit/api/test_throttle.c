/* Unit tests for src/api/throttle.c: each exact address has its own bucket (no sharing, however
 * many addresses come), failures past the burst are throttled with a Retry-After, the bucket
 * refills with time, and an address that spent its bucket is not forgotten under pressure
 * from many others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/throttle.h"
#include "util/limits.h"

#define S 1000000 /* microseconds */

static void burst_then_throttled_then_refilled(void **state)
{
    (void)state;
    struct tk_throttle *t = tk_throttle_new(3, 1.0);
    assert_non_null(t);
    unsigned wait = 0;
    for (int i = 0; i < 3; i++)
        assert_false(tk_throttle_fail(t, "203.0.113.9", 10 * S, &wait));
    assert_true(tk_throttle_fail(t, "203.0.113.9", 10 * S, &wait));
    assert_int_equal(wait, 1);
    assert_true(tk_throttle_fail(t, "203.0.113.9", 10 * S + S / 2, &wait));
    assert_int_equal(wait, 1); /* half a second: rounded up */
    /* another address is untouched */
    assert_false(tk_throttle_fail(t, "203.0.113.10", 10 * S, &wait));
    /* one failure earned back per second */
    assert_false(tk_throttle_fail(t, "203.0.113.9", 11 * S + 1, &wait));
    assert_true(tk_throttle_fail(t, "203.0.113.9", 11 * S + 2, &wait));
    tk_throttle_free(t);
}

static void off_and_null_never_throttle(void **state)
{
    (void)state;
    unsigned wait = 0;
    assert_false(tk_throttle_fail(NULL, "a", 0, &wait));
    struct tk_throttle *t = tk_throttle_new(0, 1.0);
    for (int i = 0; i < 100; i++)
        assert_false(tk_throttle_fail(t, "a", 0, &wait));
    tk_throttle_free(t);
    tk_throttle_free(NULL);
}

static void slow_refill_gives_a_long_retry_after(void **state)
{
    (void)state;
    struct tk_throttle *t = tk_throttle_new(1, 0.1); /* one back every 10 s */
    unsigned wait = 0;
    assert_false(tk_throttle_fail(t, "::1", 0, &wait));
    assert_true(tk_throttle_fail(t, "::1", 0, &wait));
    assert_int_equal(wait, 10);
    tk_throttle_free(t);
}

static void addresses_never_share_a_bucket(void **state)
{
    (void)state;
    /* More addresses than the table holds, each failing once: with a burst of 2 none of them
     * may be throttled (a shared bucket would be). */
    struct tk_throttle *t = tk_throttle_new(2, 0.001);
    unsigned wait = 0;
    char a[64];
    for (int i = 0; i < 3 * TK_THROTTLE_ADDRESSES; i++) {
        snprintf(a, sizeof(a), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        if (tk_throttle_fail(t, a, S, &wait))
            fail_msg("%s throttled on its first failure", a);
    }
    tk_throttle_free(t);
}

static void a_spent_bucket_survives_pressure(void **state)
{
    (void)state;
    struct tk_throttle *t = tk_throttle_new(5, 0.001);
    unsigned wait = 0;
    for (int i = 0; i < 5; i++)
        assert_false(tk_throttle_fail(t, "198.51.100.7", S, &wait));
    char a[64];
    for (int i = 0; i < 4 * TK_THROTTLE_ADDRESSES; i++) {
        snprintf(a, sizeof(a), "2001:db8::%x:%x", i >> 16, i & 0xffff);
        (void)tk_throttle_fail(t, a, S, &wait);
    }
    /* the others still had tokens left: they were the ones forgotten */
    assert_true(tk_throttle_fail(t, "198.51.100.7", S, &wait));
    tk_throttle_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_throttled_then_refilled),
        cmocka_unit_test(off_and_null_never_throttle),
        cmocka_unit_test(slow_refill_gives_a_long_retry_after),
        cmocka_unit_test(addresses_never_share_a_bucket),
        cmocka_unit_test(a_spent_bucket_survives_pressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
