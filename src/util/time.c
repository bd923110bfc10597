/* Time as tokend keeps it (time.h): int64 microseconds since the epoch, UTC. Parses what
 * authentik's Django/DRF stack accepts (datetimes in the forms of docs/api.md §1.3,
 * duration strings of §12.3) by Python's rules, and formats as DRF and Python's str() do.
 * Allocation-free; the only I/O is reading the clock. */
#include "util/time.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/utf8.h"

#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL

int64_t tk_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t tk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Calendar (proleptic Gregorian, H. Hinnant's days_from_civil / civil_from_days) ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

/* ---- Unicode digits ---- */

/* The zero of every run of Unicode decimal digits (category Nd, Unicode 14 as in Python 3.11);
 * each run holds the ten digits 0-9 in order. Python's float(), int() and the \d of a str
 * regex all take these as digits. */
static const uint32_t nd_zeros[] = {
    0x0030,  0x0660,  0x06F0,  0x07C0,  0x0966,  0x09E6,  0x0A66,  0x0AE6,  0x0B66,  0x0BE6,
    0x0C66,  0x0CE6,  0x0D66,  0x0DE6,  0x0E50,  0x0ED0,  0x0F20,  0x1040,  0x1090,  0x17E0,
    0x1810,  0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,
    0xA8D0,  0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0,
    0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2,
    0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
};

/* Decimal value of a code point, or -1. */
static int nd_value(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(nd_zeros) / sizeof(nd_zeros[0]);
    /* Find the last zero <= cp. */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (nd_zeros[mid] <= cp)
            lo = mid;
        else
            hi = mid;
    }
    if (cp >= nd_zeros[lo] && cp - nd_zeros[lo] < 10)
        return (int)(cp - nd_zeros[lo]);
    return -1;
}

/* ---- Datetime parsing ---- */

struct dt_fields {
    int year, month, day, hour, minute, second, usec;
    int off_min; /* UTC offset in minutes, 0 for naive and 'Z' */
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* n ASCII digits at s[*p..] into *v. */
static bool ascii_num(const char *s, size_t len, size_t *p, int n, int *v)
{
    if (len - *p < (size_t)n)
        return false;
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = s[*p + (size_t)i];
        if (!is_digit(c))
            return false;
        x = x * 10 + (c - '0');
    }
    *p += (size_t)n;
    *v = x;
    return true;
}

/* The part of Python 3.11's datetime.fromisoformat that tokend supports, over ASCII:
 *   YYYY-MM-DD [ (T|t|' ') HH [:MM [:SS [(.|,)F+]]] [Z | (+|-)HH [[:]MM]] ]
 * Fractions keep their first 6 digits and drop the rest. fromisoformat also takes any other
 * single separator character, basic formats (20240927T1426), week dates, fractions after
 * HH or HH:MM and offsets with seconds; clients never send those (docs/api.md §1), so they are
 * refused. */
static bool parse_isoformat(const char *s, size_t len, struct dt_fields *f)
{
    size_t p = 0;

    if (!ascii_num(s, len, &p, 4, &f->year) || p == len || s[p++] != '-' ||
        !ascii_num(s, len, &p, 2, &f->month) || p == len || s[p++] != '-' ||
        !ascii_num(s, len, &p, 2, &f->day))
        return false;
    if (p == len)
        return true; /* date only: midnight */
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ')
        return false;
    p++;
    if (!ascii_num(s, len, &p, 2, &f->hour))
        return false;
    if (p < len && s[p] == ':') {
        p++;
        if (!ascii_num(s, len, &p, 2, &f->minute))
            return false;
        if (p < len && s[p] == ':') {
            p++;
            if (!ascii_num(s, len, &p, 2, &f->second))
                return false;
            if (p < len && (s[p] == '.' || s[p] == ',')) {
                p++;
                size_t start = p;
                int scale = 100000;
                while (p < len && is_digit(s[p])) {
                    f->usec += (s[p] - '0') * scale;
                    scale /= 10;
                    p++;
                }
                if (p == start)
                    return false;
            }
        }
    }
    if (p == len)
        return true;
    if (s[p] == 'Z')
        return p + 1 == len;
    if (s[p] != '+' && s[p] != '-')
        return false;
    int sign = s[p++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!ascii_num(s, len, &p, 2, &oh))
        return false;
    if (p < len) {
        if (s[p] == ':')
            p++;
        if (!ascii_num(s, len, &p, 2, &om) || p != len)
            return false;
    }
    /* Neither parser range-checks the offset's minutes ("+00:99" is 99 minutes); the
     * timezone itself must stay within 24 hours, checked by the caller. */
    f->off_min = sign * (oh * 60 + om);
    return true;
}

