/* The program's allocation entry points. Everything allocates through these so that a debug
 * build can make the Nth allocation fail (tests of allocation failure). */
#ifndef TK_UTIL_ALLOC_H
#define TK_UTIL_ALLOC_H

#include <stddef.h>

void *tk_malloc(size_t n);
void *tk_calloc(size_t n, size_t size);
void *tk_realloc(void *p, size_t n);
char *tk_strndup(const char *s, size_t n);
char *tk_strdup(const char *s);
void tk_free(void *p);
/* Zeroes the whole block (malloc_usable_size), then frees it: for memory that held a key.
 * Also jansson's free (tk_alloc_init), since request bodies carry keys (set_key). Accepts
 * NULL. */
void tk_free_wiped(void *p);
/* Routes the libraries that allow it (jansson) through these functions. Call once at start. */
void tk_alloc_init(void);

/* Debug builds only (no effect otherwise): make the nth allocation from now fail (0: none),
 * and the number of allocations since the last call. For tests of allocation failure. */
void tk_alloc_fail_at(long n);
long tk_alloc_count(void);
/* Debug builds only: fn sees every block tk_free and tk_free_wiped release, with its usable
 * size, just before free() (after the wipe); NULL removes it. For tests that memory holding a
 * key is wiped. fn may be called from any thread. */
void tk_alloc_set_free_hook(void (*fn)(const void *p, size_t size));

#endif
