/* Unit tests for src/util/time.c: datetime parsing as Django/DRF accept it (docs/api.md §1.3),
 * RFC 3339 and Python str() output, and authentik's duration strings (§12.3). Expected values
 * were checked against CPython 3.11 running Django's parse_datetime and authentik's
 * timedelta_from_string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/time.h"

#define DAY_US 86400000000LL

/* Compares "input -> outcome" strings so a failure names the input. */
static void check_parse(const char *in, size_t len, const char *want)
{
    char got[256], exp[256], t[TK_TIME_BUFSZ];
    int64_t us = 0;
    int rc = tk_time_parse(in, len, &us);

    if (rc == 0)
        tk_time_format(us, t);
    else
        snprintf(t, sizeof(t), "error %d", rc);
    snprintf(got, sizeof(got), "%.*s -> %s", (int)len, in, t);
    snprintf(exp, sizeof(exp), "%.*s -> %s", (int)len, in, want);
    assert_string_equal(got, exp);
}

#define OK(in, want) check_parse(in, strlen(in), want)
#define BAD(in) check_parse(in, strlen(in), "error -3")

static void test_parse_fromisoformat_forms(void **state)
{
    (void)state;
    OK("2024-09-27", "2024-09-27T00:00:00Z");
    OK("2024-09-27T14:26:18.082123Z", "2024-09-27T14:26:18.082123Z");
    OK("2024-09-27T14:26:18Z", "2024-09-27T14:26:18Z");
    OK("2024-09-27T14:26:18", "2024-09-27T14:26:18Z");
    OK("2024-09-27 14:26:18", "2024-09-27T14:26:18Z");
    OK("2024-09-27t14:26:18", "2024-09-27T14:26:18Z");
    OK("2024-09-27T14:26", "2024-09-27T14:26:00Z");
    OK("2024-09-27T14", "2024-09-27T14:00:00Z");
    OK("2024-09-27T14Z", "2024-09-27T14:00:00Z");
    OK("2024-09-27T14+02", "2024-09-27T12:00:00Z");
    OK("2024-09-27t14:26+02:00", "2024-09-27T12:26:00Z");
    OK("2024-09-27T14:26:18+02:00", "2024-09-27T12:26:18Z");
    OK("2024-09-27T14:26:18+0200", "2024-09-27T12:26:18Z");
    OK("2024-09-27T14:26:18-0530", "2024-09-27T19:56:18Z");
    OK("2024-09-27T14:26:18-00:00", "2024-09-27T14:26:18Z");
    OK("2024-09-27T14:26:18.5", "2024-09-27T14:26:18.500000Z");
    OK("2024-09-27T14:26:18,25", "2024-09-27T14:26:18.250000Z");
    OK("2024-09-27T14:26:18.000000", "2024-09-27T14:26:18Z");
    OK("2024-09-27T14:26:18.5+01", "2024-09-27T13:26:18.500000Z");
    /* fromisoformat keeps 6 fraction digits of any number */
    OK("2024-09-27T14:26:18.1234567891234", "2024-09-27T14:26:18.123456Z");
    OK("2024-09-27T14:26:18.1234569999999Z", "2024-09-27T14:26:18.123456Z");
    /* offsets: minutes are not range-checked by Python, only |offset| < 24h */
    OK("2024-09-27T00:00+00:99", "2024-09-26T22:21:00Z");
    OK("2024-09-27T12:00+23:59", "2024-09-26T12:01:00Z");
    OK("2024-09-27T12:00-23:59", "2024-09-28T11:59:00Z");
    OK("2024-12-31T23:30-01:00", "2025-01-01T00:30:00Z");
}

static void test_parse_django_regex_forms(void **state)
{
    (void)state;
    OK("2024-9-7 4:6", "2024-09-07T04:06:00Z");
    OK("2024-9-7T4:6:5.1", "2024-09-07T04:06:05.100000Z");
    OK("2024-09-27 14:26:18 +01:00", "2024-09-27T13:26:18Z");
    OK("2024-09-27 14:26:18\tZ", "2024-09-27T14:26:18Z");
    OK("2024-09-27 14:26   ", "2024-09-27T14:26:00Z");
    OK("2024-09-27 14:26\n", "2024-09-27T14:26:00Z");
    OK("2024-09-27 14:26+01:00\n", "2024-09-27T13:26:00Z");
    OK("2024-09-27T14:26:18.123456789012Z", "2024-09-27T14:26:18.123456Z");
    OK("2024-9-27T14:26:18.123456789012", "2024-09-27T14:26:18.123456Z");
    OK("2024-9-27T14:26:18,5+0100", "2024-09-27T13:26:18.500000Z");
    /* Python's \d and \s are Unicode-aware, and int() reads any decimal digit */
    OK("\uff12\uff10\uff12\uff14-09-27 14:26", "2024-09-27T14:26:00Z");
    OK("2024-09-27 14:26 +\u0660\u0661:00", "2024-09-27T13:26:00Z");
    OK("2024-09-27 14:26\u00a0+01:00", "2024-09-27T13:26:00Z");
    OK("2024-09-27 14:26\u3000", "2024-09-27T14:26:00Z");
}

