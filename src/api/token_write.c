/* Token create, update and delete (docs/api.md §6, §7.2-§7.6, §17.1): DRF's field checks
 * collected in field order, then authentik's object rules in order, then the write and its
 * audit event in one transaction. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/body.h"
#include "api/messages.h"
#include "api/notify.h"
#include "api/query.h"
#include "api/serialize.h"
#include "api/tokend.h"
#include "api/tokens.h"
#include "domain/attributes.h"
#include "domain/tokens.h"
#include "domain/validate.h"
#include "util/limits.h"
#include "util/time.h"

struct token_input {
    enum tk_field_state managed_s, identifier_s, intent_s, user_s, description_s, expires_s,
        expiring_s;
    const char *managed, *identifier, *intent, *description;
    int64_t user_id, expires;
    bool expiring;
};

/* PrimaryKeyRelatedField(queryset=User.objects.all()) */
static int field_user(struct tk_ctx *c, json_t *obj, struct tk_field_errors *fe,
                      struct token_input *in)
{
    json_t *v = json_object_get(obj, "user");
    in->user_s = TK_FIELD_INVALID;
    if (v == NULL) {
        in->user_s = TK_FIELD_ABSENT;
        return 0;
    }
    const char *type = NULL;
    int64_t id = 0;
    bool ok = false;
    /* DRF's RelatedField takes "" for None */
    bool empty = json_is_string(v) && json_string_length(v) == 0;
    switch (empty ? JSON_NULL : json_typeof(v)) {
    case JSON_NULL: tk_field_errors_add(fe, "user", TK_MSG_NULL); return 0;
    case JSON_TRUE:
    case JSON_FALSE: type = "bool"; break;
    case JSON_INTEGER:
        id = json_integer_value(v);
        ok = true;
        break;
    case JSON_REAL: {
        /* Django casts the lookup value with int(): 5.9 looks up user 5. */
        double d = json_real_value(v);
        if (d > -9.2e18 && d < 9.2e18) {
            id = (int64_t)d;
            ok = true;
        } else {
            id = -1; /* no such user */
            ok = true;
        }
        break;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        char *end = NULL;
        size_t st, sl;
        tk_strip(s, len, &st, &sl);
        char buf[32];
        if (sl > 0 && sl < sizeof(buf) && memchr(s + st, '\0', sl) == NULL) {
            memcpy(buf, s + st, sl);
            buf[sl] = '\0';
            long long x = strtoll(buf, &end, 10);
            if (*end == '\0' &&
                (buf[0] == '-' || buf[0] == '+' || (buf[0] >= '0' && buf[0] <= '9'))) {
                id = x;
                ok = true;
            }
        }
        if (!ok)
            type = "str";
        break;
    }
    case JSON_ARRAY: type = "list"; break;
    case JSON_OBJECT: type = "dict"; break;
    }
    if (!ok) {
        char msg[96];
        snprintf(msg, sizeof(msg), TK_MSG_PK_TYPE, type);
        tk_field_errors_add(fe, "user", msg);
        return 0;
    }
    bool exists = false;
    int rc = id > 0 ? tk_store_user_exists(c->db, id, &exists) : 0;
    if (rc)
        return rc;
    if (!exists) {
        const char *shown = tk_py_str(c->req->arena, v);
        struct tk_buf m;
        tk_buf_init(&m, TK_MAX_TEXT_BYTES);
        tk_buf_printf(&m, TK_MSG_PK_MISSING, shown ? shown : "");
        tk_field_errors_add_n(fe, "user", m.data ? m.data : "", m.len);
        tk_buf_free(&m);
        return 0;
    }
    in->user_id = id;
    in->user_s = TK_FIELD_SET;
    return 0;
}

/* Field-level validation of TokenSerializer (§6.1), in field order. existing: the token being
 * updated (NULL on create). */
static int parse_fields(struct tk_ctx *c, json_t *obj, bool identifier_required,
                        const struct tk_token *existing, struct token_input *in,
                        struct tk_field_errors *fe)
{
    int64_t self_id = existing ? existing->id : 0;
    int rc;
    bool taken;

