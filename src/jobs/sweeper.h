/* The expiry sweeper (docs/api.md §12.4 with §17.3): rotates expired api tokens (new key, new
 * expiry, a secret_rotate event, the old key remembered for reuse detection, docs/api.md §19.5),
 * deletes expired tokens of the other intents, drops audit events past their retention and
 * forgets rotated-out keys past their reuse window. Webhook messages of what it changes, and the
 * expiry notices (docs/api.md §21.3), are written in the same transactions. In batches, one
 * transaction each, so requests are never blocked for long. */
#ifndef TK_JOBS_SWEEPER_H
#define TK_JOBS_SWEEPER_H

#include <stdint.h>

#include "crypto/keys.h"
#include "store/store.h"

/* What the sweeper needs to know, from the configuration (not the API's context). */
struct tk_sweep_config {
    struct tk_store *store;
    const struct tk_secret *secret; /* rotated keys are hashed and sealed with it */
    unsigned key_length;            /* TOKEND_KEY_LENGTH */
    int64_t token_duration_us;      /* a rotated api token's new lifetime */
    int64_t event_retention_us;     /* of the secret_rotate events it records */
    int64_t reuse_window_us;        /* TOKEND_REUSE_WINDOW: rotated-out keys are remembered */
    /* TOKEND_EXPIRY_NOTICES (docs/api.md §21.3): the notice durations, longest first, and each
     * one's text as configured */
    size_t n_notices;
    const int64_t *notices_us;
    const char *const *notice_texts;
};

struct tk_sweep_stats {
    int64_t rotated, deleted, events_expired, notices;
    int analyzed;      /* tables whose planner statistics were refreshed (tk_store_restat) */
    bool search_stats; /* search's trigram statistics counted again (tk_store_search_stats_refresh)
                        */
};

/* One pass over everything expired at now, on db. */
int tk_sweep_once(const struct tk_sweep_config *cfg, struct tk_db *db, int64_t now,
                  struct tk_sweep_stats *stats) TK_MUST_USE;

struct tk_sweeper;

/* Starts a thread that sweeps every interval_us (first pass one interval after start); cfg is
 * copied (its store and secret must outlive the sweeper). */
int tk_sweeper_start(const struct tk_sweep_config *cfg, int64_t interval_us,
                     struct tk_sweeper **out) TK_MUST_USE;
/* Stops the thread promptly (a pass in progress finishes its batch). Accepts NULL. */
void tk_sweeper_stop(struct tk_sweeper *s);

#endif
