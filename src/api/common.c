/* The handler contract of api.h: what every endpoint does before its own work (DRF's
 * authentication, OPTIONS and 405, in DRF's order) and the refusals handlers describe. The one
 * place turning outcomes into responses is tk_api_respond (errors.c). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/audit.h"
#include "api/messages.h"
#include "api/notify.h"
#include "api/principal_cache.h"
#include "api/throttle.h"
#include "api/usage.h"
#include "domain/auth.h"
#include "http/client_addr.h"
#include "util/metrics.h"
#include "util/time.h"

static const char *const method_names[] = {"GET",   "HEAD",   "POST",   "PUT",
                                           "PATCH", "DELETE", "OPTIONS"};

int tk_api_refuse(struct tk_ctx *c, int status, const char *detail)
{
    c->answer = (struct tk_answer){.status = status, .detail = detail};
    return TK_ERR_ANSWER;
}

int tk_api_refuse_body(struct tk_ctx *c, int status, const char *body)
{
    c->answer = (struct tk_answer){.status = status, .body = body, .empty = body == NULL};
    return TK_ERR_ANSWER;
}

bool tk_api_auth_throttled(struct tk_ctx *c, enum tk_auth_failure why)
{
    unsigned wait = 0;
    if (tk_throttle_fail(c->api->throttle, c->req->client_ip, c->now, &wait)) {
        tk_metrics_auth_failure(TK_AUTHF_THROTTLED);
        tk_api_refuse(c, 429, "Request was throttled.");
        c->answer.retry_after = wait;
        return true;
    }
    tk_metrics_auth_failure(why);
    return false;
}

/* A failed authentication: the given 403, or 429 once the client's address has used up its
 * failures (tk_api_auth_throttled). */
static int failed(struct tk_ctx *c, enum tk_auth_failure why, const char *msg)
{
    return tk_api_auth_throttled(c, why) ? TK_ERR_ANSWER : tk_api_refuse(c, 403, msg);
}

void tk_api_ctx_init(struct tk_ctx *c, struct tk_api *api, struct tk_request *req,
                     struct tk_response *res)
{
    memset(c, 0, sizeof(*c));
    c->api = api;
    c->req = req;
    c->res = res;
    c->now = tk_now_us();
    tk_field_errors_init(&c->fe);
    if (req->request_id != NULL) {
        /* the id the log line and the X-Request-Id header carry (http layer) */
        snprintf(c->request_id, sizeof(c->request_id), "%s", req->request_id);
    } else {
        uint8_t rid[16];
        randombytes_buf(rid, sizeof(rid));
        sodium_bin2hex(c->request_id, sizeof(c->request_id), rid, sizeof(rid));
    }
}

/* Is the client address inside one of the networks of a token's allowed_networks (the store's
 * text: canonical networks joined by spaces, "" for none)? */
bool tk_api_network_allows(const char *networks, const char *client_ip)
{
    struct tk_ip ip;
    if (networks == NULL || client_ip == NULL || !tk_ip_parse(client_ip, strlen(client_ip), &ip))
        return false;
    while (*networks) {
        size_t len = strcspn(networks, " ");
        struct tk_net net;
        if (tk_net_parse(networks, len, &net) && tk_net_contains(&net, &ip))
            return true;
        networks += len;
        networks += *networks == ' ';
    }
    return false;
}

/* A rotated-out key presented after its grace window (docs/api.md §19.5), in one write
 * transaction: a suspicious_request event (one per token per minute) and, when the token says
 * revoke_on_reuse, its deletion. The request is refused as any invalid key is. */
struct reuse {
    struct tk_ctx *c;
    int64_t token_id;
};

static int reuse_tx(struct tk_db *db, void *arg)
{
    struct reuse *r = arg;
    struct tk_ctx *c = r->c;
    int64_t id = r->token_id;
    struct tk_token *t;
    int rc = tk_store_token_get_by_id(db, id, 0, c->req->arena, &t);
    if (rc == TK_ERR_NOTFOUND)
        return 0; /* deleted meanwhile */
    struct tk_tokend_token *x = NULL;
    if (rc == 0)
        rc = tk_store_tokend_get(db, t->identifier, 0, c->now, c->req->arena, &x);
    bool alert = false;
    if (rc == 0)
        rc = tk_store_token_reuse_alert(db, id, c->now, TK_REUSE_ALERT_QUIET_US, &alert);
    if (rc == 0 && alert) {
        size_t len = strlen(t->identifier) + 48;
        char *msg = tk_arena_alloc(c->req->arena, len);
        if (msg == NULL)
            return TK_ERR_NOMEM;
        snprintf(msg, len, "Superseded key of token %s was used.", t->identifier);
        rc = tk_audit_token_message(c, "suspicious_request", TK_APP_TOKENS, t, msg, true);
        if (rc == 0)
            rc = tk_notify_token(db, c->req->arena, c->now, "token.reuse_detected", t, 0, NULL);
    }
    if (rc == 0 && x->s.revoke_on_reuse) {
        rc = tk_store_token_delete_id(db, id);
        if (rc == 0)
            rc = tk_audit_token_anonymous(c, "model_deleted", TK_APP_AUDIT, "model", t);
        if (rc == 0)
            rc = tk_notify_token(db, c->req->arena, c->now, "token.deleted", t, 0, NULL);
    }
    return rc;
}