    const struct tk_char_opts managed_o = {.allow_null = true};
    in->managed_s = tk_field_char(c, obj, "managed", &managed_o, fe, &in->managed);
    if (in->managed_s == TK_FIELD_SET) {
        if ((rc = tk_store_token_managed_taken(c->db, in->managed, self_id, &taken)) != 0)
            return rc;
        if (taken) {
            tk_field_errors_add(fe, "managed",
                                "Token with this Managed by authentik already exists.");
            in->managed_s = TK_FIELD_INVALID;
        }
    }

    const struct tk_char_opts ident_o = {.required = identifier_required,
                                         .max_length = TK_MAX_IDENTIFIER_CHARS};
    in->identifier = NULL;
    in->identifier_s = tk_field_char(c, obj, "identifier", &ident_o, fe, &in->identifier);
    if (in->identifier_s == TK_FIELD_SET) {
        if ((rc = tk_store_token_identifier_taken(c->db, in->identifier, self_id, &taken)) != 0)
            return rc;
        if (taken) {
            tk_field_errors_add(fe, "identifier", "Token with this identifier already exists.");
            in->identifier_s = TK_FIELD_INVALID;
        }
    }
    json_t *iv0 = json_object_get(obj, "identifier");
    bool has_nul = json_is_string(iv0) &&
                   memchr(json_string_value(iv0), '\0', json_string_length(iv0)) != NULL;
    if (in->identifier != NULL && (has_nul || !tk_is_slug(in->identifier))) {
        tk_field_errors_add(fe, "identifier",
                            "Enter a valid \"slug\" consisting of letters, numbers, underscores "
                            "or hyphens.");
        in->identifier_s = TK_FIELD_INVALID;
    }

    json_t *iv = json_object_get(obj, "intent");
    in->intent_s = TK_FIELD_ABSENT;
    if (iv != NULL) {
        in->intent_s = TK_FIELD_INVALID;
        if (json_is_null(iv)) {
            tk_field_errors_add(fe, "intent", TK_MSG_NULL);
        } else {
            const char *s = tk_py_str(c->req->arena, iv);
            if (s != NULL && json_is_string(iv) &&
                tk_intent_valid(json_string_value(iv), json_string_length(iv))) {
                in->intent = s;
                in->intent_s = TK_FIELD_SET;
            } else if (s != NULL) {
                struct tk_buf m;
                tk_buf_init(&m, TK_MAX_TEXT_BYTES);
                tk_buf_putc(&m, '"');
                tk_buf_puts(&m, s);
                tk_buf_puts(&m, "\" is not a valid choice.");
                tk_field_errors_add_n(fe, "intent", m.data ? m.data : "", m.len);
                tk_buf_free(&m);
            }
        }
    }

    if ((rc = field_user(c, obj, fe, in)) != 0)
        return rc;
    if (in->user_s == TK_FIELD_SET && existing != NULL && in->user_id != existing->user_id) {
        /* validate_user (2024.6+, CVE-2024-37905): the owner never changes */
        tk_field_errors_add(fe, "user", "User cannot be changed");
        in->user_s = TK_FIELD_INVALID;
    }

    const struct tk_char_opts desc_o = {.allow_blank = true};
    in->description_s = tk_field_char(c, obj, "description", &desc_o, fe, &in->description);
    in->expires_s = tk_field_datetime(obj, "expires", true, fe, &in->expires);
    in->expiring_s = tk_field_bool(obj, "expiring", false, fe, &in->expiring);
    return 0;
}

static const char *const api_intent = "api";

