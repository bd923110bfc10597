/* Unit tests for src/util/log.c: JSON lines escape every value, text lines stay one line, the
 * level filters, and a reopen after a rename writes to a new file at the configured path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

static char dir[64];
static char path[128];

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (f == NULL)
        return calloc(1, 1);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tk-log-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/t.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tk_log_close();
    char old[160];
    snprintf(old, sizeof(old), "%s.1", path);
    unlink(path);
    unlink(old);
    rmdir(dir);
    return 0;
}

static void json_lines_escape_values(void **state)
{
    (void)state;
    assert_int_equal(tk_log_init(TK_LOG_INFO, TK_LOG_JSON, path), 0);
    struct tk_log_line l;
    assert_true(tk_log_begin(&l, TK_LOG_INFO, "t", "ev\"ent\n"));
    tk_log_cstr(&l, "s", "a\"b\\c\n\x01\xff");
    tk_log_int(&l, "n", -42);
    tk_log_null(&l, "u");
    tk_log_ms(&l, "ms", 1.23456);
    tk_log_end(&l);
    char *text = slurp(path);
    const char *want_tail = ",\"level\":\"info\",\"logger\":\"t\",\"event\":\"ev\\\"ent\\n\","
                            "\"s\":\"a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\",\"n\":-42,\"u\":null,"
                            "\"ms\":1.235}\n";
    assert_true(strncmp(text, "{\"timestamp\":\"", 14) == 0);
    assert_non_null(strstr(text, want_tail));
    assert_string_equal(strstr(text, want_tail), want_tail);
    free(text);
}

static void level_filters(void **state)
{
    (void)state;
    assert_int_equal(tk_log_init(TK_LOG_WARNING, TK_LOG_JSON, path), 0);
    struct tk_log_line l;
    assert_false(tk_log_begin(&l, TK_LOG_INFO, "t", "hidden"));
    assert_false(tk_log_enabled(TK_LOG_DEBUG));
    tk_log(TK_LOG_INFO, "t", "hidden %d", 1);
    tk_log(TK_LOG_ERROR, "t", "shown %d", 2);
    char *text = slurp(path);
    assert_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, "\"level\":\"error\",\"logger\":\"t\",\"event\":\"shown 2\"}\n"));
    free(text);
}

static void text_lines_quote_what_needs_it(void **state)
{
    (void)state;
    assert_int_equal(tk_log_init(TK_LOG_DEBUG, TK_LOG_TEXT, path), 0);
    struct tk_log_line l;
    assert_true(tk_log_begin(&l, TK_LOG_DEBUG, "t", "two\nlines"));
    tk_log_cstr(&l, "bare", "/a?b=c");
    tk_log_cstr(&l, "spaced", "a b");
    tk_log_cstr(&l, "empty", "");
    tk_log_null(&l, "none");
    tk_log_end(&l);
    char *text = slurp(path);
    assert_non_null(
        strstr(text, " debug t: two\\x0alines bare=/a?b=c spaced=\"a b\" empty=\"\" none=-\n"));
    assert_int_equal(strchr(text, '\n') - text + 1, (long)strlen(text)); /* one line */
    free(text);
}

static void reopen_follows_a_rename(void **state)
{
    (void)state;
    assert_int_equal(tk_log_init(TK_LOG_INFO, TK_LOG_JSON, path), 0);
    tk_log(TK_LOG_INFO, "t", "first");
    char old[160];
    snprintf(old, sizeof(old), "%s.1", path);
    assert_int_equal(rename(path, old), 0);
    tk_log(TK_LOG_INFO, "t", "second"); /* the renamed file is still open */
    assert_int_equal(tk_log_reopen(), 0);
    tk_log(TK_LOG_INFO, "t", "third");
    char *a = slurp(old), *b = slurp(path);
    assert_non_null(strstr(a, "first"));
    assert_non_null(strstr(a, "second"));
    assert_null(strstr(a, "third"));
    assert_non_null(strstr(b, "third"));
    assert_null(strstr(b, "second"));
    free(a);
    free(b);
}

static void parse_settings(void **state)
{
    (void)state;
    enum tk_log_level lv;
    enum tk_log_format f;
    assert_int_equal(tk_log_level_parse("warning", &lv), 0);
    assert_int_equal(lv, TK_LOG_WARNING);
    assert_int_equal(tk_log_level_parse("debug", &lv), 0);
    assert_int_equal(lv, TK_LOG_DEBUG);
    assert_int_equal(tk_log_level_parse("Info", &lv), TK_ERR_INVALID);
    assert_int_equal(tk_log_level_parse("", &lv), TK_ERR_INVALID);
    assert_int_equal(tk_log_format_parse("text", &f), 0);
    assert_int_equal(f, TK_LOG_TEXT);
    assert_int_equal(tk_log_format_parse("logfmt", &f), TK_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(json_lines_escape_values, setup, teardown),
        cmocka_unit_test_setup_teardown(level_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(text_lines_quote_what_needs_it, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_follows_a_rename, setup, teardown),
        cmocka_unit_test(parse_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
