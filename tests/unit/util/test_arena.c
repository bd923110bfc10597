/* Unit tests for src/util/arena.c: the growing-array helper keeps its elements and its room,
 * and respects the arena's byte cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/arena.h"

static void reserve_grows_by_doubling_and_keeps_elements(void **state)
{
    (void)state;
    struct tk_arena *a = tk_arena_new(1 << 20);
    assert_non_null(a);
    size_t cap = 0, n = 0;
    int64_t *v = NULL;
    for (int64_t i = 0; i < 1000; i++) {
        int64_t *room = tk_arena_reserve(a, v, n, &cap, sizeof(*v));
        assert_non_null(room);
        assert_true(n < cap);
        if (n < 8)
            assert_int_equal(cap, 8);
        v = room;
        v[n++] = i * 7;
    }
    assert_int_equal(cap, 1024);
    for (int64_t i = 0; i < 1000; i++)
        assert_int_equal(v[i], i * 7);
    /* while there is room the same array comes back */
    assert_ptr_equal(tk_arena_reserve(a, v, 1000, &cap, sizeof(*v)), v);
    tk_arena_free(a);
}

static void reserve_fails_cleanly_past_the_arena_cap(void **state)
{
    (void)state;
    struct tk_arena *a = tk_arena_new(4096);
    assert_non_null(a);
    size_t cap = 0, n = 0;
    char *v = NULL, *room;
    while ((room = tk_arena_reserve(a, v, n, &cap, 1)) != NULL) {
        v = room;
        v[n++] = 'x';
    }
    /* the failed call left the array and its capacity as they were */
    assert_true(n > 0);
    assert_int_equal(n, cap);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i], 'x');
    tk_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve_grows_by_doubling_and_keeps_elements),
        cmocka_unit_test(reserve_fails_cleanly_past_the_arena_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