/* Object-level rules 3-5 of §6.2 on the resulting token; intent and owner already resolved. */
static int object_rules(struct tk_ctx *c, struct token_input *in, struct tk_token *t,
                        struct tk_field_errors *fe)
{
    if (strcmp(t->intent, "api") != 0 && strcmp(t->intent, "app_password") != 0) {
        struct tk_buf m;
        tk_buf_init(&m, TK_MAX_TEXT_BYTES);
        tk_buf_printf(&m, "Invalid intent %s", t->intent);
        tk_field_errors_add(fe, "intent", m.data ? m.data : "Invalid intent");
        tk_buf_free(&m);
        return 0;
    }
    if (strcmp(t->intent, "app_password") == 0 && in->expires_s == TK_FIELD_SET) {
        /* merged attributes of the token's user: groups by name, then the user's own */
        const char **groups = NULL;
        size_t n = 0;
        const char *own = NULL;
        int rc = tk_store_user_group_attributes(c->db, t->user_id, c->req->arena, &groups, &n);
        if (rc == 0)
            rc = tk_store_user_attributes(c->db, t->user_id, c->req->arena, &own);
        if (rc)
            return rc;
        const char **all = tk_arena_calloc(c->req->arena, n + 1, sizeof(*all));
        if (all == NULL)
            return TK_ERR_NOMEM;
        memcpy(all, groups, n * sizeof(*all));
        all[n] = own;
        json_t *merged = tk_attributes_merged(all, n + 1);
        if (merged == NULL)
            return TK_ERR_NOMEM;
        int64_t max = tk_app_password_max_expiry(merged, c->now, c->api->default_token_duration_us);
        json_decref(merged);
        if (in->expires > max) {
            char ts[TK_TIME_BUFSZ], msg[128];
            tk_time_format_py(max, ts);
            snprintf(msg, sizeof(msg), "Token expires exceeds maximum lifetime (%s UTC).", ts);
            tk_field_errors_add(fe, "expires", msg);
            return 0;
        }
    }
    if (strcmp(t->intent, "api") == 0) {
        /* Rule 5: an API token's expiry is always now + the default duration. */
        t->has_expires = true;
        t->expires = c->now + c->api->default_token_duration_us;
    }
    return 0;
}

static void apply_fields(const struct token_input *in, struct tk_token *t)
{
    if (in->managed_s == TK_FIELD_SET)
        t->managed = in->managed;
    else if (in->managed_s == TK_FIELD_NULL)
        t->managed = NULL;
    if (in->identifier_s == TK_FIELD_SET)
        t->identifier = in->identifier;
    if (in->intent_s == TK_FIELD_SET)
        t->intent = in->intent;
    if (in->description_s == TK_FIELD_SET)
        t->description = in->description;
    if (in->expires_s == TK_FIELD_SET) {
        t->has_expires = true;
        t->expires = in->expires;
    } else if (in->expires_s == TK_FIELD_NULL) {
        t->has_expires = false;
    }
    if (in->expiring_s == TK_FIELD_SET)
        t->expiring = in->expiring;
}

/* Writes the token with row id id, as this transaction sees it, as the response body with
 * status. Called last inside the write transaction: the answer is the row written, by its
 * primary key, never a second lookup by identifier (which a concurrent rename on PostgreSQL
 * could point at another user's token). */
static int respond_token(struct tk_ctx *c, struct tk_db *db, int64_t id, int status)
{
    struct tk_token *t;
    int rc = tk_store_token_get_by_id(db, id, 0, c->req->arena, &t);
    if (rc)
        return rc;
    tk_buf_reset(&c->res->body); /* the transaction may run again */
    struct tk_jw w;
    tk_jw_init(&w, &c->res->body);
    tk_json_token(&w, c->api, t, tk_include_groups(c->req));
    c->res->status = status;
    return 0;
}

/* The per-user cap (TOKEND_MAX_TOKENS_PER_USER): a field error on user when the owner has as
 * many tokens as allowed already. Counted under the owner's row lock, so concurrent creates
 * cannot all pass the check (README "Users with many tokens"). */
