/* The one list runner (tk_list_run) and the parameters it reads for every list, tokens, users,
 * groups and events alike: declared filters, the attributes JSON filter, search terms,
 * ordering over a table of names, and paging (docs/api.md §8, §9). */
#ifndef TK_API_LISTING_H
#define TK_API_LISTING_H

#include <jansson.h>
#include <stddef.h>

#include "api/api.h"
#include "api/query.h"
#include "domain/pagination.h"
#include "json/writer.h"

/* attributes={"k": v, "a__b": v}: a bad value is refused with authentik's bare-list 400
 * (TK_ERR_ANSWER). *root keeps the parsed JSON alive (json_decref it when done). */
int tk_list_attributes(struct tk_ctx *c, const struct tk_query *q, struct tk_attr_filter **out,
                       size_t *n, json_t **root);

/* DRF OrderingFilter over names; none valid: *out gets def (n_def entries). Returns count. */
size_t tk_list_ordering(const struct tk_query *q, const struct tk_order_name *names, size_t n_names,
                        const struct tk_order *def, size_t n_def, struct tk_order *out);

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

/* ---- the list runner ----
 *
 * A list is declared (struct tk_list_spec): its filters in the FilterSet's field order, whether
 * it takes attributes and search, its orderings, where each parsed value goes in the list's own
 * query struct (offsets), and the entity's part: counting and fetching a page in one read, and
 * writing its results. tk_list_run reads the request in DRF's order (filters, all their errors
 * in one 400; attributes; search; ordering; page), runs the read, answers 404 "Invalid page."
 * for a page outside the list, and writes the pagination envelope. */

enum tk_filter_kind {
    TK_FILTER_TEXT,     /* const char * at .at: stripped; NULL when absent or empty; NUL refused */
    TK_FILTER_BOOL,     /* int at .at: 1, 0, or -1 (absent or not a boolean) */
    TK_FILTER_DATETIME, /* int64_t at .at and bool at .has, set when given; else an error */
    TK_FILTER_UUID,     /* const char * at .at: the canonical uuid, in the arena; else an error */
    TK_FILTER_ID_SET,   /* struct tk_id_set at .at, its values resolved by .resolve */
    TK_FILTER_OWN,      /* .own reads it: a filter with rules of its own */
};

struct tk_filter {
    const char *name; /* the query parameter, and the field of its errors */
    enum tk_filter_kind kind;
    size_t at, has;             /* offsets into the list's query struct */
    tk_list_resolve_fn resolve; /* ID_SET: a value to an id */
    const char *malformed;      /* ID_SET: the message after a malformed value */
    /* OWN: reads the parameter into query; field errors go to c->fe (0), other errors are
     * returned */
    int (*own)(struct tk_ctx *c, const struct tk_query *q, void *query);
};

struct tk_list_spec {
    const struct tk_filter *filters;
    size_t n_filters;
    bool attributes; /* ?attributes= (struct tk_attr_filter * at attrs, size_t at n_attrs) */
    size_t attrs, n_attrs;
    bool search; /* ?search= (const char ** at terms, size_t at n_terms) */
    size_t terms, n_terms;
    /* ?ordering= over these names (struct tk_order[TK_MAX_ORDERING_FIELDS] at order, size_t at
     * n_order), default_order when none applies; NULL: the list has no ordering */
    const struct tk_order_name *orderings;
    size_t n_orderings;
    const struct tk_order *default_order;
    size_t n_default_order;
    size_t order, n_order;
    bool replica; /* the read may be served by a replica (tk_api_rdb) */
    /* Optional, before the read: the page that will be asked for (a search is then evaluated
     * once for count and page, store.h). */
    void (*plan)(void *query, const struct tk_page_request *pr, int64_t page_size);
    /* In one read on db: the number of matching rows, then the page pg describes. */
    int (*count)(struct tk_ctx *c, struct tk_db *db, void *query, int64_t *count);
    int (*fetch)(struct tk_ctx *c, struct tk_db *db, void *query, const struct tk_pagination *pg,
                 void *page);
    /* The page's results, after the read. */
    void (*write)(struct tk_ctx *c, struct tk_jw *w, void *query, void *page);
};

/* The spec's fields for a query struct that keeps its parameters under the names every store
 * query uses (attrs/n_attrs, terms/n_terms, order/n_order), and for tables of filters and
 * orderings. */
#define TK_LIST_FILTERS(table) .filters = (table), .n_filters = sizeof(table) / sizeof((table)[0])
#define TK_LIST_ATTRIBUTES(type)                                                                   \
    .attributes = true, .attrs = offsetof(type, attrs), .n_attrs = offsetof(type, n_attrs)
#define TK_LIST_SEARCH(type)                                                                       \
    .search = true, .terms = offsetof(type, terms), .n_terms = offsetof(type, n_terms)
#define TK_LIST_ORDERING(type, names, def)                                                         \
    .orderings = (names), .n_orderings = sizeof(names) / sizeof((names)[0]),                       \
    .default_order = (def), .n_default_order = sizeof(def) / sizeof((def)[0]),                     \
    .order = offsetof(type, order), .n_order = offsetof(type, n_order)

/* Runs the list spec declares on query (the list's zeroed query struct) and page (the entity's
 * page of rows, filled by fetch): the handler's whole work for GET on a list. */
int tk_list_run(struct tk_ctx *c, const struct tk_list_spec *spec, void *query,
                void *page) TK_MUST_USE;

#endif
