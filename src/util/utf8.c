/* UTF-8 decoding with Python's "replace" semantics, Python's isspace(), and the small case
 * tables search and avatar initials use (utf8.h). Pure functions: nothing here allocates
 * except through the tk_buf the caller passes, and nothing keeps state between calls. */
#include "util/utf8.h"

#define REPLACEMENT 0xFFFDu

/* Decodes one sequence. Returns the bytes consumed (>= 1 when len > 0) and sets *ok when the
 * sequence was well-formed. An ill-formed sequence consumes its maximal subpart: the lead byte
 * and every continuation byte that could still belong to a well-formed sequence (Unicode 3.9
 * "U+FFFD substitution of maximal subparts", which is what CPython's decoder does). The
 * second byte's range depends on the lead (Unicode Table 3-7): that is what rules out
 * overlongs, surrogates and code points above U+10FFFF. */
static size_t decode(const unsigned char *p, size_t len, uint32_t *cp, bool *ok)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t need;
    uint32_t v;

    *ok = false;
    *cp = REPLACEMENT;
    if (c < 0x80) {
        *ok = true;
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* below: overlong */
        else if (c == 0xED)
            hi = 0x9F; /* above: UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* below: overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above: beyond U+10FFFF */
    } else {
        return 1; /* continuation byte, C0, C1 or F5..FF: never part of a sequence */
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= len || p[i] < lo || p[i] > hi)
            return i;
        v = (v << 6) | (p[i] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *ok = true;
    *cp = v;
    return need + 1;
}

bool tk_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        bool ok;
        i += decode(p + i, len - i, &cp, &ok);
        if (!ok)
            return false;
    }
    return true;
}

size_t tk_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    bool ok;
    if (len == 0) { /* outside the contract; never loop forever on it either way */
        *cp = REPLACEMENT;
        return 0;
    }
    return decode((const unsigned char *)s, len, cp, &ok);
}

/* Surrogates and values above U+10FFFF have no UTF-8 encoding: TK_ERR_INVALID, nothing
 * appended. */
int tk_utf8_put(struct tk_buf *out, uint32_t cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return TK_ERR_INVALID;
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else if (cp <= 0x10FFFF) {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    } else {
        return TK_ERR_INVALID;
    }
    return tk_buf_append(out, b, n);
}

int tk_utf8_repair(const char *s, size_t len, struct tk_buf *out)
{
    static const char fffd[3] = {'\xEF', '\xBF', '\xBD'};
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0; /* start of the pending well-formed run */
    size_t i = 0;
    int rc;

    if (len == 0) /* s may be NULL; still leave a NUL-terminated (empty) buffer */
        return tk_buf_append(out, "", 0);

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        bool ok;
        size_t n = decode(p + i, len - i, &cp, &ok);
        if (!ok) {
            if ((rc = tk_buf_append(out, s + run, i - run)) != 0)
                return rc;
            if ((rc = tk_buf_append(out, fffd, sizeof(fffd))) != 0)
                return rc;
            run = i + n;
        }
        i += n;
    }
    return tk_buf_append(out, s + run, len - run);
}

bool tk_unicode_isspace(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return cp >= 0x2000 && cp <= 0x200A;
    }
}

/* In a range where capitals sit on even code points with their small letter right after. */
static uint32_t even_upper_to_lower(uint32_t c)
{
    return c | 1u;
}
/* In a range where capitals sit on odd code points with their small letter right after. */
static uint32_t odd_upper_to_lower(uint32_t c)
{
    return (c & 1u) ? c + 1 : c;
}
static uint32_t odd_lower_to_upper(uint32_t c)
{
    return (c & 1u) ? c - 1 : c;
}
static uint32_t even_lower_to_upper(uint32_t c)
{
    return (c & 1u) ? c : c - 1;
}

/* UnicodeData's simple lowercase mappings (Unicode 14, as Python 3.11) for U+0000-U+052F
 * outside the combining marks and Armenian: ASCII, Latin-1, Latin Extended-A, Greek and
 * Coptic, Cyrillic and Cyrillic Supplement. U+0130 maps to 'i' (Python's lower() gives the
 * two code points "i\u0307"; a 1:1 mapping keeps the simple one). */
