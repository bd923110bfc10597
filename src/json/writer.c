/* JSON writer (writer.h). Escaping follows Python's json module with ensure_ascii=False:
 * '"' '\\' and control characters are escaped (\b \f \n \r \t, else \u00XX), everything else
 * is copied as UTF-8. It never builds a tree and never allocates beyond the output buffer. */
#include "json/writer.h"

#include <stdint.h>
#include <string.h>

#include "util/time.h"
#include "util/utf8.h"

void tk_jw_init(struct tk_jw *w, struct tk_buf *out)
{
    w->out = out;
    w->depth = 0;
    w->first[0] = true;
    w->after_key = false;
}

static void sep(struct tk_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        tk_buf_putc(w->out, ',');
    w->first[w->depth] = false;
}

static void open(struct tk_jw *w, char c)
{
    sep(w);
    tk_buf_putc(w->out, c);
    if (w->depth + 1 >= TK_JW_MAX_DEPTH) {
        if (!w->out->err)
            w->out->err = TK_ERR_TOOBIG;
        return;
    }
    w->first[++w->depth] = true;
}

static void close_(struct tk_jw *w, char c)
{
    tk_buf_putc(w->out, c);
    if (w->depth > 0)
        w->depth--;
}

void tk_jw_obj_begin(struct tk_jw *w)
{
    open(w, '{');
}
void tk_jw_obj_end(struct tk_jw *w)
{
    close_(w, '}');
}
void tk_jw_arr_begin(struct tk_jw *w)
{
    open(w, '[');
}
void tk_jw_arr_end(struct tk_jw *w)
{
    close_(w, ']');
}

/* 1 for the bytes copied as they are: printable ASCII (and DEL) except '"' and '\\'. */
#define P16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, P16, P16,
    [0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, P16, P16,
};
#undef P16

int tk_json_escape(struct tk_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run = 0; /* run: start of bytes copied verbatim */
    while (i < len) {
        /* Eight bytes at a time while none needs attention: no byte below 0x20, none with the
         * high bit, no '"' and no '\\' (the classic "has zero byte" tests on x ^ c). */
        while (len - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
            uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
            uint64_t hit = ((x - ones * 0x20) | (q - ones) | (b - ones) | x) & high;
            if (hit)
                break;
            i += 8;
        }
        while (i < len && plain[(unsigned char)s[i]])
            i++;
        if (i == len)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            uint32_t cp;
            size_t n = tk_utf8_decode(s + i, len - i, &cp);
            if (cp != 0xFFFD || (n == 3 && memcmp(s + i, "\xef\xbf\xbd", 3) == 0)) {
                i += n; /* valid sequence: copy as is */
                continue;
            }
            tk_buf_append(out, s + run, i - run);
            tk_buf_append(out, "\xef\xbf\xbd", 3);
            i += n;
            run = i;
            continue;
        }
        tk_buf_append(out, s + run, i - run);
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        tk_buf_append(out, esc, elen);
        i++;
        run = i;
    }
    return tk_buf_append(out, s + run, len - run);
}

void tk_jw_key(struct tk_jw *w, const char *k)
{
    sep(w);
    tk_buf_putc(w->out, '"');
    tk_json_escape(w->out, k, strlen(k));
    tk_buf_append(w->out, "\":", 2);
    w->after_key = true;
}

void tk_jw_key_raw(struct tk_jw *w, const char *quoted, size_t len)
{
    sep(w);
    tk_buf_append(w->out, quoted, len);
    w->after_key = true;
}

void tk_jw_str(struct tk_jw *w, const char *s, size_t len)
{
    sep(w);
    tk_buf_putc(w->out, '"');
    tk_json_escape(w->out, s, len);
    tk_buf_putc(w->out, '"');
}

void tk_jw_cstr(struct tk_jw *w, const char *s)
{
    if (s == NULL)
        tk_jw_null(w);
    else
        tk_jw_str(w, s, strlen(s));
}

void tk_jw_int(struct tk_jw *w, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sep(w);
    tk_buf_append(w->out, p, (size_t)(tmp + sizeof(tmp) - p));
}

void tk_jw_bool(struct tk_jw *w, bool v)
{
    sep(w);
    if (v)
        tk_buf_append(w->out, "true", 4);
    else
        tk_buf_append(w->out, "false", 5);
}

void tk_jw_null(struct tk_jw *w)
{
    sep(w);
    tk_buf_append(w->out, "null", 4);
}

void tk_jw_time(struct tk_jw *w, int64_t us)
{
    char t[TK_TIME_BUFSZ];
    size_t n = tk_time_format(us, t);
    sep(w);
    tk_buf_putc(w->out, '"');
    tk_buf_append(w->out, t, n);
    tk_buf_putc(w->out, '"');
}

void tk_jw_raw(struct tk_jw *w, const char *json, size_t len)
{
    sep(w);
    tk_buf_append(w->out, json, len);
}
