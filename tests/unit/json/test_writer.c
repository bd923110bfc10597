/* The JSON writer (src/json/writer.c): structure, commas, and escaping as Python's json module
 * with ensure_ascii=False; invalid UTF-8 becomes U+FFFD so output is always valid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json/writer.h"

static void esc(const char *in, size_t len, const char *want)
{
    struct tk_buf b;
    tk_buf_init(&b, 1 << 16);
    assert_int_equal(tk_json_escape(&b, in, len), 0);
    assert_string_equal(b.data ? b.data : "", want);
    tk_buf_free(&b);
}

static void test_escaping(void **state)
{
    esc("plain", 5, "plain");
    esc("a\"b\\c", 5, "a\\\"b\\\\c");
    esc("\b\f\n\r\t", 5, "\\b\\f\\n\\r\\t");
    esc("\x01\x1f", 2, "\\u0001\\u001f");
    esc("a\0b", 3, "a\\u0000b");
    esc("/", 1, "/");
    esc("\x7f", 1, "\x7f");
    esc("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    esc("\xe2\x80\xa8", 3, "\xe2\x80\xa8"); /* U+2028 raw, as json.dumps */
    esc("\xff", 1, "\xef\xbf\xbd");
    esc("a\xc3", 2, "a\xef\xbf\xbd");
    esc("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    esc("\xef\xbf\xbd", 3, "\xef\xbf\xbd");
}

/* The word-at-a-time scan: one byte that needs attention at every position of runs of every
 * length around the 8-byte word, each escaped exactly as on its own. */
static void test_escaping_every_position(void **state)
{
    static const struct {
        char c;
        const char *want;
    } special[] = {{'"', "\\\""},           {'\\', "\\\\"},      {'\n', "\\n"},
                   {'\x01', "\\u0001"},     {'\x1f', "\\u001f"}, {'\0', "\\u0000"},
                   {'\xff', "\xef\xbf\xbd"}};
    for (size_t k = 0; k < sizeof(special) / sizeof(special[0]); k++) {
        for (size_t len = 1; len <= 40; len++) {
            for (size_t pos = 0; pos < len; pos++) {
                char in[41], want[64];
                memset(in, 'a', len);
                in[pos] = special[k].c;
                size_t n = 0;
                memset(want, 'a', pos);
                n = pos;
                size_t wl = strlen(special[k].want);
                memcpy(want + n, special[k].want, wl);
                n += wl;
                memset(want + n, 'a', len - pos - 1);
                n += len - pos - 1;
                want[n] = '\0';
                esc(in, len, want);
            }
        }
    }
    /* a clean word followed by a multi-byte character split across words */
    esc("abcdefg\xc3\xa9hijklmnop", 18, "abcdefg\xc3\xa9hijklmnop");
    const char *ascii = " ~!#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}\x7f";
    esc(ascii, strlen(ascii), ascii);
}

static void test_structure(void **state)
{
    struct tk_buf b;
    tk_buf_init(&b, 1 << 16);
    struct tk_jw w;
    tk_jw_init(&w, &b);
    tk_jw_obj_begin(&w);
    tk_jw_key(&w, "a");
    tk_jw_int(&w, -9223372036854775807LL - 1);
    tk_jw_key(&w, "b");
    tk_jw_arr_begin(&w);
    tk_jw_bool(&w, true);
    tk_jw_bool(&w, false);
    tk_jw_null(&w);
    tk_jw_obj_begin(&w);
    tk_jw_obj_end(&w);
    tk_jw_arr_begin(&w);
    tk_jw_arr_end(&w);
    tk_jw_arr_end(&w);
    tk_jw_key(&w, "c\n");
    tk_jw_cstr(&w, NULL);
    tk_jw_key(&w, "t");
    tk_jw_time(&w, 1727447178082123LL);
    tk_jw_key(&w, "u");
    tk_jw_time(&w, 1727447178000000LL);
    tk_jw_key(&w, "r");
    tk_jw_raw(&w, "{\"x\":1}", 7);
    tk_jw_obj_end(&w);
    assert_int_equal(b.err, 0);
    assert_string_equal(b.data, "{\"a\":-9223372036854775808,\"b\":[true,false,null,{},[]],"
                                "\"c\\n\":null,\"t\":\"2024-09-27T14:26:18.082123Z\","
                                "\"u\":\"2024-09-27T14:26:18Z\",\"r\":{\"x\":1}}");
    tk_buf_free(&b);
}

static void test_cap_is_sticky(void **state)
{
    struct tk_buf b;
    tk_buf_init(&b, 8);
    struct tk_jw w;
    tk_jw_init(&w, &b);
    tk_jw_arr_begin(&w);
    tk_jw_cstr(&w, "0123456789");
    tk_jw_int(&w, 1);
    tk_jw_arr_end(&w);
    assert_int_equal(b.err, TK_ERR_TOOBIG);
    assert_true(b.len <= 8);
    tk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_escaping_every_position),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_cap_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
