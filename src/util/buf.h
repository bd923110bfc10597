/* Growable byte buffer with a hard maximum (curl's dynbuf "toobig"). Always NUL-terminated
 * after a successful append. Errors are sticky: once an append failed, later appends fail too,
 * so a writer can check once at the end. */
#ifndef TK_UTIL_BUF_H
#define TK_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "util/error.h"

struct tk_buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard cap on len */
    int err;    /* first error, sticky */
    bool wipe;  /* holds a key: storage zeroed before it is freed or moved (set after init) */
};

void tk_buf_init(struct tk_buf *b, size_t max);
/* Frees the storage; the buffer may be reused after tk_buf_init. Accepts NULL. */
void tk_buf_free(struct tk_buf *b);
/* Empties the buffer, keeps the storage, clears the error. */
void tk_buf_reset(struct tk_buf *b);
int tk_buf_append_slow(struct tk_buf *b, const void *p, size_t n);
int tk_buf_puts(struct tk_buf *b, const char *s);

/* The response writer appends a few bytes at a time, tens of thousands of times per list page:
 * the common case (room left, no error) stays inline; growth and errors take the slow path. */
static inline int tk_buf_append(struct tk_buf *b, const void *p, size_t n)
{
    if (b->err == 0 && n < b->cap - b->len && n <= b->max - b->len) {
        if (n)
            memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return tk_buf_append_slow(b, p, n);
}

static inline int tk_buf_putc(struct tk_buf *b, char c)
{
    return tk_buf_append(b, &c, 1);
}
int tk_buf_printf(struct tk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes (at most up to the cap) in one allocation, so a writer that knows
 * roughly how much it will write does not copy the buffer at every doubling. */
int tk_buf_reserve(struct tk_buf *b, size_t n);
/* Appends n bytes of uninitialised space and returns a pointer to them (NULL on error). */
char *tk_buf_extend(struct tk_buf *b, size_t n);
/* Hands over the storage (caller frees with free(), or tk_free_wiped when b->wipe); the buffer
 * is left empty. */
char *tk_buf_take(struct tk_buf *b, size_t *len);

#endif
