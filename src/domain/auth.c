/* Authorization header parsing (auth.h). Mirrors Python's str.strip() and str.partition(" "). */
#include "domain/auth.h"

#include <stdint.h>
#include <strings.h>

#include "util/utf8.h"

/* Length of the Python whitespace code point ending at s[len-1], or 0. */
static size_t trailing_space(const char *s, size_t len)
{
    for (size_t n = 1; n <= 3 && n <= len; n++) {
        uint32_t cp;
        if (((unsigned char)s[len - n] & 0xC0) == 0x80 && n < 3)
            continue;
        size_t used = tk_utf8_decode(s + len - n, n, &cp);
        if (used == n && tk_unicode_isspace(cp))
            return n;
        return 0;
    }
    return 0;
}

enum tk_auth_kind tk_auth_parse(const char *header, size_t len, const char **cred, size_t *cred_len)
{
    if (header == NULL)
        return TK_AUTH_NONE;
    for (size_t i = 0; i < len; i++)
        if (header[i] == '\0')
            return TK_AUTH_MALFORMED;
    if (!tk_utf8_valid(header, len))
        return TK_AUTH_MALFORMED;
    /* strip() */
    size_t start = 0;
    while (start < len) {
        uint32_t cp;
        size_t n = tk_utf8_decode(header + start, len - start, &cp);
        if (!tk_unicode_isspace(cp))
            break;
        start += n;
    }
    size_t end = len;
    size_t t;
    while (end > start && (t = trailing_space(header + start, end - start)) > 0)
        end -= t;
    const char *s = header + start;
    size_t n = end - start;
    size_t sp = 0;
    while (sp < n && s[sp] != ' ')
        sp++;
    if (n == 0 || sp == n)
        return TK_AUTH_NONE;
    if (sp != 6 || strncasecmp(s, "bearer", 6) != 0)
        return TK_AUTH_UNSUPPORTED;
    *cred = s + sp + 1;
    *cred_len = n - sp - 1;
    /* authentik's "Malformed header" for an empty credential cannot happen after strip(). */
    return TK_AUTH_BEARER;
}
