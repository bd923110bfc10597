/* JSON string escaping (escape.h), Python's json module with ensure_ascii=False: '"' '\\' and
 * control characters are escaped (\b \f \n \r \t, else \u00XX), everything else is copied as
 * UTF-8, invalid sequences as U+FFFD. */
#include "util/escape.h"

#include <stdint.h>
#include <string.h>

#include "util/utf8.h"

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