static int check_quota(struct tk_ctx *c, struct tk_db *db, int64_t owner,
                       struct tk_field_errors *fe)
{
    bool full = false;
    int rc = tk_store_token_quota(db, owner, c->api->max_tokens_per_user, &full);
    if (rc == TK_ERR_NOTFOUND) { /* deleted since the field check */
        char msg[96];
        snprintf(msg, sizeof(msg), TK_MSG_PK_MISSING_PREFIX "%lld" TK_MSG_PK_MISSING_SUFFIX,
                 (long long)owner);
        tk_field_errors_add(fe, "user", msg);
        return 0;
    }
    if (rc == 0 && full) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "This user already has %u tokens, the most one user may have. Delete one first.",
                 c->api->max_tokens_per_user);
        tk_field_errors_add(fe, "user", msg);
    }
    return rc;
}

struct create_tx {
    struct tk_ctx *c;
    json_t *body;
    int64_t id;
};

static int create_tx(struct tk_db *db, void *arg)
{
    struct create_tx *x = arg;
    struct tk_ctx *c = x->c;
    struct token_input in;
    memset(&in, 0, sizeof(in));
    int rc = parse_fields(c, x->body, true, NULL, &in, &c->fe);
    if (rc || tk_field_errors_any(&c->fe))
        return rc ? rc : TK_ERR_INVALID;

    char uuid[37];
    tk_uuid4(uuid);
    struct tk_token t;
    memset(&t, 0, sizeof(t));
    memcpy(t.uuid, uuid, sizeof(uuid));
    t.description = "";
    t.expiring = true;
    apply_fields(&in, &t);
    /* Rules 1 and 2: default owner and intent on create. */
    t.user_id = in.user_s == TK_FIELD_SET ? in.user_id : c->who.user_id;
    if (in.intent_s != TK_FIELD_SET)
        t.intent = api_intent;
    /* §6.3: a non-superuser's token is always their own, expiring per their own attribute.
     * Before the object rules, unlike authentik: its app-password lifetime check reads the
     * submitted user, so a plain user escaped their own limit and learned another user's
     * (docs/api.md §17.15). The check applies to the real owner. */
    if (!c->who.is_superuser) {
        const char *own = NULL;
        if ((rc = tk_store_user_attributes(db, c->who.user_id, c->req->arena, &own)) != 0)
            return rc;
        t.user_id = c->who.user_id;
        t.expiring = tk_attributes_token_expiring(own);
    }
    if ((rc = object_rules(c, &in, &t, &c->fe)) != 0 || tk_field_errors_any(&c->fe))
        return rc ? rc : TK_ERR_INVALID;
    if ((rc = check_quota(c, db, t.user_id, &c->fe)) != 0 || tk_field_errors_any(&c->fe))
        return rc ? rc : TK_ERR_INVALID;

    struct tk_token_new tn = {.uuid = t.uuid,
                              .identifier = t.identifier,
                              .intent = t.intent,
                              .description = t.description,
                              .managed = t.managed,
                              .user_id = t.user_id,
                              .has_expires = t.has_expires,
                              .expires = t.expires,
                              .expiring = t.expiring,
                              .view_key = c->api->view_key};
    if (c->who.scoped || c->who.has_networks) {
        /* docs/api.md §19.2: a token made with a narrowed token is narrowed as much */
        struct tk_token_settings own;
        if ((rc = tk_tokend_own_settings(c, db, &own)) != 0)
            return rc;
        tn.scopes = own.scopes;
        tn.allowed_networks = own.allowed_networks;
    }
    struct tk_buf sealed; /* the key itself is not kept: view_key opens the sealed copy */
    rc = tk_token_mint(&c->api->secret, c->api->key_length, NULL, 0, &tn, &sealed, NULL);
    if (rc == 0)
        rc = tk_store_token_insert(db, &tn, c->now, &x->id);
    tk_buf_free(&sealed);
    if (rc)
        return rc;
    t.id = x->id;
    if (!c->who.is_superuser && (rc = tk_store_key_viewer_add(db, x->id, c->who.user_id)) != 0)
        return rc;
    if ((rc = tk_audit_token(c, "model_created", TK_APP_AUDIT, "model", &t)) != 0)
        return rc;
    if ((rc = tk_notify_token(db, c->req->arena, c->now, "token.created", &t, c->who.user_id,
                              NULL)) != 0)
        return rc;
    return respond_token(c, db, x->id, 201);
}

