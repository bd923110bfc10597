/* Authorization header parsing (src/domain/auth.c, docs/api.md §3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/auth.h"

static enum tk_auth_kind parse(const char *h, char *cred)
{
    const char *c = NULL;
    size_t n = 0;
    enum tk_auth_kind k = tk_auth_parse(h, h ? strlen(h) : 0, &c, &n);
    cred[0] = '\0';
    if (k == TK_AUTH_BEARER) {
        memcpy(cred, c, n);
        cred[n] = '\0';
    }
    return k;
}

static void test_no_credentials(void **state)
{
    char c[256];
    assert_int_equal(parse(NULL, c), TK_AUTH_NONE);
    assert_int_equal(parse("", c), TK_AUTH_NONE);
    assert_int_equal(parse("Bearer", c), TK_AUTH_NONE);
    assert_int_equal(parse("Bearer   ", c), TK_AUTH_NONE);
    assert_int_equal(parse("   Bearer", c), TK_AUTH_NONE);
    assert_int_equal(parse("Bearer\tabc", c), TK_AUTH_NONE); /* tab is no space */
}

static void test_schemes(void **state)
{
    char c[256];
    assert_int_equal(parse("Bearer abc", c), TK_AUTH_BEARER);
    assert_string_equal(c, "abc");
    assert_int_equal(parse("bearer abc", c), TK_AUTH_BEARER);
    assert_int_equal(parse("BEARER abc", c), TK_AUTH_BEARER);
    assert_int_equal(parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l", c), TK_AUTH_UNSUPPORTED);
    assert_int_equal(parse("Token abc", c), TK_AUTH_UNSUPPORTED);
    assert_int_equal(parse("Bearerx abc", c), TK_AUTH_UNSUPPORTED);
}

static void test_credential_not_trimmed_inside(void **state)
{
    char c[256];
    assert_int_equal(parse("Bearer  abc", c), TK_AUTH_BEARER);
    assert_string_equal(c, " abc");
    assert_int_equal(parse("  Bearer abc  ", c), TK_AUTH_BEARER);
    assert_string_equal(c, "abc");
    assert_int_equal(parse("Bearer a b", c), TK_AUTH_BEARER);
    assert_string_equal(c, "a b");
}

static void test_malformed_bytes(void **state)
{
    char c[256];
    assert_int_equal(parse("Bearer \xff\xfe", c), TK_AUTH_MALFORMED);
    const char with_nul[] = "Bearer a\0b";
    const char *cred;
    size_t n;
    assert_int_equal(tk_auth_parse(with_nul, sizeof(with_nul) - 1, &cred, &n), TK_AUTH_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_credentials),
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_credential_not_trimmed_inside),
        cmocka_unit_test(test_malformed_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