/* A cursor over code points, for the regex below, which Python runs on a str. */
struct cps {
    const char *s;
    size_t len, pos;
};

static uint32_t cps_peek(const struct cps *c, size_t *n)
{
    uint32_t cp;
    *n = tk_utf8_decode(c->s + c->pos, c->len - c->pos, &cp);
    return cp;
}

/* Between min and max Unicode digits (\d), the first keep of them accumulated into *v
 * (the rest only counted in *taken). */
static bool cps_digits(struct cps *c, int min, int max, int keep, int *v, int *taken)
{
    int k = 0, x = 0;
    while (k < max && c->pos < c->len) {
        size_t n;
        int d = nd_value(cps_peek(c, &n));
        if (d < 0)
            break;
        if (k < keep)
            x = x * 10 + d;
        c->pos += n;
        k++;
    }
    *v = x;
    if (taken)
        *taken = k;
    return k >= min;
}

static bool cps_char(struct cps *c, char ch)
{
    if (c->pos < c->len && c->s[c->pos] == ch) {
        c->pos++;
        return true;
    }
    return false;
}

/* Django's fallback regex (django.utils.dateparse.datetime_re), run after fromisoformat
 * failed:
 *   (?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})
 *   (?::(?P<second>\d{1,2})(?:[\.,](?P<microsecond>\d{1,6})\d{0,6})?)?
 *   \s*(?P<tzinfo>Z|[+-]\d{2}(?::?\d{2})?)?$
 * As Python runs it on a str: \d is any Unicode decimal digit, \s any Unicode whitespace, and
 * $ also matches before a final "\n". No branch of it needs backtracking to succeed, so a
 * single greedy pass decides. */
static bool parse_django(const char *s, size_t len, struct dt_fields *f)
{
    struct cps c = {s, len, 0};
    int n;

    if (!cps_digits(&c, 4, 4, 4, &f->year, NULL) || !cps_char(&c, '-') ||
        !cps_digits(&c, 1, 2, 2, &f->month, NULL) || !cps_char(&c, '-') ||
        !cps_digits(&c, 1, 2, 2, &f->day, NULL))
        return false;
    if (!cps_char(&c, 'T') && !cps_char(&c, ' '))
        return false;
    if (!cps_digits(&c, 1, 2, 2, &f->hour, NULL) || !cps_char(&c, ':') ||
        !cps_digits(&c, 1, 2, 2, &f->minute, NULL))
        return false;
    if (cps_char(&c, ':')) {
        if (!cps_digits(&c, 1, 2, 2, &f->second, NULL))
            return false;
        if (cps_char(&c, '.') || cps_char(&c, ',')) {
            /* \d{1,6}\d{0,6}, right-padded with zeros to 6 digits (ljust) */
            if (!cps_digits(&c, 1, 12, 6, &f->usec, &n))
                return false;
            for (; n < 6; n++)
                f->usec *= 10;
        }
    }
    while (c.pos < c.len) {
        size_t w;
        if (!tk_unicode_isspace(cps_peek(&c, &w)))
            break;
        c.pos += w;
    }
    if (cps_char(&c, 'Z')) {
        /* UTC */
    } else if (c.pos < c.len && (s[c.pos] == '+' || s[c.pos] == '-')) {
        int sign = s[c.pos++] == '-' ? -1 : 1;
        int oh, om = 0;
        if (!cps_digits(&c, 2, 2, 2, &oh, NULL))
            return false;
        size_t save = c.pos;
        (void)cps_char(&c, ':');
        if (!cps_digits(&c, 2, 2, 2, &om, NULL)) {
            om = 0;
            c.pos = save; /* the group (?::?\d{2})? did not match; $ will decide */
        }
        f->off_min = sign * (oh * 60 + om);
    }
    if (c.pos + 1 == c.len && s[c.pos] == '\n')
        c.pos++;
    return c.pos == c.len;
}