uint32_t tk_unicode_tolower(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 0x20 : c;
    if (c < 0x100)
        return (c >= 0xC0 && c <= 0xDE && c != 0xD7) ? c + 0x20 : c;
    if (c < 0x180) {
        if (c == 0x130)
            return 'i';
        if (c == 0x178)
            return 0xFF;
        if (c < 0x130 || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return even_upper_to_lower(c);
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return odd_upper_to_lower(c);
        return c; /* U+0131, U+0138, U+0149, U+017F: no lowercase mapping */
    }
    if (c >= 0x370 && c <= 0x3FF) {
        if (c <= 0x373 || c == 0x376)
            return even_upper_to_lower(c);
        if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
            return c + 0x20;
        if (c >= 0x3D8 && c <= 0x3EF)
            return even_upper_to_lower(c);
        if (c >= 0x388 && c <= 0x38A)
            return c + 0x25;
        if (c >= 0x3FD)
            return c - 0x82;
        switch (c) {
        case 0x37F: return 0x3F3;
        case 0x386: return 0x3AC;
        case 0x38C: return 0x3CC;
        case 0x38E: return 0x3CD;
        case 0x38F: return 0x3CE;
        case 0x3CF: return 0x3D7;
        case 0x3F4: return 0x3B8;
        case 0x3F7: return 0x3F8;
        case 0x3F9: return 0x3F2;
        case 0x3FA: return 0x3FB;
        default: return c;
        }
    }
    if (c >= 0x400 && c <= 0x52F) {
        if (c <= 0x40F)
            return c + 0x50;
        if (c <= 0x42F)
            return c + 0x20;
        if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || c >= 0x4D0)
            return even_upper_to_lower(c);
        if (c == 0x4C0)
            return 0x4CF;
        if (c >= 0x4C1 && c <= 0x4CE)
            return odd_upper_to_lower(c);
        return c;
    }
    return c;
}

/* UnicodeData's simple uppercase mappings on the same blocks, with one deliberate exception:
 * U+00B5 MICRO SIGN stays (Unicode maps it to Greek U+039C). Lowercase letters without a
 * simple uppercase (U+00DF, U+0138, U+0149, U+0390, U+03B0) stay too. */
uint32_t tk_unicode_toupper(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') ? c - 0x20 : c;
    if (c < 0x100) {
        if (c == 0xFF)
            return 0x178;
        return (c >= 0xE0 && c <= 0xFE && c != 0xF7) ? c - 0x20 : c;
    }
    if (c < 0x180) {
        if (c == 0x131)
            return 'I';
        if (c == 0x17F)
            return 'S';
        if (c < 0x130 || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return odd_lower_to_upper(c);
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return even_lower_to_upper(c);
        return c;
    }
    if (c >= 0x370 && c <= 0x3FF) {
        if (c <= 0x373 || c == 0x377)
            return odd_lower_to_upper(c);
        if (c >= 0x3B1 && c <= 0x3CB)
            return c == 0x3C2 ? 0x3A3 : c - 0x20;
        if (c >= 0x3D8 && c <= 0x3EF)
            return odd_lower_to_upper(c);
        if (c >= 0x3AD && c <= 0x3AF)
            return c - 0x25;
        if (c >= 0x37B && c <= 0x37D)
            return c + 0x82;
        switch (c) {
        case 0x3AC: return 0x386;
        case 0x3CC: return 0x38C;
        case 0x3CD: return 0x38E;
        case 0x3CE: return 0x38F;
        case 0x3D0: return 0x392;
        case 0x3D1: return 0x398;
        case 0x3D5: return 0x3A6;
        case 0x3D6: return 0x3A0;
        case 0x3D7: return 0x3CF;
        case 0x3F0: return 0x39A;
        case 0x3F1: return 0x3A1;
        case 0x3F2: return 0x3F9;
        case 0x3F3: return 0x37F;
        case 0x3F5: return 0x395;
        case 0x3F8: return 0x3F7;
        case 0x3FB: return 0x3FA;
        default: return c;
        }
    }
    if (c >= 0x400 && c <= 0x52F) {
        if (c >= 0x430 && c <= 0x44F)
            return c - 0x20;
        if (c >= 0x450 && c <= 0x45F)
            return c - 0x50;
        if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || c >= 0x4D0)
            return odd_lower_to_upper(c);
        if (c == 0x4CF)
            return 0x4C0;
        if (c >= 0x4C1 && c <= 0x4CE)
            return even_lower_to_upper(c);
        return c;
    }
    return c;
}

int tk_utf8_fold(const char *s, size_t len, struct tk_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int rc = 0;

    while (i < len) {
        uint32_t cp;
        bool ok;
        size_t n = decode(p + i, len - i, &cp, &ok);
        if ((rc = tk_utf8_put(out, tk_unicode_tolower(cp))) != 0)
            return rc;
        i += n;
    }
    if (len == 0) /* still leave a NUL-terminated (empty) buffer */
        rc = tk_buf_append(out, "", 0);
    return rc;
}

size_t tk_utf8_length(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t cp;
        bool ok;
        i += p[i] < 0x80 ? 1 : decode(p + i, len - i, &cp, &ok);
        n++;
    }
    return n;
}
