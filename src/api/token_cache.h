/* Token rows kept per thread for one store snapshot (tk_store_snapshot), by identifier: a
 * retrieve (GET tokens/{identifier}/) and a list filtered by identifier alone read the same row
 * again and again, and on PostgreSQL each read is a round trip. An entry is used only while the
 * connection's snapshot is the one it was read in, so any change to the database, by any
 * connection or process, retires every entry (docs/api.md §20.1). Only the row's public columns
 * are kept (never a key or its hash); who may see it is decided on each use, as in the store's
 * query. Lock-free (each thread has its own table) and bounded (TOKEN_CACHE_SLOTS entries). */
#ifndef TK_API_TOKEN_CACHE_H
#define TK_API_TOKEN_CACHE_H

#include <stdbool.h>

#include "domain/tokens.h"
#include "store/store.h"
#include "util/arena.h"

/* The row of the token named identifier as of snapshot s, copied into the arena (user NULL);
 * false when this thread has none for s. */
bool tk_token_cache_get(const struct tk_store_snapshot *s, const char *identifier,
                        struct tk_arena *a, struct tk_token *out);
/* Keeps t's row for snapshot s (nothing when s->version is 0, or when memory is short: the
 * cache is only ever an optimisation). */
void tk_token_cache_put(const struct tk_store_snapshot *s, const struct tk_token *t);

#endif
