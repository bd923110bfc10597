/* /api/v3/tokend/tokens/ (docs/api.md §19.1): tokend's settings and usage of each token, listed,
 * retrieved and changed under the owner-or-superuser rule of §4.2, and the narrowing rule for
 * scoped tokens (§19.2). Tokens are created and deleted through core/tokens/ only. */
#include <stddef.h>
#include <string.h>

#include "api/api.h"
#include "api/body.h"
#include "api/listing.h"
#include "api/messages.h"
#include "api/notify.h"
#include "api/query.h"
#include "api/serialize.h"
#include "api/tokend.h"
#include "http/client_addr.h"
#include "util/time.h"

/* ---- the object ---- */

void tk_json_tokend_token(struct tk_jw *w, const struct tk_tokend_token *t)
{
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "identifier");
    tk_jw_cstr(w, t->identifier);
    tk_jw_keyl(w, "intent");
    tk_jw_cstr(w, t->intent);
    tk_jw_keyl(w, "user");
    tk_jw_int(w, t->user_id);
    tk_jw_keyl(w, "scopes");
    tk_json_word_list(w, t->s.scopes);
    tk_jw_keyl(w, "allowed_networks");
    tk_json_word_list(w, t->s.allowed_networks);
    tk_jw_keyl(w, "rate_limit");
    tk_jw_cstr(w, t->s.rate_limit);
    tk_jw_keyl(w, "uses_remaining");
    if (t->s.has_uses)
        tk_jw_int(w, t->s.uses_remaining);
    else
        tk_jw_null(w);
    tk_jw_keyl(w, "view_key");
    tk_jw_cstr(w, tk_view_mode_name(t->s.view_key));
    tk_jw_keyl(w, "revoke_on_reuse");
    tk_jw_bool(w, t->s.revoke_on_reuse);
    tk_jw_keyl(w, "last_used");
    tk_jw_time_or_null(w, t->has_last_used, t->last_used);
    tk_jw_keyl(w, "last_used_ip");
    tk_jw_cstr(w, t->last_used_ip);
    tk_jw_keyl(w, "use_count");
    tk_jw_int(w, t->use_count);
    tk_jw_keyl(w, "previous_key_valid_until");
    tk_jw_time_or_null(w, t->has_previous_until, t->previous_until);
    tk_jw_obj_end(w);
}

/* ---- the list ---- */

static const char *const intents[] = {"api", "app_password", "recovery", "verification"};

static int add_choice_error(struct tk_ctx *c, const char *field, const char *v, size_t len)
{
    size_t mlen = strlen(TK_MSG_CHOICE_PREFIX) + len + strlen(TK_MSG_CHOICE_SUFFIX) + 1;
    char *m = tk_arena_alloc(c->req->arena, mlen);
    if (m == NULL)
        return TK_ERR_NOMEM;
    memcpy(m, TK_MSG_CHOICE_PREFIX, strlen(TK_MSG_CHOICE_PREFIX));
    memcpy(m + strlen(TK_MSG_CHOICE_PREFIX), v, len);
    memcpy(m + strlen(TK_MSG_CHOICE_PREFIX) + len, TK_MSG_CHOICE_SUFFIX,
           strlen(TK_MSG_CHOICE_SUFFIX) + 1);
    tk_field_errors_add_n(&c->fe, field, m, mlen - 1);
    return 0;
}

/* intent: one of the four, as in core (docs/api.md §8.1). */
static int intent_filter(struct tk_ctx *c, const struct tk_query *q, void *query)
{
    struct tk_tokend_query *x = query;
    const struct tk_qparam *p = tk_query_get(q, "intent");
    if (p == NULL || p->val_len == 0)
        return 0;
    for (size_t i = 0; i < sizeof(intents) / sizeof(intents[0]); i++) {
        if (strlen(intents[i]) == p->val_len && memcmp(intents[i], p->val, p->val_len) == 0) {
            x->intent = intents[i];
            return 0;
        }
    }
    return add_choice_error(c, "intent", p->val, p->val_len);
}

