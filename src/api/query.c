/* Query string parsing (query.h). */
#include "api/query.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "util/buf.h"
#include "util/limits.h"
#include "util/utf8.h"

static const char *decode(struct tk_arena *a, const char *s, size_t len, size_t *out_len)
{
    size_t dlen;
    char *d = tk_http_pct_decode(a, s, len, true, &dlen);
    if (d == NULL)
        return NULL;
    if (tk_utf8_valid(d, dlen)) {
        *out_len = dlen;
        return d;
    }
    struct tk_buf b;
    tk_buf_init(&b, 4 * dlen + 16);
    if (tk_utf8_repair(d, dlen, &b) != 0) {
        tk_buf_free(&b);
        return NULL;
    }
    char *r = tk_arena_strndup(a, b.data, b.len);
    *out_len = b.len;
    tk_buf_free(&b);
    return r;
}

int tk_query_parse(struct tk_arena *a, const char *raw, size_t len, struct tk_query *out)
{
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += raw[i] == '&';
    out->n = 0;
    out->p = tk_arena_calloc(a, cap, sizeof(*out->p));
    if (out->p == NULL)
        return TK_ERR_NOMEM;
    size_t i = 0;
    while (i <= len) {
        const char *amp = memchr(raw + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - raw) : len;
        if (end > i) {
            const char *eq = memchr(raw + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (raw + i)) : end - i;
            struct tk_qparam *p = &out->p[out->n];
            p->key = decode(a, raw + i, klen, &p->key_len);
            if (eq)
                p->val = decode(a, eq + 1, end - i - klen - 1, &p->val_len);
            else
                p->val = decode(a, "", 0, &p->val_len);
            if (p->key == NULL || p->val == NULL)
                return TK_ERR_NOMEM;
            out->n++;
        }
        i = end + 1;
    }
    return 0;
}

const struct tk_qparam *tk_query_get(const struct tk_query *q, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = q->n; i-- > 0;)
        if (q->p[i].key_len == klen && memcmp(q->p[i].key, key, klen) == 0)
            return &q->p[i];
    return NULL;
}

int tk_query_get_all(const struct tk_query *q, const char *key, struct tk_arena *a,
                     const struct tk_qparam ***out, size_t *n)
{
    size_t klen = strlen(key), k = 0;
    const struct tk_qparam **v = tk_arena_calloc(a, q->n ? q->n : 1, sizeof(*v));
    if (v == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < q->n; i++)
        if (q->p[i].key_len == klen && memcmp(q->p[i].key, key, klen) == 0)
            v[k++] = &q->p[i];
    *out = v;
    *n = k;
    return 0;
}

void tk_strip(const char *s, size_t len, size_t *start, size_t *out_len)
{
    size_t first = len, end = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tk_utf8_decode(s + i, len - i, &cp);
        if (!tk_unicode_isspace(cp)) {
            if (first == len)
                first = i;
            end = i + k;
        }
        i += k;
    }
    if (first == len) {
        *start = 0;
        *out_len = 0;
        return;
    }
    *start = first;
    *out_len = end - first;
}

struct term {
    const char *s;
    size_t len, pos; /* pos: where it was given */
};