/* The outcome of a create or update transaction that returned rc: its field errors (400), a
 * conflict (a concurrent write took the identifier or managed value between check and write),
 * or the token the transaction wrote (respond_token, already in the body). */
static int write_outcome(struct tk_ctx *c, int rc)
{
    if (tk_field_errors_any(&c->fe))
        return TK_ERR_FIELDS;
    if (rc == TK_ERR_CONFLICT) {
        tk_field_errors_add(&c->fe, "identifier", "Token with this identifier already exists.");
        return TK_ERR_FIELDS;
    }
    return rc;
}

int tk_tokens_create(struct tk_ctx *c)
{
    json_t *body;
    int rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct create_tx x = {.c = c, .body = body};
    rc = tk_store_write_tx(c->db, create_tx, &x);
    json_decref(body);
    return write_outcome(c, rc);
}

struct update_tx {
    struct tk_ctx *c;
    json_t *body;
    bool put;
};

static int update_tx(struct tk_db *db, void *arg)
{
    struct update_tx *x = arg;
    struct tk_ctx *c = x->c;
    struct tk_token *t;
    int rc = tk_tokens_lookup(c, &t);
    /* lock the row, then read it again, by its id: a concurrent update finished before this one
     * reads, and a concurrent rename cannot hand over another row */
    if (rc == 0 && (rc = tk_store_token_lock(db, t->id)) == 0)
        rc = tk_store_token_get_by_id(db, t->id, c->who.is_superuser ? 0 : c->who.user_id,
                                      c->req->arena, &t);
    if (rc)
        return rc;
    struct token_input in;
    memset(&in, 0, sizeof(in));
    if ((rc = parse_fields(c, x->body, x->put, t, &in, &c->fe)) != 0 || tk_field_errors_any(&c->fe))
        return rc ? rc : TK_ERR_INVALID;
    /* §17.1: what was not sent keeps its stored value (owner and intent included). */
    apply_fields(&in, t);
    if ((rc = object_rules(c, &in, t, &c->fe)) != 0 || tk_field_errors_any(&c->fe))
        return rc ? rc : TK_ERR_INVALID;
    if ((rc = tk_store_token_update(db, t)) != 0)
        return rc;
    if ((rc = tk_audit_token(c, "model_updated", TK_APP_AUDIT, "model", t)) != 0)
        return rc;
    if ((rc = tk_notify_token(db, c->req->arena, c->now, "token.updated", t, c->who.user_id,
                              NULL)) != 0)
        return rc;
    return respond_token(c, db, t->id, 200);
}

int tk_tokens_update(struct tk_ctx *c, bool put)
{
    /* The object is looked up first (404 before any body error), as DRF's get_object. */
    struct tk_token *t;
    json_t *body;
    int rc = tk_tokens_lookup(c, &t);
    if (rc == 0)
        rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct update_tx x = {.c = c, .body = body, .put = put};
    rc = tk_store_write_tx(c->db, update_tx, &x);
    json_decref(body);
    return write_outcome(c, rc);
}

static int delete_tx(struct tk_db *db, void *arg)
{
    struct tk_ctx *c = arg;
    struct tk_token *t;
    int rc = tk_tokens_lookup(c, &t);
    if (rc == 0)
        rc = tk_store_token_delete_id(db, t->id);
    if (rc == 0)
        rc = tk_audit_token(c, "model_deleted", TK_APP_AUDIT, "model", t);
    if (rc == 0)
        rc = tk_notify_token(db, c->req->arena, c->now, "token.deleted", t, c->who.user_id, NULL);
    return rc;
}

int tk_tokens_delete(struct tk_ctx *c)
{
    int rc = tk_store_write_tx(c->db, delete_tx, c);
    if (rc)
        return rc;
    c->res->status = 204;
    c->res->empty = true;
    return 0;
}
