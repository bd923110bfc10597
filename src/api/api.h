/* The API layer: one file per resource turning requests into store calls and JSON replies.
 * tk_api_register() puts every route into the HTTP router. */
#ifndef TK_API_API_H
#define TK_API_API_H

#include <stdint.h>

#include "crypto/keys.h"
#include "http/http.h"
#include "store/store.h"

struct tk_throttle;

struct tk_api {
    struct tk_store *store;
    struct tk_secret secret;
    const char *avatars;               /* avatar modes, API.md §10.3 */
    int64_t default_token_duration_us; /* API.md §12.2 */
    unsigned key_length;               /* API.md §13 */
    unsigned max_tokens_per_user;      /* TOKEND_MAX_TOKENS_PER_USER, 0: no limit */
    int64_t event_retention_us;        /* API.md §11, days=365 */
    struct tk_throttle *throttle;      /* failed authentications, NULL: none */
};

int tk_api_register(struct tk_api *api, struct tk_router *r) TK_MUST_USE;
/* The metrics listener's one route, /metrics (health.c). */
int tk_api_register_metrics(struct tk_router *r) TK_MUST_USE;

/* Route handlers (ctx is the struct tk_api). */
void tk_api_tokens_collection(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokens_detail(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokens_view_key(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokens_set_key(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokens_used_by(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_events_collection(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_schema(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_users_collection(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_users_detail(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_users_me(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_users_service_account(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_users_recovery(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_users_used_by(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_groups_collection(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_groups_detail(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_groups_add_user(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_groups_remove_user(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_groups_used_by(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_health_live(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_health_ready(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_metrics(struct tk_request *req, struct tk_response *res, void *ctx);
/* The admission step of authenticated routes (http.h's tk_admit_fn; ctx is the struct tk_api):
 * tk_api_begin's authentication, from the headers alone (common.c). */
bool tk_api_admit(struct tk_request *req, struct tk_response *res, void *ctx);

/* ---- shared by the resource files (common.c) ---- */

/* Everything a handler needs once the request passed authentication. */
struct tk_ctx {
    struct tk_api *api;
    struct tk_request *req;
    struct tk_response *res;
    struct tk_db *db;
    struct tk_principal who;
    /* db's snapshot, read at authentication before any of the request's reads: caches of
     * derived data may file what the request reads on db under it (tk_store_snapshot) */
    struct tk_store_snapshot snap;
    int64_t now;
    char request_id[TK_REQUEST_ID_MAX + 1]; /* the request's X-Request-Id, for the audit log */
    struct tk_db *rdb; /* connection for replica-served reads, see tk_api_rdb */
};

/* The connection for a read that a replica may serve (lists, retrieve); the primary's when no
 * replica is configured or after tk_api_rdb_failed. */
struct tk_db *tk_api_rdb(struct tk_ctx *c);
/* After a read on tk_api_rdb failed with rc: true (and the primary is used from now on) when
 * the read should be retried. */
bool tk_api_rdb_failed(struct tk_ctx *c, int rc);

/* DRF's APIView.initial, then method dispatch: authenticates (403 with authentik's messages),
 * answers OPTIONS, and 405 for methods not in allowed (a mask of enum tk_method; HEAD is
 * allowed wherever GET is). Returns true when the handler should go on. */
bool tk_api_begin(struct tk_api *api, struct tk_request *req, struct tk_response *res,
                  unsigned allowed, struct tk_ctx *ctx);

/* tk_api_begin for endpoints that only superusers may use (API.md §14: 403 before 405). */
bool tk_api_begin_ex(struct tk_api *api, struct tk_request *req, struct tk_response *res,
                     unsigned allowed, bool superuser_only, struct tk_ctx *ctx);

/* include_groups / include_users (API.md §7.1, §14): true unless present and not "true". */
bool tk_include_groups_param(const struct tk_request *req, const char *name);

/* Maps a program error to a response (api/errors.c). Never a 500. */
void tk_api_error(struct tk_response *res, int err);

/* 400 body {"<field>": [msg]} builder, fields in the order added. */
struct tk_field_errors {
    struct tk_buf buf;
    size_t n_fields;
    const char *open_field; /* the field whose list is open */
    bool nomem;             /* validation itself ran out of memory: answer 503, not 400 */
};
void tk_field_errors_init(struct tk_field_errors *fe);
/* Did validation fail (a message, or running out of memory)? */
static inline bool tk_field_errors_any(const struct tk_field_errors *fe)
{
    return fe->n_fields > 0 || fe->nomem;
}
void tk_field_errors_add(struct tk_field_errors *fe, const char *field, const char *msg);
void tk_field_errors_add_n(struct tk_field_errors *fe, const char *field, const char *msg,
                           size_t len);
/* Writes the 400 response if any error was added (503 if validation ran out of memory);
 * returns true if it did. Frees fe. */
bool tk_field_errors_respond(struct tk_field_errors *fe, struct tk_response *res);

#endif
