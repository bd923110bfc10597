/* Derived user and group fields (src/domain/user.c, docs/api.md §10). Expected values were
 * computed with authentik's own formulas in Python (str(uuid.UUID(x).int)[:5], hashlib). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "domain/user.h"

static void test_num_pk(void **state)
{
    assert_int_equal(tk_group_num_pk("557050e3-47a5-4839-9468-9b1c9f7ed017"), 11356);
    assert_int_equal(tk_group_num_pk("00000000-0000-0000-0000-000000000000"), 0);
    assert_int_equal(tk_group_num_pk("ffffffff-ffff-ffff-ffff-ffffffffffff"), 34028);
    assert_int_equal(tk_group_num_pk("00000000-0000-0000-0000-00000000000f"), 15);
}

static void test_uid(void **state)
{
    char uid[65];
    tk_user_uid(1, "2b6f3d4e-0000-4000-8000-000000000001", uid);
    assert_string_equal(uid, "9f7482dda345d8d97eb17a8cddbe77d22e11d8a065b74681963e15721b8fd8da");
    /* the per-thread memo is keyed by installation too: alternating gives each its own */
    char other[65], again[65];
    tk_user_uid(1, "2b6f3d4e-0000-4000-8000-000000000002", other);
    tk_user_uid(1, "2b6f3d4e-0000-4000-8000-000000000001", again);
    assert_string_not_equal(other, uid);
    assert_string_equal(again, uid);
    tk_user_uid(1 + 1024, "2b6f3d4e-0000-4000-8000-000000000001", other); /* same slot */
    assert_string_not_equal(other, uid);
    tk_user_uid(1, "2b6f3d4e-0000-4000-8000-000000000001", again);
    assert_string_equal(again, uid);
}

static void svg_of(const char *name, char *out, size_t cap)
{
    struct tk_buf b;
    tk_buf_init(&b, 1 << 16);
    assert_int_equal(tk_avatar_svg(name, &b), 0);
    assert_true(b.len < cap);
    memcpy(out, b.data, b.len + 1);
    tk_buf_free(&b);
}

static void test_avatar_svg_initials_and_colours(void **state)
{
    char svg[2048];
    svg_of("Jane Doe", svg, sizeof(svg));
    assert_non_null(strstr(svg, "fill=\"#b58d86\""));
    assert_non_null(strstr(svg, ">JD</text>"));
    svg_of("authentik Default Admin", svg, sizeof(svg));
    assert_non_null(strstr(svg, "fill=\"#377b37\""));
    assert_non_null(strstr(svg, ">AA</text>")); /* first part's initial + last part, cut to 2 */
    svg_of("akadmin", svg, sizeof(svg));
    assert_non_null(strstr(svg, "fill=\"#38be91\""));
    assert_non_null(strstr(svg, ">AK</text>")); /* one part: its first two characters */
    svg_of("x", svg, sizeof(svg));
    assert_non_null(strstr(svg, ">X</text>"));
    svg_of("\xc3\x89mile Zola", svg, sizeof(svg)); /* "Émile Zola" */
    assert_non_null(strstr(svg, "fill=\"#3dc895\""));
    assert_non_null(strstr(svg, ">&#201;Z</text>"));
    svg_of("<b> &", svg, sizeof(svg));
    assert_non_null(strstr(svg, ">&lt;&amp;</text>"));
}

static void avatar(const char *modes, const char *name, const char *attrs, char *out, size_t cap)
{
    struct tk_user u = {.id = 1,
                        .username = "jdoe",
                        .name = name,
                        .email = "Jane@Example.com",
                        .attributes = attrs};
    struct tk_buf b;
    tk_buf_init(&b, 1 << 16);
    assert_int_equal(tk_user_avatar(&u, modes, &b), 0);
    assert_true(b.len < cap);
    memcpy(out, b.data, b.len + 1);
    tk_buf_free(&b);
}

static void test_avatar_modes(void **state)
{
    char out[4096];
    avatar("none", "Jane Doe", "{}", out, sizeof(out));
    assert_string_equal(out, TK_AVATAR_DEFAULT);
    avatar("attributes.pic.url,none", "Jane Doe", "{\"pic\":{\"url\":\"https://x/y.png\"}}", out,
           sizeof(out));
    assert_string_equal(out, "https://x/y.png");
    avatar("attributes.missing,none", "Jane Doe", "{}", out, sizeof(out));
    assert_string_equal(out, TK_AVATAR_DEFAULT);
    avatar("https://img/%(username)s/%(mail_hash)s", "Jane Doe", "{}", out, sizeof(out));
    /* md5("jane@example.com") */
    assert_string_equal(out, "https://img/jdoe/9e26471d35a78862c17e467d87cddedf");
    avatar("gravatar", "Jane Doe", "{}", out, sizeof(out));
    assert_string_equal(out, "https://secure.gravatar.com/avatar/9e26471d35a78862c17e467d87cddedf"
                             "?size=158&rating=g&default=404");
    avatar("initials", "  ", "{}", out, sizeof(out));
    const char *prefix = "data:image/svg+xml;base64,";
    assert_memory_equal(out, prefix, strlen(prefix));
    uint8_t bin[4096];
    size_t bin_len = 0;
    assert_int_equal(sodium_base642bin(bin, sizeof(bin) - 1, out + strlen(prefix),
                                       strlen(out + strlen(prefix)), NULL, &bin_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    bin[bin_len] = 0;
    assert_non_null(strstr((char *)bin, ">AK</text>")); /* blank name: "a k" (SEED) */
    avatar("unknown,", "Jane Doe", "{}", out, sizeof(out));
    assert_string_equal(out, TK_AVATAR_DEFAULT);
}

/* The per-thread memo of initials avatars gives what a fresh computation gives, through
 * evictions and for names too long to be kept. */
static void test_avatar_memo(void **state)
{
    static char first[4096], again[4096], other[4096], fresh[4096];
    avatar("initials", "Jane Doe", "{}", first, sizeof(first));
    avatar("initials", "John Smith", "{}", other, sizeof(other));
    assert_string_not_equal(first, other);
    avatar("initials", "Jane Doe", "{}", again, sizeof(again));
    assert_string_equal(first, again);
    char name[32];
    for (int i = 0; i < 2000; i++) { /* more names than slots */
        snprintf(name, sizeof(name), "N%d x", i);
        avatar("initials", name, "{}", fresh, sizeof(fresh));
    }
    avatar("initials", "Jane Doe", "{}", again, sizeof(again));
    assert_string_equal(first, again);
    char long_name[600];
    memset(long_name, 'q', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    avatar("initials", long_name, "{}", fresh, sizeof(fresh));
    avatar("initials", long_name, "{}", again, sizeof(again));
    assert_string_equal(fresh, again);
    assert_string_not_equal(fresh, first);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_pk),
        cmocka_unit_test(test_uid),
        cmocka_unit_test(test_avatar_svg_initials_and_colours),
        cmocka_unit_test(test_avatar_modes),
        cmocka_unit_test(test_avatar_memo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
