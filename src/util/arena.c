/* Arena allocator (arena.h). Chunks grow geometrically; a request that asks for more than
 * its cap gets NULL, never an abort. */
#include "util/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[]; /* aligned start */
};

struct tk_arena {
    struct chunk *head;
    size_t total, max;
};

#define ARENA_FIRST_CHUNK 8192 /* checksrc: allow the first allocation, not a limit */
#define ALIGN (sizeof(max_align_t))

struct tk_arena *tk_arena_new(size_t max_bytes)
{
    struct tk_arena *a = tk_calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->max = max_bytes;
    return a;
}

void tk_arena_free(struct tk_arena *a)
{
    if (a == NULL)
        return;
    struct chunk *c = a->head;
    while (c != NULL) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *tk_arena_alloc(struct tk_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > a->max)
        return NULL;
    size_t need = (n + ALIGN - 1) & ~(ALIGN - 1);
    struct chunk *c = a->head;
    if (c == NULL || c->size - c->used < need) {
        size_t size = c == NULL ? ARENA_FIRST_CHUNK : c->size * 2;
        if (size < need)
            size = need;
        if (a->total + size > a->max) {
            size = need;
            if (a->total + size > a->max)
                return NULL;
        }
        struct chunk *nc = tk_malloc(sizeof(*nc) + size);
        if (nc == NULL)
            return NULL;
        nc->size = size;
        nc->used = 0;
        a->total += size;
        /* Keep filling the fuller chunk only if the new one is the bigger. */
        nc->next = a->head;
        a->head = nc;
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += need;
    return p;
}

void *tk_arena_calloc(struct tk_arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = tk_arena_alloc(a, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *tk_arena_reserve(struct tk_arena *a, void *p, size_t used, size_t *cap, size_t size)
{
    if (used < *cap)
        return p;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap < *cap)
        return NULL;
    void *bigger = tk_arena_calloc(a, ncap, size);
    if (bigger == NULL)
        return NULL;
    if (used)
        memcpy(bigger, p, used * size);
    *cap = ncap;
    return bigger;
}

char *tk_arena_strndup(struct tk_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = tk_arena_alloc(a, len + 1);
    if (p == NULL)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *tk_arena_strdup(struct tk_arena *a, const char *s)
{
    return tk_arena_strndup(a, s, strlen(s));
}

char *tk_arena_printf(struct tk_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = tk_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
