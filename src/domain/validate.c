/* Pure validators and normalisers of request values (validate.h), as authentik's serializers
 * apply them through Django. No I/O. */
#include "domain/validate.h"

#include <string.h>

#include "util/buf.h"
#include "util/limits.h"
#include "util/utf8.h"

bool tk_is_slug(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

static bool email_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("-!#$%&'*+/=?^_`{}|~", ch) != NULL);
}

/* Django's EmailValidator: a dot-atom local part (or a quoted string), and a domain of
 * dot-separated labels ending in a TLD of 2-63 characters, "localhost", or a [literal]. */
bool tk_email_valid(const char *s)
{
    size_t len = strlen(s);
    const char *at = strrchr(s, '@');
    if (len == 0 || len > 320 || at == NULL || at == s || at[1] == '\0')
        return false;
    size_t ul = (size_t)(at - s);
    if (s[0] == '"') {
        if (ul < 2 || s[ul - 1] != '"')
            return false;
        for (size_t i = 1; i + 1 < ul; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch == '\\') {
                i++;
                continue;
            }
            if (ch == '"' || ch == 0 || ch == '\r' || ch == '\n' || ch > 0x7f)
                return false;
        }
    } else {
        bool prev_dot = true;
        for (size_t i = 0; i < ul; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch == '.') {
                if (prev_dot)
                    return false;
                prev_dot = true;
            } else if (email_char(ch)) {
                prev_dot = false;
            } else {
                return false;
            }
        }
        if (prev_dot)
            return false;
    }
    const char *d = at + 1;
    if (strcmp(d, "localhost") == 0)
        return true;
    size_t dl = strlen(d);
    if (d[0] == '[')
        return d[dl - 1] == ']' && dl > 2;
    /* labels: [A-Z0-9]([A-Z0-9-]{0,61}[A-Z0-9])? ; the last one 2-63 characters, not ending
     * in '-'; non-ASCII labels are taken as IDNs */
    size_t n_labels = 0;
    const char *lab = d;
    for (;;) {
        const char *dot = strchr(lab, '.');
        size_t ll = dot ? (size_t)(dot - lab) : strlen(lab);
        if (ll == 0 || ll > 63)
            return false;
        bool ascii = true;
        for (size_t i = 0; i < ll; i++)
            ascii = ascii && (unsigned char)lab[i] < 0x80;
        for (size_t i = 0; ascii && i < ll; i++) {
            char ch = lab[i];
            bool alnum =
                (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
            if (!alnum && ch != '-')
                return false;
        }
        n_labels++;
        if (dot == NULL) {
            if (ascii && (ll < 2 || lab[ll - 1] == '-'))
                return false;
            break;
        }
        if (ascii && (lab[0] == '-' || lab[ll - 1] == '-'))
            return false;
        lab = dot + 1;
    }
    return n_labels >= 2;
}

/* Django's slugify: NFKD then ASCII only (accented Latin letters keep their base letter),
 * lowercase, [^\w\s-] removed, runs of spaces and hyphens become '-', '-' and '_' stripped. */
char *tk_slugify(struct tk_arena *a, const char *s)
{
    static const char latin1[] = /* U+00C0..U+00FF base letters, '\0' where none */
        "AAAAAAACEEEEIIII\0NOOOOO\0\0UUUUY\0\0aaaaaaaceeeeiiii\0nooooo\0\0uuuuy\0y";
    struct tk_buf b;
    tk_buf_init(&b, TK_MAX_TEXT_BYTES);
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tk_utf8_decode(s + i, len - i, &cp);
        i += k;
        char ch = 0;
        if (cp < 0x80)
            ch = (char)cp;
        else if (cp >= 0xC0 && cp <= 0xFF)
            ch = latin1[cp - 0xC0];
        else if (cp >= 0x100 && cp <= 0x17F)
            ch = 0; /* Latin Extended-A: approximated below */
        if (cp >= 0x100 && cp <= 0x17F) {
            static const char ext[] = "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi\0\0JjKk"
                                      "\0LlLlLlLlLlNnNnNn\0\0\0OoOoOo\0\0RrRrRrSsSsSsSsTtTtTtUuUu"
                                      "UuUuUuUuWwYyYZzZzZz\0";
            if (cp - 0x100 < sizeof(ext) - 1)
                ch = ext[cp - 0x100];
        }
        if (ch == 0)
            continue;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        bool word = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
        bool space = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' ||
                     ch == '\f' || ch == '-';
        if (word) {
            tk_buf_putc(&b, ch);
        } else if (space) {
            if (b.len == 0 || b.data[b.len - 1] != '-')
                tk_buf_putc(&b, '-');
        }
    }
    size_t st = 0, en = b.len;
    while (st < en && (b.data[st] == '-' || b.data[st] == '_'))
        st++;
    while (en > st && (b.data[en - 1] == '-' || b.data[en - 1] == '_'))
        en--;
    char *r = b.err ? NULL : tk_arena_strndup(a, b.data ? b.data + st : "", en - st);
    tk_buf_free(&b);
    return r;
}
