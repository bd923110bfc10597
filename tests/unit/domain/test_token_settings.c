/* The stored text of list settings (src/domain/token_settings.c, docs/api.md §19.1), which the
 * API's PATCH and `tokend token set` both write: scopes sorted byte-wise without repeats,
 * networks without repeats in the order given, items joined by single spaces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/token_settings.h"

/* tk_scopes_join over a copy of items, into a buffer of exactly the documented size. */
static void joins_to(const char *const *items, size_t n, const char *want)
{
    const char *copy[8];
    size_t room = 1;
    for (size_t i = 0; i < n; i++) {
        copy[i] = items[i];
        room += strlen(items[i]) + 1;
    }
    char out[128];
    memset(out, 'x', sizeof(out));
    assert_int_equal(tk_scopes_join(copy, n, out), strlen(want));
    assert_string_equal(out, want);
    assert_true(strlen(out) < room);
}

static void scopes_sorted_without_repeats(void **state)
{
    (void)state;
    joins_to(NULL, 0, "");
    const char *one[] = {"tokens:read"};
    joins_to(one, 1, "tokens:read");
    const char *unsorted[] = {"users:read", "tokens:read", "app/x", "Zeta"};
    joins_to(unsorted, 4, "Zeta app/x tokens:read users:read"); /* byte-wise: upper case first */
    const char *repeats[] = {"b", "a", "b", "a", "a"};
    joins_to(repeats, 5, "a b");
    const char *same[] = {"x", "x", "x"};
    joins_to(same, 3, "x");
    const char *prefixes[] = {"tokens:readx", "tokens:read", "tokens"};
    joins_to(prefixes, 3, "tokens tokens:read tokens:readx");
}

/* Adds each word of words (NULL-terminated) with tk_words_add; text must come out as want. */
static void adds_to(const char *const *words, const char *want)
{
    char text[128];
    size_t len = 0;
    text[0] = '\0';
    for (size_t i = 0; words[i] != NULL; i++) {
        len = tk_words_add(text, len, words[i], strlen(words[i]));
        assert_int_equal(len, strlen(text));
    }
    assert_string_equal(text, want);
}

static void words_kept_in_order_without_repeats(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    adds_to(none, "");
    const char *nets[] = {"10.0.0.0/8", "::1/128", "10.0.0.0/8", "192.0.2.1/32", "::1/128", NULL};
    adds_to(nets, "10.0.0.0/8 ::1/128 192.0.2.1/32");
    /* a word that is a prefix or suffix of one already there is still new */
    const char *parts[] = {"10.0.0.0/16", "10.0.0.0/1", "0.0.0.0/16", "10.0.0.0/16", NULL};
    adds_to(parts, "10.0.0.0/16 10.0.0.0/1 0.0.0.0/16");
    /* the word need not end in a NUL: word_len counts */
    char text[32] = "a";
    assert_int_equal(tk_words_add(text, 1, "bcd", 2), 4);
    assert_string_equal(text, "a bc");
    assert_int_equal(tk_words_add(text, 4, "bcd", 2), 4);
    assert_string_equal(text, "a bc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scopes_sorted_without_repeats),
        cmocka_unit_test(words_kept_in_order_without_repeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
