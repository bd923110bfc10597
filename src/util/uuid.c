/* UUID parsing (uuid.h). */
#include "util/uuid.h"

#include <string.h>
#include <strings.h>

bool tk_uuid_parse(const char *s, size_t len, char out[37])
{
    /* uuid.UUID(hex=): strip "urn:" and "uuid:", braces, then dashes; 32 hex digits remain */
    if (len >= 4 && strncasecmp(s, "urn:", 4) == 0) {
        s += 4;
        len -= 4;
    }
    if (len >= 5 && strncasecmp(s, "uuid:", 5) == 0) {
        s += 5;
        len -= 5;
    }
    while (len > 0 && (*s == '{')) {
        s++;
        len--;
    }
    while (len > 0 && s[len - 1] == '}')
        len--;
    char hex[32];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '-')
            continue;
        bool is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!is_hex || n == 32)
            return false;
        hex[n++] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    }
    if (n != 32)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[o++] = '-';
        out[o++] = hex[i];
    }
    out[o] = '\0';
    return true;
}