int tk_api_key_reused(struct tk_ctx *c, int64_t token_id)
{
    struct reuse r = {c, token_id};
    return tk_store_write_tx(c->db, reuse_tx, &r);
}

int tk_api_use(struct tk_api *api, struct tk_db *db, const struct tk_principal *p, int64_t now,
               const char *ip, enum tk_use_result *out, unsigned *wait)
{
    *out = TK_USE_OK;
    if (p->rate.n > 0 && api->usage != NULL &&
        !tk_usage_rate(api->usage, p->token_id, &p->rate, now, wait)) {
        *out = TK_USE_THROTTLED;
        return 0;
    }
    if (p->has_uses) {
        bool ok = false;
        int rc = tk_store_token_take_use(db, p->token_id, &ok);
        if (rc)
            return rc;
        if (!ok) {
            *out = TK_USE_EXHAUSTED;
            return 0;
        }
    }
    if (api->usage != NULL)
        tk_usage_record(api->usage, p->token_id, now, ip);
    return 0;
}

/* A successful authentication that is a use of the token (docs/api.md §19.3): 429 past its
 * rate limit, an invalid key once its uses are gone. */
static int use(struct tk_ctx *c)
{
    enum tk_use_result u;
    unsigned wait = 0;
    int rc = tk_api_use(c->api, c->db, &c->who, c->now, c->req->client_ip, &u, &wait);
    if (rc)
        return rc;
    if (u == TK_USE_THROTTLED)
        return tk_api_throttled(c, wait);
    if (u == TK_USE_EXHAUSTED)
        return failed(c, TK_AUTHF_INVALID, "Token invalid/expired");
    return 0;
}

int tk_api_throttled(struct tk_ctx *c, unsigned wait)
{
    char *msg = tk_arena_alloc(c->req->arena, 80);
    if (msg == NULL)
        return TK_ERR_NOMEM;
    snprintf(msg, 80, "Request was throttled. Expected available in %u seconds.", wait);
    tk_api_refuse(c, 429, msg);
    c->answer.retry_after = wait;
    return TK_ERR_ANSWER;
}

/* DRF's authentication: fills c->db and c->who, or refuses (403, 400, 429, 503). A use (the
 * request itself, not its admission before the body) also goes through use(). */
static int authenticate(struct tk_ctx *c, bool is_use)
{
    const char *cred = NULL;
    size_t cred_len = 0;
    switch (tk_auth_parse(c->req->authorization, c->req->authorization_len, &cred, &cred_len)) {
    case TK_AUTH_NONE:
        /* never throttled: without a credential there is nothing to learn */
        tk_metrics_auth_failure(TK_AUTHF_MISSING);
        return tk_api_refuse(c, 403, "Authentication credentials were not provided.");
    case TK_AUTH_UNSUPPORTED:
        return failed(c, TK_AUTHF_UNSUPPORTED, "Unsupported authentication type");
    case TK_AUTH_MALFORMED:
        tk_metrics_auth_failure(TK_AUTHF_MALFORMED);
        return tk_api_refuse(c, 400, "Invalid Authorization header.");
    case TK_AUTH_BEARER: break;
    }
    c->db = tk_store_db(c->api->store);
    if (c->db == NULL)
        return TK_ERR_BUSY;
    uint8_t hash[TK_KEY_HASH_BYTES];
    tk_key_hash(&c->api->secret, cred, cred_len, hash);
    /* The snapshot is read before the lookup: an answer kept under it can only be older
     * data's if nothing committed in between, when it is the same answer. */
    tk_store_snapshot(c->db, &c->snap);
    int rc = 0;
    const char *ip = c->req->client_ip;
    if (!tk_principal_cache_get(&c->snap, hash, c->now, ip, &c->who)) {
        struct tk_auth_result r;
        rc = tk_store_authenticate(c->db, hash, c->now, c->req->arena, &c->who, &r);
        if (rc == 0 && c->who.has_networks && !tk_api_network_allows(r.networks, ip))
            rc = TK_ERR_NOTFOUND; /* outside allowed_networks: an invalid key (§19.2) */
        else if (rc == 0)
            tk_principal_cache_put(&c->snap, hash, &c->who, r.valid_until, ip);
        if (rc == TK_ERR_NOTFOUND && r.reused_token > 0 && is_use) {
            int wrc = tk_api_key_reused(c, r.reused_token);
            if (wrc)
                return wrc;
        }
    }
    if (rc == TK_ERR_NOTFOUND)
        return failed(c, TK_AUTHF_INVALID, "Token invalid/expired");
    if (rc)
        return rc;
    if (is_use && (rc = use(c)) != 0)
        return rc;
    c->res->user_id = c->who.user_id;
    return 0;
}

