/* Tokens other services check (docs/api.md §19.7): /api/v3/tokend/verify/ answers a reverse
 * proxy's forward-auth subrequest about the Authorization header it passes on, and
 * /api/v3/tokend/introspect/ answers RFC 7662 introspection for an application. Both read a key
 * the same way: from this thread's cache of answers when the key was seen in the same store
 * snapshot (verify_cache.h), else with one lookup; and both count a positive answer as a use of
 * the token (rate limit, remaining uses, usage, §19.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/body.h"
#include "api/messages.h"
#include "api/query.h"
#include "api/verify_cache.h"
#include "domain/auth.h"
#include "domain/user.h"
#include "http/client_addr.h"
#include "util/metrics.h"
#include "json/writer.h"

#define REALM "Bearer realm=\"tokend\""

/* Copies s into text (of cap bytes) at *at as field f of v; false when it does not fit. */
static bool put_text(struct tk_verified *v, char *text, size_t cap, size_t *at, int f,
                     const char *s)
{
    if (s == NULL) {
        v->off[f] = TK_VERIFIED_NULL;
        return true;
    }
    size_t len = strlen(s);
    if (*at + len + 1 > cap)
        return false;
    memcpy(text + *at, s, len + 1);
    v->off[f] = (uint16_t)*at;
    *at += len + 1;
    return true;
}

static bool put_texts(struct tk_verified *v, char *text, size_t cap, const struct tk_key_token *k)
{
    size_t at = 0;
    return put_text(v, text, cap, &at, TK_VF_IDENTIFIER, k->identifier) &&
           put_text(v, text, cap, &at, TK_VF_INTENT, k->intent) &&
           put_text(v, text, cap, &at, TK_VF_USERNAME, k->username) &&
           put_text(v, text, cap, &at, TK_VF_SCOPES, k->scopes);
}

/* The active object (docs/api.md §19.7), keys in RFC 7662's order as the contract gives it. */
static void write_active(struct tk_jw *w, struct tk_api *api, const struct tk_key_token *k)
{
    char uid[65];
    tk_user_uid(k->who.user_id, tk_store_installation_id(api->store), uid);
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "active");
    tk_jw_bool(w, true);
    if (k->scopes != NULL) {
        tk_jw_keyl(w, "scope");
        tk_jw_cstr(w, k->scopes); /* stored space-joined, "" for [] */
    }
    tk_jw_keyl(w, "client_id");
    tk_jw_cstr(w, k->identifier);
    tk_jw_keyl(w, "username");
    tk_jw_cstr(w, k->username);
    tk_jw_keyl(w, "sub");
    tk_jw_cstr(w, uid);
    tk_jw_keyl(w, "token_type");
    tk_jw_cstr(w, k->intent);
    if (k->expiring && k->has_expires) {
        tk_jw_keyl(w, "exp");
        tk_jw_int(w, k->expires / 1000000);
    }
    tk_jw_keyl(w, "jti");
    tk_jw_cstr(w, k->uuid);
    tk_jw_keyl(w, "is_superuser");
    tk_jw_bool(w, k->who.is_superuser);
    tk_jw_obj_end(w);
}

/* What a key's lookup decided. */
enum verdict {
    V_ACTIVE,    /* *out is the answer */
    V_INVALID,   /* unknown, expired, inactive owner, no uses left, another intent */
    V_FORBIDDEN, /* valid, but the address is outside its allowed_networks */
};

/* Looks the key up: from the cache, or the store (the answer then cached unless it is a
 * refusal). check_ip: the address to hold against allowed_networks, NULL: not checked.
 * tmp: room for an answer that is not cached. */
