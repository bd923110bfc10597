/* Memory that held a key is zeroed before it is freed (issue 13.8): a tk_buf marked wipe, as it
 * grows and when freed, and every block jansson frees (a set_key body's key sits in a parsed
 * string and in the parser's buffers). Seen through the debug build's free hook (util/alloc.h),
 * which looks at each block just before free(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/alloc.h"
#include "util/buf.h"

#define SECRET "wipe-test-key-Zq8vN3xT7LmR2pWc5YhK9sJd4FgB6uAe"

static atomic_long freed_blocks, freed_with_secret;

static void watch(const void *p, size_t size)
{
    atomic_fetch_add(&freed_blocks, 1);
    if (memmem(p, size, SECRET, strlen(SECRET)) != NULL)
        atomic_fetch_add(&freed_with_secret, 1);
}

static int setup(void **state)
{
    (void)state;
    tk_alloc_init();
    atomic_store(&freed_blocks, 0);
    atomic_store(&freed_with_secret, 0);
    tk_alloc_set_free_hook(watch);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tk_alloc_set_free_hook(NULL);
    return 0;
}

static void the_hook_sees_what_it_looks_for(void **state)
{
    (void)state;
    char *p = tk_strdup("before " SECRET " after"); /* a plain free leaves it in place */
    assert_non_null(p);
    tk_free(p);
    assert_int_equal(atomic_load(&freed_blocks), 1);
    assert_int_equal(atomic_load(&freed_with_secret), 1);
}

static void a_wipe_buffer_leaves_no_copy_behind(void **state)
{
    (void)state;
    struct tk_buf b;
    tk_buf_init(&b, 1 << 20);
    b.wipe = true;
    /* 256, 512, ... 16 KiB: every growth moves the key and frees the old block */
    for (int i = 0; i < 300; i++)
        assert_int_equal(tk_buf_puts(&b, SECRET), 0);
    assert_non_null(memmem(b.data, b.len, SECRET, strlen(SECRET)));
    long grown = atomic_load(&freed_blocks);
    assert_true(grown >= 6);
    tk_buf_reset(&b);
    assert_int_equal(tk_buf_puts(&b, SECRET), 0);
    tk_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(atomic_load(&freed_blocks), grown + 1);
    assert_int_equal(atomic_load(&freed_with_secret), 0);
}

static void taken_storage_is_freed_wiped(void **state)
{
    (void)state;
    struct tk_buf b;
    tk_buf_init(&b, 4096);
    b.wipe = true;
    assert_int_equal(tk_buf_puts(&b, "{\"key\":\"" SECRET "\"}"), 0);
    size_t len = 0;
    char *p = tk_buf_take(&b, &len);
    assert_non_null(p);
    tk_free_wiped(p); /* how the HTTP layer frees a response body marked wipe */
    tk_free_wiped(NULL);
    assert_int_equal(atomic_load(&freed_blocks), 1);
    assert_int_equal(atomic_load(&freed_with_secret), 0);
}

static void jansson_frees_wiped(void **state)
{
    (void)state;
    /* long enough for the parser's string buffer to grow (malloc, copy, free) several times */
    struct tk_buf body;
    tk_buf_init(&body, 1 << 20);
    tk_buf_puts(&body, "{\"key\": \"");
    for (int i = 0; i < 40; i++)
        tk_buf_puts(&body, SECRET);
    tk_buf_puts(&body, "\", \"other\": [\"" SECRET "\"]}");
    assert_int_equal(body.err, 0);
    json_error_t err;
    json_t *v = json_loadb(body.data, body.len, 0, &err);
    tk_buf_free(&body); /* not a wipe buffer: plain free(), not seen by the hook */
    assert_non_null(v);
    assert_non_null(strstr(json_string_value(json_object_get(v, "key")), SECRET));
    json_decref(v);
    assert_true(atomic_load(&freed_blocks) >= 4);
    assert_int_equal(atomic_load(&freed_with_secret), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_hook_sees_what_it_looks_for, setup, teardown),
        cmocka_unit_test_setup_teardown(a_wipe_buffer_leaves_no_copy_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(taken_storage_is_freed_wiped, setup, teardown),
        cmocka_unit_test_setup_teardown(jansson_frees_wiped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
