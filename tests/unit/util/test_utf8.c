/* Unit tests for src/util/utf8.c: validation, decoding and repair with Python's
 * bytes.decode("utf-8", "replace") semantics (one U+FFFD per maximal subpart), str.isspace(),
 * the case tables and folding. Expected values were checked against CPython 3.11. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/utf8.h"

#define FFFD "\xef\xbf\xbd"

/* Hex of a byte string, so failures show bytes both sides. */
static void hex(const char *s, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 3 < outsz; i++)
        o += (size_t)snprintf(out + o, outsz - o, "%02x", (unsigned char)s[i]);
    out[o] = '\0';
}

static void check_repair(const char *in, size_t len, const char *want, size_t want_len)
{
    struct tk_buf b;
    char got[512], exp[512];

    tk_buf_init(&b, 1 << 16);
    assert_int_equal(tk_utf8_repair(in, len, &b), 0);
    assert_non_null(b.data);
    assert_int_equal(b.data[b.len], '\0');
    hex(b.data, b.len, got, sizeof(got));
    hex(want, want_len, exp, sizeof(exp));
    assert_string_equal(got, exp);
    /* repair's output is valid, and as long as the input in code points */
    assert_true(tk_utf8_valid(b.data, b.len));
    assert_int_equal(tk_utf8_length(b.data, b.len), tk_utf8_length(in, len));
    assert_int_equal(tk_utf8_valid(in, len), want_len == len && memcmp(in, want, len) == 0);
    tk_buf_free(&b);
}

