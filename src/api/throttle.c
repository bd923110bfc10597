/* Per-address token buckets for failed authentications (throttle.h). A bounded table of
 * TK_THROTTLE_ADDRESSES buckets, each holding one exact address: an address hashes (SipHash
 * with a random key per process, so nobody can aim addresses at one place) to a window of
 * PROBE neighbouring slots and takes a free one there, else one whose bucket has refilled
 * completely (it remembers nothing worth keeping), else the one closest to full (the least
 * forgotten). Two addresses never share a bucket. */
#include "api/throttle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "http/client_addr.h"
#include "util/alloc.h"
#include "util/limits.h"

#define PROBE 8

struct bucket {
    char addr[TK_IP_TEXT_MAX]; /* "" : free */
    double tokens;
    int64_t at_us;
};

struct tk_throttle {
    pthread_mutex_t mu;
    unsigned burst;
    double rate; /* tokens per microsecond */
    uint8_t key[crypto_shorthash_KEYBYTES];
    struct bucket b[TK_THROTTLE_ADDRESSES];
};

_Static_assert((TK_THROTTLE_ADDRESSES & (TK_THROTTLE_ADDRESSES - 1)) == 0,
               "TK_THROTTLE_ADDRESSES must be a power of two");

struct tk_throttle *tk_throttle_new(unsigned burst, double per_second)
{
    if (sodium_init() < 0)
        return NULL;
    struct tk_throttle *t = tk_calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->burst = burst;
    t->rate = per_second / 1e6;
    randombytes_buf(t->key, sizeof(t->key));
    return t;
}

void tk_throttle_free(struct tk_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static size_t home(const struct tk_throttle *t, const char *addr, size_t len)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)addr, len, t->key);
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return (size_t)v & (TK_THROTTLE_ADDRESSES - 1);
}

/* Tokens of b now (refilled since its last use). */
static double level(const struct tk_throttle *t, const struct bucket *b, int64_t now)
{
    double v = b->tokens + (double)(now - b->at_us) * t->rate;
    return v > t->burst ? t->burst : v;
}

/* addr's bucket, refilled to now; the caller holds the lock. */
static struct bucket *find(struct tk_throttle *t, const char *addr, int64_t now)
{
    char key[TK_IP_TEXT_MAX];
    size_t len = strnlen(addr, sizeof(key) - 1);
    memcpy(key, addr, len);
    key[len] = '\0';
    size_t h = home(t, key, len);
    struct bucket *spare = NULL;
    double spare_level = -1.0;
    for (size_t i = 0; i < PROBE; i++) {
        struct bucket *b = &t->b[(h + i) & (TK_THROTTLE_ADDRESSES - 1)];
        if (b->addr[0] != '\0' && strcmp(b->addr, key) == 0) {
            b->tokens = level(t, b, now);
            b->at_us = now;
            return b;
        }
        /* a free slot counts as a full bucket: both forget nothing */
        double v = b->addr[0] == '\0' ? (double)t->burst + 1.0 : level(t, b, now);
        if (v > spare_level) {
            spare = b;
            spare_level = v;
        }
    }
    memcpy(spare->addr, key, len + 1);
    spare->tokens = t->burst;
    spare->at_us = now;
    return spare;
}

bool tk_throttle_fail(struct tk_throttle *t, const char *addr, int64_t now_us,
                      unsigned *retry_after_s)
{
    if (t == NULL || t->burst == 0)
        return false;
    pthread_mutex_lock(&t->mu);
    struct bucket *b = find(t, addr, now_us);
    bool throttled = b->tokens < 1.0;
    if (throttled) {
        /* whole seconds until one failure is earned back, rounded up */
        double secs = (1.0 - b->tokens) / (t->rate * 1e6);
        unsigned w = (unsigned)secs;
        *retry_after_s = w + (w < secs || w == 0);
    } else {
        b->tokens -= 1.0;
    }
    pthread_mutex_unlock(&t->mu);
    return throttled;
}