/* scope, repeatable: the token's scopes contain every one given. */
static int scope_filter(struct tk_ctx *c, const struct tk_query *q, void *query)
{
    struct tk_tokend_query *x = query;
    const struct tk_qparam **all;
    size_t n;
    int rc = tk_query_get_all(q, "scope", c->req->arena, &all, &n);
    if (rc)
        return rc;
    x->scopes = tk_arena_calloc(c->req->arena, n ? n : 1, sizeof(*x->scopes));
    if (x->scopes == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t start, len;
        tk_strip(all[i]->val, all[i]->val_len, &start, &len);
        if (len == 0)
            continue; /* empty values are ignored */
        if (!tk_scope_valid(all[i]->val + start, len)) {
            tk_field_errors_add(&c->fe, "scope", TK_MSG_SCOPE);
            return 0;
        }
        x->scopes[x->n_scopes++] = tk_arena_strndup(c->req->arena, all[i]->val + start, len);
        if (x->scopes[x->n_scopes - 1] == NULL)
            return TK_ERR_NOMEM;
    }
    return 0;
}

/* never_used: true or false (as booleans are read in lists, docs/api.md §8.1); unlike core's
 * expiring, any other value is an error (§19.1). */
static int never_used_filter(struct tk_ctx *c, const struct tk_query *q, void *query)
{
    struct tk_tokend_query *x = query;
    const struct tk_qparam *p = tk_query_get(q, "never_used");
    if (p == NULL || p->val_len == 0)
        return 0;
    x->never_used = tk_query_bool(p->val, p->val_len);
    if (x->never_used < 0)
        tk_field_errors_add(&c->fe, "never_used", TK_MSG_BOOLEAN);
    return 0;
}

/* expiring_within: a duration (docs/api.md §12.3) from now. */
static int expiring_within_filter(struct tk_ctx *c, const struct tk_query *q, void *query)
{
    struct tk_tokend_query *x = query;
    const struct tk_qparam *p = tk_query_get(q, "expiring_within");
    if (p == NULL || p->val_len == 0)
        return 0;
    int64_t us;
    if (memchr(p->val, '\0', p->val_len) != NULL || tk_duration_parse(p->val, p->val_len, &us) ||
        us < 0) {
        tk_field_errors_add(&c->fe, "expiring_within", TK_MSG_DURATION);
        return 0;
    }
    x->has_expiring_until = true;
    x->expiring_until = us > INT64_MAX - c->now ? INT64_MAX : c->now + us;
    return 0;
}

struct tokend_page {
    struct tk_tokend_token *tokens;
    size_t n;
};

static int count_page(struct tk_ctx *c, struct tk_db *db, void *query, int64_t *count)
{
    return tk_store_tokend_count(db, query, c->req->arena, count);
}

static int fetch_page(struct tk_ctx *c, struct tk_db *db, void *query,
                      const struct tk_pagination *pg, void *page)
{
    struct tokend_page *p = page;
    return tk_store_tokend_fetch(db, query, pg->offset, pg->page_size, c->req->arena, &p->tokens,
                                 &p->n);
}

static void write_page(struct tk_ctx *c, struct tk_jw *w, void *query, void *page)
{
    struct tokend_page *p = page;
    for (size_t i = 0; i < p->n; i++)
        tk_json_tokend_token(w, &p->tokens[i]);
}

#define Q(field) offsetof(struct tk_tokend_query, field)
static const struct tk_filter tokend_filters[] = {
    {.name = "identifier", .kind = TK_FILTER_TEXT, .at = Q(identifier)},
    {.name = "intent", .kind = TK_FILTER_OWN, .own = intent_filter},
    {.name = "user__username", .kind = TK_FILTER_TEXT, .at = Q(username)},
    {.name = "scope", .kind = TK_FILTER_OWN, .own = scope_filter},
    {.name = "last_used_before",
     .kind = TK_FILTER_DATETIME,
     .at = Q(used_before),
     .has = Q(has_used_before)},
    {.name = "last_used_after",
     .kind = TK_FILTER_DATETIME,
     .at = Q(used_after),
     .has = Q(has_used_after)},
    {.name = "never_used", .kind = TK_FILTER_OWN, .own = never_used_filter},
    {.name = "expiring_within", .kind = TK_FILTER_OWN, .own = expiring_within_filter},
};