#define REPAIR(in, want) check_repair(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void test_repair(void **state)
{
    (void)state;
    REPAIR("", "");
    REPAIR("plain ascii", "plain ascii");
    REPAIR("a\0b", "a\0b");
    REPAIR("h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e",
           "h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e");
    REPAIR(FFFD, FFFD);       /* a literal U+FFFD is valid */
    REPAIR("\xe2\x82", FFFD); /* truncated 3-byte sequence: one */
    REPAIR("\xe2\x82x", FFFD "x");
    REPAIR("\xff", FFFD);
    REPAIR("\xfe\xff", FFFD FFFD);
    REPAIR("\xf5\x80", FFFD FFFD); /* F5..FF never lead */
    REPAIR("\x80", FFFD);          /* lone continuation */
    REPAIR("\xbf\x80\xbf", FFFD FFFD FFFD);
    REPAIR("\xed\xa0\x80", FFFD FFFD FFFD); /* surrogate U+D800 */
    REPAIR("\xed\xbf\xbf", FFFD FFFD FFFD); /* surrogate U+DFFF */
    REPAIR("\xed\x9f\xbf", "\xed\x9f\xbf"); /* U+D7FF is fine */
    REPAIR("\xc0\xaf", FFFD FFFD);          /* overlong '/' */
    REPAIR("\xc1\xbf", FFFD FFFD);
    REPAIR("\xe0\x80\xaf", FFFD FFFD FFFD); /* overlong 3-byte */
    REPAIR("\xe0\x9f\xbf", FFFD FFFD FFFD);
    REPAIR("\xe0\xa0\x80", "\xe0\xa0\x80");          /* U+0800 */
    REPAIR("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD); /* overlong 4-byte */
    REPAIR("\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD);
    REPAIR("\xf0\x90\x80\x80", "\xf0\x90\x80\x80");  /* U+10000 */
    REPAIR("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");  /* U+10FFFF */
    REPAIR("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* U+110000 */
    REPAIR("\xf0\x9f\x98", FFFD);                    /* truncated 4-byte: one */
    REPAIR("\xf0\x9f\x98x", FFFD "x");
    REPAIR("\xf0\x9fx\x98", FFFD "x" FFFD);
    REPAIR("\xf0\x9f", FFFD);
    REPAIR("\xc3", FFFD);
    REPAIR("\xc3\xc3\xa9", FFFD "\xc3\xa9");
    REPAIR("\xe2\x82\xe2\x82\xac", FFFD "\xe2\x82\xac");
    REPAIR("a\xe2\x82-\xffz", "a" FFFD "-" FFFD "z");
    REPAIR("\xc2\x80\xdf\xbf", "\xc2\x80\xdf\xbf");
}

static void test_repair_sticky_error(void **state)
{
    (void)state;
    struct tk_buf b;
    tk_buf_init(&b, 4);
    assert_int_equal(tk_utf8_repair("ab\xff", 3, &b), TK_ERR_TOOBIG);
    tk_buf_free(&b);
    tk_buf_init(&b, 5);
    assert_int_equal(tk_utf8_repair("ab\xff", 3, &b), 0);
    assert_string_equal(b.data, "ab" FFFD);
    tk_buf_free(&b);
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(tk_utf8_valid("", 0));
    assert_true(tk_utf8_valid(NULL, 0));
    assert_true(tk_utf8_valid("a\0b", 3));
    assert_true(tk_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    assert_false(tk_utf8_valid("\xf4\x8f\xbf", 3));
    assert_false(tk_utf8_valid("\xed\xa0\x80", 3));
    assert_false(tk_utf8_valid("\xc0\x80", 2)); /* no modified UTF-8 NUL */
    assert_false(tk_utf8_valid("abc\x80", 4));
    /* the length bound is respected: the valid prefix of a longer buffer */
    assert_true(tk_utf8_valid("ab\xc3\xa9\xff", 4));
    assert_false(tk_utf8_valid("ab\xc3\xa9\xff", 3));
}

static void check_decode(const char *s, size_t len, size_t want_n, uint32_t want_cp)
{
    uint32_t cp = 0;
    size_t n = tk_utf8_decode(s, len, &cp);
    assert_int_equal(n, want_n);
    assert_int_equal(cp, want_cp);
}

static void test_decode(void **state)
{
    (void)state;
    check_decode("A", 1, 1, 'A');
    check_decode("\0", 1, 1, 0);
    check_decode("\x7f", 1, 1, 0x7F);
    check_decode("\xc2\x80", 2, 2, 0x80);
    check_decode("\xc3\xa9z", 3, 2, 0xE9);
    check_decode("\xe2\x82\xac", 3, 3, 0x20AC);
    check_decode("\xef\xbf\xbd", 3, 3, 0xFFFD);
    check_decode("\xf0\x9d\x84\x9e", 4, 4, 0x1D11E);
    check_decode("\xf4\x8f\xbf\xbf", 4, 4, 0x10FFFF);
    /* invalid: the maximal subpart */
    check_decode("\xe2\x82", 2, 2, 0xFFFD);
    check_decode("\xe2\x82\xac", 2, 2, 0xFFFD); /* len cuts the sequence */
    check_decode("\xe2\x82x", 3, 2, 0xFFFD);
    check_decode("\xff", 1, 1, 0xFFFD);
    check_decode("\x80\x80", 2, 1, 0xFFFD);
    check_decode("\xc0\xaf", 2, 1, 0xFFFD);
    check_decode("\xed\xa0\x80", 3, 1, 0xFFFD);
    check_decode("\xf0\x80\x80\x80", 4, 1, 0xFFFD);
    check_decode("\xf0\x9f\x98", 3, 3, 0xFFFD);
    check_decode("\xf4\x90\x80\x80", 4, 1, 0xFFFD);
}

static void check_put(uint32_t cp, const char *want, int want_rc)
{
    struct tk_buf b;
    char got[32], exp[32];
    tk_buf_init(&b, 64);
    assert_int_equal(tk_utf8_put(&b, cp), want_rc);
    hex(b.data ? b.data : "", b.len, got, sizeof(got));
    hex(want, strlen(want), exp, sizeof(exp));
    assert_string_equal(got, exp);
    tk_buf_free(&b);
}

static void test_put(void **state)
{
    (void)state;
    check_put('a', "a", 0);
    check_put(0x7F, "\x7f", 0);
    check_put(0x80, "\xc2\x80", 0);
    check_put(0x7FF, "\xdf\xbf", 0);
    check_put(0x800, "\xe0\xa0\x80", 0);
    check_put(0xD7FF, "\xed\x9f\xbf", 0);
    check_put(0xE000, "\xee\x80\x80", 0);
    check_put(0xFFFD, FFFD, 0);
    check_put(0x10000, "\xf0\x90\x80\x80", 0);
    check_put(0x10FFFF, "\xf4\x8f\xbf\xbf", 0);
    check_put(0xD800, "", TK_ERR_INVALID);
    check_put(0xDFFF, "", TK_ERR_INVALID);
    check_put(0x110000, "", TK_ERR_INVALID);
    check_put(0xFFFFFFFF, "", TK_ERR_INVALID);
}

static void test_put_roundtrip(void **state)
{
    (void)state;
    struct tk_buf b;
    tk_buf_init(&b, 16);
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        tk_buf_reset(&b);
        assert_int_equal(tk_utf8_put(&b, cp), 0);
        uint32_t back = 0;
        assert_int_equal(tk_utf8_decode(b.data, b.len, &back), b.len);
        assert_int_equal(back, cp);
        assert_true(tk_utf8_valid(b.data, b.len));
    }
    tk_buf_free(&b);
}

static void test_isspace(void **state)
{
    (void)state;
    static const uint32_t spaces[] = {
        0x09, 0x0A,   0x0B,   0x0C,   0x0D,   0x1C,   0x1D,   0x1E,   0x1F,   0x20,   0x85,
        0xA0, 0x1680, 0x2000, 0x2005, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    };
    static const uint32_t others[] = {
        0x00,   0x08,   0x0E,   0x1B,   0x21,   'a',    0x7F,   0x84,   0x86,   0x9F,     0xA1,
        0x180E, 0x200B, 0x200C, 0x2027, 0x202A, 0x2060, 0x2FFF, 0x3001, 0xFEFF, 0x110000,
    };
    for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
        if (!tk_unicode_isspace(spaces[i]))
            fail_msg("U+%04X should be whitespace", (unsigned)spaces[i]);
    }
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        if (tk_unicode_isspace(others[i]))
            fail_msg("U+%04X should not be whitespace", (unsigned)others[i]);
    }
    /* exactly 29 code points in all (Python 3.11: [c for c in range(0x110000)
     * if chr(c).isspace()]) */
    unsigned n = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++)
        n += tk_unicode_isspace(cp);
    assert_int_equal(n, 29);
}

