/* Per-thread tables (tls.h). */
#include "util/tls.h"

#include <stdlib.h>

#include "util/alloc.h"

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

void *tk_tls_get(struct tk_tls *t, bool create)
{
    if (!atomic_load_explicit(&t->ready, memory_order_acquire)) {
        pthread_mutex_lock(&init_lock);
        if (!atomic_load_explicit(&t->ready, memory_order_relaxed)) {
            t->ok = pthread_key_create(&t->key, t->destroy) == 0;
            atomic_store_explicit(&t->ready, true, memory_order_release);
        }
        pthread_mutex_unlock(&init_lock);
    }
    if (!t->ok)
        return NULL;
    void *table = pthread_getspecific(t->key);
    if (table == NULL && create) {
        table = tk_calloc(1, t->size);
        if (table != NULL && pthread_setspecific(t->key, table) != 0) {
            free(table);
            table = NULL;
        }
    }
    return table;
}