static const struct tk_order_name tokend_orderings[] = {
    {"identifier", TK_XF_IDENTIFIER},
    {"last_used", TK_XF_LAST_USED},
    {"use_count", TK_XF_USE_COUNT},
    {"expires", TK_XF_EXPIRES},
};
static const struct tk_order tokend_default_order[] = {{TK_XF_IDENTIFIER, false}};

static const struct tk_list_spec tokend_list = {
    TK_LIST_FILTERS(tokend_filters),
    TK_LIST_ORDERING(struct tk_tokend_query, tokend_orderings, tokend_default_order),
    .replica = true,
    .count = count_page,
    .fetch = fetch_page,
    .write = write_page,
};
#undef Q

static int tokend_list_run(struct tk_ctx *c)
{
    struct tk_tokend_query x;
    memset(&x, 0, sizeof(x));
    x.never_used = -1;
    x.owner_id = c->who.is_superuser ? 0 : c->who.user_id;
    x.now = c->now;
    struct tokend_page page = {0};
    return tk_list_run(c, &tokend_list, &x, &page);
}

/* ---- retrieve ---- */

int tk_tokend_lookup(struct tk_ctx *c, struct tk_db *db, struct tk_tokend_token **t)
{
    int64_t owner = c->who.is_superuser ? 0 : c->who.user_id;
    return tk_store_tokend_get(db, c->req->params[0], owner, c->now, c->req->arena, t);
}

static int answer(struct tk_ctx *c, const struct tk_tokend_token *t)
{
    struct tk_jw w;
    tk_jw_init(&w, &c->res->body);
    tk_json_tokend_token(&w, t);
    c->res->status = 200;
    return 0;
}

static int tokend_retrieve(struct tk_ctx *c)
{
    struct tk_tokend_token *t;
    int rc;
    for (;;) {
        rc = tk_tokend_lookup(c, tk_api_rdb(c), &t);
        if (rc == 0 || !tk_api_rdb_failed(c, rc))
            break;
    }
    return rc ? rc : answer(c, t);
}

/* ---- PATCH ---- */

/* scopes: null, or a list of valid scopes: de-duplicated, sorted byte-wise, space-joined. */
static void read_scopes(struct tk_ctx *c, json_t *v, bool *set, const char **out)
{
    *set = v != NULL;
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return;
    if (!json_is_array(v)) {
        tk_field_errors_add(&c->fe, "scopes", TK_MSG_LIST_TYPE);
        return;
    }
    size_t n = json_array_size(v);
    if (n > TK_MAX_SCOPES) {
        tk_field_errors_add(&c->fe, "scopes", TK_MSG_SCOPES_MAX);
        return;
    }
    const char **items = tk_arena_calloc(c->req->arena, n ? n : 1, sizeof(*items));
    if (items == NULL) {
        c->fe.nomem = true;
        return;
    }
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || !tk_scope_valid(json_string_value(e), json_string_length(e)) ||
            strlen(json_string_value(e)) != json_string_length(e)) {
            tk_field_errors_add(&c->fe, "scopes", TK_MSG_SCOPE);
            return;
        }
        items[i] = json_string_value(e);
        total += json_string_length(e) + 1;
    }
    char *text = tk_arena_alloc(c->req->arena, total);
    if (text == NULL) {
        c->fe.nomem = true;
        return;
    }
    tk_scopes_join(items, n, text);
    *out = text;
}

/* allowed_networks: null, or a list of addresses and networks in canonical form with their
 * prefix, host bits cleared, de-duplicated in input order. */
