/* Python-compatible formatting used in DRF messages (src/api/body.c) and the audit log's
 * sensitive-name rule (src/api/audit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/audit.h"
#include "api/body.h"

static void repr(double d, const char *want)
{
    char out[32];
    tk_py_float_repr(d, out);
    assert_string_equal(out, want);
}

static void test_float_repr(void **state)
{
    repr(1.0, "1.0");
    repr(1.5, "1.5");
    repr(0.1, "0.1");
    repr(-2.25, "-2.25");
    repr(100.0, "100.0");
    repr(1e16, "1e+16");
    repr(1e15, "1000000000000000.0");
    repr(1.5e-5, "1.5e-05");
    repr(0.0001, "0.0001");
    repr(123456789012345678.0, "1.2345678901234568e+17");
    repr(1e300, "1e+300");
    repr(0.0, "0.0");
}

static void py(const char *json, const char *want)
{
    struct tk_arena *a = tk_arena_new(1 << 20);
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    assert_string_equal(tk_py_str(a, v), want);
    json_decref(v);
    tk_arena_free(a);
}

static void test_py_str(void **state)
{
    py("true", "True");
    py("false", "False");
    py("null", "None");
    py("12", "12");
    py("2.50", "2.5");
    py("\"text\"", "text");
    py("[\"a\", 1, true, null]", "['a', 1, True, None]");
    py("{\"k\": \"it's\"}", "{'k': \"it's\"}");
    py("[]", "[]");
}

static void test_sensitive_names(void **state)
{
    assert_true(tk_audit_sensitive("token", 5));
    assert_true(tk_audit_sensitive("api_key", 7));
    assert_true(tk_audit_sensitive("Password", 8));
    assert_true(tk_audit_sensitive("client_secret", 13));
    assert_true(tk_audit_sensitive("signature", 9));
    assert_true(tk_audit_sensitive("authorization", 13));
    assert_false(tk_audit_sensitive("passing", 7));
    assert_false(tk_audit_sensitive("page", 4));
    assert_false(tk_audit_sensitive("search", 6));
    assert_false(tk_audit_sensitive("ordering", 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_repr),
        cmocka_unit_test(test_py_str),
        cmocka_unit_test(test_sensitive_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
