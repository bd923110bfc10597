/* Usage buffers and rate windows (usage.h; docs/api.md §19.3). */
#include "api/usage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client_addr.h"
#include "util/alloc.h"
#include "util/limits.h"

#define BUFFER_SLOTS 256 /* a thread's first table; it doubles as tokens are used */
#define RATE_SHARDS 64
#define RATE_SLOTS 256

struct slot {
    int64_t token_id; /* 0: empty */
    int64_t count;
    int64_t last_used;
    char ip[TK_IP_TEXT_MAX];
};

/* One thread's uses since the last drain: open addressing on the token id. */
struct buffer {
    pthread_mutex_t mu;
    struct slot *slots;
    size_t cap, n;
    struct buffer *next;
};

struct rate_slot {
    int64_t token_id; /* 0: empty */
    int64_t window_start;
    int64_t window_us;
    uint32_t count;   /* admitted here in this window */
    uint32_t pending; /* of count, not yet added to the shared total */
    uint32_t others;  /* admitted by other processes, as of the last share */
    uint32_t shared;  /* of count, added to the shared total */
};

struct rate_shard {
    pthread_mutex_t mu;
    struct rate_slot *slots;
    size_t cap, n;
};

struct tk_usage_book {
    pthread_key_t key; /* this thread's struct buffer */
    pthread_mutex_t list_mu;
    struct buffer *buffers; /* every thread's, kept until the book is freed */
    struct rate_shard rates[RATE_SHARDS];
};

static size_t spot(int64_t id, size_t cap)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
    return (size_t)(h >> 32) & (cap - 1);
}

struct tk_usage_book *tk_usage_new(void)
{
    struct tk_usage_book *b = tk_calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    if (pthread_key_create(&b->key, NULL) != 0) { /* buffers outlive their threads */
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->list_mu, NULL);
    for (size_t i = 0; i < RATE_SHARDS; i++)
        pthread_mutex_init(&b->rates[i].mu, NULL);
    return b;
}

void tk_usage_free(struct tk_usage_book *b)
{
    if (b == NULL)
        return;
    for (struct buffer *x = b->buffers, *next; x != NULL; x = next) {
        next = x->next;
        pthread_mutex_destroy(&x->mu);
        free(x->slots);
        free(x);
    }
    for (size_t i = 0; i < RATE_SHARDS; i++) {
        pthread_mutex_destroy(&b->rates[i].mu);
        free(b->rates[i].slots);
    }
    pthread_key_delete(b->key);
    pthread_mutex_destroy(&b->list_mu);
    free(b);
}

static struct buffer *my_buffer(struct tk_usage_book *b)
{
    struct buffer *x = pthread_getspecific(b->key);
    if (x != NULL)
        return x;
    x = tk_calloc(1, sizeof(*x));
    struct slot *slots = x ? tk_calloc(BUFFER_SLOTS, sizeof(*slots)) : NULL;
    if (slots == NULL || pthread_setspecific(b->key, x) != 0) {
        free(slots);
        free(x);
        return NULL;
    }
    x->slots = slots;
    x->cap = BUFFER_SLOTS;
    pthread_mutex_init(&x->mu, NULL);
    pthread_mutex_lock(&b->list_mu);
    x->next = b->buffers;
    b->buffers = x;
    pthread_mutex_unlock(&b->list_mu);
    return x;
}