static void test_parse_invalid(void **state)
{
    (void)state;
    BAD("");
    BAD(" ");
    BAD("2024");
    BAD("2024-09");
    BAD("2024-09-27T");
    BAD("2024-09-27 ");
    BAD(" 2024-09-27");
    BAD("x2024-09-27");
    BAD("2024-09-27x");
    BAD("2024-09-27T14:26:18Zx");
    BAD("2024-09-27T14:26:18+01:00 ");
    BAD("2024-09-27T14:26+01:00\n\n");
    BAD("2024-09-27\n");
    /* out-of-range fields */
    BAD("2024-09-27T24:00");
    BAD("2024-09-27T23:60");
    BAD("2024-09-27T23:59:60");
    BAD("2024-13-01");
    BAD("2024-00-01");
    BAD("2024-01-00");
    BAD("2024-01-32");
    BAD("2024-02-30");
    BAD("2024-04-31");
    BAD("0000-01-01");
    BAD("0000-12-31T23:59:59Z");
    /* non-digits, signs and wrong widths */
    BAD("2024-+9-27");
    BAD("2024-09-2a");
    BAD("-024-09-27");
    BAD("+2024-09-27");
    BAD("2024-09-27T1a:00");
    BAD("2024-09-27T-1:00");
    BAD("2024-09-27T+1:00");
    BAD("12024-09-27");
    BAD("2024-123-01 00:00");
    BAD("2024-09-27T14:026");
    BAD("2024-09-27T14:26:018");
    /* fractions */
    BAD("2024-09-27T14:26:18.");
    BAD("2024-09-27T14:26:18.Z");      /* fromisoformat quirk: an empty fraction before */
    BAD("2024-09-27T14:26:18.+01:00"); /* an offset passes there; not a documented form */
    BAD("2024-09-27 1:2:3.");
    BAD("2024-9-27T14:26:18.1234567890123");
    BAD("2024-09-27T14:26:18.5.5");
    /* offsets */
    BAD("2024-09-27T14:26+1");
    BAD("2024-09-27T14:26+01:0");
    BAD("2024-09-27T14:26+01:");
    BAD("2024-09-27T14:26+");
    BAD("2024-09-27T14:26+24:00");
    BAD("2024-09-27T14:26-24:00");
    BAD("2024-09-27T14:26+01:00:00"); /* offset seconds: fromisoformat only */
    BAD("2024-09-27T14:26Z+01");
    BAD("2024-09-27T14:26z"); /* neither fromisoformat nor Django takes a lower-case z */
    /* forms fromisoformat takes that tokend does not (docs/api.md §1: clients never send them) */
    BAD("2024-09-27X14:26");
    BAD("20240927");
    BAD("20240927T142618");
    BAD("2024-W39-5");
    BAD("2024-09-27T1426");
    BAD("2024-09-27T14.5");
    /* NUL and invalid UTF-8 */
    check_parse("2024-09-27\0", 11, "error -3");
    BAD("2024-09-27 14:26\xff");
    BAD("\uff12\uff10\uff12-09-27 14:26");
}

static void test_parse_leap_years(void **state)
{
    (void)state;
    OK("2000-02-29", "2000-02-29T00:00:00Z");
    OK("2024-02-29T12:00", "2024-02-29T12:00:00Z");
    OK("1600-02-29", "1600-02-29T00:00:00Z");
    BAD("1900-02-29");
    BAD("2100-02-29");
    BAD("2023-02-29");
    BAD("2024-02-30");
    OK("2024-02-28T23:30-01:00", "2024-02-29T00:30:00Z");
    OK("2023-02-28T23:30-01:00", "2023-03-01T00:30:00Z");
    OK("1900-02-28T23:30-01:00", "1900-03-01T00:30:00Z");
}

