/* Audit events (audit.h). */
#include "api/audit.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

#include "api/query.h"
#include "api/serialize.h"
#include "util/time.h"
#include "json/writer.h"

#define MASK "********************"

bool tk_audit_sensitive(const char *key, size_t len)
{
    static const char *const words[] = {"API",  "TOKEN",     "KEY",         "SECRET",
                                        "PASS", "SIGNATURE", "HTTP_COOKIE", "AUTH"};
    char up[256];
    if (len >= sizeof(up))
        len = sizeof(up) - 1;
    for (size_t i = 0; i < len; i++)
        up[i] = (char)toupper((unsigned char)key[i]);
    up[len] = '\0';
    if (strstr(up, "PASSING") != NULL)
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(up, words[i]) != NULL)
            return true;
    return false;
}

void tk_audit_uuid_hex(const char *uuid, char out[33])
{
    size_t o = 0;
    for (const char *p = uuid; *p && o < 32; p++)
        if (*p != '-')
            out[o++] = *p;
    out[o] = '\0';
}

void tk_audit_token_ref(struct tk_jw *w, const struct tk_token *t)
{
    char hex[33];
    tk_audit_uuid_hex(t->uuid, hex);
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "app");
    tk_jw_cstr(w, "authentik_core");
    tk_jw_keyl(w, "model_name");
    tk_jw_cstr(w, "token");
    tk_jw_keyl(w, "pk");
    tk_jw_cstr(w, hex);
    tk_jw_keyl(w, "name");
    struct tk_buf n;
    tk_buf_init(&n, TK_MAX_TEXT_BYTES);
    tk_token_display(t, &n);
    tk_jw_str(w, n.data ? n.data : "", n.len);
    tk_buf_free(&n);
    tk_jw_obj_end(w);
}

/* The http_request object of the request's events. */
static void http_request(struct tk_jw *w, struct tk_ctx *c)
{
    struct tk_request *req = c->req;
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "path");
    tk_jw_cstr(w, req->path);
    tk_jw_keyl(w, "method");
    tk_jw_cstr(w, req->method_name);
    tk_jw_keyl(w, "args");
    tk_jw_obj_begin(w);
    struct tk_query q;
    if (tk_query_parse(req->arena, req->query, req->query_len, &q) == 0) {
        /* QueryDict -> dict: each key once, its last value */
        for (size_t i = 0; i < q.n; i++) {
            bool later = false;
            for (size_t j = i + 1; j < q.n && !later; j++)
                later = q.p[j].key_len == q.p[i].key_len &&
                        memcmp(q.p[j].key, q.p[i].key, q.p[i].key_len) == 0;
            if (later)
                continue;
            struct tk_buf k;
            tk_buf_init(&k, TK_MAX_TEXT_BYTES);
            tk_buf_append(&k, q.p[i].key, q.p[i].key_len);
            tk_jw_key(w, k.data ? k.data : "");
            tk_buf_free(&k);
            if (tk_audit_sensitive(q.p[i].key, q.p[i].key_len))
                tk_jw_cstr(w, MASK);
            else
                tk_jw_str(w, q.p[i].val, q.p[i].val_len);
        }
    }
    tk_jw_obj_end(w);
    tk_jw_keyl(w, "user_agent");
    tk_jw_cstr(w, req->user_agent ? req->user_agent : "");
    tk_jw_keyl(w, "request_id");
    tk_jw_cstr(w, c->request_id);
    tk_jw_obj_end(w);
}

static void event_init(struct tk_event *e, const char *action, const char *app,
                       const char *user_json, const char *username, const char *context,
                       const char *model_pk, const char *client_ip, int64_t now,
                       int64_t retention_us)
{
    memset(e, 0, sizeof(*e));
    tk_uuid4(e->uuid);
    e->action = action;
    e->app = app;
    e->user_json = user_json;
    e->username = username;
    e->context = context;
    e->context_model_pk = model_pk;
    e->client_ip = client_ip && *client_ip ? client_ip : NULL;
    e->brand = "{}";
    e->created = now;
    e->expires = now + retention_us;
}

/* buf's text copied into the arena, or NULL (its error, or out of memory) with *rc set. */
static const char *take(struct tk_buf *b, struct tk_arena *a, int *rc)
{
    const char *s = b->err ? NULL : tk_arena_strndup(a, b->data ? b->data : "", b->len);
    if (s == NULL && *rc == 0)
        *rc = b->err ? b->err : TK_ERR_NOMEM;
    tk_buf_free(b);
    return s;
}

int tk_audit_actor(struct tk_ctx *c, struct tk_arena *a, struct tk_audit_actor *out)
{
    struct tk_user *users = NULL;
    size_t n = 0;
    int rc = tk_store_users_get(c->db, &c->who.user_id, 1, false, a, &users, &n);
    if (rc)
        return rc;
    struct tk_buf user, req;
    tk_buf_init(&user, TK_MAX_TEXT_BYTES);
    tk_buf_init(&req, TK_MAX_EVENT_CONTEXT_BYTES);
    struct tk_jw w;
    tk_jw_init(&w, &user);
    tk_jw_obj_begin(&w);
    if (n == 1) {
        tk_jw_key(&w, "pk");
        tk_jw_int(&w, users[0].id);
        tk_jw_key(&w, "username");
        tk_jw_cstr(&w, users[0].username);
        tk_jw_key(&w, "email");
        tk_jw_cstr(&w, users[0].email);
    }
    tk_jw_obj_end(&w);
    tk_jw_init(&w, &req);
    http_request(&w, c);
    out->user_json = take(&user, a, &rc);
    out->http_request = take(&req, a, &rc);
    out->username = n == 1 ? users[0].username : NULL;
    out->client_ip = c->req->client_ip;
    return rc;
}

