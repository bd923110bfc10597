/* Webhook delivery (docs/api.md §21.4): a thread of its own that claims due deliveries from the
 * outbox, posts them with libcurl's multi interface (at most TK_WEBHOOK_IN_FLIGHT at once,
 * TK_WEBHOOK_PER_ENDPOINT to one receiver), signed per Standard Webhooks, and records each
 * attempt's outcome and the next retry. It never runs on a request's path. Receivers on
 * non-public addresses are refused unless allowed; the connection goes to the addresses checked. */
#ifndef TK_JOBS_WEBHOOKS_H
#define TK_JOBS_WEBHOOKS_H

#include <stdbool.h>

#include "crypto/keys.h"
#include "store/store.h"

struct tk_webhook_config {
    struct tk_store *store;
    const struct tk_secret *secret; /* opens the receivers' sealed secrets */
    bool allow_private;             /* TOKEND_WEBHOOK_ALLOW_PRIVATE */
};

struct tk_webhooks;

/* Initialises libcurl (call before other threads use it) and starts the thread; cfg is copied
 * (its store and secret must outlive the worker). */
int tk_webhooks_start(const struct tk_webhook_config *cfg, struct tk_webhooks **out) TK_MUST_USE;
/* Stops the thread promptly: attempts in flight are abandoned (their claims end by their lease,
 * or at the next start on SQLite) and sent again later. Accepts NULL. */
void tk_webhooks_stop(struct tk_webhooks *w);

#endif
