/* The API layer: one file per resource turning requests into store calls and JSON replies.
 * tk_api_register() puts every route of the table in routes.c into the HTTP router; every
 * handler follows the contract written below (tk_api_run), and every list runs through
 * listing.h's one runner. */
#ifndef TK_API_API_H
#define TK_API_API_H

#include <stdint.h>

#include "crypto/keys.h"
#include "http/http.h"
#include "store/store.h"
#include "util/metrics.h" /* enum tk_auth_failure */

struct tk_throttle;
struct tk_usage_book;

struct tk_api {
    struct tk_store *store;
    struct tk_secret secret;
    const char *avatars;               /* avatar modes, docs/api.md §10.3 */
    int64_t default_token_duration_us; /* docs/api.md §12.2 */
    unsigned key_length;               /* docs/api.md §13 */
    unsigned max_tokens_per_user;      /* TOKEND_MAX_TOKENS_PER_USER, 0: no limit */
    int64_t event_retention_us;        /* docs/api.md §11, days=365 */
    struct tk_throttle *throttle;      /* failed authentications, NULL: none */
    struct tk_usage_book *usage;       /* uses and rate limits (usage.h), NULL: not recorded */
    enum tk_view_mode view_key;        /* TOKEND_VIEW_KEY: new tokens' view mode */
    int64_t rotate_grace_max_us;       /* TOKEND_ROTATE_GRACE_MAX */
    int64_t reuse_window_us;           /* TOKEND_REUSE_WINDOW */
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
void tk_api_tokend_tokens_collection(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokend_tokens_detail(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokend_tokens_rotate(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokend_verify(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokend_introspect(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokend_webhooks_collection(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokend_webhooks_detail(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_tokend_webhooks_deliveries(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_health_live(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_health_ready(struct tk_request *req, struct tk_response *res, void *ctx);
void tk_api_metrics(struct tk_request *req, struct tk_response *res, void *ctx);
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
void tk_field_errors_free(struct tk_field_errors *fe);

/* ---- the handler contract (common.c, errors.c) ----
 *
 * Every route's entry point above is one call of tk_api_run, naming the methods the route takes
 * and its handler. tk_api_run authenticates the request, answers OPTIONS, refuses other methods
 * (405, DRF's order: authentication first) and then runs the handler, which returns what
 * happened:
 *   0              success: the handler has put its answer in c->res (status, body, or an empty
 *                  body), as its last act;
 *   TK_ERR_FIELDS  validation failed: the field errors are in c->fe, answered 400 together;
 *   TK_ERR_ANSWER  a refusal the handler described with tk_api_refuse (c->answer: a status with
 *                  {"detail": ...}, or one of the other bodies authentik gives);
 *   other TK_ERR_* a program or store error, answered from one table in errors.c (503 ...).
 * A handler never writes an error into c->res and never goes on after deciding one:
 * tk_api_respond is the one place that turns an outcome into the response, and it replaces
 * whatever a failing handler had begun to write. The HTTP layer then finishes the response
 * (tk_response_finish) on its way out. */

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
    struct tk_db *rdb;         /* connection for replica-served reads, see tk_api_rdb */
    struct tk_field_errors fe; /* TK_ERR_FIELDS: the 400's fields, in the order added */
    bool scrub;        /* a sealed key was erased: tk_store_scrub once the handler is done */
    struct tk_answer { /* TK_ERR_ANSWER (tk_api_refuse) */
        int status;
        const char *detail; /* {"detail": detail}, unless body or empty */
        const char *body;   /* a JSON body of another shape */
        bool empty;         /* no body at all */
        unsigned retry_after;
    } answer;
};

typedef int (*tk_api_handler_fn)(struct tk_ctx *c);

/* Flags of tk_api_run. */
enum {
    TK_API_SUPERUSER = 1 << 0, /* superusers only: 403 for anyone else, before 405 (authentik's
                                * RBAC answers so for users without permissions) */
    TK_API_UNSCOPED = 1 << 1,  /* no scope covers the route: a token with scopes is refused 403
                                * before 405, whatever its scopes (docs/api.md §21.1) */
};
/* The scopes a route asks of a scoped token (docs/api.md §19.2), in tk_api_run's flags: read for
 * GET, HEAD and OPTIONS, write for every other method (enum tk_scope bits; 0 and 0: no scope
 * needed, as users/me). A token whose scopes lack it is refused 403 before anything is looked
 * up, and before 405. */
#define TK_API_SCOPES(read, write) (((unsigned)(read) << 8) | ((unsigned)(write) << 20))

/* Runs one request through the contract above; api is the struct tk_api. allowed: a mask of
 * enum tk_method (HEAD goes wherever GET does, OPTIONS everywhere). */
void tk_api_run(void *api, struct tk_request *req, struct tk_response *res, unsigned allowed,
                unsigned flags, tk_api_handler_fn fn);

/* Records a refusal and returns TK_ERR_ANSWER, for "return tk_api_refuse(c, 404, ...)".
 * detail is kept as given (static or in the request's arena). */
int tk_api_refuse(struct tk_ctx *c, int status, const char *detail);
/* The same with a JSON body of another shape (authentik's bare lists and strings), or with no
 * body at all when body is NULL. */
int tk_api_refuse_body(struct tk_ctx *c, int status, const char *body);

/* A failed authentication from the request's client address (throttle.h): true, with the 429
 * refusal in c, once the address has used up its failures (decided after the credential was
 * looked at, so a valid key is never refused for others' failures); else false, counted as why.
 * The API then refuses with 403, verification with 401 (docs/api.md §19.7). */
bool tk_api_auth_throttled(struct tk_ctx *c, enum tk_auth_failure why);
/* The context of a request before authentication (tk_api_run's first step), for handlers that
 * authenticate their own way (verification, docs/api.md §19.7). */
void tk_api_ctx_init(struct tk_ctx *c, struct tk_api *api, struct tk_request *req,
                     struct tk_response *res);
/* Is the client address inside one of the networks of allowed_networks (store text)? */
bool tk_api_network_allows(const char *networks, const char *client_ip);
/* A rotated-out key of token_id presented after its grace window (docs/api.md §19.5): the
 * suspicious_request event and, under revoke_on_reuse, the token's deletion, in one write
 * transaction on c->db. */
int tk_api_key_reused(struct tk_ctx *c, int64_t token_id) TK_MUST_USE;

/* A use of the token p authenticated (docs/api.md §19.3): its rate limit, one of its remaining
 * uses (taken on db), and the use recorded in memory with the client address ip. */
enum tk_use_result { TK_USE_OK, TK_USE_THROTTLED, TK_USE_EXHAUSTED };
int tk_api_use(struct tk_api *api, struct tk_db *db, const struct tk_principal *p, int64_t now,
               const char *ip, enum tk_use_result *out, unsigned *wait) TK_MUST_USE;
/* DRF's throttled answer: 429 "Request was throttled. Expected available in N seconds." with
 * Retry-After: N. Returns TK_ERR_ANSWER. */
int tk_api_throttled(struct tk_ctx *c, unsigned wait);

/* Turns a handler's outcome into c->res (above). Frees c->fe. */
void tk_api_respond(struct tk_ctx *c, int rc);

/* The connection for a read that a replica may serve (lists, retrieve); the primary's when no
 * replica is configured or after tk_api_rdb_failed. */
struct tk_db *tk_api_rdb(struct tk_ctx *c);
/* The snapshot for caching what a read on db derives (store.h tk_store_snapshot): the one taken
 * at authentication when db is the request's own connection — older than anything read since,
 * which is all a cache entry needs, and free where reading it again costs a round trip
 * (PostgreSQL, docs/api.md §20.1) — else db's own. */
void tk_api_snapshot(struct tk_ctx *c, struct tk_db *db, struct tk_store_snapshot *out);
/* After a read on tk_api_rdb failed with rc: true (and the primary is used from now on) when
 * the read should be retried. */
bool tk_api_rdb_failed(struct tk_ctx *c, int rc);

/* Before a body is read (routes.c, http.h's tk_admit_fn): the authentication of tk_api_run
 * from the headers alone; false with the refusal in res. */
bool tk_api_admit(struct tk_request *req, struct tk_response *res, void *ctx);

/* include_groups / include_users (docs/api.md §7.1, §14): true unless present and not "true". */
bool tk_include_groups_param(const struct tk_request *req, const char *name);

#endif