static void read_networks(struct tk_ctx *c, json_t *v, bool *set, const char **out)
{
    *set = v != NULL;
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return;
    if (!json_is_array(v)) {
        tk_field_errors_add(&c->fe, "allowed_networks", TK_MSG_LIST_TYPE);
        return;
    }
    size_t n = json_array_size(v);
    if (n > TK_MAX_NETWORKS) {
        tk_field_errors_add(&c->fe, "allowed_networks", TK_MSG_NETWORKS_MAX);
        return;
    }
    char *text = tk_arena_alloc(c->req->arena, n * TK_NET_TEXT_MAX + 1);
    if (text == NULL) {
        c->fe.nomem = true;
        return;
    }
    size_t len = 0;
    text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        struct tk_net net;
        if (!json_is_string(e) ||
            !tk_net_parse(json_string_value(e), json_string_length(e), &net)) {
            tk_field_errors_add(&c->fe, "allowed_networks", TK_MSG_NETWORK);
            return;
        }
        char one[TK_NET_TEXT_MAX];
        len = tk_words_add(text, len, one, tk_net_format(&net, one));
    }
    *out = text;
}

/* rate_limit: null or "N/period" (canonical on output). */
static void read_rate(struct tk_ctx *c, json_t *v, bool *set, const char **out)
{
    *set = v != NULL;
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return;
    struct tk_rate r;
    if (!json_is_string(v) || !tk_rate_parse(json_string_value(v), json_string_length(v), &r)) {
        tk_field_errors_add(&c->fe, "rate_limit", TK_MSG_RATE);
        return;
    }
    char *text = tk_arena_alloc(c->req->arena, TK_RATE_TEXT_MAX);
    if (text == NULL) {
        c->fe.nomem = true;
        return;
    }
    tk_rate_format(&r, text);
    *out = text;
}

/* uses_remaining: null or an integer >= 0 (a JSON integer: DRF's IntegerField takes numbers
 * and numeric strings, tokend's extension takes integers only, docs/api.md §19.1). */
static void read_uses(struct tk_ctx *c, json_t *v, bool *set, bool *has, int64_t *out)
{
    *set = v != NULL;
    *has = false;
    if (v == NULL || json_is_null(v))
        return;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        tk_field_errors_add(&c->fe, "uses_remaining", TK_MSG_USES);
        return;
    }
    *has = true;
    *out = (int64_t)json_integer_value(v);
}

static void read_view(struct tk_ctx *c, json_t *v, bool *set, enum tk_view_mode *out)
{
    *set = v != NULL;
    if (v == NULL)
        return;
    if (!json_is_string(v) || !tk_view_mode_parse(json_string_value(v), json_string_length(v), out))
        tk_field_errors_add(&c->fe, "view_key", TK_MSG_VIEW_KEY);
}

static void read_revoke(struct tk_ctx *c, json_t *v, bool *set, bool *out)
{
    *set = v != NULL;
    if (v == NULL)
        return;
    if (!json_is_boolean(v)) {
        tk_field_errors_add(&c->fe, "revoke_on_reuse", TK_MSG_BOOLEAN);
        return;
    }
    *out = json_is_true(v);
}

struct patch {
    struct tk_ctx *c;
    json_t *body;
    struct tk_tokend_token *t; /* the answer */
};

