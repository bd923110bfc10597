/* Allocation wrappers (alloc.h): the single place where allocation failure can be injected.
 * Debug builds (TOKEND_ALLOC_HOOK) count allocations and fail the Nth, so tests can show that
 * every failure becomes an error answer, never a crash or a leak. */
#include "util/alloc.h"

#include <jansson.h>
#include <malloc.h>
#include <sodium.h>
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
typedef void (*free_hook_fn)(const void *p, size_t size);
static _Atomic(free_hook_fn) free_hook;

void tk_alloc_set_free_hook(void (*fn)(const void *p, size_t size))
{
    atomic_store(&free_hook, fn);
}

static void before_free(void *p)
{
    free_hook_fn fn = atomic_load(&free_hook);
    if (fn != NULL && p != NULL)
        fn(p, malloc_usable_size(p));
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
void tk_alloc_set_free_hook(void (*fn)(const void *p, size_t size))
{
    (void)fn;
}
#define failing() 0
#define before_free(p) ((void)(p))
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
    before_free(p);
    free(p);
}

void tk_free_wiped(void *p)
{
    if (p == NULL)
        return;
    sodium_memzero(p, malloc_usable_size(p));
    tk_free(p);
}

void tk_alloc_init(void)
{
    /* jansson's allocations (request bodies) go through the same hook. Its blocks are wiped
     * when freed: a set_key body's key sits in a parsed string and in the parser's buffers
     * (which grow by malloc, copy and free), and nothing tells which body holds one. A few
     * hundred bytes of zeroing per request. */
    json_set_alloc_funcs(tk_malloc, tk_free_wiped);
}