static struct slot *find(struct slot *slots, size_t cap, int64_t id)
{
    size_t i = spot(id, cap);
    while (slots[i].token_id != 0 && slots[i].token_id != id)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Doubles a buffer's table; false when it cannot grow. */
static bool grow(struct buffer *x)
{
    if (x->cap >= TK_USAGE_THREAD_MAX_SLOTS)
        return false;
    struct slot *bigger = tk_calloc(x->cap * 2, sizeof(*bigger));
    if (bigger == NULL)
        return false;
    for (size_t i = 0; i < x->cap; i++)
        if (x->slots[i].token_id != 0)
            *find(bigger, x->cap * 2, x->slots[i].token_id) = x->slots[i];
    free(x->slots);
    x->slots = bigger;
    x->cap *= 2;
    return true;
}

static void add(struct tk_usage_book *b, int64_t id, int64_t count, int64_t when, const char *ip)
{
    struct buffer *x = my_buffer(b);
    if (x == NULL || id <= 0)
        return;
    pthread_mutex_lock(&x->mu);
    if (x->n * 2 >= x->cap && !grow(x) && x->n + 1 >= x->cap) {
        pthread_mutex_unlock(&x->mu); /* full: this use goes uncounted */
        return;
    }
    struct slot *s = find(x->slots, x->cap, id);
    if (s->token_id == 0) {
        s->token_id = id;
        x->n++;
    }
    s->count += count;
    if (when >= s->last_used) {
        s->last_used = when;
        snprintf(s->ip, sizeof(s->ip), "%s", ip ? ip : "");
    }
    pthread_mutex_unlock(&x->mu);
}

void tk_usage_record(struct tk_usage_book *b, int64_t token_id, int64_t now, const char *ip)
{
    add(b, token_id, 1, now, ip);
}

void tk_usage_restore(struct tk_usage_book *b, const struct tk_usage *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add(b, u[i].token_id, u[i].count, u[i].last_used, u[i].last_used_ip);
}

static int by_token(const void *x, const void *y)
{
    const struct slot *a = x, *b = y;
    return a->token_id < b->token_id ? -1 : a->token_id > b->token_id;
}

int tk_usage_drain(struct tk_usage_book *b, struct tk_usage **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    size_t n = 0, cap = 0;
    struct slot *all = NULL;
    int rc = 0;
    pthread_mutex_lock(&b->list_mu);
    for (struct buffer *x = b->buffers; x != NULL && rc == 0; x = x->next) {
        pthread_mutex_lock(&x->mu);
        if (n + x->n > cap) {
            size_t want = (n + x->n) * 2;
            struct slot *bigger = tk_realloc(all, want * sizeof(*all));
            if (bigger == NULL) {
                rc = TK_ERR_NOMEM; /* what stays in the buffers is taken next time */
            } else {
                all = bigger;
                cap = want;
            }
        }
        if (rc == 0 && x->n > 0) {
            for (size_t i = 0; i < x->cap; i++)
                if (x->slots[i].token_id != 0)
                    all[n++] = x->slots[i];
            memset(x->slots, 0, x->cap * sizeof(*x->slots));
            x->n = 0;
        }
        pthread_mutex_unlock(&x->mu);
    }
    pthread_mutex_unlock(&b->list_mu);
    if (n == 0) {
        free(all);
        return rc;
    }
    qsort(all, n, sizeof(*all), by_token);
    size_t m = 0; /* merged in place: one entry per token */
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && all[m - 1].token_id == all[i].token_id) {
            all[m - 1].count += all[i].count;
            if (all[i].last_used > all[m - 1].last_used) {
                all[m - 1].last_used = all[i].last_used;
                memcpy(all[m - 1].ip, all[i].ip, sizeof(all[i].ip));
            }
        } else {
            all[m++] = all[i];
        }
    }
    /* one block: the entries, then their addresses */
    struct tk_usage *u = tk_malloc(m * (sizeof(*u) + TK_IP_TEXT_MAX));
    if (u == NULL) {
        struct tk_usage back = {0};
        for (size_t i = 0; i < m; i++) { /* nothing is lost: back into this thread's buffer */
            back = (struct tk_usage){all[i].token_id, all[i].count, all[i].last_used, all[i].ip};
            tk_usage_restore(b, &back, 1);
        }
        free(all);
        return TK_ERR_NOMEM;
    }
    char *ips = (char *)(u + m);
    for (size_t i = 0; i < m; i++) {
        char *ip = ips + i * TK_IP_TEXT_MAX;
        memcpy(ip, all[i].ip, TK_IP_TEXT_MAX);
        u[i] = (struct tk_usage){all[i].token_id, all[i].count, all[i].last_used, ip};
    }
    free(all);
    *out = u;
    *n_out = m;
    return rc;
}

/* ---- rate windows ---- */

static struct rate_slot *rate_find(struct rate_slot *slots, size_t cap, int64_t id)
{
    size_t i = spot(id, cap);
    while (slots[i].token_id != 0 && slots[i].token_id != id)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Rebuilds a shard's table at cap slots, dropping windows that ended before now. */
static bool rate_rebuild(struct rate_shard *s, size_t cap, int64_t now)
{
    struct rate_slot *t = tk_calloc(cap, sizeof(*t));
    if (t == NULL)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < s->cap; i++) {
        struct rate_slot *r = &s->slots[i];
        if (r->token_id != 0 && r->window_start + r->window_us > now) {
            *rate_find(t, cap, r->token_id) = *r;
            n++;
        }
    }
    free(s->slots);
    s->slots = t;
    s->cap = cap;
    s->n = n;
    return true;
}

