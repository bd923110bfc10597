/* Token usage and rate limits in memory (docs/api.md §19.3). Every successful use of a token is
 * recorded here on the request path without I/O: into the calling thread's own buffer, behind a
 * lock only the flusher ever contends for (no lock shared by all threads). tk_usage_drain takes
 * everything recorded so far for one batched write (jobs/usage.c). Rate limits are counted per
 * token in this process, in sharded tables: exact within the process. */
#ifndef TK_API_USAGE_H
#define TK_API_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/token_settings.h"
#include "store/store.h"
#include "util/error.h"

struct tk_usage_book;

/* NULL when out of memory. */
struct tk_usage_book *tk_usage_new(void);
/* Frees the book and every thread's buffer (after the threads that record stopped). */
void tk_usage_free(struct tk_usage_book *b);

/* Records one use of a token at now from the client address ip (canonical text; cut to
 * TK_IP_TEXT_MAX). Never fails: memory short, the use is counted in the thread's overflow. */
void tk_usage_record(struct tk_usage_book *b, int64_t token_id, int64_t now, const char *ip);

/* Everything recorded since the last drain, one entry per token (counts added up, the latest use
 * kept): *out is malloc'd, its last_used_ip strings inside it; free it with free(). */
int tk_usage_drain(struct tk_usage_book *b, struct tk_usage **out, size_t *n) TK_MUST_USE;
/* Puts drained entries back (a write that failed is retried with the next batch). */
void tk_usage_restore(struct tk_usage_book *b, const struct tk_usage *u, size_t n);

/* One use of a token limited to r (r->n > 0): true when admitted (and counted); false with
 * *retry_after_s (at least 1) when the token used up its window. Windows are aligned to the
 * period (a minute's window starts on the minute), so processes sharing counts agree on them;
 * a use is admitted while this process's count plus the other processes' (as of the last
 * share) is below n. */
bool tk_usage_rate(struct tk_usage_book *b, int64_t token_id, const struct tk_rate *r, int64_t now,
                   unsigned *retry_after_s);

/* Sharing rate windows between processes (PostgreSQL, jobs/usage.c; struct tk_rate_share is
 * the store's). The open windows with what this process admitted since the last share (then
 * counted as shared): *out is malloc'd (free()). */
int tk_usage_rate_collect(struct tk_usage_book *b, int64_t now, struct tk_rate_share **out,
                          size_t *n) TK_MUST_USE;
/* The totals read back: each window's other processes' count becomes total minus this
 * process's shared count. */
void tk_usage_rate_apply(struct tk_usage_book *b, const struct tk_rate_share *x, size_t n);
/* A share that could not be written: its uses are pending again. */
void tk_usage_rate_restore(struct tk_usage_book *b, const struct tk_rate_share *x, size_t n);

#endif
