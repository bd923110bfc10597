/* Fuzz target: the query string parser and the token list parameters built on it (filters,
 * search terms, ordering, page and page_size). Nothing may crash, hang or leak. */
#include <stdint.h>
#include <string.h>

#include "api/query.h"
#include "domain/pagination.h"
#include "util/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int sink; /* results are not checked here, only that nothing breaks */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tk_arena *a = tk_arena_new(1 << 26);
    if (a == NULL)
        return 0;
    struct tk_query q;
    if (tk_query_parse(a, (const char *)data, size, &q) == 0) {
        const struct tk_qparam *p;
        if ((p = tk_query_get(&q, "search")) != NULL) {
            const char **terms;
            size_t n;
            sink += tk_search_terms(a, p->val, p->val_len, &terms, &n);
        }
        struct tk_token_query tq;
        memset(&tq, 0, sizeof(tq));
        p = tk_query_get(&q, "ordering");
        tk_token_ordering(p ? p->val : NULL, p ? p->val_len : 0, &tq);
        if ((p = tk_query_get(&q, "page")) != NULL) {
            struct tk_page_request pr;
            struct tk_pagination pg;
            tk_page_parse(p->val, p->val_len, &pr);
            sink += tk_paginate(12345, &pr, 20, &pg);
        }
        if ((p = tk_query_get(&q, "page_size")) != NULL)
            (void)tk_page_size_parse(p->val, p->val_len, 100, 1000);
        if ((p = tk_query_get(&q, "expires")) != NULL) {
            int64_t t;
            sink += tk_time_parse(p->val, p->val_len, &t);
        }
        if ((p = tk_query_get(&q, "expiring")) != NULL)
            (void)tk_query_bool(p->val, p->val_len);
        if ((p = tk_query_get(&q, "identifier")) != NULL) {
            size_t st, len;
            tk_strip(p->val, p->val_len, &st, &len);
        }
    }
    tk_arena_free(a);
    return 0;
}
