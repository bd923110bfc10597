/* Unit tests for src/api/token_cache.c: a row serves only for the snapshot (connection and
 * version) it was kept for, and only under its own identifier; what get hands out is the
 * caller's copy (a later put does not change it); a row without a managed name comes back
 * without one; version 0 keeps and serves nothing. A page serves only its query string, its
 * caller's visibility and its snapshot, empty pages included; large pages and long query
 * strings are not kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/token_cache.h"

static struct tk_token row(const char *identifier, const char *description, const char *managed)
{
    struct tk_token t;
    memset(&t, 0, sizeof(t));
    t.id = 42;
    snprintf(t.uuid, sizeof(t.uuid), "%s", "0b7cd4f3-5c3e-4f8e-9d1e-0a1b2c3d4e5f");
    t.identifier = identifier;
    t.intent = "api";
    t.description = description;
    t.managed = managed;
    t.user_id = 7;
    t.has_expires = true;
    t.expires = 1700000000000000;
    t.expiring = true;
    return t;
}

static void serves_its_snapshot_only(void **state)
{
    (void)state;
    struct tk_arena *a = tk_arena_new(1 << 20);
    struct tk_store_snapshot s = {.conn = 3, .version = 10};
    struct tk_token t = row("tok-a", "first", NULL), got;
    tk_token_cache_put(&s, &t);
    assert_true(tk_token_cache_get(&s, "tok-a", a, &got));
    assert_string_equal(got.identifier, "tok-a");
    assert_string_equal(got.description, "first");
    assert_string_equal(got.intent, "api");
    assert_string_equal(got.uuid, t.uuid);
    assert_null(got.managed);
    assert_null(got.user);
    assert_int_equal(got.user_id, 7);
    assert_int_equal(got.expires, t.expires);
    assert_true(got.has_expires && got.expiring);
    /* another version, another connection, another identifier: nothing */
    struct tk_store_snapshot later = {.conn = 3, .version = 11}, other = {.conn = 4, .version = 10};
    assert_false(tk_token_cache_get(&later, "tok-a", a, &got));
    assert_false(tk_token_cache_get(&other, "tok-a", a, &got));
    assert_false(tk_token_cache_get(&s, "tok-b", a, &got));
    assert_false(tk_token_cache_get(&s, "tok-", a, &got));
    /* version 0: not kept, never served */
    struct tk_store_snapshot none = {.conn = 3, .version = 0};
    struct tk_token z = row("tok-z", "zero", NULL);
    tk_token_cache_put(&none, &z);
    assert_false(tk_token_cache_get(&none, "tok-z", a, &got));
    assert_false(tk_token_cache_get(&s, "tok-z", a, &got));
    tk_arena_free(a);
}

static void a_copy_outlives_the_next_put(void **state)
{
    (void)state;
    struct tk_arena *a = tk_arena_new(1 << 20);
    struct tk_store_snapshot s = {.conn = 1, .version = 5};
    struct tk_token t = row("tok-m", "short", "goauthentik.io/managed"), got, again;
    tk_token_cache_put(&s, &t);
    assert_true(tk_token_cache_get(&s, "tok-m", a, &got));
    assert_string_equal(got.managed, "goauthentik.io/managed");
    /* the same slot rewritten, longer and shorter: the first copy is untouched */
    char longer[300];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    struct tk_token u = row("tok-m", longer, NULL);
    tk_token_cache_put(&s, &u);
    assert_string_equal(got.description, "short");
    assert_string_equal(got.managed, "goauthentik.io/managed");
    assert_true(tk_token_cache_get(&s, "tok-m", a, &again));
    assert_string_equal(again.description, longer);
    assert_null(again.managed);
    tk_arena_free(a);
}

static void many_rows_each_under_its_name(void **state)
{
    (void)state;
    struct tk_arena *a = tk_arena_new(1 << 22);
    struct tk_store_snapshot s = {.conn = 2, .version = 9};
    char id[32], desc[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "tok-%05d", i);
        snprintf(desc, sizeof(desc), "d%d", i);
        struct tk_token t = row(id, desc, NULL);
        tk_token_cache_put(&s, &t);
    }
    /* whatever a slot holds now, it answers only for its own identifier, with its own row */
    int served = 0;
    for (int i = 0; i < 5000; i++) {
        struct tk_token got;
        snprintf(id, sizeof(id), "tok-%05d", i);
        if (!tk_token_cache_get(&s, id, a, &got))
            continue;
        served++;
        snprintf(desc, sizeof(desc), "d%d", i);
        assert_string_equal(got.identifier, id);
        assert_string_equal(got.description, desc);
    }
    assert_true(served > 0 && served < 5000);
    tk_arena_free(a);
}

