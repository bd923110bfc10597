/* The request-value rules of src/domain/validate.c, as Django applies them behind authentik's
 * serializers: validate_slug (token identifiers), EmailValidator (users' e-mail) and slugify
 * (the identifier of a service account's app password). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "domain/validate.h"

static void test_slug(void **state)
{
    assert_true(tk_is_slug("alice-ci_2"));
    assert_true(tk_is_slug("A"));
    assert_false(tk_is_slug(""));
    assert_false(tk_is_slug("with space"));
    assert_false(tk_is_slug("dot.ted"));
    assert_false(tk_is_slug("caf\xc3\xa9")); /* Django's slug is ASCII without allow_unicode */
}

static void test_email(void **state)
{
    const char *good[] = {"a@example.com",
                          "first.last+tag@sub.example.org",
                          "root@localhost",
                          "\"quoted name\"@example.com",
                          "x@[127.0.0.1]",
                          "o'hara@example.co",
                          "u@xn--bcher-kva.ch",
                          "u@b\xc3\xbc"
                          "cher.ch"};
    const char *bad[] = {"",          "plain",       "@example.com",   "a@",
                         "a@b",       "a..b@ex.com", ".a@example.com", "a.@example.com",
                         "a@-ex.com", "a@ex-.com",   "a@ex.c",         "a b@example.com",
                         "a@ex..com", "a@ex.com-"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(tk_email_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(tk_email_valid(bad[i]));
}

static void test_slugify(void **state)
{
    struct tk_arena *a = tk_arena_new(1 << 16);
    assert_non_null(a);
    assert_string_equal(tk_slugify(a, "service-account-Build Bot-password"),
                        "service-account-build-bot-password");
    assert_string_equal(tk_slugify(a, "  --Caf\xc3\xa9 \xc5\x81\xc3\xb3"
                                      "d\xc5\xba!!__ "),
                        "cafe-lodz");
    assert_string_equal(tk_slugify(a, "a  -  b"), "a-b");
    assert_string_equal(tk_slugify(a, "\xe2\x98\x83"), ""); /* nothing ASCII is left */
    tk_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slug),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_slugify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