static void test_case_mappings(void **state)
{
    (void)state;
    static const struct {
        uint32_t upper, lower;
    } pairs[] = {
        {'A', 'a'},     {'Z', 'z'},     {0xC0, 0xE0},   {0xD6, 0xF6},   {0xD8, 0xF8},
        {0xDE, 0xFE},   {0x100, 0x101}, {0x12E, 0x12F}, {0x132, 0x133}, {0x136, 0x137},
        {0x139, 0x13A}, {0x147, 0x148}, {0x14A, 0x14B}, {0x176, 0x177}, {0x178, 0xFF},
        {0x179, 0x17A}, {0x17D, 0x17E}, {0x386, 0x3AC}, {0x388, 0x3AD}, {0x38A, 0x3AF},
        {0x38C, 0x3CC}, {0x38E, 0x3CD}, {0x38F, 0x3CE}, {0x391, 0x3B1}, {0x3A3, 0x3C3},
        {0x3A9, 0x3C9}, {0x3AA, 0x3CA}, {0x3AB, 0x3CB}, {0x370, 0x371}, {0x376, 0x377},
        {0x37F, 0x3F3}, {0x3CF, 0x3D7}, {0x3D8, 0x3D9}, {0x3EE, 0x3EF}, {0x3F7, 0x3F8},
        {0x3F9, 0x3F2}, {0x3FA, 0x3FB}, {0x3FD, 0x37B}, {0x3FF, 0x37D}, {0x400, 0x450},
        {0x40F, 0x45F}, {0x410, 0x430}, {0x42F, 0x44F}, {0x460, 0x461}, {0x480, 0x481},
        {0x48A, 0x48B}, {0x4BE, 0x4BF}, {0x4C0, 0x4CF}, {0x4C1, 0x4C2}, {0x4CD, 0x4CE},
        {0x4D0, 0x4D1}, {0x4FE, 0x4FF}, {0x500, 0x501}, {0x52E, 0x52F},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        assert_int_equal(tk_unicode_tolower(pairs[i].upper), pairs[i].lower);
        assert_int_equal(tk_unicode_toupper(pairs[i].lower), pairs[i].upper);
        assert_int_equal(tk_unicode_tolower(pairs[i].lower), pairs[i].lower);
        assert_int_equal(tk_unicode_toupper(pairs[i].upper), pairs[i].upper);
    }

    /* one-way mappings (UnicodeData simple case mappings) */
    assert_int_equal(tk_unicode_tolower(0x130), 'i'); /* İ */
    assert_int_equal(tk_unicode_toupper(0x130), 0x130);
    assert_int_equal(tk_unicode_toupper(0x131), 'I'); /* ı */
    assert_int_equal(tk_unicode_tolower(0x131), 0x131);
    assert_int_equal(tk_unicode_toupper(0x17F), 'S'); /* ſ */
    assert_int_equal(tk_unicode_tolower(0x17F), 0x17F);
    assert_int_equal(tk_unicode_toupper(0x3C2), 0x3A3); /* final sigma */
    assert_int_equal(tk_unicode_tolower(0x3C2), 0x3C2);
    assert_int_equal(tk_unicode_tolower(0x3F4), 0x3B8);
    assert_int_equal(tk_unicode_toupper(0x3D0), 0x392);
    assert_int_equal(tk_unicode_toupper(0x3F5), 0x395);

    /* unchanged */
    static const uint32_t same[] = {
        '0',    '@',    '[',    '`',    '{',    0x7F,    0xB5,     0xD7,       0xF7,
        0xDF,   0x138,  0x149,  0x180,  0x24F,  0x345,   0x374,    0x375,      0x37E,
        0x387,  0x390,  0x3A2,  0x3B0,  0x3F6,  0x482,   0x489,    0x530,      0x531,
        0x1E00, 0x1F08, 0x2126, 0x212A, 0xFF21, 0x10400, 0x110000, 0xFFFFFFFF,
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        assert_int_equal(tk_unicode_tolower(same[i]), same[i]);
        assert_int_equal(tk_unicode_toupper(same[i]), same[i]);
    }

    /* toupper inverts tolower wherever tolower changes something, except for İ -> i and
     * ϴ -> θ (whose capitals are I and Θ) */
    for (uint32_t cp = 0; cp < 0x600; cp++) {
        uint32_t l = tk_unicode_tolower(cp);
        if (l != cp && cp != 0x130 && cp != 0x3F4)
            assert_int_equal(tk_unicode_toupper(l), cp);
    }
}