static int look_up(struct tk_ctx *c, const char *cred, size_t len, const char *check_ip,
                   struct tk_verified *tmp, const struct tk_verified **out, enum verdict *verdict)
{
    uint8_t hash[TK_KEY_HASH_BYTES];
    tk_key_hash(&c->api->secret, cred, len, hash);
    tk_store_snapshot(c->db, &c->snap);
    const char *ip = check_ip ? check_ip : "";
    const struct tk_verified *hit = tk_verify_cache_get(&c->snap, hash, c->now, ip);
    if (hit != NULL) {
        *out = hit;
        *verdict = V_ACTIVE;
        return 0;
    }
    struct tk_key_token k;
    struct tk_auth_result r;
    int rc = tk_store_key_lookup(c->db, hash, c->now, true, c->req->arena, &k, &r);
    if (rc == TK_ERR_NOTFOUND) {
        *verdict = V_INVALID;
        return r.reused_token > 0 ? tk_api_key_reused(c, r.reused_token) : 0;
    }
    if (rc)
        return rc;
    if (k.who.has_networks && check_ip != NULL && !tk_api_network_allows(r.networks, check_ip)) {
        *verdict = V_FORBIDDEN;
        return 0;
    }
    memset(tmp, 0, sizeof(*tmp));
    tmp->who = k.who;
    tmp->valid_until = r.valid_until;
    snprintf(tmp->ip, sizeof(tmp->ip), "%s", k.who.has_networks ? ip : "");
    bool fits = put_texts(tmp, tmp->text, sizeof(tmp->text), &k);
    struct tk_buf body;
    tk_buf_init(&body, TK_MAX_RESPONSE_BYTES);
    struct tk_jw w;
    tk_jw_init(&w, &body);
    write_active(&w, c->api, &k);
    rc = body.err;
    if (rc == 0 && fits && body.len <= sizeof(tmp->body)) {
        memcpy(tmp->body, body.data, body.len);
        tmp->body_len = (uint16_t)body.len;
        /* a network-limited token without an address to check is not kept: the next ask may
         * bring one */
        if (!k.who.has_networks || check_ip != NULL)
            tk_verify_cache_put(&c->snap, hash, tmp);
    } else if (rc == 0) {
        /* too large to keep: answered from the arena */
        size_t cap = strlen(k.identifier) + strlen(k.intent) + strlen(k.username) +
                     (k.scopes ? strlen(k.scopes) : 0) + 4;
        char *text = tk_arena_alloc(c->req->arena, cap);
        char *copy = tk_arena_alloc(c->req->arena, body.len ? body.len : 1);
        if (text == NULL || copy == NULL || cap > UINT16_MAX || !put_texts(tmp, text, cap, &k)) {
            rc = TK_ERR_NOMEM;
        } else {
            memcpy(copy, body.data, body.len);
            tmp->big_text = text;
            tmp->big_body = copy;
            tmp->big_body_len = body.len;
        }
    }
    tk_buf_free(&body);
    *out = tmp;
    *verdict = V_ACTIVE;
    return rc;
}

/* The answer's body. */
static const char *body_of(const struct tk_verified *v, size_t *len)
{
    *len = v->big_body ? v->big_body_len : v->body_len;
    return v->big_body ? v->big_body : v->body;
}

/* ---- /api/v3/tokend/verify/ ---- */

static void add_header(struct tk_response *res, const char *name, const char *value)
{
    if (res->n_headers < TK_RESPONSE_MAX_HEADERS)
        res->headers[res->n_headers++] = (struct tk_header){name, value};
}

/* 401: the challenge, with error="invalid_token" when a credential was sent. */
static int unauthorized(struct tk_ctx *c, bool sent, const char *detail)
{
    add_header(c->res, "WWW-Authenticate", sent ? REALM ", error=\"invalid_token\"" : REALM);
    return tk_api_refuse(c, 401, detail);
}

/* A sent credential that is not valid: 401, or 429 once the address used up its failures (the
 * API's throttle, docs/api.md §16.4). */
static int invalid(struct tk_ctx *c, const char *detail)
{
    return tk_api_auth_throttled(c, TK_AUTHF_INVALID) ? TK_ERR_ANSWER
                                                      : unauthorized(c, true, detail);
}

/* Does the value of a repeated parameter list hold word? */
static bool listed(const struct tk_qparam **vals, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++)
        if (vals[i]->val_len == strlen(word) && memcmp(vals[i]->val, word, vals[i]->val_len) == 0)
            return true;
    return false;
}

/* Does the token (scopes: store text, NULL: the owner's full rights) have every scope asked? */
static bool has_scopes(const char *scopes, const struct tk_qparam **want, size_t n)
{
    if (scopes == NULL)
        return true; /* null: unrestricted (docs/api.md §19.7) */
    for (size_t i = 0; i < n; i++)
        if (want[i]->val_len > 0 && !tk_words_has(scopes, want[i]->val, want[i]->val_len))
            return false;
    return true;
}

