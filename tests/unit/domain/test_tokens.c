/* Minting a token's key (src/domain/tokens.c, tk_token_mint): the one way every token gets a
 * key. A generated key has the configured length and alphabet; the stored hash is the keyed
 * hash of the key and the sealed copy opens, bound to the token, to the same key; a given key
 * is taken as it is; the key is handed out only when asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/tokens.h"
#include "util/limits.h"

#define UUID "0d2e9c3a-4f1b-4a8e-9c6d-2b7f1e5a3c90"

static struct tk_secret secret;

static int setup(void **state)
{
    return tk_crypto_init() || tk_secret_from_text_blake2b(&secret, "test secret");
}

/* The key t holds: its hash is key's, and its sealed copy opens to key for this token only. */
static void holds(const struct tk_token_new *t, const char *key, size_t len)
{
    uint8_t hash[TK_KEY_HASH_BYTES];
    tk_key_hash(&secret, key, len, hash);
    assert_memory_equal(t->key_hash, hash, sizeof(hash));
    struct tk_buf opened;
    tk_buf_init(&opened, TK_OPENED_KEY_MAX_BYTES);
    assert_int_equal(tk_key_open(&secret, UUID, t->key_sealed, t->key_sealed_len, &opened), 0);
    assert_int_equal(opened.len, len);
    assert_memory_equal(opened.data, key, len);
    tk_buf_reset(&opened);
    assert_int_equal(tk_key_open(&secret, "11111111-2222-4333-8444-555555555555", t->key_sealed,
                                 t->key_sealed_len, &opened),
                     TK_ERR_CRYPTO);
    tk_buf_free(&opened);
}

static void test_generated_key(void **state)
{
    struct tk_token_new t = {.uuid = UUID};
    struct tk_buf sealed;
    char key[TK_KEY_LENGTH_MAX + 1];
    assert_int_equal(tk_token_mint(&secret, 60, NULL, 0, &t, &sealed, key), 0);
    assert_int_equal(strlen(key), 60);
    assert_int_equal(strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
                     60);
    holds(&t, key, 60);
    tk_buf_free(&sealed);

    /* two mints never give the same key */
    struct tk_token_new u = {.uuid = UUID};
    char other[TK_KEY_LENGTH_MAX + 1];
    assert_int_equal(tk_token_mint(&secret, 60, NULL, 0, &u, &sealed, other), 0);
    assert_string_not_equal(key, other);
    tk_buf_free(&sealed);
}

static void test_given_key(void **state)
{
    struct tk_token_new t = {.uuid = UUID};
    struct tk_buf sealed;
    char out[TK_KEY_LENGTH_MAX + 1] = "untouched";
    const char given[] = " a key, with spaces \xe2\x9c\x93 ";
    assert_int_equal(tk_token_mint(&secret, 60, given, strlen(given), &t, &sealed, out), 0);
    holds(&t, given, strlen(given));
    assert_string_equal(out, "untouched"); /* the caller knows a key it gave */
    tk_buf_free(&sealed);
}

static void test_no_key_out_and_bad_length(void **state)
{
    struct tk_token_new t = {.uuid = UUID};
    struct tk_buf sealed;
    assert_int_equal(tk_token_mint(&secret, 8, NULL, 0, &t, &sealed, NULL), 0);
    assert_int_equal(t.key_sealed_len, 8 + TK_SEAL_OVERHEAD);
    tk_buf_free(&sealed);
    assert_int_equal(tk_token_mint(&secret, TK_KEY_LENGTH_MAX + 1, NULL, 0, &t, &sealed, NULL),
                     TK_ERR_INVALID);
    tk_buf_free(&sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_key),
        cmocka_unit_test(test_given_key),
        cmocka_unit_test(test_no_key_out_and_bad_length),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
