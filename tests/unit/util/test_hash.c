/* Unit tests for src/util/hash.h: FNV-1a gives the published test vectors, the string and byte
 * forms agree, and a slot pair always lies inside the table and starts on an even slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/hash.h"

static void fnv1a_matches_the_reference_vectors(void **state)
{
    (void)state;
    /* FNV-1a 32-bit vectors from the algorithm's reference test suite */
    assert_int_equal(tk_fnv1a("", 0), 0x811c9dc5u);
    assert_int_equal(tk_fnv1a("a", 1), 0xe40c292cu);
    assert_int_equal(tk_fnv1a("foobar", 6), 0xbf9cf968u);
    assert_int_equal(tk_fnv1a_str(""), 0x811c9dc5u);
    assert_int_equal(tk_fnv1a_str("a"), 0xe40c292cu);
    assert_int_equal(tk_fnv1a_str("foobar"), 0xbf9cf968u);
}

static void string_and_bytes_agree(void **state)
{
    (void)state;
    const char *sql[] = {"BEGIN", "SELECT 1", "SELECT t.id FROM tokens t WHERE t.identifier = ?",
                         "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
        assert_int_equal(tk_fnv1a_str(sql[i]), tk_fnv1a(sql[i], strlen(sql[i])));
    /* the byte form sees past a NUL; the string form stops there */
    assert_int_not_equal(tk_fnv1a("a\0b", 3), tk_fnv1a_str("a\0b"));
    assert_int_equal(tk_fnv1a("a\0b", 1), tk_fnv1a_str("a\0b"));
}

static void pair_is_even_and_inside_the_table(void **state)
{
    (void)state;
    const uint32_t hashes[] = {0, 1, 2, 255, 256, 257, 511, 0x7fffffffu, 0xfffffffeu, 0xffffffffu};
    const size_t sizes[] = {2, 256, 512, 1000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
            size_t p = tk_hash_pair(hashes[i], sizes[s]);
            assert_int_equal(p % 2, 0);
            assert_true(p + 1 < sizes[s]);
            /* the pair holding h % n_slots */
            assert_int_equal(p, (hashes[i] % sizes[s]) & ~(size_t)1);
        }
    }
    assert_int_equal(tk_hash_pair(257, 256), 0);
    assert_int_equal(tk_hash_pair(3, 256), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fnv1a_matches_the_reference_vectors),
        cmocka_unit_test(string_and_bytes_agree),
        cmocka_unit_test(pair_is_even_and_inside_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