bool tk_usage_rate(struct tk_usage_book *b, int64_t token_id, const struct tk_rate *r, int64_t now,
                   unsigned *retry_after_s)
{
    struct rate_shard *s = &b->rates[(uint64_t)token_id % RATE_SHARDS];
    int64_t window = (int64_t)r->period_s * 1000000;
    int64_t start = now - now % window; /* aligned: every process agrees on the window */
    bool ok = true;
    pthread_mutex_lock(&s->mu);
    if (s->n * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap : RATE_SLOTS;
        /* drop ended windows first; grow only when that leaves it half full */
        if (!rate_rebuild(s, cap, now) || s->n * 2 >= s->cap)
            if (cap >= TK_RATE_SHARD_MAX_SLOTS || !rate_rebuild(s, cap * 2, now))
                goto out; /* no room: this use is admitted uncounted */
    }
    struct rate_slot *w = rate_find(s->slots, s->cap, token_id);
    if (w->token_id == 0) {
        w->token_id = token_id;
        s->n++;
    }
    if (w->window_start != start || w->window_us != window)
        *w = (struct rate_slot){.token_id = token_id, .window_start = start, .window_us = window};
    if ((uint64_t)w->count + w->others < r->n) {
        w->count++;
        w->pending++;
    } else {
        ok = false;
        int64_t wait = start + window - now;
        *retry_after_s = (unsigned)((wait + 999999) / 1000000);
        if (*retry_after_s < 1)
            *retry_after_s = 1;
    }
out:
    pthread_mutex_unlock(&s->mu);
    return ok;
}

int tk_usage_rate_collect(struct tk_usage_book *b, int64_t now, struct tk_rate_share **out,
                          size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    size_t n = 0, cap = 0;
    struct tk_rate_share *all = NULL;
    int rc = 0;
    for (size_t k = 0; k < RATE_SHARDS && rc == 0; k++) {
        struct rate_shard *s = &b->rates[k];
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < s->cap; i++) {
            struct rate_slot *w = &s->slots[i];
            if (w->token_id == 0 || w->window_start + w->window_us <= now)
                continue; /* ended: nothing left to decide with it */
            if (n == cap) {
                size_t want = cap ? cap * 2 : 64;
                struct tk_rate_share *bigger = tk_realloc(all, want * sizeof(*all));
                if (bigger == NULL) {
                    rc = TK_ERR_NOMEM;
                    break;
                }
                all = bigger;
                cap = want;
            }
            all[n++] = (struct tk_rate_share){w->token_id, w->window_start, w->pending, 0};
            w->shared += w->pending;
            w->pending = 0;
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (rc) {
        tk_usage_rate_restore(b, all, n);
        free(all);
        return rc;
    }
    *out = all;
    *n_out = n;
    return 0;
}

/* The slot of a share, if it still holds that window (the shard is locked). */
static struct rate_slot *share_slot(struct rate_shard *s, const struct tk_rate_share *x)
{
    if (s->cap == 0)
        return NULL;
    struct rate_slot *w = rate_find(s->slots, s->cap, x->token_id);
    return w->token_id == x->token_id && w->window_start == x->window_start ? w : NULL;
}

void tk_usage_rate_restore(struct tk_usage_book *b, const struct tk_rate_share *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct rate_shard *s = &b->rates[(uint64_t)x[i].token_id % RATE_SHARDS];
        pthread_mutex_lock(&s->mu);
        struct rate_slot *w = share_slot(s, &x[i]);
        if (w != NULL) {
            w->shared -= (uint32_t)x[i].added;
            w->pending += (uint32_t)x[i].added;
        }
        pthread_mutex_unlock(&s->mu);
    }
}

void tk_usage_rate_apply(struct tk_usage_book *b, const struct tk_rate_share *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct rate_shard *s = &b->rates[(uint64_t)x[i].token_id % RATE_SHARDS];
        pthread_mutex_lock(&s->mu);
        struct rate_slot *w = share_slot(s, &x[i]);
        if (w != NULL && x[i].total >= (int64_t)w->shared)
            w->others = (uint32_t)(x[i].total - w->shared > UINT32_MAX ? UINT32_MAX
                                                                       : x[i].total - w->shared);
        pthread_mutex_unlock(&s->mu);
    }
}