static int verify(struct tk_ctx *c)
{
    const char *cred = NULL;
    size_t cred_len = 0;
    switch (tk_auth_parse(c->req->authorization, c->req->authorization_len, &cred, &cred_len)) {
    case TK_AUTH_NONE:
        tk_metrics_auth_failure(TK_AUTHF_MISSING);
        return unauthorized(c, false, "Authentication credentials were not provided.");
    case TK_AUTH_UNSUPPORTED: return invalid(c, "Unsupported authentication type");
    case TK_AUTH_MALFORMED: return invalid(c, "Invalid Authorization header.");
    case TK_AUTH_BEARER: break;
    }
    struct tk_query q;
    const struct tk_qparam **scopes = NULL, **intents = NULL;
    size_t n_scopes = 0, n_intents = 0;
    int rc = tk_query_parse(c->req->arena, c->req->query, c->req->query_len, &q);
    if (rc == 0)
        rc = tk_query_get_all(&q, "scope", c->req->arena, &scopes, &n_scopes);
    if (rc == 0)
        rc = tk_query_get_all(&q, "intent", c->req->arena, &intents, &n_intents);
    if (rc)
        return rc;
    c->db = tk_store_db(c->api->store);
    if (c->db == NULL)
        return TK_ERR_BUSY;
    struct tk_verified *tmp = tk_arena_alloc(c->req->arena, sizeof(*tmp));
    if (tmp == NULL)
        return TK_ERR_NOMEM;
    const struct tk_verified *v = NULL;
    enum verdict verdict;
    rc = look_up(c, cred, cred_len, c->req->client_ip, tmp, &v, &verdict);
    if (rc)
        return rc;
    if (verdict == V_INVALID)
        return invalid(c, "Token invalid/expired");
    size_t n_wanted_intents = 0;
    for (size_t i = 0; i < n_intents; i++)
        n_wanted_intents += intents[i]->val_len > 0;
    if (verdict == V_ACTIVE && n_wanted_intents > 0 &&
        !listed(intents, n_intents, tk_verified_str(v, TK_VF_INTENT)))
        return invalid(c, "Token invalid/expired");
    if (verdict == V_FORBIDDEN || !has_scopes(tk_verified_str(v, TK_VF_SCOPES), scopes, n_scopes)) {
        add_header(c->res, "WWW-Authenticate", REALM ", error=\"insufficient_scope\"");
        return tk_api_refuse(c, 403, TK_MSG_FORBIDDEN);
    }
    /* a 200 is a use of the token (docs/api.md §19.3) */
    enum tk_use_result u;
    unsigned wait = 0;
    struct tk_principal who = v->who; /* v may be evicted by a put below */
    rc = tk_api_use(c->api, c->db, &who, c->now, c->req->client_ip, &u, &wait);
    if (rc)
        return rc;
    if (u == TK_USE_THROTTLED)
        return tk_api_throttled(c, wait);
    if (u == TK_USE_EXHAUSTED)
        return invalid(c, "Token invalid/expired");
    c->res->user_id = who.user_id;
    /* the header values are copied: v lives in this thread's cache, which the next request
     * may overwrite before the response is sent */
    char *user = tk_arena_alloc(c->req->arena, 24);
    const char *vals[4];
    for (int f = TK_VF_IDENTIFIER; f <= TK_VF_SCOPES; f++) {
        const char *s = tk_verified_str(v, f);
        vals[f] = s ? tk_arena_strndup(c->req->arena, s, strlen(s)) : NULL;
        if (s != NULL && vals[f] == NULL)
            return TK_ERR_NOMEM;
    }
    size_t blen;
    const char *body = body_of(v, &blen);
    if (user == NULL || tk_buf_append(&c->res->body, body, blen) != 0)
        return TK_ERR_NOMEM;
    snprintf(user, 24, "%lld", (long long)who.user_id);
    add_header(c->res, "X-Tokend-User", user);
    add_header(c->res, "X-Tokend-Username", vals[TK_VF_USERNAME]);
    add_header(c->res, "X-Tokend-Token", vals[TK_VF_IDENTIFIER]);
    add_header(c->res, "X-Tokend-Intent", vals[TK_VF_INTENT]);
    /* [] is an empty header; libmicrohttpd refuses an empty value, and a field value's
     * surrounding whitespace is not part of it (RFC 9110 §5.5), so one space stands for none */
    if (vals[TK_VF_SCOPES] != NULL)
        add_header(c->res, "X-Tokend-Scopes", *vals[TK_VF_SCOPES] ? vals[TK_VF_SCOPES] : " ");
    add_header(c->res, "X-Tokend-Superuser", who.is_superuser ? "true" : "false");
    c->res->status = 200;
    return 0;
}

