/* Webhook receivers' rules (src/domain/webhook.c, docs/api.md §21.1): which URLs a receiver may
 * have, the message types, and a receiver's type list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "domain/webhook.h"
#include "util/limits.h"

static bool url(const char *s)
{
    return tk_webhook_url_valid(s, strlen(s));
}

static void test_urls(void **state)
{
    assert_true(url("http://example.com"));
    assert_true(url("https://example.com/hooks/tokend?x=1"));
    assert_true(url("HTTPS://Example.COM:8443/"));
    assert_true(url("http://[::1]:8080/h"));
    assert_true(url("http://user:pw@example.com/"));
    assert_false(url(""));
    assert_false(url("http://"));
    assert_false(url("https:///path"));
    assert_false(url("http://:80/"));
    assert_false(url("ftp://example.com/"));
    assert_false(url("example.com"));
    assert_false(url("http://exa mple.com/"));
    assert_false(url("http://example.com/\n"));
    assert_false(url("javascript:alert(1)"));
    char longest[TK_WEBHOOK_URL_MAX + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    memcpy(longest, "http://x/", 9);
    assert_false(url(longest)); /* one character too many */
    longest[TK_WEBHOOK_URL_MAX] = '\0';
    assert_true(url(longest));
}

static void test_types(void **state)
{
    for (size_t i = 0; i < TK_WEBHOOK_N_TYPES; i++)
        assert_true(tk_webhook_type_valid(tk_webhook_types[i], strlen(tk_webhook_types[i])));
    assert_false(tk_webhook_type_valid("token.create", 12));
    assert_false(tk_webhook_type_valid("token.created ", 14));
    assert_false(tk_webhook_type_valid("", 0));
    assert_true(tk_webhook_wants(NULL, "token.created"));
    assert_true(tk_webhook_wants("token.created token.deleted", "token.deleted"));
    assert_false(tk_webhook_wants("token.created token.deleted", "token.rotated"));
    assert_false(tk_webhook_wants("", "token.rotated"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
