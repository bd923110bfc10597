/* Unit tests for src/config.c's display helpers: tk_config_mask_url hides every password form
 * a database URL or libpq string can carry, and never writes past the buffer it is given; and
 * the parsing of TOKEND_STATEMENT_TIMEOUT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* TOKEND_STATEMENT_TIMEOUT: seconds with up to three decimals, kept in milliseconds. */
static void check_statement_timeout(const char *v, int want_ms)
{
    struct tk_config c;
    char err[256] = "";
    setenv("TOKEND_STATEMENT_TIMEOUT", v, 1);
    int rc = tk_config_from_env(&c, err, sizeof(err));
    unsetenv("TOKEND_STATEMENT_TIMEOUT");
    if (want_ms < 0) {
        assert_int_equal(rc, TK_ERR_INVALID);
        assert_non_null(strstr(err, "TOKEND_STATEMENT_TIMEOUT"));
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(c.statement_timeout_ms, want_ms);
}

static void test_statement_timeout(void **state)
{
    (void)state;
    struct tk_config c;
    char err[256];
    assert_int_equal(tk_config_from_env(&c, err, sizeof(err)), 0);
    assert_int_equal(c.statement_timeout_ms, 10000); /* the default */
    check_statement_timeout("10", 10000);
    check_statement_timeout("0", 0);
    check_statement_timeout("0.5", 500);
    check_statement_timeout("0.25", 250);
    check_statement_timeout("0.001", 1);
    check_statement_timeout("1.250", 1250);
    check_statement_timeout("007", 7000);
    check_statement_timeout("86400", 86400000);
    check_statement_timeout("86400.001", -1);
    check_statement_timeout("0.0001", -1);
    check_statement_timeout("1e3", -1);
    check_statement_timeout(" 1", -1);
    check_statement_timeout("+1", -1);
    check_statement_timeout("4294967.296", -1);
    check_statement_timeout("18446744073709551617", -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_forms),
        cmocka_unit_test(test_mask_truncates_within_the_buffer),
        cmocka_unit_test(test_statement_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