static void test_parse_boundaries(void **state)
{
    (void)state;
    int64_t us = 0;

    assert_int_equal(tk_time_parse("0001-01-01T00:00:00Z", 20, &us), 0);
    assert_int_equal(us, TK_TIME_MIN_US);
    assert_int_equal(tk_time_parse("9999-12-31T23:59:59.999999Z", 27, &us), 0);
    assert_int_equal(us, TK_TIME_MAX_US);
    assert_int_equal(tk_time_parse("1970-01-01", 10, &us), 0);
    assert_int_equal(us, 0);
    assert_int_equal(tk_time_parse("1969-12-31T23:59:59.999999", 26, &us), 0);
    assert_int_equal(us, -1);

    OK("0001-01-01", "0001-01-01T00:00:00Z");
    OK("0001-01-01T00:00-01:00", "0001-01-01T01:00:00Z");
    OK("0001-01-01T01:00+01:00", "0001-01-01T00:00:00Z");
    BAD("0001-01-01T00:00+00:01");
    BAD("0001-01-01T00:59+01:00");
    OK("9999-12-31", "9999-12-31T00:00:00Z");
    OK("9999-12-31T23:59+01:00", "9999-12-31T22:59:00Z");
    OK("9999-12-31T22:59:59.999999-01:00", "9999-12-31T23:59:59.999999Z");
    BAD("9999-12-31T23:59-00:01");
    BAD("9999-12-31T23:00-01:00");
    BAD("9999-12-31 23:59:59 -01");
}

static void test_parse_not_nul_terminated(void **state)
{
    (void)state;
    const char buf[] = "2024-09-27T14:26:18Zgarbage";
    check_parse(buf, 20, "2024-09-27T14:26:18Z");
    check_parse(buf, 19, "2024-09-27T14:26:18Z");
    check_parse(buf, 10, "2024-09-27T00:00:00Z");
    check_parse(buf, 11, "error -3");
    check_parse(buf, 0, "error -3");
}

static void check_format(int64_t us, const char *want, const char *want_py)
{
    char out[TK_TIME_BUFSZ];
    size_t n = tk_time_format(us, out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    n = tk_time_format_py(us, out);
    assert_string_equal(out, want_py);
    assert_int_equal(n, strlen(want_py));
}

static void test_format(void **state)
{
    (void)state;
    check_format(0, "1970-01-01T00:00:00Z", "1970-01-01 00:00:00+00:00");
    check_format(1, "1970-01-01T00:00:00.000001Z", "1970-01-01 00:00:00.000001+00:00");
    check_format(-1, "1969-12-31T23:59:59.999999Z", "1969-12-31 23:59:59.999999+00:00");
    check_format(-1000000, "1969-12-31T23:59:59Z", "1969-12-31 23:59:59+00:00");
    check_format(-DAY_US, "1969-12-31T00:00:00Z", "1969-12-31 00:00:00+00:00");
    check_format(1727447178082123LL, "2024-09-27T14:26:18.082123Z",
                 "2024-09-27 14:26:18.082123+00:00");
    check_format(1727454378082123LL, "2024-09-27T16:26:18.082123Z",
                 "2024-09-27 16:26:18.082123+00:00");
    check_format(1727447178000000LL, "2024-09-27T14:26:18Z", "2024-09-27 14:26:18+00:00");
    check_format(951782400000000LL, "2000-02-29T00:00:00Z", "2000-02-29 00:00:00+00:00");
    check_format(-2203891200000000LL, "1900-03-01T00:00:00Z", "1900-03-01 00:00:00+00:00");
    check_format(-2208988800000000LL, "1900-01-01T00:00:00Z", "1900-01-01 00:00:00+00:00");
    check_format(TK_TIME_MIN_US, "0001-01-01T00:00:00Z", "0001-01-01 00:00:00+00:00");
    check_format(TK_TIME_MAX_US, "9999-12-31T23:59:59.999999Z", "9999-12-31 23:59:59.999999+00:00");
    check_format(TK_TIME_MIN_US + 10, "0001-01-01T00:00:00.000010Z",
                 "0001-01-01 00:00:00.000010+00:00");
}

static void test_format_parse_roundtrip(void **state)
{
    (void)state;
    static const int64_t vals[] = {
        TK_TIME_MIN_US,    TK_TIME_MIN_US + 1, -62104150800000000LL, -2208988800000001LL, -1, 0, 1,
        951868799999999LL, 1727447178082123LL, TK_TIME_MAX_US - 1,   TK_TIME_MAX_US,
    };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char out[TK_TIME_BUFSZ];
        int64_t back = 0;
        size_t n = tk_time_format(vals[i], out);
        assert_int_equal(tk_time_parse(out, n, &back), 0);
        assert_int_equal(back, vals[i]);
        n = tk_time_format_py(vals[i], out);
        assert_int_equal(tk_time_parse(out, n, &back), 0);
        assert_int_equal(back, vals[i]);
    }
}

