/* Allocation wrappers (alloc.h). Plain libc for now; the single place to hook failures. */
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

void *tk_malloc(size_t n) { return malloc(n ? n : 1); }
void *tk_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *tk_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

char *tk_strndup(const char *s, size_t n)
{
    char *p = tk_malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tk_strdup(const char *s) { return tk_strndup(s, strlen(s)); }