static int patch_tx(struct tk_db *db, void *arg)
{
    struct patch *x = arg;
    struct tk_ctx *c = x->c;
    struct tk_tokend_token *t;
    int rc = tk_tokend_lookup(c, db, &t);
    if (rc == 0)
        rc = tk_store_token_lock(db, t->id);
    if (rc == 0)
        rc = tk_tokend_lookup(c, db, &t); /* as it is now that it is locked */
    if (rc)
        return rc;
    struct tk_token_settings s = t->s;
    bool set_scopes, set_nets, set_rate, set_uses, set_view, set_revoke;
    const char *scopes, *nets, *rate;
    bool has_uses = s.has_uses;
    int64_t uses = s.uses_remaining;
    read_scopes(c, json_object_get(x->body, "scopes"), &set_scopes, &scopes);
    read_networks(c, json_object_get(x->body, "allowed_networks"), &set_nets, &nets);
    read_rate(c, json_object_get(x->body, "rate_limit"), &set_rate, &rate);
    read_uses(c, json_object_get(x->body, "uses_remaining"), &set_uses, &has_uses, &uses);
    read_view(c, json_object_get(x->body, "view_key"), &set_view, &s.view_key);
    read_revoke(c, json_object_get(x->body, "revoke_on_reuse"), &set_revoke, &s.revoke_on_reuse);
    if (tk_field_errors_any(&c->fe))
        return TK_ERR_FIELDS;
    if (c->who.scoped) {
        /* docs/api.md §19.2: a scoped token narrows scopes, nothing else */
        struct tk_token_settings own;
        rc = tk_tokend_own_settings(c, db, &own);
        if (rc)
            return rc;
        const char *mine = own.scopes ? own.scopes : "";
        if (set_nets || set_rate || set_uses || set_view || set_revoke ||
            (set_scopes && (scopes == NULL || !tk_scopes_subset(scopes, mine))))
            return tk_api_refuse(c, 403, TK_MSG_FORBIDDEN);
    }
    if (set_scopes)
        s.scopes = scopes;
    if (set_nets)
        s.allowed_networks = nets;
    if (set_rate)
        s.rate_limit = rate;
    if (set_uses) {
        s.has_uses = has_uses;
        s.uses_remaining = uses;
    }
    rc = tk_store_token_settings_write(db, t->id, &s);
    /* once or never: a key already viewed (or any key, for never) loses its sealed copy */
    if (rc == 0 && set_view && s.view_key != TK_VIEW_ALWAYS) {
        enum tk_view_mode old;
        bool viewed, sealed;
        rc = tk_store_token_key_state(db, t->id, &old, &viewed, &sealed);
        if (rc == 0 && sealed && (s.view_key == TK_VIEW_NEVER || viewed)) {
            rc = tk_store_token_erase_sealed(db, t->id);
            c->scrub = true;
        }
    }
    if (rc == 0)
        rc = tk_store_tokend_get(db, t->identifier, 0, c->now, c->req->arena, &x->t);
    struct tk_token *tok = NULL;
    if (rc == 0)
        rc = tk_store_token_get_by_id(db, t->id, 0, c->req->arena, &tok);
    if (rc == 0)
        rc = tk_notify_token(db, c->req->arena, c->now, "token.updated", tok, c->who.user_id, NULL);
    return rc;
}

static int tokend_patch(struct tk_ctx *c)
{
    json_t *body = NULL;
    int rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct patch x = {.c = c, .body = body};
    rc = tk_store_write_tx(c->db, patch_tx, &x);
    json_decref(body);
    return rc ? rc : answer(c, x.t);
}

int tk_tokend_own_settings(struct tk_ctx *c, struct tk_db *db, struct tk_token_settings *out)
{
    struct tk_token *own;
    int rc = tk_store_token_get_by_id(db, c->who.token_id, 0, c->req->arena, &own);
    struct tk_tokend_token *x = NULL;
    if (rc == 0)
        rc = tk_store_tokend_get(db, own->identifier, 0, c->now, c->req->arena, &x);
    if (rc == 0)
        *out = x->s;
    return rc == TK_ERR_NOTFOUND ? TK_ERR_BUSY : rc; /* deleted since it authenticated: retry */
}

static int tokend_detail(struct tk_ctx *c)
{
    return c->req->method == TK_M_PATCH ? tokend_patch(c) : tokend_retrieve(c);
}

/* docs/api.md §19.2 */
#define TOKENS_SCOPES TK_API_SCOPES(TK_SCOPE_TOKENS_READ, TK_SCOPE_TOKENS_WRITE)

void tk_api_tokend_tokens_collection(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, TOKENS_SCOPES, tokend_list_run);
}

void tk_api_tokend_tokens_detail(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_PATCH, TOKENS_SCOPES, tokend_detail);
}
