/* Webhook messages about tokens (docs/api.md §21.3), written to the outbox inside the caller's
 * write transaction, so that a message exists exactly when its change does. Used by the API's
 * handlers and by the sweeper. A message never holds a key. */
#ifndef TK_API_NOTIFY_H
#define TK_API_NOTIFY_H

#include <stdint.h>

#include "store/store.h"

/* Writes a message of type about token t (its identifier, intent, expires, and its owner:
 * t->user, or the user t->user_id when t->user is NULL) with the acting user actor_id (0: none)
 * and, for token.expiring, the notice duration's text. Nothing is written, and nothing looked
 * up, when no enabled receiver takes the type. Allocates in a. */
int tk_notify_token(struct tk_db *db, struct tk_arena *a, int64_t now, const char *type,
                    const struct tk_token *t, int64_t actor_id, const char *notice) TK_MUST_USE;

#endif