static bool fields_valid(const struct dt_fields *f)
{
    return f->year >= 1 && f->month >= 1 && f->month <= 12 && f->day >= 1 &&
           f->day <= days_in_month(f->year, f->month) && f->hour <= 23 && f->minute <= 59 &&
           f->second <= 59 && f->off_min > -24 * 60 && f->off_min < 24 * 60;
}

/* Django's parse_datetime: fromisoformat first, the regex if that raised. Both reject the
 * same impossible values, so the union of the two grammars is what is accepted. DRF then
 * converts to UTC; a result outside years 1..9999 is an error there too (§1.3). */
int tk_time_parse(const char *s, size_t len, int64_t *out)
{
    struct dt_fields f;

    memset(&f, 0, sizeof(f));
    if (!parse_isoformat(s, len, &f) || !fields_valid(&f)) {
        memset(&f, 0, sizeof(f));
        if (!parse_django(s, len, &f) || !fields_valid(&f))
            return TK_ERR_INVALID;
    }
    int64_t secs = days_from_civil(f.year, (unsigned)f.month, (unsigned)f.day) * 86400 +
                   f.hour * 3600 + f.minute * 60 + f.second - (int64_t)f.off_min * 60;
    int64_t us = secs * US_PER_SEC + f.usec;
    if (us < TK_TIME_MIN_US || us > TK_TIME_MAX_US)
        return TK_ERR_INVALID;
    *out = us;
    return 0;
}

/* ---- Formatting ---- */

struct civil {
    int64_t year;
    unsigned month, day, hour, minute, second, usec;
};

static void split(int64_t us, struct civil *c)
{
    int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    civil_from_days(days, &c->year, &c->month, &c->day);
    int64_t secs = rem / US_PER_SEC;
    c->usec = (unsigned)(rem % US_PER_SEC);
    c->hour = (unsigned)(secs / 3600);
    c->minute = (unsigned)(secs / 60 % 60);
    c->second = (unsigned)(secs % 60);
}

/* Both formats take the shape of Python's isoformat(): %04d year, microseconds only when
 * non-zero. Instants outside years 1..9999 are outside the contract but still print. */
static void put_digits(char **p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        (*p)[i] = (char)('0' + v % 10);
        v /= 10;
    }
    *p += n;
}

static size_t format(int64_t us, char out[TK_TIME_BUFSZ], char sep, const char *zone)
{
    struct civil c;
    int n;

    split(us, &c);
    if (c.year >= 0 && c.year <= 9999 && strlen(zone) < 8) {
        /* Every timestamp of a list page comes through here: digits by hand, not snprintf. */
        char *p = out;
        put_digits(&p, (unsigned)c.year, 4);
        *p++ = '-';
        put_digits(&p, c.month, 2);
        *p++ = '-';
        put_digits(&p, c.day, 2);
        *p++ = sep;
        put_digits(&p, c.hour, 2);
        *p++ = ':';
        put_digits(&p, c.minute, 2);
        *p++ = ':';
        put_digits(&p, c.second, 2);
        if (c.usec) {
            *p++ = '.';
            put_digits(&p, c.usec, 6);
        }
        size_t z = strlen(zone);
        memcpy(p, zone, z + 1);
        return (size_t)(p - out) + z;
    }
    if (c.usec)
        n = snprintf(out, TK_TIME_BUFSZ, "%04lld-%02u-%02u%c%02u:%02u:%02u.%06u%s",
                     (long long)c.year, c.month, c.day, sep, c.hour, c.minute, c.second, c.usec,
                     zone);
    else
        n = snprintf(out, TK_TIME_BUFSZ, "%04lld-%02u-%02u%c%02u:%02u:%02u%s", (long long)c.year,
                     c.month, c.day, sep, c.hour, c.minute, c.second, zone);
    return n < 0 ? 0 : (size_t)n;
}

