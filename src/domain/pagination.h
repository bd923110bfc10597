/* Page-number pagination arithmetic of authentik's Pagination class (docs/api.md §9, §17.4, §9).
 * No I/O. */
#ifndef TK_DOMAIN_PAGINATION_H
#define TK_DOMAIN_PAGINATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct tk_page_request {
    bool last;    /* ?page=last */
    bool invalid; /* not an integer: always "Invalid page." */
    bool too_big; /* an integer beyond int64: always beyond total_pages */
    int64_t number;
};

struct tk_pagination {
    int64_t count, current, total_pages, next, previous, start_index, end_index;
    int64_t page_size, offset;
};

/* Parses ?page= (value NULL when absent). Python int(): optional surrounding whitespace and
 * sign, ASCII digits. Empty value: page 1. */
void tk_page_parse(const char *value, size_t len, struct tk_page_request *out);

/* Parses ?page_size=: a positive integer, clamped to max; anything else: def. */
int64_t tk_page_size_parse(const char *value, size_t len, int64_t def, int64_t max);

/* Computes the page; TK_ERR_NOTFOUND for "Invalid page." */
int tk_paginate(int64_t count, const struct tk_page_request *req, int64_t page_size,
                struct tk_pagination *out) TK_MUST_USE;

#endif