static void pages_by_query_and_caller(void **state)
{
    (void)state;
    struct tk_arena *a = tk_arena_new(1 << 22);
    struct tk_store_snapshot s = {.conn = 2, .version = 4};
    struct tk_token page[3] = {row("tok-1", "one", NULL), row("tok-2", "two", "m"),
                               row("tok-3", "three", NULL)};
    const char *q = "page_size=3&ordering=identifier";
    tk_token_cache_page_put(&s, 0, q, strlen(q), 41, page, 3);
    int64_t count = 0;
    struct tk_token *got = NULL;
    size_t n = 0;
    assert_true(tk_token_cache_page_get(&s, 0, q, strlen(q), a, &count, &got, &n));
    assert_int_equal(count, 41);
    assert_int_equal(n, 3);
    assert_string_equal(got[0].identifier, "tok-1");
    assert_string_equal(got[1].managed, "m");
    assert_string_equal(got[2].description, "three");
    assert_null(got[1].user);
    /* another caller (a user who sees only their own), another query, another snapshot */
    assert_false(tk_token_cache_page_get(&s, 7, q, strlen(q), a, &count, &got, &n));
    assert_false(tk_token_cache_page_get(&s, 0, q, strlen(q) - 1, a, &count, &got, &n));
    struct tk_store_snapshot later = {.conn = 2, .version = 5};
    assert_false(tk_token_cache_page_get(&later, 0, q, strlen(q), a, &count, &got, &n));
    /* an empty page (a filter that matches nothing) is a page too */
    const char *none = "identifier=nothing-here";
    tk_token_cache_page_put(&s, 7, none, strlen(none), 0, NULL, 0);
    assert_true(tk_token_cache_page_get(&s, 7, none, strlen(none), a, &count, &got, &n));
    assert_int_equal(count, 0);
    assert_int_equal(n, 0);
    /* the rows of a single-row cache are not a page, nor a page's rows single rows */
    assert_false(tk_token_cache_page_get(&s, 0, "tok-1", 5, a, &count, &got, &n));
    struct tk_token one;
    assert_false(tk_token_cache_get(&s, q, a, &one));
    tk_arena_free(a);
}

static void large_pages_and_long_queries_are_not_kept(void **state)
{
    (void)state;
    struct tk_arena *a = tk_arena_new(1 << 22);
    struct tk_store_snapshot s = {.conn = 3, .version = 8};
    struct tk_token big[TK_MAX_CACHED_PAGE_ROWS + 1];
    for (size_t i = 0; i < TK_MAX_CACHED_PAGE_ROWS + 1; i++)
        big[i] = row("tok-big", "b", NULL);
    const char *q = "page_size=101";
    tk_token_cache_page_put(&s, 0, q, strlen(q), 500, big, TK_MAX_CACHED_PAGE_ROWS + 1);
    int64_t count;
    struct tk_token *got;
    size_t n;
    assert_false(tk_token_cache_page_get(&s, 0, q, strlen(q), a, &count, &got, &n));
    tk_token_cache_page_put(&s, 0, q, strlen(q), 500, big, TK_MAX_CACHED_PAGE_ROWS);
    assert_true(tk_token_cache_page_get(&s, 0, q, strlen(q), a, &count, &got, &n));
    assert_int_equal(n, TK_MAX_CACHED_PAGE_ROWS);
    char longq[TK_MAX_CACHED_QUERY_BYTES + 2];
    memset(longq, 'q', sizeof(longq) - 1);
    longq[sizeof(longq) - 1] = '\0';
    tk_token_cache_page_put(&s, 0, longq, strlen(longq), 1, big, 1);
    assert_false(tk_token_cache_page_get(&s, 0, longq, strlen(longq), a, &count, &got, &n));
    tk_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_its_snapshot_only),
        cmocka_unit_test(a_copy_outlives_the_next_put),
        cmocka_unit_test(many_rows_each_under_its_name),
        cmocka_unit_test(pages_by_query_and_caller),
        cmocka_unit_test(large_pages_and_long_queries_are_not_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
