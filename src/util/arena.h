/* Per-request arena: bump allocation in chunks, everything freed at once with the response.
 * Not thread-safe: one arena belongs to one request on one thread. */
#ifndef TK_UTIL_ARENA_H
#define TK_UTIL_ARENA_H

#include <stddef.h>

struct tk_arena;

/* New arena that will never hand out more than max_bytes in total. NULL when out of memory. */
struct tk_arena *tk_arena_new(size_t max_bytes);
/* Frees every allocation and the arena. Accepts NULL. */
void tk_arena_free(struct tk_arena *a);
/* n bytes aligned for any type; NULL when out of memory or past the arena's cap. */
void *tk_arena_alloc(struct tk_arena *a, size_t n);
/* Zeroed allocation of n * size bytes (overflow checked). */
void *tk_arena_calloc(struct tk_arena *a, size_t n, size_t size);
/* Room for one more element in the growing array p of used elements (*cap allocated): p
 * itself while there is room, else a copy with twice the room (8 to start) and *cap updated.
 * NULL when out of memory; p is then unchanged. */
void *tk_arena_reserve(struct tk_arena *a, void *p, size_t used, size_t *cap, size_t size);
/* Copy of s[0..len) with a terminating NUL. */
char *tk_arena_strndup(struct tk_arena *a, const char *s, size_t len);
char *tk_arena_strdup(struct tk_arena *a, const char *s);
/* printf into the arena. NULL on failure. */
char *tk_arena_printf(struct tk_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
