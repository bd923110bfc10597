/* Per-address token buckets for failed authentications (throttle.h). A fixed table: an address
 * hashes to a slot; a slot taken by another address is reused once that bucket is full again
 * (it has forgotten nothing worth keeping), else the newcomer shares it (errs towards
 * throttling, never towards letting more through). */
#include "api/throttle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define SLOTS 4096

struct bucket {
    char addr[48];
    double tokens;
    int64_t at_us;
};

struct tk_throttle {
    pthread_mutex_t mu;
    unsigned burst;
    double rate; /* tokens per microsecond */
    struct bucket b[SLOTS];
};

struct tk_throttle *tk_throttle_new(unsigned burst, double per_second)
{
    struct tk_throttle *t = tk_calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->burst = burst;
    t->rate = per_second / 1e6;
    return t;
}

void tk_throttle_free(struct tk_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The refilled bucket of addr; the caller holds the lock. */
static struct bucket *find(struct tk_throttle *t, const char *addr, int64_t now)
{
    struct bucket *b = &t->b[hash(addr) % SLOTS];
    if (b->addr[0] != '\0') {
        double refill = (double)(now - b->at_us) * t->rate;
        b->tokens = b->tokens + refill > t->burst ? t->burst : b->tokens + refill;
        b->at_us = now;
    }
    if (b->addr[0] == '\0' || (strcmp(b->addr, addr) != 0 && b->tokens >= t->burst)) {
        strncpy(b->addr, addr, sizeof(b->addr) - 1);
        b->addr[sizeof(b->addr) - 1] = '\0';
        b->tokens = t->burst;
        b->at_us = now;
    }
    return b;
}

bool tk_throttle_allow(struct tk_throttle *t, const char *addr, int64_t now_us,
                       unsigned *retry_after_s)
{
    if (t == NULL || t->burst == 0)
        return true;
    pthread_mutex_lock(&t->mu);
    struct bucket *b = find(t, addr, now_us);
    bool ok = b->tokens >= 1.0;
    if (!ok && retry_after_s != NULL)
        *retry_after_s = (unsigned)((1.0 - b->tokens) / (t->rate * 1e6)) + 1;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void tk_throttle_failed(struct tk_throttle *t, const char *addr, int64_t now_us)
{
    if (t == NULL || t->burst == 0)
        return;
    pthread_mutex_lock(&t->mu);
    struct bucket *b = find(t, addr, now_us);
    b->tokens = b->tokens >= 1.0 ? b->tokens - 1.0 : 0.0;
    pthread_mutex_unlock(&t->mu);
}
