/* Token rows kept per thread for one store snapshot (tk_store_snapshot): single rows by
 * identifier (a retrieve, GET tokens/{identifier}/, and a list filtered by identifier alone)
 * and whole list pages by their query string and the caller's visibility (the count and the
 * page's rows). Clients ask for the same token and the same page again and again, and on
 * PostgreSQL each read is a round trip. An entry is used only while the connection's snapshot is
 * the one it was read in, so any change to the database, by any connection or process, retires
 * every entry (docs/api.md §20.1). Only the rows' public columns are kept (never a key or its
 * hash); who may see a single row is decided on each use, as in the store's query. Lock-free
 * (each thread has its own tables) and bounded. */
#ifndef TK_API_TOKEN_CACHE_H
#define TK_API_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/tokens.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/limits.h" /* TK_MAX_CACHED_PAGE_ROWS, TK_MAX_CACHED_QUERY_BYTES */

/* The row of the token named identifier as of snapshot s, copied into the arena (user NULL);
 * false when this thread has none for s. */
bool tk_token_cache_get(const struct tk_store_snapshot *s, const char *identifier,
                        struct tk_arena *a, struct tk_token *out);
/* Keeps t's row for snapshot s (nothing when s->version is 0, or when memory is short: the
 * cache is only ever an optimisation). */
void tk_token_cache_put(const struct tk_store_snapshot *s, const struct tk_token *t);

/* The page of the token list that the query string query[0..len) gave owner_id (0: a caller
 * who sees every token) as of snapshot s: the list's count and the page's *n rows, copied into
 * the arena (users NULL); false when this thread has none. */
bool tk_token_cache_page_get(const struct tk_store_snapshot *s, int64_t owner_id, const char *query,
                             size_t len, struct tk_arena *a, int64_t *count,
                             struct tk_token **tokens, size_t *n);
/* Keeps that page (not one of more than TK_MAX_CACHED_PAGE_ROWS rows or a query string longer
 * than TK_MAX_CACHED_QUERY_BYTES). */
void tk_token_cache_page_put(const struct tk_store_snapshot *s, int64_t owner_id, const char *query,
                             size_t len, int64_t count, const struct tk_token *tokens, size_t n);

#endif
