/* Unit tests for src/config.c's display helpers: tk_config_mask_url hides every password form
 * a database URL or libpq string can carry, and never writes past the buffer it is given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static void check_mask(const char *in, const char *want)
{
    char got[512], a[1024], b[1024];
    tk_config_mask_url(in, got, sizeof(got));
    snprintf(a, sizeof(a), "%s -> %s", in, got);
    snprintf(b, sizeof(b), "%s -> %s", in, want);
    assert_string_equal(a, b);
}

static void test_mask_forms(void **state)
{
    (void)state;
    check_mask("sqlite:./var/tokend.db", "sqlite:./var/tokend.db");
    check_mask("postgres://u:pw@h:5432/db", "postgres://u:****@h:5432/db");
    check_mask("postgresql://u:p@ss@h/db", "postgresql://u:****@h/db");
    check_mask("postgres://u@h/db", "postgres://u@h/db");
    check_mask("postgres://u:@h/db", "postgres://u:****@h/db");
    check_mask("postgres://h/db?user=u&password=pw&sslmode=require",
               "postgres://h/db?user=u&password=****&sslmode=require");
    check_mask("postgres://h/a@b:c", "postgres://h/a@b:c"); /* '@' after the host: no userinfo */
    check_mask("host=h password=pw dbname=d", "host=h password=**** dbname=d");
    check_mask("password=pw", "password=****");
    check_mask("host=h password = 'p w\\' x' dbname=d", "host=h password=**** dbname=d");
    check_mask("host=h mypassword=x", "host=h mypassword=x"); /* another keyword */
    check_mask("", "");
}

static void test_mask_truncates_within_the_buffer(void **state)
{
    (void)state;
    const char *in = "postgres://user:secret@host/db";
    for (size_t len = 1; len < 40; len++) {
        char buf[64];
        memset(buf, 'X', sizeof(buf));
        tk_config_mask_url(in, buf, len);
        assert_true(strlen(buf) < len);
        assert_int_equal(buf[len], 'X'); /* nothing written past len */
        assert_null(strstr(buf, "secret"));
        assert_null(strstr(buf, "secr"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_forms),
        cmocka_unit_test(test_mask_truncates_within_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