/* Every method alike, no credential of its own (docs/api.md §19.7); the request's own
 * Authorization header is the credential asked about. */
void tk_api_tokend_verify(struct tk_request *req, struct tk_response *res, void *ctx)
{
    struct tk_ctx c;
    tk_api_ctx_init(&c, ctx, req, res);
    tk_api_respond(&c, verify(&c));
}

/* ---- /api/v3/tokend/introspect/ ---- */

/* The token and client_ip of the body: form-urlencoded or JSON. */
static int read_body(struct tk_ctx *c, const char **token, size_t *token_len,
                     const char **client_ip)
{
    *token = NULL;
    *token_len = 0;
    *client_ip = NULL;
    const char *ct = c->req->content_type;
    if (ct != NULL && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        struct tk_query q;
        int rc = tk_query_parse(c->req->arena, c->req->body, c->req->body_len, &q);
        if (rc)
            return rc;
        const struct tk_qparam *t = tk_query_get(&q, "token");
        const struct tk_qparam *ip = tk_query_get(&q, "client_ip");
        if (t != NULL) {
            *token = t->val;
            *token_len = t->val_len;
        }
        if (ip != NULL && ip->val_len > 0)
            *client_ip = ip->val;
        return 0;
    }
    json_t *body = NULL;
    int rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    json_t *t = json_object_get(body, "token");
    json_t *ip = json_object_get(body, "client_ip");
    rc = 0;
    if (json_is_string(t)) {
        *token_len = json_string_length(t);
        *token = tk_arena_strndup(c->req->arena, json_string_value(t), *token_len);
        rc = *token == NULL ? TK_ERR_NOMEM : 0;
    }
    if (rc == 0 && json_is_string(ip) && json_string_length(ip) > 0) {
        *client_ip = tk_arena_strndup(c->req->arena, json_string_value(ip), json_string_length(ip));
        rc = *client_ip == NULL ? TK_ERR_NOMEM : 0;
    }
    json_decref(body);
    return rc;
}

static int inactive(struct tk_ctx *c)
{
    c->res->status = 200;
    return tk_buf_puts(&c->res->body, "{\"active\":false}") ? TK_ERR_NOMEM : 0;
}

static int introspect(struct tk_ctx *c)
{
    /* superusers and service accounts only (docs/api.md §19.7) */
    if (!c->who.is_superuser && !c->who.is_service)
        return tk_api_refuse(c, 403, TK_MSG_FORBIDDEN);
    const char *token, *client_ip;
    size_t len;
    int rc = read_body(c, &token, &len, &client_ip);
    if (rc)
        return rc;
    if (token == NULL || len == 0) {
        tk_field_errors_add(&c->fe, "token", TK_MSG_REQUIRED);
        return TK_ERR_FIELDS;
    }
    struct tk_verified *tmp = tk_arena_alloc(c->req->arena, sizeof(*tmp));
    if (tmp == NULL)
        return TK_ERR_NOMEM;
    /* an address that is not one cannot be inside allowed_networks */
    struct tk_ip parsed;
    bool ip_ok = client_ip == NULL || tk_ip_parse(client_ip, strlen(client_ip), &parsed);
    char canon[TK_IP_TEXT_MAX] = "";
    if (client_ip != NULL && ip_ok)
        tk_ip_format(&parsed, canon);
    const struct tk_verified *v = NULL;
    enum verdict verdict;
    rc = look_up(c, token, len,
                 client_ip == NULL ? NULL
                 : ip_ok           ? canon
                                   : "invalid",
                 tmp, &v, &verdict);
    if (rc)
        return rc;
    if (verdict != V_ACTIVE)
        return inactive(c);
    /* an active answer is a use of the introspected token, from the address given */
    enum tk_use_result u;
    unsigned wait = 0;
    struct tk_principal who = v->who;
    size_t blen;
    const char *body = body_of(v, &blen);
    if (tk_buf_append(&c->res->body, body, blen) != 0)
        return TK_ERR_NOMEM;
    rc = tk_api_use(c->api, c->db, &who, c->now, client_ip ? canon : c->req->client_ip, &u, &wait);
    if (rc)
        return rc;
    if (u != TK_USE_OK) {
        tk_buf_reset(&c->res->body);
        return inactive(c);
    }
    c->res->status = 200;
    return 0;
}

void tk_api_tokend_introspect(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_POST, TK_API_SCOPES(TK_SCOPE_INTROSPECT, TK_SCOPE_INTROSPECT),
               introspect);
}
