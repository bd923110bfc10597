/* Query-string parsing as Django does it, and the list parameters built on it
 * (src/api/query.c, docs/api.md §8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/query.h"
#include "util/limits.h"

static struct tk_arena *arena;

static int setup(void **state)
{
    arena = tk_arena_new(1 << 24);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    tk_arena_free(arena);
    return 0;
}

static const char *val(const char *raw, const char *key, size_t *len)
{
    struct tk_query q;
    assert_int_equal(tk_query_parse(arena, raw, strlen(raw), &q), 0);
    const struct tk_qparam *p = tk_query_get(&q, key);
    if (p == NULL)
        return NULL;
    if (len)
        *len = p->val_len;
    return p->val;
}

static void test_parse(void **state)
{
    size_t n;
    assert_string_equal(val("a=1&b=2", "b", NULL), "2");
    assert_string_equal(val("a=1&a=2", "a", NULL), "2"); /* last wins */
    assert_string_equal(val("a", "a", NULL), "");
    assert_string_equal(val("a=", "a", NULL), "");
    assert_string_equal(val("&&a=x&&", "a", NULL), "x");
    assert_string_equal(val("a=b+c%20d", "a", NULL), "b c d");
    assert_string_equal(val("a=%2B%26%3D", "a", NULL), "+&=");
    assert_string_equal(val("a=%zz%4", "a", NULL), "%zz%4"); /* broken escapes stay */
    assert_string_equal(val("a=1=2", "a", NULL), "1=2");
    assert_string_equal(val("%61=x", "a", NULL), "x"); /* keys are decoded too */
    assert_null(val("a=1", "b", NULL));
    assert_null(val("", "a", NULL));
    assert_null(val("a=1;b=2", "b", NULL)); /* ';' is no separator */
    const char *v = val("a=x%00y", "a", &n);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "x\0y", 3);
    assert_string_equal(val("a=%FF", "a", NULL), "\xef\xbf\xbd"); /* U+FFFD */
    assert_string_equal(val("a=%C3%A9", "a", NULL), "\xc3\xa9");
}

static void test_strip(void **state)
{
    size_t st, len;
    tk_strip("  ab c \t", 8, &st, &len);
    assert_int_equal(st, 2);
    assert_int_equal(len, 4);
    tk_strip("   ", 3, &st, &len);
    assert_int_equal(len, 0);
    tk_strip("\xc2\xa0x\xe3\x80\x80", 6, &st, &len); /* NBSP, ideographic space */
    assert_int_equal(st, 2);
    assert_int_equal(len, 1);
}