int tk_audit_token_event(struct tk_ctx *c, const struct tk_audit_actor *actor, const char *action,
                         const char *app, const char *ctx_key, const struct tk_token *t,
                         struct tk_arena *a, struct tk_event *e)
{
    struct tk_buf ctx;
    tk_buf_init(&ctx, TK_MAX_EVENT_CONTEXT_BYTES);
    struct tk_jw w;
    tk_jw_init(&w, &ctx);
    tk_jw_obj_begin(&w);
    tk_jw_key(&w, ctx_key);
    tk_audit_token_ref(&w, t);
    tk_jw_keyl(&w, "http_request");
    tk_jw_raw(&w, actor->http_request, strlen(actor->http_request));
    tk_jw_obj_end(&w);
    int rc = 0;
    const char *context = take(&ctx, a, &rc);
    char *hex = tk_arena_alloc(a, 33);
    if (rc == 0 && hex == NULL)
        rc = TK_ERR_NOMEM;
    if (rc)
        return rc;
    tk_audit_uuid_hex(t->uuid, hex);
    event_init(e, action, app, actor->user_json, actor->username, context, hex, actor->client_ip,
               c->now, c->api->event_retention_us);
    return 0;
}

int tk_audit_token(struct tk_ctx *c, const char *action, const char *app, const char *ctx_key,
                   const struct tk_token *t)
{
    struct tk_audit_actor actor;
    struct tk_event e;
    int rc = tk_audit_actor(c, c->req->arena, &actor);
    if (rc == 0)
        rc = tk_audit_token_event(c, &actor, action, app, ctx_key, t, c->req->arena, &e);
    return rc ? rc : tk_store_event_insert(c->db, &e);
}

int tk_audit_system(struct tk_db *db, int64_t now, int64_t retention_us, const char *action,
                    const char *app, const char *context_json, const char *model_pk)
{
    struct tk_event e;
    event_init(&e, action, app, "{}", NULL, context_json, model_pk, NULL, now, retention_us);
    return tk_store_event_insert(db, &e);
}

/* {"token": ref, "message": message[, "http_request": http_request]} into ctx. */
static void message_context(struct tk_buf *ctx, const struct tk_token *t, const char *message,
                            const char *http_request)
{
    tk_buf_init(ctx, TK_MAX_EVENT_CONTEXT_BYTES);
    struct tk_jw w;
    tk_jw_init(&w, ctx);
    tk_jw_obj_begin(&w);
    tk_jw_keyl(&w, "token");
    tk_audit_token_ref(&w, t);
    tk_jw_keyl(&w, "message");
    tk_jw_cstr(&w, message);
    if (http_request != NULL) {
        tk_jw_keyl(&w, "http_request");
        tk_jw_raw(&w, http_request, strlen(http_request));
    }
    tk_jw_obj_end(&w);
}

/* The actor of a request without a user: no user, the request and its client address. */
static int anonymous_actor(struct tk_ctx *c, struct tk_audit_actor *out)
{
    struct tk_buf req;
    tk_buf_init(&req, TK_MAX_EVENT_CONTEXT_BYTES);
    struct tk_jw w;
    tk_jw_init(&w, &req);
    http_request(&w, c);
    int rc = 0;
    *out = (struct tk_audit_actor){.user_json = "{}", .client_ip = c->req->client_ip};
    out->http_request = take(&req, c->req->arena, &rc);
    return rc;
}

int tk_audit_system_token(struct tk_db *db, int64_t now, int64_t retention_us, const char *action,
                          const char *app, const struct tk_token *t, const char *message)
{
    struct tk_buf ctx;
    message_context(&ctx, t, message, NULL);
    char hex[33];
    tk_audit_uuid_hex(t->uuid, hex);
    int rc = ctx.err ? ctx.err : tk_audit_system(db, now, retention_us, action, app, ctx.data, hex);
    tk_buf_free(&ctx);
    return rc;
}

int tk_audit_token_message(struct tk_ctx *c, const char *action, const char *app,
                           const struct tk_token *t, const char *message, bool anonymous)
{
    struct tk_audit_actor actor;
    int rc = anonymous ? anonymous_actor(c, &actor) : tk_audit_actor(c, c->req->arena, &actor);
    if (rc)
        return rc;
    struct tk_buf ctx;
    message_context(&ctx, t, message, anonymous ? NULL : actor.http_request);
    const char *context = take(&ctx, c->req->arena, &rc);
    char *hex = tk_arena_alloc(c->req->arena, 33);
    if (rc == 0 && hex == NULL)
        rc = TK_ERR_NOMEM;
    if (rc)
        return rc;
    tk_audit_uuid_hex(t->uuid, hex);
    struct tk_event e;
    event_init(&e, action, app, actor.user_json, actor.username, context, hex, actor.client_ip,
               c->now, c->api->event_retention_us);
    return tk_store_event_insert(c->db, &e);
}

int tk_audit_token_anonymous(struct tk_ctx *c, const char *action, const char *app,
                             const char *ctx_key, const struct tk_token *t)
{
    struct tk_audit_actor actor;
    struct tk_event e;
    int rc = anonymous_actor(c, &actor);
    if (rc == 0)
        rc = tk_audit_token_event(c, &actor, action, app, ctx_key, t, c->req->arena, &e);
    return rc ? rc : tk_store_event_insert(c->db, &e);
}