size_t tk_time_format(int64_t us, char out[TK_TIME_BUFSZ])
{
    return format(us, out, 'T', "Z");
}

size_t tk_time_format_py(int64_t us, char out[TK_TIME_BUFSZ])
{
    return format(us, out, ' ', "+00:00");
}

/* ---- Duration strings (authentik.lib.utils.time.timedelta_from_string) ---- */

/* In the order CPython's timedelta constructor accumulates them; the order matters for the
 * floating-point rounding of the fractional leftovers. */
enum { K_US, K_MS, K_S, K_MIN, K_H, K_D, K_W, K_N };

static const char *const key_names[K_N] = {
    "microseconds", "milliseconds", "seconds", "minutes", "hours", "days", "weeks",
};

static const int64_t key_us[K_N] = {
    1, 1000, US_PER_SEC, 60 * US_PER_SEC, 3600 * US_PER_SEC, US_PER_DAY, 7 * US_PER_DAY,
};

/* key.lower() in ALLOWED_KEYS. Python's lower() is Unicode-aware: besides A-Z, exactly one
 * code point lowers to an ASCII letter, U+212A KELVIN SIGN to 'k' (so "WEEKS" spelled with it
 * is "weeks"). Surrounding spaces are part of the key: " hours" is unknown. */
static int match_key(const char *s, size_t len)
{
    char low[16];
    size_t n = 0, i = 0;

    while (i < len) {
        uint32_t cp;
        size_t w = tk_utf8_decode(s + i, len - i, &cp);
        if (cp >= 'A' && cp <= 'Z')
            cp += 0x20;
        else if (cp == 0x212A)
            cp = 'k';
        if (cp >= 0x80 || n == sizeof(low))
            return -1;
        low[n++] = (char)cp;
        i += w;
    }
    for (int k = 0; k < K_N; k++)
        if (strlen(key_names[k]) == n && memcmp(key_names[k], low, n) == 0)
            return k;
    return -1;
}

/* One character of the value as CPython's float() sees it after
 * _PyUnicode_TransformDecimalAndSpaceToASCII: code points below 0x7F as they are, other
 * whitespace as ' ', other decimal digits as their ASCII digit, anything else (and invalid
 * UTF-8) as '?', which nothing accepts. */
static char py_float_char(const char *s, size_t len, size_t *pos)
{
    unsigned char b = (unsigned char)s[*pos];
    if (b < 0x7F) {
        (*pos)++;
        return (char)b;
    }
    uint32_t cp;
    *pos += tk_utf8_decode(s + *pos, len - *pos, &cp);
    if (tk_unicode_isspace(cp))
        return ' ';
    int d = nd_value(cp);
    return d >= 0 ? (char)('0' + d) : '?';
}

/* Py_ISSPACE: the whitespace float() strips after the transformation (no \x1c-\x1f). */
static bool py_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Significant digits handed to strtod; beyond them only "was any further digit non-zero"
 * matters for correct rounding (a double's halfway points have at most 767 significant
 * digits), and a trailing '1' stands in for it. */
#define FLOAT_MAX_DIGITS 800
/* Decimal exponents beyond this give 0 or infinity whatever <= 801 digits precede them. */
#define FLOAT_EXP_CLAMP 100000
#define SATURATE(x) ((x) > 1000000000000000LL ? 1000000000000000LL : (x))

/* Python's float(str). Grammar after the transformation above: underscores only between two
 * digits (then dropped), Py_ISSPACE around, and
 *   [+-] ( D+ [. D*] | . D+ ) [ (e|E) [+-] D+ ]  |  [+-] ( inf | infinity | nan )
 * the words in any case. Infinities and NaN parse here (a later value of the same key may
 * still replace them); py_timedelta() refuses them. The number is rebuilt as
 * "0.<digits>e<exp>" so strtod sees no locale- or hex-dependent syntax, and strtod rounds
 * correctly, as Python's dtoa does (overflow gives an infinity in both). */
