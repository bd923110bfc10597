/* Scopes, rate limits and view modes (token_settings.h; docs/api.md §19). */
#include "domain/token_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} scopes[] = {
    {"tokens:read", TK_SCOPE_TOKENS_READ},   {"tokens:write", TK_SCOPE_TOKENS_WRITE},
    {"tokens:keys", TK_SCOPE_TOKENS_KEYS},   {"users:read", TK_SCOPE_USERS_READ},
    {"users:write", TK_SCOPE_USERS_WRITE},   {"groups:read", TK_SCOPE_GROUPS_READ},
    {"groups:write", TK_SCOPE_GROUPS_WRITE}, {"events:read", TK_SCOPE_EVENTS_READ},
    {"introspect", TK_SCOPE_INTROSPECT},
};

static bool alnum(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

bool tk_scope_valid(const char *s, size_t len)
{
    if (len == 0 || len > TK_MAX_SCOPE_CHARS || !alnum(s[0]))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!alnum(s[i]) && strchr("._:/-", s[i]) == NULL)
            return false;
    return true;
}

unsigned tk_scope_bit(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
        if (strlen(scopes[i].name) == len && memcmp(scopes[i].name, s, len) == 0)
            return scopes[i].bit;
    return 0;
}

unsigned tk_scopes_mask(const char *text)
{
    unsigned mask = 0;
    while (text != NULL && *text) {
        size_t len = strcspn(text, " ");
        mask |= tk_scope_bit(text, len);
        text += len;
        text += *text == ' ';
    }
    return mask;
}

bool tk_words_has(const char *text, const char *s, size_t len)
{
    while (*text) {
        size_t n = strcspn(text, " ");
        if (n == len && memcmp(text, s, len) == 0)
            return true;
        text += n;
        text += *text == ' ';
    }
    return false;
}

bool tk_scopes_subset(const char *sub, const char *of)
{
    while (*sub) {
        size_t len = strcspn(sub, " ");
        if (!tk_words_has(of, sub, len))
            return false;
        sub += len;
        sub += *sub == ' ';
    }
    return true;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

size_t tk_scopes_join(const char **items, size_t n, char *out)
{
    if (n > 1)
        qsort(items, n, sizeof(*items), cmp_str);
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(items[i], items[i - 1]) == 0)
            continue;
        if (p != out)
            *p++ = ' ';
        size_t len = strlen(items[i]);
        memcpy(p, items[i], len);
        p += len;
    }
    *p = '\0';
    return (size_t)(p - out);
}

size_t tk_words_add(char *text, size_t len, const char *word, size_t word_len)
{
    if (tk_words_has(text, word, word_len))
        return len;
    if (len > 0)
        text[len++] = ' ';
    memcpy(text + len, word, word_len);
    len += word_len;
    text[len] = '\0';
    return len;
}

bool tk_rate_parse(const char *s, size_t len, struct tk_rate *out)
{
    size_t i = 0;
    uint64_t n = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        n = n * 10 + (uint64_t)(s[i] - '0');
        if (n > TK_RATE_MAX)
            return false;
        i++;
    }
    if (i == 0 || n == 0 || i + 1 >= len || s[i] != '/')
        return false;
    uint32_t period;
    switch (s[i + 1]) { /* DRF reads only the period's first letter */
    case 's': period = 1; break;
    case 'm': period = 60; break;
    case 'h': period = 3600; break;
    case 'd': period = 86400; break;
    default: return false;
    }
    for (size_t k = i + 1; k < len; k++) /* DRF splits at '/': one only */
        if (s[k] == '/' || s[k] == '\0')
            return false;
    *out = (struct tk_rate){(uint32_t)n, period};
    return true;
}

void tk_rate_format(const struct tk_rate *r, char out[TK_RATE_TEXT_MAX])
{
    const char *unit = r->period_s == 1      ? "second"
                       : r->period_s == 60   ? "minute"
                       : r->period_s == 3600 ? "hour"
                                             : "day";
    snprintf(out, TK_RATE_TEXT_MAX, "%u/%s", (unsigned)r->n, unit);
}

static const char *const view_modes[] = {"always", "once", "never"};

const char *tk_view_mode_name(enum tk_view_mode m)
{
    return view_modes[m];
}

bool tk_view_mode_parse(const char *s, size_t len, enum tk_view_mode *out)
{
    for (size_t i = 0; i < sizeof(view_modes) / sizeof(view_modes[0]); i++) {
        if (strlen(view_modes[i]) == len && memcmp(view_modes[i], s, len) == 0) {
            *out = (enum tk_view_mode)i;
            return true;
        }
    }
    return false;
}
