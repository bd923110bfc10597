/* Token create/update validation through the real handlers on an in-memory store (docs/api.md §6):
 * field errors collected in field order, validator messages accumulating within a field, the
 * object rules in their order (run only when every field passed), and nothing written on a
 * 400. The black-box suite covers the same contract over HTTP; this pins it without a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "inproc.h"

static struct inproc P;
static const char *const ADMIN = "Bearer " INPROC_ADMIN_KEY;

static int setup(void **state)
{
    return inproc_open(&P);
}
static int teardown(void **state)
{
    inproc_close(&P);
    return 0;
}

static void expect(const char *method, const char *path, const char *body, int status,
                   const char *want)
{
    struct inproc_res r = inproc_call(&P, method, path, NULL, ADMIN, body, body ? strlen(body) : 0);
    if (r.status != status || (want && strcmp(r.body, want) != 0))
        fprintf(stderr, "%s %s %s\n  -> %d %s\n", method, path, body ? body : "", r.status, r.body);
    assert_int_equal(r.status, status);
    if (want)
        assert_string_equal(r.body, want);
    free(r.body);
}

static int64_t token_count(void)
{
    struct inproc_res r = inproc_call(&P, "GET", "/api/v3/core/tokens/", NULL, ADMIN, NULL, 0);
    assert_int_equal(r.status, 200);
    const char *c = strstr(r.body, "\"count\":");
    assert_non_null(c);
    int64_t n = strtoll(c + 8, NULL, 10);
    free(r.body);
    return n;
}

static void test_field_errors_in_field_order(void **state)
{
    int64_t before = token_count();
    expect("POST", "/api/v3/core/tokens/",
           "{\"expiring\":\"maybe\",\"expires\":5,\"description\":null,\"user\":true,"
           "\"intent\":\"bogus\",\"identifier\":\"\",\"managed\":\"\"}",
           400,
           "{\"managed\":[\"This field may not be blank.\"],"
           "\"identifier\":[\"This field may not be blank.\"],"
           "\"intent\":[\"\\\"bogus\\\" is not a valid choice.\"],"
           "\"user\":[\"Incorrect type. Expected pk value, received bool.\"],"
           "\"description\":[\"This field may not be null.\"],"
           "\"expires\":[\"Datetime has wrong format. Use one of these formats instead: "
           "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].\"],"
           "\"expiring\":[\"Must be a valid boolean.\"]}");
    assert_int_equal(token_count(), before);
}

static void test_validators_of_one_field_accumulate(void **state)
{
    char body[400];
    char ident[300];
    memset(ident, 'a', sizeof(ident) - 1);
    ident[sizeof(ident) - 1] = '\0';
    ident[3] = ' ';
    snprintf(body, sizeof(body), "{\"identifier\":\"%s\"}", ident);
    expect("POST", "/api/v3/core/tokens/", body, 400,
           "{\"identifier\":[\"Ensure this field has no more than 255 characters.\","
           "\"Enter a valid \\\"slug\\\" consisting of letters, numbers, underscores or "
           "hyphens.\"]}");
    expect("POST", "/api/v3/core/tokens/", "{\"identifier\":\"a\\u0000b\"}", 400,
           "{\"identifier\":[\"Null characters are not allowed.\",\"Enter a valid \\\"slug\\\" "
           "consisting of letters, numbers, underscores or hyphens.\"]}");
    expect("POST", "/api/v3/core/tokens/", "{}", 400,
           "{\"identifier\":[\"This field is required.\"]}");
}

static void test_object_rules_run_after_fields_and_in_order(void **state)
{
    /* rule 3 only when every field passed: a bad user hides the intent rule */
    expect("POST", "/api/v3/core/tokens/",
           "{\"identifier\":\"r3\",\"intent\":\"recovery\",\"user\":999}", 400,
           "{\"user\":[\"Invalid pk \\\"999\\\" - object does not exist.\"]}");
    expect("POST", "/api/v3/core/tokens/", "{\"identifier\":\"r3\",\"intent\":\"recovery\"}", 400,
           "{\"intent\":[\"Invalid intent recovery\"]}");
    /* rule 4: app password beyond the default maximum (30 minutes) */
    const char *ap = "{\"identifier\":\"ap\",\"intent\":\"app_password\","
                     "\"expires\":\"9999-01-01T00:00:00Z\"}";
    struct inproc_res r =
        inproc_call(&P, "POST", "/api/v3/core/tokens/", NULL, ADMIN, ap, strlen(ap));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "{\"expires\":[\"Token expires exceeds maximum lifetime ("));
    assert_non_null(strstr(r.body, "+00:00 UTC).\"]}"));
    free(r.body);
    /* rule 5: an api token's expiry is forced whatever is sent */
    const char *forced = "{\"identifier\":\"forced\",\"expires\":\"2001-01-01T00:00:00Z\"}";
    r = inproc_call(&P, "POST", "/api/v3/core/tokens/", NULL, ADMIN, forced, strlen(forced));
    assert_int_equal(r.status, 201);
    assert_null(strstr(r.body, "2001-01-01"));
    free(r.body);
}

static void test_update_keeps_what_was_not_sent(void **state)
{
    expect("POST", "/api/v3/core/tokens/",
           "{\"identifier\":\"keep\",\"intent\":\"app_password\",\"description\":\"d\"}", 201,
           NULL);
    expect("PATCH", "/api/v3/core/tokens/keep/", "{\"description\":\"e\"}", 200, NULL);
    struct inproc_res r = inproc_call(&P, "GET", "/api/v3/core/tokens/keep/", NULL, ADMIN, NULL, 0);
    assert_non_null(strstr(r.body, "\"intent\":\"app_password\""));
    assert_non_null(strstr(r.body, "\"description\":\"e\""));
    free(r.body);
    expect("PATCH", "/api/v3/core/tokens/keep/", "{\"user\":2}", 400,
           "{\"user\":[\"Invalid pk \\\"2\\\" - object does not exist.\"]}");
    expect("PUT", "/api/v3/core/tokens/keep/", "{\"description\":\"x\"}", 400,
           "{\"identifier\":[\"This field is required.\"]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_errors_in_field_order),
        cmocka_unit_test(test_validators_of_one_field_accumulate),
        cmocka_unit_test(test_object_rules_run_after_fields_and_in_order),
        cmocka_unit_test(test_update_keeps_what_was_not_sent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