static int parse_py_float(const char *s, size_t len, double *out)
{
    size_t pos;
    char prev = 0;

    /* Pass 1: underscore placement (Python checks it on the whole string) and NULs. */
    for (pos = 0; pos < len;) {
        char c = py_float_char(s, len, &pos);
        if (c == '\0')
            return TK_ERR_INVALID;
        if (c == '_' ? !is_digit(prev) : (prev == '_' && !is_digit(c)))
            return TK_ERR_INVALID;
        prev = c;
    }
    if (prev == '_')
        return TK_ERR_INVALID;

    /* Pass 2: the number. */
    enum { LEAD, SIGN, INT, POINT, FRAC, EXP_E, EXP_SIGN, EXP, WORD, TRAIL } st = LEAD;
    char dig[FLOAT_MAX_DIGITS + 2];
    char word[9];
    size_t nd = 0, nw = 0;
    bool neg = false, exp_neg = false, sticky = false, mant_digit = false;
    long long point = 0, exp = 0; /* value = 0.dig * 10^(point + exp) */

    for (pos = 0; pos < len;) {
        char c = py_float_char(s, len, &pos);
        if (c == '_')
            continue;
        if (py_ascii_space(c)) {
            if (st == LEAD || st == TRAIL)
                continue;
            if (st == INT || st == POINT || st == FRAC || st == EXP || st == WORD) {
                st = TRAIL;
                continue;
            }
            return TK_ERR_INVALID;
        }
        if (is_digit(c)) {
            if (st == TRAIL || st == WORD)
                return TK_ERR_INVALID;
            if (st == EXP_E || st == EXP_SIGN || st == EXP) {
                st = EXP;
                exp = SATURATE(exp * 10 + (c - '0'));
                continue;
            }
            bool in_fraction = st == POINT || st == FRAC;
            st = in_fraction ? FRAC : INT;
            mant_digit = true;
            if (nd == 0 && c == '0') { /* leading zero: only moves the point if after it */
                if (in_fraction)
                    point = -SATURATE(-point + 1);
                continue;
            }
            if (!in_fraction)
                point = SATURATE(point + 1);
            if (nd < FLOAT_MAX_DIGITS)
                dig[nd++] = c;
            else if (c != '0')
                sticky = true;
            continue;
        }
        if ((c == '+' || c == '-') && (st == LEAD || st == EXP_E)) {
            if (st == LEAD)
                neg = c == '-';
            else
                exp_neg = c == '-';
            st = st == LEAD ? SIGN : EXP_SIGN;
        } else if (c == '.' && (st == LEAD || st == SIGN || st == INT)) {
            st = POINT;
        } else if ((c == 'e' || c == 'E') && mant_digit &&
                   (st == INT || st == POINT || st == FRAC)) {
            st = EXP_E;
        } else if (((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
                   (st == LEAD || st == SIGN || st == WORD)) {
            if (nw == sizeof(word) - 1)
                return TK_ERR_INVALID;
            word[nw++] = (char)(c | 0x20);
            st = WORD;
        } else {
            return TK_ERR_INVALID;
        }
    }
    if (nw > 0) {
        word[nw] = '\0';
        if (strcmp(word, "inf") == 0 || strcmp(word, "infinity") == 0)
            *out = neg ? -(double)INFINITY : (double)INFINITY;
        else if (strcmp(word, "nan") == 0)
            *out = (double)NAN;
        else
            return TK_ERR_INVALID;
        return 0;
    }
    if (!mant_digit || st == LEAD || st == SIGN || st == EXP_E || st == EXP_SIGN)
        return TK_ERR_INVALID;

    if (nd == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (sticky)
        dig[nd++] = '1';
    long long e10 = point + (exp_neg ? -exp : exp);
    if (e10 > FLOAT_EXP_CLAMP)
        e10 = FLOAT_EXP_CLAMP;
    if (e10 < -FLOAT_EXP_CLAMP)
        e10 = -FLOAT_EXP_CLAMP;

    char num[FLOAT_MAX_DIGITS + 32];
    num[0] = '0';
    num[1] = '.';
    memcpy(num + 2, dig, nd);
    int tail = snprintf(num + 2 + nd, sizeof(num) - 2 - nd, "e%lld", e10);
    if (tail < 0)
        return TK_ERR_INVALID;
    char *end;
    double v = strtod(num, &end);
    if (end != num + 2 + nd + (size_t)tail)
        return TK_ERR_INVALID;
    *out = neg ? -v : v;
    return 0;
}

/* datetime.timedelta(**kwargs) with float arguments, as CPython's delta_new() computes it:
 * each value is split into integer and fractional part; integer part * unit is exact; the
 * fractional part * unit is split again, its integer part added exactly and its fraction
 * summed in a double "leftover" in the fixed unit order. The leftover is finally rounded to
 * whole microseconds, ties to even on the parity of the exact total. The exact sum is kept
 * in 128 bits; a single value whose integer part reaches 2^63 is refused outright, where
 * Python would go on with big integers (it can only end in range if another equally absurd
 * value cancels it). */
static int py_timedelta(const double *v, const bool *given, int64_t *out_us)
{
    __int128 x = 0;
    double leftover = 0.0;

    for (int k = 0; k < K_N; k++) {
        if (!given[k])
            continue;
        /* timedelta(days=nan) raises ValueError (the validator's "not in the correct
         * format"), timedelta(days=inf) OverflowError, which authentik does not catch (a 500,
         * docs/api.md §17.2): both refused. */
        if (!isfinite(v[k]))
            return TK_ERR_INVALID;
        double ip;
        double frac = modf(v[k], &ip);
        if (fabs(ip) >= 0x1p63)
            return TK_ERR_INVALID;
        x += (__int128)(int64_t)ip * key_us[k];
        if (frac == 0.0)
            continue;
        frac = modf((double)key_us[k] * frac, &ip);
        x += (int64_t)ip;
        leftover += frac;
    }
    if (leftover != 0.0) {
        double whole = round(leftover);
        if (fabs(whole - leftover) == 0.5) {
            int odd = (int)(x & 1);
            whole = 2.0 * round((leftover + odd) * 0.5) - odd;
        }
        x += (int64_t)whole;
    }
    /* timedelta's own limit is |days| <= 999999999; int64 microseconds are the tighter one
     * (about 106 million days) and no instant in years 1..9999 needs more. */
    const __int128 day_lim = (__int128)999999999 * US_PER_DAY;
    if (x < -day_lim || x >= day_lim + US_PER_DAY || x < INT64_MIN || x > INT64_MAX)
        return TK_ERR_INVALID;
    *out_us = (int64_t)x;
    return 0;
}

/* authentik:
 *     for duration_pair in expr.split(";"):
 *         key, value = duration_pair.split("=")
 *         if key.lower() not in ALLOWED_KEYS: continue
 *         kwargs[key.lower()] = float(value)
 *     if len(kwargs) < 1: raise ValueError
 *     return timedelta(**kwargs)
 * so every pair needs exactly one '=' (even an unknown one, and an empty string is one empty
 * pair), values of unknown keys are never looked at, and every value of a known key must
 * parse even when a later one replaces it. */
int tk_duration_parse(const char *s, size_t len, int64_t *out_us)
{
    double v[K_N] = {0};
    bool given[K_N] = {false};
    bool any = false;
    size_t start = 0;

    if (len == 0) /* one empty pair, no '=' */
        return TK_ERR_INVALID;

    for (;;) {
        const char *pair = s + start;
        const char *semi = memchr(pair, ';', len - start);
        size_t plen = semi ? (size_t)(semi - pair) : len - start;
        const char *eq = memchr(pair, '=', plen);
        if (eq == NULL || memchr(eq + 1, '=', plen - (size_t)(eq - pair) - 1) != NULL)
            return TK_ERR_INVALID;
        int k = match_key(pair, (size_t)(eq - pair));
        if (k >= 0) {
            int rc = parse_py_float(eq + 1, plen - (size_t)(eq - pair) - 1, &v[k]);
            if (rc != 0)
                return rc;
            given[k] = any = true;
        }
        if (semi == NULL)
            break;
        start += plen + 1;
    }
    if (!any)
        return TK_ERR_INVALID;
    return py_timedelta(v, given, out_us);
}
