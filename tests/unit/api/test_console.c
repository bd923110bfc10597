/* Unit tests for src/api/console.c and the router's trailing "*": Accept-Encoding read as
 * RFC 9110 §12.5.3 says (q-values, "*", x-gzip, q=0 refusing), If-None-Match by weak
 * comparison, the embedded table sorted and found by path, and which paths the console's routes
 * take. The answers themselves are tested over HTTP, in tests/console. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/console.h"
#include "util/metrics.h"

static void accept_encoding(void **state)
{
    (void)state;
    static const struct {
        const char *ae;
        bool gzip;
    } cases[] = {
        {NULL, false},
        {"", false},
        {"identity", false},
        {"gzip", true},
        {"GZIP", true},
        {"x-gzip", true},
        {"gzip, deflate, br, zstd", true},
        {"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
        {"deflate, gzip;q=0", false},
        {"gzip;q=0.000", false},
        {"gzip ; q=0", false},
        {"gzip;Q=0", false},
        {"gzip;q=0.001", true},
        {"*", true},
        {"*;q=0", false},
        {"gzip;q=0, *", false}, /* named: its own q-value wins over "*" */
        {"*;q=0, gzip", true},
        {"gzipped", false},
        {"notgzip", false},
        {"deflate", false},
        {" ,, gzip ,", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (tk_console_accepts_gzip(cases[i].ae) != cases[i].gzip)
            fail_msg("Accept-Encoding \"%s\": expected %s", cases[i].ae ? cases[i].ae : "(none)",
                     cases[i].gzip ? "gzip" : "no gzip");
    }
}

static void if_none_match(void **state)
{
    (void)state;
    const char *etag = "\"abc123\"";
    assert_true(tk_console_etag_matches("\"abc123\"", etag));
    assert_true(tk_console_etag_matches("W/\"abc123\"", etag));
    assert_true(tk_console_etag_matches("\"x\", \"abc123\"", etag));
    assert_true(tk_console_etag_matches("\"x\",\"abc123\" ", etag));
    assert_true(tk_console_etag_matches("*", etag));
    assert_false(tk_console_etag_matches(NULL, etag));
    assert_false(tk_console_etag_matches("", etag));
    assert_false(tk_console_etag_matches("\"abc12\"", etag));
    assert_false(tk_console_etag_matches("\"abc123-gzip\"", etag));
    assert_false(tk_console_etag_matches("abc123", etag));
    assert_false(tk_console_etag_matches("\"x\", W/\"y\"", etag));
    assert_false(tk_console_etag_matches("\"abc123", etag)); /* unterminated */
}

static void table_sorted_and_found(void **state)
{
    (void)state;
    assert_true(tk_console_n_files >= 1);
    assert_int_equal(strlen(tk_console_build), 16);
    for (size_t i = 0; i < tk_console_n_files; i++) {
        const struct tk_console_file *f = &tk_console_files[i];
        if (i > 0)
            assert_true(strcmp(tk_console_files[i - 1].path, f->path) < 0);
        assert_ptr_equal(tk_console_find(f->path), f);
        assert_true(f->raw_len > 0);
        assert_true(f->gz_len < f->raw_len);
        assert_int_equal(strlen(f->etag), 34);
        assert_int_equal(strncmp(f->etag, f->etag_gz, 33), 0);
    }
    const struct tk_console_file *index = tk_console_find("index.html");
    assert_non_null(index);
    assert_string_equal(index->content_type, "text/html; charset=utf-8");
    assert_null(tk_console_find("no-such-file.js"));
    assert_null(tk_console_find(""));
    assert_null(tk_console_find("index.htm"));
}

static void dummy(struct tk_request *req, struct tk_response *res, void *ctx)
{
    (void)req;
    (void)res;
    (void)ctx;
}

/* The route a path lands on: "console", "root" (the redirects), "api", or "none"; *rest gets
 * the console's captured rest of the path. */
static const char *route_of(struct tk_router *r, const char *path, const char **rest)
{
    struct tk_request req = {0};
    req.arena = tk_arena_new(1u << 16);
    req.path = path;
    const struct tk_route *route = tk_router_match(r, &req);
    const char *name = "none";
    if (route != NULL) {
        unsigned m = tk_route_metric(route);
        name = m == tk_metrics_route("/if/admin/*")  ? "console"
               : m == tk_metrics_route("/api/v3/x/") ? "api"
                                                     : "root";
    }
    *rest = req.n_params > 0 ? req.params[0] : NULL;
    static char keep[256];
    if (*rest != NULL) {
        snprintf(keep, sizeof(keep), "%s", *rest);
        *rest = keep;
    }
    tk_arena_free(req.arena);
    return name;
}

static void routes(void **state)
{
    (void)state;
    struct tk_router *r = tk_router_new();
    assert_non_null(r);
    assert_int_equal(tk_router_add(r, "/api/v3/x/", "GET", dummy, NULL, NULL), 0);
    assert_int_equal(tk_console_register(r), 0);
    const char *rest = NULL;
    assert_string_equal(route_of(r, "/", &rest), "root");
    assert_string_equal(route_of(r, "/if/admin", &rest), "root");
    assert_string_equal(route_of(r, "/if/admin/", &rest), "console");
    assert_string_equal(rest, "");
    assert_string_equal(route_of(r, "/if/admin/0123456789abcdef/lib/a.js", &rest), "console");
    assert_string_equal(rest, "0123456789abcdef/lib/a.js");
    assert_string_equal(route_of(r, "/if/admin/tokens/a.b/", &rest), "console");
    assert_string_equal(rest, "tokens/a.b/");
    assert_string_equal(route_of(r, "/api/v3/x/", &rest), "api");
    assert_string_equal(route_of(r, "/api/v3/y/", &rest), "none");
    assert_string_equal(route_of(r, "//", &rest), "none");
    assert_string_equal(route_of(r, "/if/", &rest), "none");
    assert_string_equal(route_of(r, "/if/adminx/", &rest), "none");
    assert_string_equal(route_of(r, "/IF/admin/", &rest), "none");
    tk_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_encoding),
        cmocka_unit_test(if_none_match),
        cmocka_unit_test(table_sorted_and_found),
        cmocka_unit_test(routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
