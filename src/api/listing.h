/* Parameters shared by the user and group lists (API.md §14): the attributes JSON filter,
 * ordering over a table of names, paging, search terms. */
#ifndef TK_API_LISTING_H
#define TK_API_LISTING_H

#include <jansson.h>

#include "api/api.h"
#include "api/query.h"
#include "domain/pagination.h"

struct tk_order_name {
    const char *name;
    int field;
};

/* attributes={"k": v, "a__b": v}: a bad value is refused with authentik's bare-list 400
 * (TK_ERR_ANSWER). *root keeps the parsed JSON alive (json_decref it when done). */
int tk_list_attributes(struct tk_ctx *c, const struct tk_query *q, struct tk_attr_filter **out,
                       size_t *n, json_t **root);

/* DRF OrderingFilter over names; none valid: *out gets def (n_def entries). Returns count. */
size_t tk_list_ordering(const struct tk_query *q, const struct tk_order_name *names, size_t n_names,
                        const struct tk_field_order *def, size_t n_def, struct tk_field_order *out);

/* search terms (tk_search_terms), or a search field error (TK_ERR_FIELDS): over
 * TK_MAX_SEARCH_CHARS characters, or over TK_MAX_SEARCH_TERMS distinct terms. Every list's
 * search goes through it. */
int tk_list_search(struct tk_ctx *c, const struct tk_query *q, const char ***terms,
                   size_t *n) TK_MUST_USE;

/* page and page_size. */
void tk_list_page(const struct tk_query *q, struct tk_page_request *pr, int64_t *page_size);

/* A boolean filter: 1, 0 or -1 (absent or not a boolean). */
int tk_list_bool(const struct tk_query *q, const char *name);

/* A stripped text filter (NULL when absent or empty); a NUL adds Django's error to fe. */
const char *tk_list_text(struct tk_ctx *c, const struct tk_query *q, const char *name,
                         struct tk_field_errors *fe);

/* "Select a valid choice. <value> is not one of the available choices." for field, once per
 * field: Django's multiple-choice fields stop at the first invalid value. */
void tk_list_choice_error(struct tk_field_errors *fe, const char *field, const char *value);

/* Resolves one value of a multiple-choice filter to an object id: 0 with *id, TK_ERR_NOTFOUND
 * when no such object exists, TK_ERR_INVALID when the value is malformed, another error when
 * the store failed. */
typedef int (*tk_list_resolve_fn)(struct tk_ctx *c, const char *value, size_t len, int64_t *id);

/* django-filter's ModelMultipleChoiceFilter: every non-empty value of the repeated parameter
 * name is resolved into set (the filter is active once a value is given). A malformed value
 * adds "“<v>” <malformed>" and an unknown one Django's choice message, once per field.
 * Returns 0 or the store's error. */
int tk_list_id_set(struct tk_ctx *c, const struct tk_query *q, const char *name,
                   tk_list_resolve_fn resolve, const char *malformed, struct tk_id_set *set,
                   struct tk_field_errors *fe) TK_MUST_USE;

#endif