/* Before the body of an authenticated route is read (routes.c, http.h's tk_admit_fn): the same
 * authentication as tk_api_run, so a missing or bad credential is answered at once and its
 * body never buffered. The handler authenticates again once the body is in, so the request is
 * decided on the state of the moment it is complete, as without this step: a principal-cache hit
 * (a keyed hash and a table probe) unless something committed meanwhile (docs/api.md §20.1).
 * Passing the principal along instead would save that lookup but answer with credentials
 * checked up to TOKEND_REQUEST_TIMEOUT earlier, and mix that moment's cached data with later
 * reads. */
bool tk_api_admit(struct tk_request *req, struct tk_response *res, void *ctx)
{
    struct tk_ctx c;
    tk_api_ctx_init(&c, ctx, req, res);
    int rc = authenticate(&c, false);
    tk_api_respond(&c, rc);
    return rc == 0;
}

/* DRF's APIView.initial and method dispatch, after authentication: the superuser rule of the
 * route (403 before 405), OPTIONS, HEAD as GET, 405. 0: run the handler. */
static int dispatch(struct tk_ctx *c, unsigned allowed, unsigned flags)
{
    if ((flags & TK_API_SUPERUSER) && !c->who.is_superuser)
        return tk_api_refuse(c, 403, TK_MSG_FORBIDDEN);
    unsigned m = c->req->method;
    if (c->who.scoped) {
        /* docs/api.md §19.2: the route's scope, decided before any lookup */
        bool read = m == TK_M_GET || m == TK_M_HEAD || m == TK_M_OPTIONS;
        unsigned need = read ? (flags >> 8) & 0xfff : (flags >> 20) & 0xfff;
        if ((need != 0 && (c->who.scopes & need) == 0) || (flags & TK_API_UNSCOPED))
            return tk_api_refuse(c, 403, TK_MSG_FORBIDDEN);
    }
    if (m == TK_M_HEAD && (allowed & TK_M_GET))
        return 0;
    if (m == TK_M_OPTIONS)
        return tk_api_refuse_body(c, 200,
                                  "{\"renders\":[\"application/json\"],"
                                  "\"parses\":[\"application/json\"]}");
    if (!(m & allowed)) {
        const char *name = c->req->method_name;
        for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
            if ((1u << i) == m)
                name = method_names[i];
        /* The method token is at most a short ASCII word (libmicrohttpd checked it). */
        char *msg = tk_arena_alloc(c->req->arena, 96);
        if (msg == NULL)
            return TK_ERR_NOMEM;
        snprintf(msg, 96, "Method \"%.40s\" not allowed.", name);
        return tk_api_refuse(c, 405, msg);
    }
    return 0;
}

void tk_api_run(void *api, struct tk_request *req, struct tk_response *res, unsigned allowed,
                unsigned flags, tk_api_handler_fn fn)
{
    struct tk_ctx c;
    tk_api_ctx_init(&c, api, req, res);
    int rc = authenticate(&c, true);
    if (rc == 0)
        rc = dispatch(&c, allowed, flags);
    if (rc == 0)
        rc = fn(&c);
    if (c.scrub)
        (void)tk_store_scrub(c.db); /* best effort: the erasure itself is committed */
    tk_api_respond(&c, rc);
}

void tk_api_snapshot(struct tk_ctx *c, struct tk_db *db, struct tk_store_snapshot *out)
{
    if (db == c->db && c->snap.version != 0 && c->snap.conn == db->id)
        *out = c->snap;
    else
        tk_store_snapshot(db, out);
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