static void check_fold(const char *in, size_t len, const char *want, size_t want_len)
{
    struct tk_buf b;
    char got[256], exp[256];
    tk_buf_init(&b, 1 << 12);
    assert_int_equal(tk_utf8_fold(in, len, &b), 0);
    assert_non_null(b.data);
    hex(b.data, b.len, got, sizeof(got));
    hex(want, want_len, exp, sizeof(exp));
    assert_string_equal(got, exp);
    tk_buf_free(&b);
}

#define FOLD(in, want) check_fold(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void test_fold(void **state)
{
    (void)state;
    FOLD("", "");
    FOLD("Hello World 42!", "hello world 42!");
    FOLD("\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9"); /* ÉTÉ */
    FOLD("\xc5\xb8", "\xc3\xbf");                   /* Ÿ -> ÿ */
    FOLD("\xc4\xb0stanbul", "istanbul");            /* İ */
    FOLD("\xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91", "\xce\xb1\xce\xb8\xce\xb7\xce\xbd\xce\xb1");
    FOLD("\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90", /* МОСКВА */
         "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0");
    FOLD("\xd0\x81\xd0\x86", "\xd1\x91\xd1\x96"); /* ЁІ */
    FOLD("\xef\xbc\xa1", "\xef\xbc\xa1");         /* fullwidth: untouched */
    FOLD("\xf0\x9f\x98\x80X", "\xf0\x9f\x98\x80x");
    FOLD("A\xff-B\xe2\x82", "a" FFFD "-b" FFFD);
    FOLD("\xed\xa0\x80", FFFD FFFD FFFD);
    FOLD("A\0B", "a\0b");
}

static void test_fold_search_semantics(void **state)
{
    (void)state;
    struct tk_buf hay, needle;
    tk_buf_init(&hay, 256);
    tk_buf_init(&needle, 256);
    assert_int_equal(tk_utf8_fold("My \u00dcBER Token", 14, &hay), 0);
    assert_int_equal(tk_utf8_fold("\u00fcber", 5, &needle), 0);
    assert_non_null(strstr(hay.data, needle.data));
    tk_buf_free(&hay);
    tk_buf_free(&needle);
}

static void test_length(void **state)
{
    (void)state;
    assert_int_equal(tk_utf8_length("", 0), 0);
    assert_int_equal(tk_utf8_length(NULL, 0), 0);
    assert_int_equal(tk_utf8_length("abc", 3), 3);
    assert_int_equal(tk_utf8_length("a\0b", 3), 3);
    assert_int_equal(tk_utf8_length("h\xc3\xa9llo", 6), 5);
    assert_int_equal(tk_utf8_length("\xe2\x82\xac\xf0\x9d\x84\x9e", 7), 2);
    assert_int_equal(tk_utf8_length("\xe2\x82", 2), 1);
    assert_int_equal(tk_utf8_length("\xed\xa0\x80", 3), 3);
    assert_int_equal(tk_utf8_length("\xc0\xaf", 2), 2);
    assert_int_equal(tk_utf8_length("\xff\xfe", 2), 2);
    assert_int_equal(tk_utf8_length("\xf0\x9f\x98x", 4), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repair),  cmocka_unit_test(test_repair_sticky_error),
        cmocka_unit_test(test_valid),   cmocka_unit_test(test_decode),
        cmocka_unit_test(test_put),     cmocka_unit_test(test_put_roundtrip),
        cmocka_unit_test(test_isspace), cmocka_unit_test(test_case_mappings),
        cmocka_unit_test(test_fold),    cmocka_unit_test(test_fold_search_semantics),
        cmocka_unit_test(test_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
