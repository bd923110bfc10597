/* Standard Webhooks signing (src/crypto/webhook_sign.c, docs/api.md §21.4): the specification's
 * own example signs to its published signature, a signature depends on every signed part, new
 * secrets are whsec_ and the base64 of 32 random bytes, and malformed secrets are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "crypto/webhook_sign.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MSG_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define BODY "{\"test\": 2432232314}"

static void test_the_specification_example(void **state)
{
    char sig[TK_WEBHOOK_SIG_MAX];
    assert_int_equal(tk_webhook_sign(SECRET, MSG_ID, 1614265330, BODY, strlen(BODY), sig), 0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_every_part_is_signed(void **state)
{
    char base[TK_WEBHOOK_SIG_MAX], other[TK_WEBHOOK_SIG_MAX];
    assert_int_equal(tk_webhook_sign(SECRET, MSG_ID, 1614265330, BODY, strlen(BODY), base), 0);
    assert_int_equal(tk_webhook_sign(SECRET, "msg_other", 1614265330, BODY, strlen(BODY), other),
                     0);
    assert_string_not_equal(base, other);
    assert_int_equal(tk_webhook_sign(SECRET, MSG_ID, 1614265331, BODY, strlen(BODY), other), 0);
    assert_string_not_equal(base, other);
    assert_int_equal(tk_webhook_sign(SECRET, MSG_ID, 1614265330, BODY, strlen(BODY) - 1, other), 0);
    assert_string_not_equal(base, other);
    assert_int_equal(tk_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", MSG_ID, 1614265330,
                                     BODY, strlen(BODY), other),
                     0);
    assert_string_not_equal(base, other);
}

static void test_new_secrets(void **state)
{
    char a[TK_WEBHOOK_SECRET_TEXT_MAX], b[TK_WEBHOOK_SECRET_TEXT_MAX];
    tk_webhook_secret_new(a);
    tk_webhook_secret_new(b);
    assert_string_not_equal(a, b);
    assert_memory_equal(a, "whsec_", 6);
    uint8_t raw[64];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), a + 6, strlen(a + 6), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, TK_WEBHOOK_SECRET_BYTES);
    assert_true(n >= 24);
    char sig[TK_WEBHOOK_SIG_MAX];
    assert_int_equal(tk_webhook_sign(a, MSG_ID, 1, BODY, strlen(BODY), sig), 0);
    assert_memory_equal(sig, "v1,", 3);
}

static void test_malformed_secrets(void **state)
{
    char sig[TK_WEBHOOK_SIG_MAX];
    const char *bad[] = {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!",
                         "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tk_webhook_sign(bad[i], MSG_ID, 1, BODY, strlen(BODY), sig),
                         TK_ERR_INVALID);
}

int main(void)
{
    if (tk_crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_specification_example),
        cmocka_unit_test(test_every_part_is_signed),
        cmocka_unit_test(test_new_secrets),
        cmocka_unit_test(test_malformed_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