static void terms(const char *s, size_t slen, size_t want_n, const char *const *want)
{
    const char **t;
    size_t n;
    assert_int_equal(tk_search_terms(arena, s, slen, &t, &n), 0);
    assert_int_equal(n, want_n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(t[i], want[i]);
}

static void test_search_terms(void **state)
{
    terms("", 0, 0, NULL);
    terms("  , ,", 5, 0, NULL);
    terms("Foo", 3, 1, (const char *const[]){"foo"});
    terms("a b,c", 5, 3, (const char *const[]){"a", "b", "c"});
    terms("100%_\\", 6, 1, (const char *const[]){"100%_\\"});
    terms("\"a b\"", 5, 2, (const char *const[]){"\"a", "b\""}); /* SEED: no quoting */
    terms("a\0b", 3, 1, (const char *const[]){"ab"});            /* NUL removed */
    terms("\xc3\x89T\xc3\x89", 5, 1, (const char *const[]){"\xc3\xa9t\xc3\xa9"});
    terms("x\x1fy", 3, 2, (const char *const[]){"x", "y"}); /* \x1f is whitespace */
}

/* Only the terms that constrain are kept: a repeat, or a term inside another term, matches
 * wherever that other term does (docs/api.md §8.2). */
static void test_search_terms_distinct(void **state)
{
    terms("api api API,Api", 15, 1, (const char *const[]){"api"});
    terms("b bo bob", 8, 1, (const char *const[]){"bob"});
    terms("bob b o", 7, 1, (const char *const[]){"bob"});
    terms("ali bob ice alice", 17, 2, (const char *const[]){"bob", "alice"}); /* given order */
    terms("ab ba", 5, 2, (const char *const[]){"ab", "ba"}); /* neither holds the other */
    terms("aba ab ba b", 11, 1, (const char *const[]){"aba"});
    terms("\xc3\x89t\xc3\xa9 \xc3\xa9T\xc3\x89 t\xc3\xa9", 15, 1,
          (const char *const[]){"\xc3\xa9t\xc3\xa9"}); /* compared as folded */
    terms("100% 0%_ %", 10, 2, (const char *const[]){"100%", "0%_"});

    const char **t;
    size_t n;
    /* 256 repeats: one term */
    char rep[1024];
    for (int i = 0; i < 256; i++)
        memcpy(rep + 4 * i, "api ", 4);
    assert_int_equal(tk_search_terms(arena, rep, 1023, &t, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(t[0], "api");
    /* 512 one-letter terms, the most 1024 characters hold: one term */
    char many[1024];
    for (int i = 0; i < 512; i++) {
        many[2 * i] = 'a';
        many[2 * i + 1] = ' ';
    }
    assert_int_equal(tk_search_terms(arena, many, 1024, &t, &n), 0);
    assert_int_equal(n, 1);
    /* the densest input (a term in every other byte, odd length) fills the room exactly */
    assert_int_equal(tk_search_terms(arena, many, 1023, &t, &n), 0);
    assert_int_equal(n, 1);
}

/* Up to TK_MAX_SEARCH_TERMS distinct terms; one more is TK_ERR_TOOBIG, unless a later term
 * holds some of them (the count is taken after dropping). */
static void test_search_terms_limit(void **state)
{
    char s[1024];
    size_t len = 0;
    for (int i = 0; i < TK_MAX_SEARCH_TERMS; i++)
        len += (size_t)snprintf(s + len, sizeof(s) - len, "t%03d ", i);
    const char **t;
    size_t n;
    assert_int_equal(tk_search_terms(arena, s, len, &t, &n), 0);
    assert_int_equal(n, TK_MAX_SEARCH_TERMS);
    assert_string_equal(t[0], "t000");
    assert_string_equal(t[TK_MAX_SEARCH_TERMS - 1], "t063");
    size_t full = len;
    len += (size_t)snprintf(s + len, sizeof(s) - len, "x ");
    assert_int_equal(tk_search_terms(arena, s, len, &t, &n), TK_ERR_TOOBIG);
    /* repeats of kept terms never count */
    len = full + (size_t)snprintf(s + full, sizeof(s) - full, "t000 T001 t00 063");
    assert_int_equal(tk_search_terms(arena, s, len, &t, &n), 0);
    assert_int_equal(n, TK_MAX_SEARCH_TERMS);
    /* a 65th term that holds two of the 64: 63 left */
    len = full + (size_t)snprintf(s + full, sizeof(s) - full, "t000t001");
    assert_int_equal(tk_search_terms(arena, s, len, &t, &n), 0);
    assert_int_equal(n, TK_MAX_SEARCH_TERMS - 1);
    assert_string_equal(t[0], "t002");
    assert_string_equal(t[n - 1], "t000t001");
}

static void order(const char *s, size_t want_n, const struct tk_order *want)
{
    struct tk_token_query q;
    memset(&q, 0, sizeof(q));
    tk_token_ordering(s, s ? strlen(s) : 0, &q);
    assert_int_equal(q.n_order, want_n);
    for (size_t i = 0; i < want_n; i++) {
        assert_int_equal(q.order[i].field, want[i].field);
        assert_int_equal(q.order[i].desc, want[i].desc);
    }
}

static void test_ordering(void **state)
{
    const struct tk_order def[] = {{TK_TF_IDENTIFIER, false}, {TK_TF_EXPIRES, false}};
    order(NULL, 2, def);
    order("", 2, def);
    order("bogus,user_obj,+identifier,--intent", 2, def);
    order("-expires", 1, (const struct tk_order[]){{TK_TF_EXPIRES, true}});
    order(" intent , -pk ,bogus,user", 3,
          (const struct tk_order[]){{TK_TF_INTENT, false}, {TK_TF_PK, true}, {TK_TF_USER, false}});
    order("intent,-intent,identifier", 2,
          (const struct tk_order[]){{TK_TF_INTENT, false}, {TK_TF_IDENTIFIER, false}});
    order("managed,description,expiring", 3,
          (const struct tk_order[]){
              {TK_TF_MANAGED, false}, {TK_TF_DESCRIPTION, false}, {TK_TF_EXPIRING, false}});
}

static void test_bool(void **state)
{
    assert_int_equal(tk_query_bool("true", 4), 1);
    assert_int_equal(tk_query_bool("True", 4), 1);
    assert_int_equal(tk_query_bool("1", 1), 1);
    assert_int_equal(tk_query_bool("FALSE", 5), 0);
    assert_int_equal(tk_query_bool("0", 1), 0);
    assert_int_equal(tk_query_bool("yes", 3), -1);
    assert_int_equal(tk_query_bool("on", 2), -1);
    assert_int_equal(tk_query_bool("2", 1), -1);
    assert_int_equal(tk_query_bool("", 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_strip),
        cmocka_unit_test(test_search_terms),
        cmocka_unit_test(test_search_terms_distinct),
        cmocka_unit_test(test_search_terms_limit),
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_bool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
