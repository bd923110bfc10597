/* The expiry sweeper (API.md §12.4 with §17.3): rotates expired api tokens (new key, new
 * expiry, a secret_rotate event), deletes expired tokens of the other intents, and drops audit
 * events past their retention. In batches, one transaction each, so requests are never blocked
 * for long. */
#ifndef TK_JOBS_SWEEPER_H
#define TK_JOBS_SWEEPER_H

#include <stdint.h>

#include "api/api.h"

struct tk_sweep_stats {
    int64_t rotated, deleted, events_expired;
};

/* One pass over everything expired at now, on db. */
int tk_sweep_once(struct tk_api *api, struct tk_db *db, int64_t now,
                  struct tk_sweep_stats *stats) TK_MUST_USE;

struct tk_sweeper;

/* Starts a thread that sweeps every interval_us (first pass one interval after start). */
int tk_sweeper_start(struct tk_api *api, int64_t interval_us, struct tk_sweeper **out) TK_MUST_USE;
/* Stops the thread promptly (a pass in progress finishes its batch). Accepts NULL. */
void tk_sweeper_stop(struct tk_sweeper *s);

#endif
