/* The audit log written by the API (API.md §11): token model events with the request's
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

/* Records action with context {ctx_key: token ref, "http_request": {...}} for the requester. */
int tk_audit_token(struct tk_ctx *c, const char *action, const char *app, const char *ctx_key,
                   const struct tk_token *t) TK_MUST_USE;

/* Records a system event without user or request (the expiry sweeper's secret_rotate). */
int tk_audit_system(struct tk_db *db, int64_t now, int64_t retention_us, const char *action,
                    const char *app, const char *context_json, const char *model_pk) TK_MUST_USE;

/* A uuid without its dashes, as authentik writes model pks into events. */
void tk_audit_uuid_hex(const char *uuid, char out[33]);

/* Django's sensitive-name test for context keys (API.md §11). */
bool tk_audit_sensitive(const char *key, size_t len);

#endif
