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

#endif
