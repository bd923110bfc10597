/* The usage flusher (usage.h). */
#include "jobs/usage.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "util/alloc.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/time.h"

struct batch {
    const struct tk_usage *u;
    size_t n;
};

static int flush_tx(struct tk_db *db, void *arg)
{
    struct batch *b = arg;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < b->n; i += TK_USAGE_FLUSH_ROWS) {
        size_t k = b->n - i < TK_USAGE_FLUSH_ROWS ? b->n - i : TK_USAGE_FLUSH_ROWS;
        rc = tk_store_usage_flush(db, b->u + i, k);
    }
    return rc;
}

int tk_usage_flush_once(struct tk_store *store, struct tk_usage_book *book)
{
    struct tk_usage *u;
    size_t n;
    int rc = tk_usage_drain(book, &u, &n);
    if (n == 0)
        return rc;
    struct tk_db *db = tk_store_db(store);
    struct batch b = {u, n};
    int wrc = db ? tk_store_write_tx(db, flush_tx, &b) : TK_ERR_BUSY;
    if (wrc)
        tk_usage_restore(book, u, n); /* rolled back: retried with the next flush */
    free(u);
    return wrc ? wrc : rc;
}

int tk_usage_share_rates(struct tk_store *store, struct tk_usage_book *book, int64_t now)
{
    struct tk_rate_share *x;
    size_t n;
    int rc = tk_usage_rate_collect(book, now, &x, &n);
    if (rc || n == 0)
        return rc;
    struct tk_db *db = tk_store_db(store);
    rc = db ? 0 : TK_ERR_BUSY;
    for (size_t i = 0; rc == 0 && i < n; i += TK_USAGE_FLUSH_ROWS) {
        size_t k = n - i < TK_USAGE_FLUSH_ROWS ? n - i : TK_USAGE_FLUSH_ROWS;
        rc = tk_store_rate_share(db, x + i, k); /* autocommit: one statement */
        if (rc)
            tk_usage_rate_restore(book, x + i, n - i); /* the rest goes with the next share */
        else
            tk_usage_rate_apply(book, x + i, k);
    }
    if (db == NULL)
        tk_usage_rate_restore(book, x, n);
    free(x);
    return rc;
}

struct tk_usage_flusher {
    struct tk_store *store;
    struct tk_usage_book *book;
    int64_t interval_us;
    bool share_rates; /* PostgreSQL: rate windows shared every second */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void flush_logged(struct tk_usage_flusher *f)
{
    int rc = tk_usage_flush_once(f->store, f->book);
    struct tk_log_line l;
    if (rc && tk_log_begin(&l, TK_LOG_WARNING, "tokend.usage", "usage flush failed")) {
        tk_log_cstr(&l, "error", tk_strerror(rc));
        tk_log_cstr(&l, "retry", "next interval");
        tk_log_end(&l);
    }
}

#define SHARE_INTERVAL_US 1000000 /* docs/api.md §19.3: counts shared at least once a second */

static void *flusher_main(void *arg)
{
    struct tk_usage_flusher *f = arg;
    int64_t tick =
        f->share_rates && f->interval_us > SHARE_INTERVAL_US ? SHARE_INTERVAL_US : f->interval_us;
    int64_t next_flush = tk_now_us() + f->interval_us;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (tick % 1000000) * 1000;
        ts.tv_sec += (time_t)(tick / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu, &ts) == 0)
            ;
        bool stopping = f->stop;
        pthread_mutex_unlock(&f->mu);
        int64_t now = tk_now_us();
        if (f->share_rates && !stopping && tk_usage_share_rates(f->store, f->book, now) != 0)
            tk_log(TK_LOG_DEBUG, "tokend.usage", "rate share failed; retried next second");
        if (stopping || now >= next_flush) {
            flush_logged(f); /* on stop too: the last flush */
            next_flush = now + f->interval_us;
        }
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    tk_store_thread_done(f->store);
    return NULL;
}

int tk_usage_flusher_start(struct tk_store *store, struct tk_usage_book *book, int64_t interval_us,
                           struct tk_usage_flusher **out)
{
    struct tk_usage_flusher *f = tk_calloc(1, sizeof(*f));
    if (f == NULL)
        return TK_ERR_NOMEM;
    f->store = store;
    f->book = book;
    f->interval_us = interval_us;
    f->share_rates = tk_store_is_pg(store);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&f->mu, NULL);
    if (pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return TK_ERR_NOMEM;
    }
    *out = f;
    return 0;
}

void tk_usage_flusher_stop(struct tk_usage_flusher *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
