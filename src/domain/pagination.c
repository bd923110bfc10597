/* Pagination (pagination.h). */
#include "domain/pagination.h"

#include "util/utf8.h"

/* Python int(str): strips whitespace, optional sign, then ASCII digits only. Returns false if
 * not an integer; *too_big when it does not fit int64. */
static bool parse_int(const char *s, size_t len, int64_t *out, bool *too_big)
{
    size_t i = 0, end = len;
    uint32_t cp;
    while (i < end) {
        size_t n = tk_utf8_decode(s + i, end - i, &cp);
        if (!tk_unicode_isspace(cp))
            break;
        i += n;
    }
    while (end > i) {
        /* trailing whitespace: walk back over one code point */
        size_t k = end - 1;
        while (k > i && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        size_t n = tk_utf8_decode(s + k, end - k, &cp);
        if (n != end - k || !tk_unicode_isspace(cp))
            break;
        end = k;
    }
    bool neg = false;
    if (i < end && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    if (i == end)
        return false;
    uint64_t v = 0;
    *too_big = false;
    for (; i < end; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            *too_big = true;
        else
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > INT64_MAX)
        *too_big = true;
    if (*too_big) {
        *out = neg ? INT64_MIN : INT64_MAX;
        return true;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

void tk_page_parse(const char *value, size_t len, struct tk_page_request *out)
{
    out->last = out->invalid = out->too_big = false;
    out->number = 1;
    if (value == NULL || len == 0)
        return; /* absent, or "?page=": page 1 (docs/api.md §9) */
    if (len == 4 && value[0] == 'l' && value[1] == 'a' && value[2] == 's' && value[3] == 't') {
        out->last = true;
        return;
    }
    bool big = false;
    if (!parse_int(value, len, &out->number, &big))
        out->invalid = true;
    out->too_big = big;
}

int64_t tk_page_size_parse(const char *value, size_t len, int64_t def, int64_t max)
{
    if (value == NULL || len == 0)
        return def;
    int64_t v;
    bool big = false;
    if (!parse_int(value, len, &v, &big) || v <= 0)
        return def;
    if (big || v > max)
        return max;
    return v;
}

int tk_paginate(int64_t count, const struct tk_page_request *req, int64_t page_size,
                struct tk_pagination *out)
{
    int64_t total = count == 0 ? 1 : (count + page_size - 1) / page_size;
    int64_t cur;
    if (req->invalid)
        return TK_ERR_NOTFOUND;
    if (req->last)
        cur = total;
    else if (req->too_big || req->number < 1 || req->number > total)
        return TK_ERR_NOTFOUND;
    else
        cur = req->number;
    out->count = count;
    out->current = cur;
    out->total_pages = total;
    out->next = cur < total ? cur + 1 : 0;
    out->previous = cur > 1 ? cur - 1 : 0;
    out->page_size = page_size;
    out->offset = (cur - 1) * page_size;
    out->start_index = count == 0 ? 0 : out->offset + 1;
    out->end_index = cur == total ? count : cur * page_size;
    return 0;
}
