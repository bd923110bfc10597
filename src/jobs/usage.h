/* The usage flusher (docs/api.md §19.3): every TOKEND_USAGE_FLUSH it takes what the request
 * threads recorded (api/usage.h) and writes it in one statement per TK_USAGE_FLUSH_ROWS tokens,
 * in one transaction; a write that fails is put back and retried with the next batch. Stopping
 * it flushes once more, so a clean stop loses nothing; a crash loses at most one interval. On
 * PostgreSQL it also shares the rate-limit windows every second. */
#ifndef TK_JOBS_USAGE_H
#define TK_JOBS_USAGE_H

#include <stdint.h>

#include "api/usage.h"
#include "store/store.h"

/* One flush now, on the calling thread's connection. */
int tk_usage_flush_once(struct tk_store *store, struct tk_usage_book *book) TK_MUST_USE;

/* Adds this process's rate-limit counts to the shared windows and reads the other processes'
 * back (PostgreSQL; docs/api.md §19.3). */
int tk_usage_share_rates(struct tk_store *store, struct tk_usage_book *book,
                         int64_t now) TK_MUST_USE;

struct tk_usage_flusher;

int tk_usage_flusher_start(struct tk_store *store, struct tk_usage_book *book, int64_t interval_us,
                           struct tk_usage_flusher **out) TK_MUST_USE;
/* Stops the thread and flushes what is left. Accepts NULL. */
void tk_usage_flusher_stop(struct tk_usage_flusher *f);

#endif
