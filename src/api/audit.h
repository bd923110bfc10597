/* The audit log written by the API (docs/api.md §11): token model events with the request's
 * context, sensitive query values masked. Recorded inside the caller's write transaction so an
 * event exists exactly when its change does. */
#ifndef TK_API_AUDIT_H
#define TK_API_AUDIT_H

#include "api/api.h"
#include "json/writer.h"

#define TK_APP_AUDIT "authentik.events.middleware"
#define TK_APP_TOKENS "authentik.core.api.tokens"
#define TK_APP_MODELS "authentik.core.models"

/* Writes {"app":"authentik_core","model_name":"token","pk":<hex>,"name":<display>}. */
void tk_audit_token_ref(struct tk_jw *w, const struct tk_token *t);

/* Who and what request an event records: built once per request, so a request that records
 * many events (a user's deletion, one per token) does not rebuild them for each. */
struct tk_audit_actor {
    const char *user_json;    /* {"pk":..,"username":..,"email":..} of the requester, or {} */
    const char *username;     /* NULL when the requester is not found */
    const char *http_request; /* the request as the http_request object of a context */
    const char *client_ip;
};

/* The requester and request of c, in a. */
int tk_audit_actor(struct tk_ctx *c, struct tk_arena *a, struct tk_audit_actor *out) TK_MUST_USE;

/* Fills e (strings in a) with the event tk_audit_token records, for actor. */
int tk_audit_token_event(struct tk_ctx *c, const struct tk_audit_actor *actor, const char *action,
                         const char *app, const char *ctx_key, const struct tk_token *t,
                         struct tk_arena *a, struct tk_event *e) TK_MUST_USE;

/* Records action with context {ctx_key: token ref, "http_request": {...}} for the requester. */
int tk_audit_token(struct tk_ctx *c, const char *action, const char *app, const char *ctx_key,
                   const struct tk_token *t) TK_MUST_USE;

/* Records action with context {"token": token ref, "message": message} and, unless anonymous,
 * "http_request" and the requester as its user (secret_rotate through the API; the
 * suspicious_request of a reused key is anonymous: the request has no user, docs/api.md §19.5). */
int tk_audit_token_message(struct tk_ctx *c, const char *action, const char *app,
                           const struct tk_token *t, const char *message,
                           bool anonymous) TK_MUST_USE;
/* tk_audit_token for a request without a user (a token deleted for the reuse of its key). */
int tk_audit_token_anonymous(struct tk_ctx *c, const char *action, const char *app,
                             const char *ctx_key, const struct tk_token *t) TK_MUST_USE;

/* Records a system event without user or request (the expiry sweeper's secret_rotate). */
int tk_audit_system(struct tk_db *db, int64_t now, int64_t retention_us, const char *action,
                    const char *app, const char *context_json, const char *model_pk) TK_MUST_USE;

/* tk_audit_system for a token: context {"token": token ref, "message": message} and the
 * token's uuid as the model pk (the sweeper's secret_rotate, docs/api.md §11.3, and the command
 * line's `tokend token rotate`). */
int tk_audit_system_token(struct tk_db *db, int64_t now, int64_t retention_us, const char *action,
                          const char *app, const struct tk_token *t,
                          const char *message) TK_MUST_USE;

/* A uuid without its dashes, as authentik writes model pks into events. */
void tk_audit_uuid_hex(const char *uuid, char out[33]);

/* Django's sensitive-name test for context keys (docs/api.md §11). */
bool tk_audit_sensitive(const char *key, size_t len);

#endif
