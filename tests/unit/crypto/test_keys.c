/* Keys at rest (src/crypto/keys.c, API.md §13, §17.5): generation alphabet and length, keyed
 * hash determinism and key separation, seal/open round trip bound to the token uuid, the
 * secret file's creation mode and refusal of loose permissions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/keys.h"

static void test_generate(void **state)
{
    char k[61];
    int seen[256] = {0};
    for (int round = 0; round < 200; round++) {
        tk_key_generate(k, 60);
        assert_int_equal(strlen(k), 60);
        for (int i = 0; i < 60; i++) {
            char c = k[i];
            assert_true((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
            seen[(unsigned char)c] = 1;
        }
    }
    int distinct = 0;
    for (int i = 0; i < 256; i++)
        distinct += seen[i];
    assert_int_equal(distinct, 62); /* 12000 draws cover the whole alphabet */
    char a[61], b[61];
    tk_key_generate(a, 60);
    tk_key_generate(b, 60);
    assert_string_not_equal(a, b);
}

static void test_hash_and_seal(void **state)
{
    struct tk_secret s1, s2;
    assert_int_equal(tk_secret_from_string(&s1, "one secret"), 0);
    assert_int_equal(tk_secret_from_string(&s2, "another secret"), 0);
    assert_int_not_equal(tk_secret_from_string(&s2, ""), 0);
    assert_int_equal(tk_secret_from_string(&s2, "another secret"), 0);
    uint8_t h1[TK_KEY_HASH_BYTES], h1b[TK_KEY_HASH_BYTES], h2[TK_KEY_HASH_BYTES];
    tk_key_hash(&s1, "key", 3, h1);
    tk_key_hash(&s1, "key", 3, h1b);
    tk_key_hash(&s2, "key", 3, h2);
    assert_memory_equal(h1, h1b, sizeof(h1));
    assert_memory_not_equal(h1, h2, sizeof(h1));
    tk_key_hash(&s1, "kez", 3, h1b);
    assert_memory_not_equal(h1, h1b, sizeof(h1));

    const char *uuid = "11111111-2222-4333-8444-555555555555";
    struct tk_buf sealed, opened;
    tk_buf_init(&sealed, 4096);
    tk_buf_init(&opened, 4096);
    assert_int_equal(tk_key_seal(&s1, uuid, "the key", 7, &sealed), 0);
    assert_int_equal(sealed.len, 7 + TK_SEAL_OVERHEAD);
    assert_null(memmem(sealed.data, sealed.len, "the key", 7));
    assert_int_equal(tk_key_open(&s1, uuid, (uint8_t *)sealed.data, sealed.len, &opened), 0);
    assert_string_equal(opened.data, "the key");
    tk_buf_reset(&opened);
    assert_int_equal(tk_key_open(&s2, uuid, (uint8_t *)sealed.data, sealed.len, &opened),
                     TK_ERR_CRYPTO);
    assert_int_equal(tk_key_open(&s1, "11111111-2222-4333-8444-555555555556",
                                 (uint8_t *)sealed.data, sealed.len, &opened),
                     TK_ERR_CRYPTO);
    sealed.data[30] ^= 1;
    assert_int_equal(tk_key_open(&s1, uuid, (uint8_t *)sealed.data, sealed.len, &opened),
                     TK_ERR_CRYPTO);
    assert_int_equal(tk_key_open(&s1, uuid, (uint8_t *)sealed.data, 10, &opened), TK_ERR_CRYPTO);
    tk_buf_free(&sealed);
    tk_buf_free(&opened);
}

static void test_secret_file(void **state)
{
    char dir[] = "/tmp/tokend-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/secret", dir);
    struct tk_secret a, b;
    const char *why = NULL;
    assert_int_equal(tk_secret_from_file(&a, path, &why), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(tk_secret_from_file(&b, path, &why), 0); /* same secret on reload */
    assert_memory_equal(&a, &b, sizeof(a));
    chmod(path, 0644);
    assert_int_equal(tk_secret_from_file(&b, path, &why), TK_ERR_INVALID);
    assert_non_null(why);
    chmod(path, 0600);
    FILE *f = fopen(path, "w");
    fputs("not hex\n", f);
    fclose(f);
    assert_int_equal(tk_secret_from_file(&b, path, &why), TK_ERR_INVALID);
    unlink(path);
    rmdir(dir);
}

/* Keys are found by their keyed hash, so no comparison ever sees key bytes: a guess that gets
 * the first characters of a key right produces a hash that shares nothing with the real one,
 * and the database's comparison of hashes (or sodium_memcmp's) cannot tell a guesser how many
 * characters were right. */
static void test_prefix_of_a_key_says_nothing_about_its_hash(void **state)
{
    struct tk_secret s;
    assert_int_equal(tk_secret_from_string(&s, "timing"), 0);
    long shared = 0;
    const int rounds = 2000;
    for (int i = 0; i < rounds; i++) {
        char key[61], guess[61];
        tk_key_generate(key, 60);
        memcpy(guess, key, sizeof(key));
        guess[59] = guess[59] == 'a' ? 'b' : 'a'; /* right but for the last character */
        uint8_t hk[TK_KEY_HASH_BYTES], hg[TK_KEY_HASH_BYTES];
        tk_key_hash(&s, key, 60, hk);
        tk_key_hash(&s, guess, 60, hg);
        int n = 0;
        while (n < TK_KEY_HASH_BYTES && hk[n] == hg[n])
            n++;
        shared += n;
    }
    /* random hashes share 1/255 of a leading byte on average */
    assert_true(shared < rounds / 50);
}

static void test_uuid4(void **state)
{
    char u[37];
    tk_uuid4(u);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[8], '-');
    assert_int_equal(u[14], '4');
    assert_true(strchr("89ab", u[19]) != NULL);
}

int main(void)
{
    if (tk_crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_hash_and_seal),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_prefix_of_a_key_says_nothing_about_its_hash),
        cmocka_unit_test(test_uuid4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