static int longest_first(const void *x, const void *y)
{
    const struct term *a = x, *b = y;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int given_order(const void *x, const void *y)
{
    const struct term *a = x, *b = y;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Keeps the terms that add a constraint (docs/api.md §8.2). A term that repeats another, or is
 * contained in another, matches wherever that other one does: every term must be a substring of
 * one searched field, and a substring of a substring is a substring (the folds compared are the
 * ones the store compares). Longest first, so a term is only ever tested against terms already
 * kept and a kept term is never dropped later: past TK_MAX_SEARCH_TERMS kept terms the answer
 * is TK_ERR_TOOBIG whatever follows. The kept terms stay in the order given. */
static int distinct_terms(struct term *t, size_t n, const char **out, size_t *n_out)
{
    qsort(t, n, sizeof(*t), longest_first);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool implied = false;
        for (size_t k = 0; k < kept && !implied; k++)
            implied = strstr(t[k].s, t[i].s) != NULL;
        if (implied)
            continue;
        if (kept == TK_MAX_SEARCH_TERMS)
            return TK_ERR_TOOBIG;
        t[kept++] = t[i];
    }
    qsort(t, kept, sizeof(*t), given_order);
    for (size_t i = 0; i < kept; i++)
        out[i] = t[i].s;
    out[kept] = NULL;
    *n_out = kept;
    return 0;
}

int tk_search_terms(struct tk_arena *a, const char *s, size_t len, const char ***terms_out,
                    size_t *n_out)
{
    *n_out = 0;
    *terms_out = NULL;
    /* Room for every term: each but the last ends at a separator, so n terms take 2n - 1 bytes
     * at least and never reach len / 2 + 1 (no count to check as they are stored). */
    size_t cap = len / 2 + 1;
    struct term *terms = tk_arena_calloc(a, cap, sizeof(*terms));
    const char **out = tk_arena_calloc(a, TK_MAX_SEARCH_TERMS + 1, sizeof(*out));
    if (terms == NULL || out == NULL)
        return TK_ERR_NOMEM;
    size_t n = 0, i = 0;
    struct tk_buf term, fold;
    tk_buf_init(&term, 4 * len + 16);
    tk_buf_init(&fold, 8 * len + 16);
    int rc = 0;
    while (i < len && rc == 0) {
        uint32_t cp;
        size_t k = tk_utf8_decode(s + i, len - i, &cp);
        bool sep = cp == ',' || tk_unicode_isspace(cp);
        if (cp == 0) {
            i += k; /* NUL characters are removed (DRF 3.14) */
            continue;
        }
        if (!sep)
            rc = tk_buf_append(&term, s + i, k);
        i += k;
        if ((sep || i >= len) && term.len > 0 && rc == 0) {
            tk_buf_reset(&fold);
            rc = tk_utf8_fold(term.data, term.len, &fold);
            if (rc == 0) {
                terms[n] = (struct term){tk_arena_strndup(a, fold.data, fold.len), fold.len, n};
                rc = terms[n].s ? 0 : TK_ERR_NOMEM;
                n++;
            }
            tk_buf_reset(&term);
        }
    }
    tk_buf_free(&term);
    tk_buf_free(&fold);
    if (rc == 0)
        rc = distinct_terms(terms, n, out, &n);
    if (rc)
        return rc;
    *terms_out = out;
    *n_out = n;
    return 0;
}

size_t tk_ordering_parse(const char *s, size_t len, const struct tk_order_name *names,
                         size_t n_names, const struct tk_order *def, size_t n_def,
                         struct tk_order *out)
{
    size_t n = 0, i = 0;
    while (s != NULL && len > 0 && i <= len) {
        const char *comma = memchr(s + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - s) : len;
        size_t st, sl;
        tk_strip(s + i, end - i, &st, &sl);
        const char *name = s + i + st;
        bool desc = sl > 0 && name[0] == '-';
        if (desc) {
            name++;
            sl--;
        }
        for (size_t f = 0; f < n_names; f++) {
            if (strlen(names[f].name) != sl || memcmp(names[f].name, name, sl) != 0)
                continue;
            /* A repeated field changes nothing after its first occurrence: keep the first, so
             * any number of names fits the few fields there are. */
            bool seen = false;
            for (size_t k = 0; k < n; k++)
                seen = seen || out[k].field == names[f].field;
            if (!seen && n < TK_MAX_ORDERING_FIELDS)
                out[n++] = (struct tk_order){names[f].field, desc};
        }
        if (comma == NULL)
            break;
        i = end + 1;
    }
    if (n == 0) {
        memcpy(out, def, n_def * sizeof(*def));
        n = n_def;
    }
    return n;
}

const struct tk_order_name tk_token_orderings[TK_N_TOKEN_ORDERINGS] = {
    {"pk", TK_TF_PK},           {"managed", TK_TF_MANAGED},   {"identifier", TK_TF_IDENTIFIER},
    {"intent", TK_TF_INTENT},   {"user", TK_TF_USER},         {"description", TK_TF_DESCRIPTION},
    {"expires", TK_TF_EXPIRES}, {"expiring", TK_TF_EXPIRING},
};
const struct tk_order tk_token_default_order[2] = {{TK_TF_IDENTIFIER, false},
                                                   {TK_TF_EXPIRES, false}};

void tk_token_ordering(const char *s, size_t len, struct tk_token_query *q)
{
    q->n_order = tk_ordering_parse(s, len, tk_token_orderings, TK_N_TOKEN_ORDERINGS,
                                   tk_token_default_order, 2, q->order);
}

int tk_query_bool(const char *s, size_t len)
{
    if ((len == 4 && strncasecmp(s, "true", 4) == 0) || (len == 1 && s[0] == '1'))
        return 1;
    if ((len == 5 && strncasecmp(s, "false", 5) == 0) || (len == 1 && s[0] == '0'))
        return 0;
    return -1;
}