static void test_now(void **state)
{
    (void)state;
    int64_t a = tk_now_us();
    int64_t b = tk_now_us();
    assert_true(a > 1704067200000000LL); /* after 2024-01-01 */
    assert_true(a < TK_TIME_MAX_US);
    assert_true(b >= a);
}

/* Durations: "input -> microseconds" or "input -> error -3". */
static void check_dur(const char *in, size_t len, const char *want)
{
    char got[256], exp[256];
    int64_t us = 0;
    int rc = tk_duration_parse(in, len, &us);

    if (rc == 0)
        snprintf(got, sizeof(got), "%.*s -> %lld", (int)len, in, (long long)us);
    else
        snprintf(got, sizeof(got), "%.*s -> error %d", (int)len, in, rc);
    snprintf(exp, sizeof(exp), "%.*s -> %s", (int)len, in, want);
    assert_string_equal(got, exp);
}

#define DUR(in, want) check_dur(in, strlen(in), want)
#define DUR_BAD(in) check_dur(in, strlen(in), "error -3")

static void test_duration_examples(void **state)
{
    (void)state;
    DUR("days=30;hours=12", "2635200000000");
    DUR("minutes=30", "1800000000");
    DUR("hours=-1", "-3600000000");
    DUR("minutes=1.5", "90000000");
    DUR("seconds= 2 ", "2000000");
    DUR("HOURS=1", "3600000000");
    DUR("Days=1;hOuRs=1", "90000000000");
    DUR("foo=1;days=1", "86400000000");
    DUR("days=1;days=2", "172800000000");
    DUR("weeks=1", "604800000000");
    DUR("milliseconds=1500", "1500000");
    DUR("microseconds=7", "7");
    DUR("weeks=1;days=1;hours=1;minutes=1;seconds=1;milliseconds=1;microseconds=1", "694861001001");
    DUR("days=0", "0");
    DUR_BAD("hours =2");
    DUR_BAD(" hours=2");
    DUR_BAD("days");
    DUR_BAD("days=1=2");
    DUR_BAD("days=abc");
    DUR_BAD("");
    DUR_BAD(";");
    DUR_BAD("days=1;");
    DUR_BAD(";days=1");
    DUR_BAD("foo=1");
    DUR_BAD("=1");
    DUR_BAD("days=1,hours=2"); /* comma is not a separator */
}

static void test_duration_pairs(void **state)
{
    (void)state;
    /* unknown keys are skipped without looking at their value, but still need one '=' */
    DUR("foo=abc;days=1", "86400000000");
    DUR("=1;days=2", "172800000000");
    DUR("hours =x;days=1", "86400000000");
    DUR_BAD("foo;days=1");
    DUR_BAD("foo=1=2;days=1");
    /* every value of a known key is parsed, even one a later pair replaces */
    DUR_BAD("days=abc;days=1");
    DUR("days=inf;days=1", "86400000000");
    DUR("days=nan;days=1", "86400000000");
    DUR_BAD("days=1;days=inf");
    /* U+212A KELVIN SIGN lowers to 'k' in Python */
    DUR("WEE\u212AS=1", "604800000000");
    DUR_BAD("d\u0131ys=1"); /* dotless i does not lower to 'i' */
    DUR_BAD("da\0ys=1");
}

