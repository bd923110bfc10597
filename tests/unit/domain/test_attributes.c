/* Attribute merge and the rules read from it (src/domain/attributes.c, docs/api.md §6.2 rule 4,
 * §6.3, §12.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/attributes.h"
#include "util/time.h"

static char *merged(const char *const *texts, size_t n)
{
    json_t *m = tk_attributes_merged(texts, n);
    assert_non_null(m);
    char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    return s;
}

static void test_merge_order_and_depth(void **state)
{
    const char *texts[] = {
        "{\"a\":1,\"obj\":{\"x\":1,\"y\":1},\"list\":[1]}", /* group "a..." */
        "{\"a\":2,\"obj\":{\"y\":2},\"list\":[2]}",         /* group "b..." */
        "not json",                                         /* skipped */
        "[1,2]",                                            /* not an object: skipped */
        "{\"obj\":{\"z\":3},\"list\":\"scalar wins\"}",     /* the user's own */
    };
    char *s = merged(texts, 5);
    assert_string_equal(s, "{\"a\":2,\"list\":\"scalar wins\",\"obj\":{\"x\":1,\"y\":2,\"z\":3}}");
    free(s);
    const char *lists[] = {"{\"l\":[1,2]}", "{\"l\":[2,3]}"};
    s = merged(lists, 2);
    assert_string_equal(s, "{\"l\":[1,2,2,3]}"); /* arrays concatenate */
    free(s);
    s = merged(NULL, 0);
    assert_string_equal(s, "{}");
    free(s);
}

static int64_t max_for(const char *attrs, int64_t now, int64_t def)
{
    json_t *a = json_loads(attrs, 0, NULL);
    assert_non_null(a);
    int64_t r = tk_app_password_max_expiry(a, now, def);
    json_decref(a);
    return r;
}

static void test_max_lifetime(void **state)
{
    const int64_t now = 1727447178082123LL, def = 30LL * 60 * 1000000;
    const int64_t hour = 3600LL * 1000000;
    assert_int_equal(max_for("{}", now, def), now + def);
    assert_int_equal(
        max_for("{\"goauthentik.io/user/token-maximum-lifetime\":\"hours=1\"}", now, def),
        now + hour);
    assert_int_equal(
        max_for("{\"goauthentik.io/user/token-maximum-lifetime\":\"days=1;hours=-1\"}", now, def),
        now + 23 * hour);
    /* unparsable or not a string: the default duration */
    assert_int_equal(
        max_for("{\"goauthentik.io/user/token-maximum-lifetime\":\"hours:1\"}", now, def),
        now + def);
    assert_int_equal(max_for("{\"goauthentik.io/user/token-maximum-lifetime\":3600}", now, def),
                     now + def);
    assert_int_equal(max_for("{\"goauthentik.io/user/token-maximum-lifetime\":null}", now, def),
                     now + def);
    /* saturates instead of overflowing */
    assert_int_equal(
        max_for("{\"goauthentik.io/user/token-maximum-lifetime\":\"weeks=500000\"}", now, def),
        TK_TIME_MAX_US);
}

static void test_message_format(void **state)
{
    /* "Token expires exceeds maximum lifetime (<python str> UTC)." uses tk_time_format_py */
    char ts[TK_TIME_BUFSZ];
    tk_time_format_py(1727454378082123LL, ts);
    assert_string_equal(ts, "2024-09-27 16:26:18.082123+00:00");
    tk_time_format_py(1727454378000000LL, ts);
    assert_string_equal(ts, "2024-09-27 16:26:18+00:00");
}

static void test_token_expiring_attribute(void **state)
{
    assert_true(tk_attributes_token_expiring("{}"));
    assert_true(tk_attributes_token_expiring("not json"));
    assert_false(tk_attributes_token_expiring("{\"goauthentik.io/user/token-expires\":false}"));
    assert_true(tk_attributes_token_expiring("{\"goauthentik.io/user/token-expires\":true}"));
    assert_false(tk_attributes_token_expiring("{\"goauthentik.io/user/token-expires\":0}"));
    assert_false(tk_attributes_token_expiring("{\"goauthentik.io/user/token-expires\":\"\"}"));
    assert_true(tk_attributes_token_expiring("{\"goauthentik.io/user/token-expires\":\"no\"}"));
    assert_false(tk_attributes_token_expiring("{\"goauthentik.io/user/token-expires\":null}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_order_and_depth),
        cmocka_unit_test(test_max_lifetime),
        cmocka_unit_test(test_message_format),
        cmocka_unit_test(test_token_expiring_attribute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
