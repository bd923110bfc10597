/* Capped growable buffer (buf.h). */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

void tk_buf_init(struct tk_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->err = 0;
    b->wipe = false;
}

void tk_buf_free(struct tk_buf *b)
{
    if (b == NULL)
        return;
    if (b->wipe)
        tk_free_wiped(b->data);
    else
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void tk_buf_reset(struct tk_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int grow(struct tk_buf *b, size_t n)
{
    if (n > b->max - b->len)
        return b->err = TK_ERR_TOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p;
    if (b->wipe) {
        /* no realloc: it could leave a copy of the key behind in the block it frees */
        if ((p = tk_malloc(cap)) == NULL)
            return b->err = TK_ERR_NOMEM;
        if (b->data != NULL) {
            memcpy(p, b->data, b->len + 1);
            tk_free_wiped(b->data);
        }
    } else if ((p = tk_realloc(b->data, cap)) == NULL) {
        return b->err = TK_ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int tk_buf_append_slow(struct tk_buf *b, const void *p, size_t n)
{
    if (b->err)
        return b->err;
    if (grow(b, n))
        return b->err;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tk_buf_puts(struct tk_buf *b, const char *s)
{
    return tk_buf_append(b, s, strlen(s));
}

int tk_buf_printf(struct tk_buf *b, const char *fmt, ...)
{
    if (b->err)
        return b->err;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return b->err = TK_ERR_INVALID;
    if (grow(b, (size_t)n))
        return b->err;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int tk_buf_reserve(struct tk_buf *b, size_t n)
{
    if (b->err)
        return b->err;
    if (n > b->max - b->len)
        n = b->max - b->len;
    return grow(b, n);
}

char *tk_buf_extend(struct tk_buf *b, size_t n)
{
    if (b->err || grow(b, n))
        return NULL;
    char *p = b->data + b->len;
    b->len += n;
    b->data[b->len] = '\0';
    return p;
}

char *tk_buf_take(struct tk_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
