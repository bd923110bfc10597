/* Unit tests for the logging helpers of src/http/server.c: sensitive query values are masked
 * (names decoded, compared case-insensitively), the target is cut at the bound, and only
 * safe X-Request-Id values are kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

#define M "********************"

static void check_mask(const char *target, size_t max, const char *want)
{
    struct tk_buf b;
    tk_buf_init(&b, 1 << 16);
    tk_http_mask_target(&b, target, strlen(target), max);
    assert_int_equal(b.err, 0);
    assert_string_equal(b.data ? b.data : "", want);
    tk_buf_free(&b);
}

static void masks_sensitive_query_values(void **state)
{
    (void)state;
    check_mask("/a/", 100, "/a/");
    check_mask("/a/?", 100, "/a/?");
    check_mask("/a/?page=2&key=abc", 100, "/a/?page=2&key=" M);
    check_mask("/a/?KEY=abc&x_Token=1&client_secret=&Password=p&api=1", 200,
               "/a/?KEY=" M "&x_Token=" M "&client_secret=" M "&Password=" M "&api=" M);
    check_mask("/a/?pass%77ord=p&k%65y=v&au%74h=z&a+uth=z", 100,
               "/a/?pass%77ord=" M "&k%65y=" M "&au%74h=" M "&a+uth=z");
    check_mask("/a/?search=key&key&=v&&ordering=-created", 100,
               "/a/?search=key&key&=v&&ordering=-created");
    check_mask("/a/?x=1&key=secretvalue", 12, "/a/?x=1&key=" M);
}

static void long_parameter_names_are_masked(void **state)
{
    (void)state;
    char t[1200] = "/?";
    memset(t + 2, 'a', 1000);
    memcpy(t + 1002, "=v", 3);
    struct tk_buf b;
    tk_buf_init(&b, 1 << 16);
    tk_http_mask_target(&b, t, strlen(t), 2048);
    assert_non_null(strstr(b.data, "=" M));
    assert_null(strstr(b.data, "=v"));
    tk_buf_free(&b);
}

static void request_ids(void **state)
{
    (void)state;
    assert_true(tk_http_request_id_valid("abc-DEF_0.9:+=@/", 16));
    char id[TK_REQUEST_ID_MAX + 2];
    memset(id, 'a', sizeof(id));
    assert_true(tk_http_request_id_valid(id, TK_REQUEST_ID_MAX));
    assert_false(tk_http_request_id_valid(id, TK_REQUEST_ID_MAX + 1));
    assert_false(tk_http_request_id_valid("", 0));
    assert_false(tk_http_request_id_valid("a b", 3));
    assert_false(tk_http_request_id_valid("a\"b", 3));
    assert_false(tk_http_request_id_valid("a\nb", 3));
    assert_false(tk_http_request_id_valid("\xc3\xa9", 2));
    assert_false(tk_http_request_id_valid("a\0b", 3));
}

static void listen_check_names_the_setting(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(
        tk_http_listen_check("127.0.0.1:9300", "TOKEND_METRICS_LISTEN", err, sizeof(err)), 0);
    assert_int_equal(tk_http_listen_check("[::1]:0", "X", err, sizeof(err)), 0);
    assert_int_equal(tk_http_listen_check("9300", "TOKEND_METRICS_LISTEN", err, sizeof(err)),
                     TK_ERR_INVALID);
    assert_non_null(strstr(err, "TOKEND_METRICS_LISTEN"));
    assert_int_equal(tk_http_listen_check("host:1", "TOKEND_METRICS_LISTEN", err, sizeof(err)),
                     TK_ERR_INVALID);
    assert_int_equal(tk_http_listen_check("1.2.3.4:70000", "S", err, sizeof(err)), TK_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masks_sensitive_query_values),
        cmocka_unit_test(long_parameter_names_are_masked),
        cmocka_unit_test(request_ids),
        cmocka_unit_test(listen_check_names_the_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
