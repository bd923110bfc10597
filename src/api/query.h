/* Query strings as Django reads them (QueryDict over parse_qsl): split on '&', '+' is a space,
 * percent-decoding, invalid UTF-8 replaced by U+FFFD, a repeated key: the last value wins.
 * Plus the parsers of the list parameters shared by every list endpoint. */
#ifndef TK_API_QUERY_H
#define TK_API_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"
#include "util/arena.h"

struct tk_qparam {
    const char *key, *val; /* decoded, NUL-terminated, may contain NUL */
    size_t key_len, val_len;
};

struct tk_query {
    size_t n;
    struct tk_qparam *p;
};

int tk_query_parse(struct tk_arena *a, const char *raw, size_t len,
                   struct tk_query *out) TK_MUST_USE;
/* The last value of key, or NULL. */
const struct tk_qparam *tk_query_get(const struct tk_query *q, const char *key);

/* Every value of key, in order, into the arena (*n may be 0). */
int tk_query_get_all(const struct tk_query *q, const char *key, struct tk_arena *a,
                     const struct tk_qparam ***out, size_t *n) TK_MUST_USE;

/* Python str.strip() bounds of s: *start, *len of the stripped part. */
void tk_strip(const char *s, size_t len, size_t *start, size_t *out_len);

/* DRF SearchFilter terms (SEED): NUL removed, commas are spaces, split on whitespace; each
 * term case-folded for the store. Only the terms that constrain are kept: a term repeated, or
 * contained in another term, is dropped (the same rows match without it). Returns the count in
 * *n; TK_ERR_TOOBIG when more than TK_MAX_SEARCH_TERMS terms remain. */
int tk_search_terms(struct tk_arena *a, const char *s, size_t len, const char ***terms,
                    size_t *n) TK_MUST_USE;

/* A name of ?ordering= and the field it orders by. */
struct tk_order_name {
    const char *name;
    int field;
};

/* DRF's OrderingFilter, for every list: comma-separated names, '-' for descending, names
 * stripped, unknown names dropped, a repeated field kept once (its first); none left -> def
 * (n_def terms). Writes at most TK_MAX_ORDERING_FIELDS terms to out; returns their count. */
size_t tk_ordering_parse(const char *s, size_t len, const struct tk_order_name *names,
                         size_t n_names, const struct tk_order *def, size_t n_def,
                         struct tk_order *out);

/* The token list's orderings (docs/api.md §8.3) and its default: identifier, expires. */
#define TK_N_TOKEN_ORDERINGS 8
extern const struct tk_order_name tk_token_orderings[TK_N_TOKEN_ORDERINGS];
extern const struct tk_order tk_token_default_order[2];
/* tk_ordering_parse over them, into q. */
void tk_token_ordering(const char *s, size_t len, struct tk_token_query *q);

/* django-filter BooleanWidget: "true"/"1" -> 1, "false"/"0" -> 0 (case-insensitive),
 * else -1 (no filter). */
int tk_query_bool(const char *s, size_t len);

#endif
