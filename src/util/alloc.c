/* Allocation wrappers (alloc.h): the single place where allocation failure can be injected.
 * Debug builds (TOKEND_ALLOC_HOOK) count allocations and fail the Nth, so tests can show that
 * every failure becomes an error answer, never a crash or a leak. */
#include "util/alloc.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef TOKEND_ALLOC_HOOK
static atomic_long fail_at;
static atomic_long counter;

void tk_alloc_fail_at(long n)
{
    atomic_store(&counter, 0);
    atomic_store(&fail_at, n);
}

long tk_alloc_count(void)
{
    return atomic_load(&counter);
}

static int failing(void)
{
    long at = atomic_load(&fail_at);
    return at > 0 && atomic_fetch_add(&counter, 1) + 1 == at;
}
#else
void tk_alloc_fail_at(long n)
{
    (void)n;
}
long tk_alloc_count(void)
{
    return 0;
}
#define failing() 0
#endif

void *tk_malloc(size_t n)
{
    return failing() ? NULL : malloc(n ? n : 1);
}
void *tk_calloc(size_t n, size_t size)
{
    return failing() ? NULL : calloc(n ? n : 1, size ? size : 1);
}
void *tk_realloc(void *p, size_t n)
{
    return failing() ? NULL : realloc(p, n ? n : 1);
}

char *tk_strndup(const char *s, size_t n)
{
    char *p = tk_malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tk_strdup(const char *s)
{
    return tk_strndup(s, strlen(s));
}

void tk_free(void *p)
{
    free(p);
}

void tk_alloc_init(void)
{
    /* jansson's allocations (request bodies) go through the same hook */
    json_set_alloc_funcs(tk_malloc, tk_free);
}
