/* What every endpoint does before its own work (api.h): DRF's authentication, OPTIONS and 405
 * handling, in DRF's order (authentication before method dispatch). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/principal_cache.h"
#include "api/throttle.h"
#include "domain/auth.h"
#include "util/metrics.h"
#include "util/time.h"

static const char *const method_names[] = {"GET",   "HEAD",   "POST",   "PUT",
                                           "PATCH", "DELETE", "OPTIONS"};

bool tk_api_begin(struct tk_api *api, struct tk_request *req, struct tk_response *res,
                  unsigned allowed, struct tk_ctx *ctx)
{
    return tk_api_begin_ex(api, req, res, allowed, false, ctx);
}

/* A failed authentication: the given 403, or 429 once the client's address has used up its
 * failures (throttle.h). Decided after the credential was looked at, never before: a valid key
 * is answered whatever others did from its address. */
static bool failed(struct tk_api *api, struct tk_ctx *ctx, enum tk_auth_failure why,
                   const char *msg)
{
    unsigned wait = 0;
    if (tk_throttle_fail(api->throttle, ctx->req->client_ip, ctx->now, &wait)) {
        tk_metrics_auth_failure(TK_AUTHF_THROTTLED);
        tk_response_detail(ctx->res, 429, "Request was throttled.");
        ctx->res->retry_after = wait;
        return false;
    }
    tk_metrics_auth_failure(why);
    tk_response_detail(ctx->res, 403, msg);
    return false;
}

/* DRF's authentication: fills ctx and ctx->who, or answers (403, 400, 429, 503). */
static bool authenticate(struct tk_api *api, struct tk_request *req, struct tk_response *res,
                         struct tk_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->api = api;
    ctx->req = req;
    ctx->res = res;
    ctx->now = tk_now_us();
    if (req->request_id != NULL) {
        /* the id the log line and the X-Request-Id header carry (http layer) */
        snprintf(ctx->request_id, sizeof(ctx->request_id), "%s", req->request_id);
    } else {
        uint8_t rid[16];
        randombytes_buf(rid, sizeof(rid));
        sodium_bin2hex(ctx->request_id, sizeof(ctx->request_id), rid, sizeof(rid));
    }

    const char *cred = NULL;
    size_t cred_len = 0;
    switch (tk_auth_parse(req->authorization, req->authorization_len, &cred, &cred_len)) {
    case TK_AUTH_NONE:
        /* never throttled: without a credential there is nothing to learn */
        tk_metrics_auth_failure(TK_AUTHF_MISSING);
        tk_response_detail(res, 403, "Authentication credentials were not provided.");
        return false;
    case TK_AUTH_UNSUPPORTED:
        return failed(api, ctx, TK_AUTHF_UNSUPPORTED, "Unsupported authentication type");
    case TK_AUTH_MALFORMED:
        tk_metrics_auth_failure(TK_AUTHF_MALFORMED);
        tk_response_detail(res, 400, "Invalid Authorization header.");
        return false;
    case TK_AUTH_BEARER: break;
    }
    ctx->db = tk_store_db(api->store);
    if (ctx->db == NULL) {
        tk_api_error(res, TK_ERR_BUSY);
        return false;
    }
    uint8_t hash[TK_KEY_HASH_BYTES];
    tk_key_hash(&api->secret, cred, cred_len, hash);
    /* The snapshot is read before the lookup: an answer kept under it can only be older
     * data's if nothing committed in between, when it is the same answer. */
    tk_store_snapshot(ctx->db, &ctx->snap);
    int rc = 0;
    if (!tk_principal_cache_get(&ctx->snap, hash, ctx->now, &ctx->who)) {
        int64_t valid_until;
        rc = tk_store_authenticate(ctx->db, hash, ctx->now, &ctx->who, &valid_until);
        if (rc == 0)
            tk_principal_cache_put(&ctx->snap, hash, &ctx->who, valid_until);
    }
    if (rc == TK_ERR_NOTFOUND)
        return failed(api, ctx, TK_AUTHF_INVALID, "Token invalid/expired");
    if (rc) {
        tk_api_error(res, rc);
        return false;
    }
    res->user_id = ctx->who.user_id;
    return true;
}

/* Before the body of an authenticated route is read (routes.c, http.h's tk_admit_fn): the same
 * authentication as tk_api_begin, so a missing or bad credential is answered at once and its
 * body never buffered. The handler authenticates again once the body is in, so the request is
 * decided on the state of the moment it is complete, as without this step: on SQLite that is a
 * principal-cache hit (a keyed hash and a table probe) unless something committed meanwhile; on
 * PostgreSQL, which caches nothing, one more indexed lookup per request that carries a body.
 * Passing the principal along instead would save that lookup but answer with credentials
 * checked up to TOKEND_REQUEST_TIMEOUT earlier, and mix that moment's cached data with later
 * reads. */
bool tk_api_admit(struct tk_request *req, struct tk_response *res, void *ctx)
{
    struct tk_ctx c;
    return authenticate(ctx, req, res, &c);
}

bool tk_api_begin_ex(struct tk_api *api, struct tk_request *req, struct tk_response *res,
                     unsigned allowed, bool superuser_only, struct tk_ctx *ctx)
{
    if (!authenticate(api, req, res, ctx))
        return false;

    if (superuser_only && !ctx->who.is_superuser) {
        /* authentik's RBAC: without permissions nothing is visible, every request is 403 */
        tk_response_detail(res, 403, "You do not have permission to perform this action.");
        return false;
    }
    unsigned m = req->method;
    if (m == TK_M_HEAD && (allowed & TK_M_GET))
        return true;
    if (m == TK_M_OPTIONS) {
        res->status = 200;
        tk_buf_puts(&res->body, "{\"renders\":[\"application/json\"],"
                                "\"parses\":[\"application/json\"]}");
        return false;
    }
    if (!(m & allowed)) {
        char msg[96];
        const char *name = req->method_name;
        for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
            if ((1u << i) == m)
                name = method_names[i];
        /* The method token is at most a short ASCII word (libmicrohttpd checked it). */
        snprintf(msg, sizeof(msg), "Method \"%.40s\" not allowed.", name);
        tk_response_detail(res, 405, msg);
        return false;
    }
    return true;
}

struct tk_db *tk_api_rdb(struct tk_ctx *c)
{
    if (c->rdb == NULL)
        c->rdb = tk_store_db_read(c->api->store);
    return c->rdb ? c->rdb : c->db;
}

bool tk_api_rdb_failed(struct tk_ctx *c, int rc)
{
    /* unreachable, or failing (e.g. not yet replayed the schema): the primary answers */
    if ((rc != TK_ERR_BUSY && rc != TK_ERR_STORE) || c->rdb == NULL || c->rdb == c->db)
        return false;
    c->rdb = c->db; /* the replica is unreachable or lagging in error: ask the primary */
    return true;
}