static void test_duration_numbers(void **state)
{
    (void)state;
    DUR("days=1.", "86400000000");
    DUR("seconds=.5", "500000");
    DUR("seconds=-.5", "-500000");
    DUR("seconds=+1", "1000000");
    DUR("days=1e3", "86400000000000");
    DUR("seconds=1E-3", "1000");
    DUR("seconds=1.e3", "1000000000");
    DUR("seconds=2.5e+1", "25000000");
    DUR("days=1_0", "864000000000");
    DUR("seconds=1_000.000_1", "1000000100");
    DUR("seconds=1e1_0", "10000000000000000");
    DUR("seconds=0001", "1000000");
    DUR("days=1e-400", "0");
    DUR("seconds=0.000000000000000000000000000000000000001e39", "1000000");
    DUR("seconds=\t1\n", "1000000");
    DUR("seconds=\v1\f\r", "1000000");
    /* float() takes Unicode whitespace and decimal digits */
    DUR("seconds=\u00a01\u3000", "1000000");
    DUR("seconds=1\xc2\x85", "1000000"); /* U+0085 */
    DUR("days=\u0661\u0662", "1036800000000");
    DUR("seconds=\u0661_\u0662", "12000000");
    DUR_BAD("seconds=\0341");   /* \x1c: isspace(), but float() strips only ASCII */
    DUR_BAD("seconds=\u200b1"); /* zero width space is not whitespace */
    DUR_BAD("days=1__0");
    DUR_BAD("days=_1");
    DUR_BAD("days=1_");
    DUR_BAD("days=1_.5");
    DUR_BAD("days=1._5");
    DUR_BAD("days=1_e1");
    DUR_BAD("days=1 _0");
    DUR_BAD("days=1 2");
    DUR_BAD("days=");
    DUR_BAD("days= ");
    DUR_BAD("days=.");
    DUR_BAD("days=+");
    DUR_BAD("days=+-1");
    DUR_BAD("days=.e3");
    DUR_BAD("days=e3");
    DUR_BAD("days=1e");
    DUR_BAD("days=1e+");
    DUR_BAD("days=0x10");
    DUR_BAD("days=1d");
    DUR_BAD("days=1\xff");
    check_dur("days=1\0", 7, "error -3");
    /* inf and nan parse as floats but make no timedelta */
    DUR_BAD("days=inf");
    DUR_BAD("days=-inf");
    DUR_BAD("days=Infinity");
    DUR_BAD("days=nan");
    DUR_BAD("days=-NaN");
    DUR_BAD("days=1e999");
    DUR_BAD("days=infinit");
    DUR_BAD("days=infinityy");
    DUR_BAD("days=in f");
}

static void test_duration_rounding(void **state)
{
    (void)state;
    /* CPython's delta_new: exact integer parts, fractional leftovers rounded half to even */
    DUR("microseconds=0.5", "0");
    DUR("microseconds=1.5", "2");
    DUR("microseconds=2.5", "2");
    DUR("microseconds=-0.5", "0");
    DUR("microseconds=-1.5", "-2");
    DUR("milliseconds=0.0005;microseconds=1", "2");
    DUR("milliseconds=0.0015", "2");
    DUR("seconds=0.1234565", "123456");
    DUR("days=1.1", "95040000000");
    DUR("hours=-0.0000001", "-360");
    DUR("days=0.5;microseconds=0.5", "43200000000");
    DUR("minutes=1e-7;seconds=0.00000025", "6");
}

static void test_duration_range(void **state)
{
    (void)state;
    DUR("days=106751991", "9223372022400000000");
    DUR("days=106751991.1", "9223372031039999485");
    DUR("days=-106751991.1", "-9223372031039999485");
    /* timedelta reaches 999999999 days, int64 microseconds about 106751991: beyond is
     * refused (Python would raise OverflowError only past 999999999 days) */
    DUR_BAD("days=106751992");
    DUR_BAD("days=-106751992");
    DUR_BAD("weeks=1e8");
    DUR_BAD("days=1e9");
    DUR_BAD("days=1e300");
    DUR_BAD("microseconds=1e19");
    DUR("days=106751991;hours=-1", "9223372018800000000");
    /* a single value of 2^63 units or more is refused even when another cancels it (Python
     * would answer 0 here) */
    DUR_BAD("days=1e20;hours=-24e20");
}

static void test_duration_not_nul_terminated(void **state)
{
    (void)state;
    const char buf[] = "days=1;hours=2XXX";
    check_dur(buf, 14, "93600000000");
    check_dur(buf, 15, "error -3");
    check_dur(buf, 6, "86400000000");
    check_dur(buf, 0, "error -3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fromisoformat_forms),
        cmocka_unit_test(test_parse_django_regex_forms),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_leap_years),
        cmocka_unit_test(test_parse_boundaries),
        cmocka_unit_test(test_parse_not_nul_terminated),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_parse_roundtrip),
        cmocka_unit_test(test_now),
        cmocka_unit_test(test_duration_examples),
        cmocka_unit_test(test_duration_pairs),
        cmocka_unit_test(test_duration_numbers),
        cmocka_unit_test(test_duration_rounding),
        cmocka_unit_test(test_duration_range),
        cmocka_unit_test(test_duration_not_nul_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
