/* Per-thread tables allocated on first use and freed when their thread exits, for the caches
 * that each worker thread keeps without locks (avatars, rendered users, principals). */
#ifndef TK_UTIL_TLS_H
#define TK_UTIL_TLS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct tk_tls {
    size_t size;                  /* bytes of the table, zeroed at allocation */
    void (*destroy)(void *table); /* frees what the table points to, then the table */
    atomic_bool ready;
    bool ok;
    pthread_key_t key;
};

#define TK_TLS_INIT(size_, destroy_)                                                               \
    {                                                                                              \
        .size = (size_), .destroy = (destroy_)                                                     \
    }

/* This thread's table, allocated (zeroed) when create and there is none yet; NULL when there
 * is none, or memory is short (callers treat the cache as absent). */
void *tk_tls_get(struct tk_tls *t, bool create);

#endif
