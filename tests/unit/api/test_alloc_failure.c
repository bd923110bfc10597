/* Allocation failure (issue 7): the Nth allocation of a request fails, for every N the request
 * makes; each failure must become one well-formed error answer (a 503 whose body is exactly
 * {"detail": "..."}), never a crash, never a body that mixes an error with a page, and leak
 * nothing (LeakSanitizer checks at exit). Walks token creates and lists (with and without
 * failing filters), a user create and a set_key through the in-process request path, which
 * ends in the server's own response path (tk_response_finish). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <jansson.h>

#include "inproc.h"
#include "util/alloc.h"

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

/* Is the body one JSON value (or empty), and a 503's exactly {"detail": "<text>"}? An answer
 * that went on after writing an error would carry two values ({"detail":...}{"pagination":...}). */
static bool one_answer(const struct inproc_res *r)
{
    if (r->body[0] == '\0')
        return r->status != 503;
    json_error_t e;
    json_t *v = json_loads(r->body, JSON_DECODE_ANY, &e);
    bool ok = v != NULL;
    if (ok && r->status == 503)
        ok = json_is_object(v) && json_object_size(v) == 1 &&
             json_is_string(json_object_get(v, "detail"));
    json_decref(v);
    return ok;
}

/* Runs the request with the nth allocation failing, for n = 1.. until a run no longer reaches
 * the nth allocation; returns how many failure points were walked. make_body(n) gives each run
 * its own body (identifiers must not collide with a run that succeeded). */
static long walk(const char *method, const char *path, const char *query,
                 const char *(*make_body)(long n), int ok_status)
{
    long n;
    for (n = 1; n < 100000; n++) {
        /* A write first retires the per-thread caches (principals, rendered users): every run
         * takes the cold path, whose allocations are the ones to walk. */
        static long colds;
        char cold[96];
        int cold_len = snprintf(cold, sizeof(cold), "{\"identifier\":\"cold-%ld\"}", ++colds);
        struct inproc_res w =
            inproc_call(&P, "POST", "/api/v3/core/tokens/", NULL, ADMIN, cold, (size_t)cold_len);
        assert_int_equal(w.status, 201);
        free(w.body);
        const char *body = make_body ? make_body(n) : NULL;
        tk_alloc_fail_at(n);
        struct inproc_res r =
            inproc_call(&P, method, path, query, ADMIN, body, body ? strlen(body) : 0);
        long used = tk_alloc_count();
        tk_alloc_fail_at(0);
        if (used < n) { /* the failure point was never reached: the request ran whole */
            assert_int_equal(r.status, ok_status);
            free(r.body);
            return n - 1;
        }
        if ((r.status != 503 && r.status != ok_status) || !one_answer(&r)) {
            fprintf(stderr, "%s %s?%s: allocation %ld failing gave %d %s\n", method, path,
                    query ? query : "", n, r.status, r.body);
            free(r.body);
            fail();
        }
        free(r.body);
    }
    fail_msg("the walk did not end");
    return n;
}

static char body_buf[256];

static const char *token_body(long n)
{
    snprintf(body_buf, sizeof(body_buf),
             "{\"identifier\":\"alloc-%ld\",\"intent\":\"app_password\",\"description\":\"d\","
             "\"expiring\":false,\"user\":1}",
             n);
    return body_buf;
}

static const char *user_body(long n)
{
    snprintf(body_buf, sizeof(body_buf),
             "{\"username\":\"alloc-user-%ld\",\"name\":\"A U\",\"attributes\":{\"k\":[1]}}", n);
    return body_buf;
}

static const char *key_body(long n)
{
    snprintf(body_buf, sizeof(body_buf), "{\"key\":\"new-key-%ld\"}", n);
    return body_buf;
}

static void test_create_token(void **state)
{
    long points = walk("POST", "/api/v3/core/tokens/", NULL, token_body, 201);
    assert_true(points > 10);
}

static void test_list_tokens(void **state)
{
    long points = walk("GET", "/api/v3/core/tokens/", "page_size=5&search=alloc", NULL, 200);
    assert_true(points > 10);
}

/* Filters that fail validation answer 400 with their field errors; every allocation failing on
 * the way (the error message built for the bad intent among them) is one 503. */
static void test_list_tokens_with_bad_filters(void **state)
{
    long points = walk("GET", "/api/v3/core/tokens/", "intent=bogus&page_size=5", NULL, 400);
    assert_true(points > 3);
    points = walk("GET", "/api/v3/core/tokens/",
                  "intent=nope&expires=never&identifier=x&ordering=-expires", NULL, 400);
    assert_true(points > 3);
    points = walk("GET", "/api/v3/core/tokens/", "intent=recovery&user__username=akadmin&page=2",
                  NULL, 404);
    assert_true(points > 3);
}

static void test_create_user(void **state)
{
    long points = walk("POST", "/api/v3/core/users/", NULL, user_body, 201);
    assert_true(points > 10);
}

static void test_set_key(void **state)
{
    struct inproc_res r = inproc_call(&P, "POST", "/api/v3/core/tokens/", NULL, ADMIN,
                                      "{\"identifier\":\"alloc-key\"}", 26);
    assert_int_equal(r.status, 201);
    free(r.body);
    long points = walk("POST", "/api/v3/core/tokens/alloc-key/set_key/", NULL, key_body, 204);
    assert_true(points > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_token),
        cmocka_unit_test(test_list_tokens),
        cmocka_unit_test(test_list_tokens_with_bad_filters),
        cmocka_unit_test(test_create_user),
        cmocka_unit_test(test_set_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
