/* /api/v3/core/users/ (docs/api.md §14.1): list, create, retrieve, update, delete, me/,
 * service_account/, {id}/recovery/, {id}/used_by/. Superusers only, except me/. */
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/body.h"
#include "api/listing.h"
#include "api/messages.h"
#include "api/notify.h"
#include "api/serialize.h"
#include "api/user_cache.h"
#include "domain/attributes.h"
#include "domain/tokens.h"
#include "domain/user.h"
#include "domain/validate.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/utf8.h"
#include "util/uuid.h"

/* docs/api.md §19.2 */
#define USERS_SCOPES TK_API_SCOPES(TK_SCOPE_USERS_READ, TK_SCOPE_USERS_WRITE)

static const char *const user_types[] = {"internal", "external", "service_account",
                                         "internal_service_account"};

static bool user_type_valid(const char *s)
{
    for (size_t i = 0; i < sizeof(user_types) / sizeof(user_types[0]); i++)
        if (strcmp(s, user_types[i]) == 0)
            return true;
    return false;
}

/* ---- list ---- */

static int group_by_name(struct tk_ctx *c, const char *v, size_t len, int64_t *id)
{
    return tk_store_group_find(c->db, v, id);
}

static int group_by_uuid(struct tk_ctx *c, const char *v, size_t len, int64_t *id)
{
    char uuid[37];
    if (!tk_uuid_parse(v, len, uuid))
        return TK_ERR_INVALID;
    return tk_store_group_find_uuid(c->db, uuid, id);
}

static const struct tk_order_name user_order[] = {
    {"pk", TK_UF_PK},
    {"username", TK_UF_USERNAME},
    {"name", TK_UF_NAME},
    {"is_active", TK_UF_IS_ACTIVE},
    {"last_login", TK_UF_LAST_LOGIN},
    {"email", TK_UF_EMAIL},
    {"path", TK_UF_PATH},
    {"type", TK_UF_TYPE},
    {"uuid", TK_UF_UUID},
    {"attributes", TK_UF_ATTRIBUTES},
};

/* type (repeatable): each value one of the user types, or Django's choice error. */
static int type_filter(struct tk_ctx *c, const struct tk_query *q, void *query)
{
    struct tk_user_query *uq = query;
    const struct tk_qparam **vals;
    size_t nv;
    int rc = tk_query_get_all(q, "type", c->req->arena, &vals, &nv);
    if (rc)
        return rc;
    const char **types = tk_arena_calloc(c->req->arena, nv + 1, sizeof(*types));
    if (types == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < nv; i++) {
        if (vals[i]->val_len == 0)
            continue;
        if (strlen(vals[i]->val) == vals[i]->val_len && user_type_valid(vals[i]->val))
            types[uq->n_types++] = vals[i]->val;
        else
            tk_list_choice_error(&c->fe, "type", vals[i]->val);
    }
    uq->types = types;
    return 0;
}

static int count_users(struct tk_ctx *c, struct tk_db *db, void *query, int64_t *count)
{
    return tk_store_user_count(db, query, c->req->arena, count);
}

struct user_page {
    struct tk_user *users;
    size_t n;
};

static int fetch_users(struct tk_ctx *c, struct tk_db *db, void *query,
                       const struct tk_pagination *pg, void *page)
{
    struct user_page *p = page;
    return tk_store_user_list(db, query, pg->offset, pg->page_size, c->req->arena, &p->users,
                              &p->n);
}

static void write_users(struct tk_ctx *c, struct tk_jw *w, void *query, void *page)
{
    struct user_page *p = page;
    bool include_groups = tk_include_groups_param(c->req, "include_groups");
    for (size_t i = 0; i < p->n; i++)
        tk_json_user(w, c->api, &p->users[i], include_groups);
}

#define Q(field) offsetof(struct tk_user_query, field)
/* authentik's UsersFilter, in its field order (docs/api.md §14.1). groups_by_name and
 * groups_by_pk keep users in any of the given groups, each of which must exist; the two are
 * ANDed. */
static const struct tk_filter user_filters[] = {
    {.name = "username", .kind = TK_FILTER_TEXT, .at = Q(username)},
    {.name = "email", .kind = TK_FILTER_TEXT, .at = Q(email)},
    {.name = "name", .kind = TK_FILTER_TEXT, .at = Q(name)},
    {.name = "is_active", .kind = TK_FILTER_BOOL, .at = Q(is_active)},
    {.name = "is_superuser", .kind = TK_FILTER_BOOL, .at = Q(is_superuser)},
    {.name = "groups_by_name",
     .kind = TK_FILTER_ID_SET,
     .at = Q(group_sets[0]),
     .resolve = group_by_name,
     .malformed = ""},
    {.name = "groups_by_pk",
     .kind = TK_FILTER_ID_SET,
     .at = Q(group_sets[1]),
     .resolve = group_by_uuid,
     .malformed = "is not a valid UUID."},
    {.name = "uuid", .kind = TK_FILTER_UUID, .at = Q(uuid)},
    {.name = "path", .kind = TK_FILTER_TEXT, .at = Q(path)},
    {.name = "path_startswith", .kind = TK_FILTER_TEXT, .at = Q(path_startswith)},
    {.name = "type", .kind = TK_FILTER_OWN, .own = type_filter},
};

static const struct tk_order user_default_order[] = {{TK_UF_USERNAME, false}};

static const struct tk_list_spec user_list = {
    TK_LIST_FILTERS(user_filters),
    TK_LIST_ATTRIBUTES(struct tk_user_query),
    TK_LIST_SEARCH(struct tk_user_query),
    TK_LIST_ORDERING(struct tk_user_query, user_order, user_default_order),
    .count = count_users,
    .fetch = fetch_users,
    .write = write_users,
};
#undef Q

static int users_list(struct tk_ctx *c)
{
    struct tk_user_query uq;
    memset(&uq, 0, sizeof(uq));
    struct user_page page = {0};
    return tk_list_run(c, &user_list, &uq, &page);
}

/* ---- validation (UserSerializer) ---- */

struct user_input {
    enum tk_field_state username_s, name_s, is_active_s, last_login_s, groups_s, email_s,
        attributes_s, path_s, type_s, password_s;
    const char *username, *name, *email, *attributes, *path, *type, *password;
    bool is_active;
    int64_t last_login;
    int64_t *group_ids;
    size_t n_groups;
};

static void add_msg_n(struct tk_field_errors *fe, const char *field, struct tk_buf *m)
{
    tk_field_errors_add_n(fe, field, m->data ? m->data : "", m->len);
    tk_buf_free(m);
}

/* The groups field: a list of group uuids that exist. */
static int field_groups(struct tk_ctx *c, json_t *obj, struct user_input *in,
                        struct tk_field_errors *fe)
{
    json_t *v = json_object_get(obj, "groups");
    in->groups_s = TK_FIELD_ABSENT;
    if (v == NULL)
        return 0;
    in->groups_s = TK_FIELD_INVALID;
    struct tk_buf m;
    tk_buf_init(&m, TK_MAX_TEXT_BYTES);
    if (json_is_null(v)) {
        tk_field_errors_add(fe, "groups", TK_MSG_NULL);
        return 0;
    }
    if (!json_is_array(v)) {
        const char *t = json_is_string(v)    ? "str"
                        : json_is_integer(v) ? "int"
                        : json_is_real(v)    ? "float"
                        : json_is_boolean(v) ? "bool"
                                             : "dict";
        tk_buf_printf(&m, "Expected a list of items but got type \"%s\".", t);
        add_msg_n(fe, "groups", &m);
        return 0;
    }
    size_t n = json_array_size(v);
    in->group_ids = tk_arena_calloc(c->req->arena, n ? n : 1, sizeof(int64_t));
    if (in->group_ids == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(v, i);
        char uuid[37];
        bool ok = false;
        if (json_is_string(item)) {
            ok = tk_uuid_parse(json_string_value(item), json_string_length(item), uuid);
            if (!ok) {
                tk_buf_puts(&m, "\xe2\x80\x9c");
                tk_buf_append(&m, json_string_value(item), json_string_length(item));
                tk_buf_puts(&m, "\xe2\x80\x9d is not a valid UUID.");
                add_msg_n(fe, "groups", &m);
                return 0;
            }
        } else if (json_is_integer(item) && json_integer_value(item) >= 0) {
            /* uuid.UUID(int=n) */
            snprintf(uuid, sizeof(uuid), "00000000-0000-0000-%04llx-%012llx",
                     (unsigned long long)((uint64_t)json_integer_value(item) >> 48) & 0xffff,
                     (unsigned long long)((uint64_t)json_integer_value(item) & 0xffffffffffffULL));
            ok = true;
        } else {
            const char *t = json_is_boolean(item)  ? "bool"
                            : json_is_array(item)  ? "list"
                            : json_is_object(item) ? "dict"
                            : json_is_null(item)   ? "NoneType"
                                                   : "float";
            tk_buf_printf(&m, TK_MSG_PK_TYPE, t);
            add_msg_n(fe, "groups", &m);
            return 0;
        }
        int64_t id;
        int rc = tk_store_group_find_uuid(c->db, uuid, &id);
        if (rc == TK_ERR_NOTFOUND) {
            const char *shown = tk_py_str(c->req->arena, item);
            tk_buf_printf(&m, TK_MSG_PK_MISSING, shown ? shown : "");
            add_msg_n(fe, "groups", &m);
            return 0;
        }
        if (rc)
            return rc;
        in->group_ids[in->n_groups++] = id;
    }
    tk_buf_free(&m);
    in->groups_s = TK_FIELD_SET;
    return 0;
}

static int parse_user(struct tk_ctx *c, json_t *obj, bool required, const struct tk_user *existing,
                      struct user_input *in, struct tk_field_errors *fe)
{
    memset(in, 0, sizeof(*in));
    int64_t self = existing ? existing->id : 0;
    int rc;
    const struct tk_char_opts uo = {.required = required, .max_length = 150};
    in->username_s = tk_field_char(c, obj, "username", &uo, fe, &in->username);
    if (in->username_s == TK_FIELD_SET) {
        bool taken;
        if ((rc = tk_store_username_taken(c->db, in->username, self, &taken)) != 0)
            return rc;
        if (taken) {
            tk_field_errors_add(fe, "username", TK_MSG_UNIQUE);
            in->username_s = TK_FIELD_INVALID;
        }
    }
    const struct tk_char_opts no = {.required = required, .allow_blank = true};
    in->name_s = tk_field_char(c, obj, "name", &no, fe, &in->name);
    in->is_active_s = tk_field_bool(obj, "is_active", false, fe, &in->is_active);
    in->last_login_s = tk_field_datetime(obj, "last_login", true, fe, &in->last_login);
    if ((rc = field_groups(c, obj, in, fe)) != 0)
        return rc;
    const struct tk_char_opts eo = {.allow_blank = true, .max_length = 254};
    in->email_s = tk_field_char(c, obj, "email", &eo, fe, &in->email);
    if (in->email_s == TK_FIELD_SET && in->email[0] != '\0' && !tk_email_valid(in->email)) {
        tk_field_errors_add(fe, "email", "Enter a valid email address.");
        in->email_s = TK_FIELD_INVALID;
    }
    json_t *av = json_object_get(obj, "attributes");
    in->attributes_s = TK_FIELD_ABSENT;
    if (av != NULL) {
        if (json_is_object(av)) {
            char *text = json_dumps(av, JSON_COMPACT);
            in->attributes = text ? tk_arena_strdup(c->req->arena, text) : NULL;
            free(text);
            if (in->attributes == NULL)
                return TK_ERR_NOMEM;
            in->attributes_s = TK_FIELD_SET;
        } else {
            tk_field_errors_add(fe, "attributes",
                                "Value must be a dictionary, and not have any duplicate keys.");
            in->attributes_s = TK_FIELD_INVALID;
        }
    }
    const struct tk_char_opts po = {0};
    in->path_s = tk_field_char(c, obj, "path", &po, fe, &in->path);
    if (in->path_s == TK_FIELD_SET) {
        size_t pl = strlen(in->path);
        if (in->path[0] == '/' || in->path[pl - 1] == '/') {
            tk_field_errors_add(fe, "path", "No leading or trailing slashes allowed.");
            in->path_s = TK_FIELD_INVALID;
        } else if (strstr(in->path, "//") != NULL) {
            tk_field_errors_add(fe, "path", "No empty segments in user path allowed.");
            in->path_s = TK_FIELD_INVALID;
        }
    }
    json_t *tv = json_object_get(obj, "type");
    in->type_s = TK_FIELD_ABSENT;
    if (tv != NULL) {
        in->type_s = TK_FIELD_INVALID;
        const char *s = json_is_null(tv) ? NULL : tk_py_str(c->req->arena, tv);
        if (json_is_null(tv)) {
            tk_field_errors_add(fe, "type", TK_MSG_NULL);
        } else if (s == NULL) {
            return TK_ERR_NOMEM;
        } else if (!json_is_string(tv) || strlen(s) != json_string_length(tv) ||
                   !user_type_valid(s)) {
            struct tk_buf m;
            tk_buf_init(&m, TK_MAX_TEXT_BYTES);
            tk_buf_printf(&m, "\"%s\" is not a valid choice.", s);
            add_msg_n(fe, "type", &m);
        } else if (existing && strcmp(existing->type, "internal_service_account") == 0 &&
                   strcmp(s, "internal_service_account") != 0) {
            tk_field_errors_add(fe, "type",
                                "Can't change internal service account to other user type.");
        } else if (!existing && strcmp(s, "internal_service_account") == 0) {
            tk_field_errors_add(fe, "type",
                                "Setting a user to internal service account is not allowed.");
        } else {
            in->type = s;
            in->type_s = TK_FIELD_SET;
        }
    }
    const struct tk_char_opts pw = {.allow_null = true, .allow_blank = true};
    in->password_s = tk_field_char(c, obj, "password", &pw, fe, &in->password);
    return 0;
}

static void apply_user(const struct user_input *in, struct tk_user_new *u)
{
    if (in->username_s == TK_FIELD_SET)
        u->username = in->username;
    if (in->name_s == TK_FIELD_SET)
        u->name = in->name;
    if (in->is_active_s == TK_FIELD_SET)
        u->is_active = in->is_active;
    if (in->last_login_s == TK_FIELD_SET) {
        u->has_last_login = true;
        u->last_login = in->last_login;
    } else if (in->last_login_s == TK_FIELD_NULL) {
        u->has_last_login = false;
    }
    if (in->groups_s == TK_FIELD_SET) {
        u->set_groups = true;
        u->group_ids = in->group_ids;
        u->n_groups = in->n_groups;
    }
    if (in->email_s == TK_FIELD_SET)
        u->email = in->email;
    if (in->attributes_s == TK_FIELD_SET)
        u->attributes = in->attributes;
    if (in->path_s == TK_FIELD_SET)
        u->path = in->path;
    if (in->type_s == TK_FIELD_SET)
        u->type = in->type;
}

static int respond_user(struct tk_ctx *c, int64_t id, int status)
{
    struct tk_user *u;
    int rc = tk_store_user_get(c->db, id, c->req->arena, &u);
    if (rc)
        return rc;
    struct tk_jw w;
    tk_jw_init(&w, &c->res->body);
    tk_json_user(&w, c->api, u, tk_include_groups_param(c->req, "include_groups"));
    c->res->status = status;
    return 0;
}

static int store_password(struct tk_db *db, int64_t id, const char *password)
{
    char hash[TK_PASSWORD_HASH_BYTES];
    int rc = tk_password_hash(password, hash);
    return rc ? rc : tk_store_user_set_password(db, id, hash);
}

struct user_tx {
    struct tk_ctx *c;
    json_t *body;
    bool put;
    int64_t id; /* 0 on create */
};

static int user_create_tx(struct tk_db *db, void *arg)
{
    struct user_tx *x = arg;
    struct user_input in;
    int rc = parse_user(x->c, x->body, true, NULL, &in, &x->c->fe);
    if (rc || tk_field_errors_any(&x->c->fe))
        return rc ? rc : TK_ERR_INVALID;
    struct tk_user_new u = {.name = "", .email = "", .is_active = true};
    apply_user(&in, &u);
    char uuid[37];
    rc = tk_store_user_create(db, &u, x->c->now, &x->id, uuid);
    if (rc == 0 && in.password_s == TK_FIELD_SET)
        rc = store_password(db, x->id, in.password);
    return rc;
}

static int user_update_tx(struct tk_db *db, void *arg)
{
    struct user_tx *x = arg;
    struct tk_user *cur;
    /* lock the row before reading it: a concurrent update cannot be overwritten with stale
     * values for the fields this request does not send */
    int rc = tk_store_user_lock(db, x->id);
    if (rc == 0)
        rc = tk_store_user_get(db, x->id, x->c->req->arena, &cur);
    if (rc)
        return rc;
    struct user_input in;
    if ((rc = parse_user(x->c, x->body, x->put, cur, &in, &x->c->fe)) != 0 ||
        tk_field_errors_any(&x->c->fe))
        return rc ? rc : TK_ERR_INVALID;
    struct tk_user_new u = {.username = cur->username,
                            .name = cur->name,
                            .email = cur->email,
                            .path = cur->path,
                            .type = cur->type,
                            .attributes = cur->attributes,
                            .is_active = cur->is_active,
                            .has_last_login = cur->has_last_login,
                            .last_login = cur->last_login};
    apply_user(&in, &u);
    rc = tk_store_user_update(db, x->id, &u);
    if (rc == 0 && in.password_s == TK_FIELD_SET)
        rc = store_password(db, x->id, in.password);
    return rc;
}

/* The outcome of a create or update transaction: its field errors, a username taken by a
 * concurrent write between check and write, or the user as it is now. */
static int finish_write(struct tk_ctx *c, struct user_tx *x, int rc, int status)
{
    if (tk_field_errors_any(&c->fe))
        return TK_ERR_FIELDS;
    if (rc == TK_ERR_CONFLICT) {
        tk_field_errors_add(&c->fe, "username", TK_MSG_UNIQUE);
        return TK_ERR_FIELDS;
    }
    return rc ? rc : respond_user(c, x->id, status);
}

static int users_create(struct tk_ctx *c)
{
    json_t *body;
    int rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct user_tx x = {.c = c, .body = body};
    rc = tk_store_write_tx(c->db, user_create_tx, &x);
    json_decref(body);
    return finish_write(c, &x, rc, 201);
}

/* The {id} of the URL as a user id; 0 when it is not an integer (then: 404). */
static int64_t url_user_id(const struct tk_request *req)
{
    const char *s = req->params[0];
    if (*s == '\0' || strlen(s) > 18)
        return 0;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static int users_update(struct tk_ctx *c, bool put)
{
    int64_t id = url_user_id(c->req);
    struct tk_user *cur;
    json_t *body;
    int rc = id ? tk_store_user_get(c->db, id, c->req->arena, &cur) : TK_ERR_NOTFOUND;
    if (rc == 0)
        rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct user_tx x = {.c = c, .body = body, .put = put, .id = id};
    rc = tk_store_write_tx(c->db, user_update_tx, &x);
    json_decref(body);
    return finish_write(c, &x, rc, 200);
}

struct delete_audit {
    struct tk_ctx *c;
    struct tk_audit_actor actor;
    int64_t user_id;
    struct tk_user *owner; /* for the webhook messages, read with the first batch */
};

/* authentik records model_deleted for each token that goes with a user (Django's cascade sends
 * each one's post_delete): the same here, one event per token, written a batch per statement
 * (README "Deleting a user with many tokens"). */
static int audit_deleted_tokens(void *arg, struct tk_db *db, const struct tk_token *t, size_t n,
                                struct tk_arena *a)
{
    struct delete_audit *d = arg;
    struct tk_event *ev = tk_arena_calloc(a, n, sizeof(*ev));
    if (ev == NULL)
        return TK_ERR_NOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = tk_audit_token_event(d->c, &d->actor, "model_deleted", TK_APP_AUDIT, "model", &t[i], a,
                                  &ev[i]);
    if (rc == 0)
        rc = tk_store_events_insert(db, ev, n);
    /* token.deleted for each (docs/api.md §21.3), the owner read once while it still exists */
    bool wanted = false;
    if (rc == 0)
        rc = tk_store_outbox_wanted(db, "token.deleted", &wanted);
    if (rc == 0 && wanted && d->owner == NULL) {
        size_t got = 0;
        rc = tk_store_users_get(db, &d->user_id, 1, false, d->c->req->arena, &d->owner, &got);
        if (rc == 0 && got == 0)
            d->owner = NULL;
    }
    for (size_t i = 0; rc == 0 && wanted && i < n; i++) {
        struct tk_token x = t[i];
        x.user_id = d->user_id;
        x.user = d->owner;
        rc = tk_notify_token(db, a, d->c->now, "token.deleted", &x, d->c->who.user_id, NULL);
    }
    return rc;
}

static int user_delete_tx(struct tk_db *db, void *arg)
{
    struct tk_ctx *c = arg;
    int64_t id = url_user_id(c->req);
    if (id == 0)
        return TK_ERR_NOTFOUND;
    struct delete_audit d = {.c = c, .user_id = id};
    int rc = tk_audit_actor(c, c->req->arena, &d.actor);
    return rc ? rc : tk_store_user_delete(db, id, audit_deleted_tokens, &d);
}

static int users_delete(struct tk_ctx *c)
{
    int rc = tk_store_write_tx(c->db, user_delete_tx, c);
    if (rc)
        return rc;
    c->res->status = 204;
    c->res->empty = true;
    return 0;
}

static int users_retrieve(struct tk_ctx *c)
{
    int64_t id = url_user_id(c->req);
    return id ? respond_user(c, id, 200) : TK_ERR_NOTFOUND;
}

static int users_collection(struct tk_ctx *c)
{
    return c->req->method == TK_M_POST ? users_create(c) : users_list(c);
}

static int users_detail(struct tk_ctx *c)
{
    switch (c->req->method) {
    case TK_M_PUT: return users_update(c, true);
    case TK_M_PATCH: return users_update(c, false);
    case TK_M_DELETE: return users_delete(c);
    default: return users_retrieve(c);
    }
}

void tk_api_users_collection(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_POST, TK_API_SUPERUSER | USERS_SCOPES,
               users_collection);
}

void tk_api_users_detail(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_PUT | TK_M_PATCH | TK_M_DELETE,
               TK_API_SUPERUSER | USERS_SCOPES, users_detail);
}

/* ---- me/ ---- */

/* system_permissions, a parity stub on purpose: authentik lists the user's RBAC permission
 * codenames, all of them for a superuser. tokend has no RBAC: a superuser gets these, anyone
 * else [] (what authentik answers for a user granted nothing) (docs/api.md). */
static const char *const superuser_permissions[] = {
    "access_admin_interface",
    "add_role",
    "assign_role_permissions",
    "change_role",
    "delete_role",
    "edit_system_settings",
    "unassign_role_permissions",
    "view_role",
    "view_system_info",
    "view_system_settings",
};

static int users_me(struct tk_ctx *c)
{
    struct tk_request *req = c->req;
    struct tk_response *res = c->res;
    /* The whole body is kept per thread for the snapshot read at authentication, before the
     * reads below (user_cache.h). */
    const struct tk_store_snapshot *snap = &c->snap;
    size_t cached_len;
    const char *cached = tk_user_cache_get(snap, c->who.user_id, TK_RENDER_ME, &cached_len);
    if (cached != NULL) {
        tk_buf_append(&res->body, cached, cached_len);
        res->status = 200;
        return 0;
    }
    struct tk_user *u;
    struct tk_group *groups;
    size_t n_groups;
    int rc = tk_store_read_begin(c->db);
    if (rc == 0) {
        rc = tk_store_user_get(c->db, c->who.user_id, req->arena, &u);
        if (rc == 0)
            rc = tk_store_user_effective_groups(c->db, u->id, req->arena, &groups, &n_groups);
        tk_store_read_end(c->db);
    }
    if (rc)
        return rc;
    /* settings: the "settings" object of the merged attributes (groups by name, then own) */
    const char **texts = tk_arena_calloc(req->arena, n_groups + 1, sizeof(*texts));
    if (texts == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n_groups; i++)
        texts[i] = groups[i].attributes;
    texts[n_groups] = u->attributes;
    json_t *merged = tk_attributes_merged(texts, n_groups + 1);
    json_t *settings = merged ? json_object_get(merged, "settings") : NULL;
    char *settings_text =
        settings && json_is_object(settings) ? json_dumps(settings, JSON_COMPACT) : NULL;

    struct tk_jw w;
    tk_jw_init(&w, &res->body);
    tk_jw_obj_begin(&w);
    tk_jw_key(&w, "user");
    tk_jw_obj_begin(&w);
    tk_jw_key(&w, "pk");
    tk_jw_int(&w, u->id);
    tk_jw_key(&w, "username");
    tk_jw_cstr(&w, u->username);
    tk_jw_key(&w, "name");
    tk_jw_cstr(&w, u->name);
    tk_jw_key(&w, "is_active");
    tk_jw_bool(&w, u->is_active);
    tk_jw_key(&w, "is_superuser");
    tk_jw_bool(&w, u->is_superuser);
    tk_jw_key(&w, "groups");
    tk_jw_arr_begin(&w);
    for (size_t i = 0; i < n_groups; i++) {
        tk_jw_obj_begin(&w);
        tk_jw_key(&w, "name");
        tk_jw_cstr(&w, groups[i].name);
        tk_jw_key(&w, "pk");
        tk_jw_cstr(&w, groups[i].uuid);
        tk_jw_obj_end(&w);
    }
    tk_jw_arr_end(&w);
    tk_jw_key(&w, "email");
    tk_jw_cstr(&w, u->email);
    tk_jw_key(&w, "avatar");
    struct tk_buf av;
    tk_buf_init(&av, TK_MAX_AVATAR_BYTES);
    if (tk_user_avatar(u, c->api->avatars, &av) == 0 && av.data)
        tk_jw_str(&w, av.data, av.len);
    else
        tk_jw_cstr(&w, TK_AVATAR_DEFAULT);
    tk_buf_free(&av);
    tk_jw_key(&w, "uid");
    char uid[65];
    tk_user_uid(u->id, tk_store_installation_id(c->api->store), uid);
    tk_jw_cstr(&w, uid);
    tk_jw_key(&w, "settings");
    if (settings_text)
        tk_jw_raw(&w, settings_text, strlen(settings_text));
    else
        tk_jw_raw(&w, "{}", 2);
    tk_jw_key(&w, "type");
    tk_jw_cstr(&w, u->type);
    tk_jw_key(&w, "system_permissions");
    tk_jw_arr_begin(&w);
    for (size_t i = 0;
         u->is_superuser && i < sizeof(superuser_permissions) / sizeof(superuser_permissions[0]);
         i++)
        tk_jw_cstr(&w, superuser_permissions[i]);
    tk_jw_arr_end(&w);
    tk_jw_obj_end(&w);
    tk_jw_obj_end(&w);
    free(settings_text);
    json_decref(merged);
    res->status = 200;
    if (res->body.err == 0)
        tk_user_cache_put(snap, c->who.user_id, TK_RENDER_ME, res->body.data, res->body.len);
    return 0;
}

void tk_api_users_me(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, 0, users_me);
}

/* ---- service_account/ ---- */

struct sa_tx {
    struct tk_ctx *c;
    const char *name;
    bool create_group, expiring;
    int64_t expires;
    int64_t user_id;
    char group_uuid[37];
    bool made_group;
    char key[TK_KEY_LENGTH_MAX + 1];
    const char *conflict; /* database error text for a 400 */
};

static int sa_tx(struct tk_db *db, void *arg)
{
    struct sa_tx *x = arg;
    struct tk_ctx *c = x->c;
    char uuid[37];
    const char *attrs = x->expiring ? "{\"goauthentik.io/user/token-expires\":true}"
                                    : "{\"goauthentik.io/user/token-expires\":false}";
    struct tk_user_new u = {.username = x->name,
                            .name = x->name,
                            .email = "",
                            .path = "goauthentik.io/service-accounts",
                            .type = "service_account",
                            .attributes = attrs,
                            .is_active = true};
    int rc = tk_store_user_create(db, &u, c->now, &x->user_id, uuid);
    if (rc == TK_ERR_CONFLICT) {
        x->conflict = "duplicate key value violates unique constraint "
                      "\"authentik_core_user_username_key\"";
        return rc;
    }
    if (rc)
        return rc;
    if (x->create_group) {
        int64_t gid;
        struct tk_group_write g = {.name = x->name,
                                   .attributes = "{}",
                                   .set_users = true,
                                   .n_users = 1,
                                   .user_ids = &x->user_id};
        rc = tk_store_group_insert(db, &g, c->now, &gid, x->group_uuid);
        if (rc == TK_ERR_CONFLICT) {
            x->conflict = "duplicate key value violates unique constraint "
                          "\"authentik_core_group_name_key\"";
            return rc;
        }
        if (rc)
            return rc;
        x->made_group = true;
    }
    struct tk_buf ident;
    tk_buf_init(&ident, TK_MAX_TEXT_BYTES);
    tk_buf_printf(&ident, "service-account-%s-password", x->name);
    const char *identifier = ident.err ? NULL : tk_slugify(c->req->arena, ident.data);
    tk_buf_free(&ident);
    if (identifier == NULL)
        return TK_ERR_NOMEM;
    char tuuid[37];
    tk_uuid4(tuuid);
    struct tk_token_new tn = {.uuid = tuuid,
                              .identifier = identifier,
                              .intent = "app_password",
                              .description = "",
                              .user_id = x->user_id,
                              .has_expires = true,
                              .expires = x->expires,
                              .expiring = x->expiring,
                              .view_key = c->api->view_key};
    struct tk_buf sealed;
    rc = tk_token_mint(&c->api->secret, c->api->key_length, NULL, 0, &tn, &sealed, x->key);
    int64_t tid = 0;
    if (rc == 0)
        rc = tk_store_token_insert(db, &tn, c->now, &tid);
    tk_buf_free(&sealed);
    if (rc == TK_ERR_CONFLICT) {
        x->conflict = "duplicate key value violates unique constraint "
                      "\"authentik_core_token_identifier_key\"";
        return rc;
    }
    if (rc)
        return rc;
    struct tk_token t = {.id = tid,
                         .identifier = identifier,
                         .intent = "app_password",
                         .user_id = x->user_id,
                         .description = "",
                         .has_expires = true,
                         .expires = x->expires,
                         .expiring = x->expiring};
    memcpy(t.uuid, tuuid, sizeof(tuuid));
    return tk_audit_token(c, "model_created", TK_APP_AUDIT, "model", &t);
}

static int users_service_account(struct tk_ctx *c)
{
    struct tk_response *res = c->res;
    json_t *body;
    int rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct tk_field_errors *fe = &c->fe;
    struct sa_tx x = {.c = c, .expiring = true, .expires = c->now + 360LL * 86400 * 1000000};
    const struct tk_char_opts no = {.required = true, .max_length = 150};
    enum tk_field_state ns = tk_field_char(c, body, "name", &no, fe, &x.name);
    if (ns == TK_FIELD_SET) {
        bool taken = false;
        rc = tk_store_username_taken(c->db, x.name, 0, &taken);
        if (rc == 0 && taken)
            tk_field_errors_add(fe, "name", TK_MSG_UNIQUE);
    }
    if (rc == 0) {
        (void)tk_field_bool(body, "create_group", false, fe, &x.create_group);
        (void)tk_field_bool(body, "expiring", false, fe, &x.expiring);
        (void)tk_field_datetime(body, "expires", false, fe, &x.expires);
    }
    json_decref(body);
    if (rc)
        return rc;
    if (tk_field_errors_any(fe))
        return TK_ERR_FIELDS;
    rc = tk_store_write_tx(c->db, sa_tx, &x);
    if (rc) {
        sodium_memzero(x.key, sizeof(x.key));
        if (rc == TK_ERR_CONFLICT && x.conflict != NULL) {
            tk_field_errors_add(fe, "non_field_errors", x.conflict);
            return TK_ERR_FIELDS;
        }
        return rc;
    }
    char uid[65];
    tk_user_uid(x.user_id, tk_store_installation_id(c->api->store), uid);
    res->body.wipe = true; /* the answer holds the new key: zeroed when freed */
    struct tk_jw w;
    tk_jw_init(&w, &res->body);
    tk_jw_obj_begin(&w);
    tk_jw_key(&w, "username");
    tk_jw_cstr(&w, x.name);
    tk_jw_key(&w, "user_uid");
    tk_jw_cstr(&w, uid);
    tk_jw_key(&w, "user_pk");
    tk_jw_int(&w, x.user_id);
    if (x.made_group) {
        tk_jw_key(&w, "group_pk");
        tk_jw_cstr(&w, x.group_uuid);
    }
    tk_jw_key(&w, "token");
    tk_jw_cstr(&w, x.key);
    tk_jw_obj_end(&w);
    sodium_memzero(x.key, sizeof(x.key));
    res->status = 200;
    return 0;
}

void tk_api_users_service_account(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_POST, TK_API_SUPERUSER | USERS_SCOPES, users_service_account);
}

/* ---- {id}/recovery/ and {id}/used_by/ ---- */

static int users_recovery(struct tk_ctx *c)
{
    int64_t id = url_user_id(c->req);
    struct tk_user *u;
    int rc = id ? tk_store_user_get(c->db, id, c->req->arena, &u) : TK_ERR_NOTFOUND;
    if (rc)
        return rc;
    /* Parity stub, on purpose: tokend has no flows, and authentik with no recovery flow set on
     * the brand answers exactly this (the value a bare string, not a list). A client gets what
     * authentik would tell it, and no recovery token is ever made (docs/api.md). */
    return tk_api_refuse_body(c, 400, "{\"non_field_errors\":\"No recovery flow set.\"}");
}

void tk_api_users_recovery(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_POST, TK_API_SUPERUSER | USERS_SCOPES, users_recovery);
}

static int users_used_by(struct tk_ctx *c)
{
    struct tk_request *req = c->req;
    struct tk_response *res = c->res;
    int64_t id = url_user_id(req);
    struct tk_user *u;
    struct tk_token *tokens = NULL;
    size_t n = 0;
    int rc = id ? tk_store_user_get(c->db, id, req->arena, &u) : TK_ERR_NOTFOUND;
    if (rc == 0)
        rc = tk_store_user_tokens(c->db, id, req->arena, &tokens, &n);
    if (rc)
        return rc;
    struct tk_jw w;
    tk_jw_init(&w, &res->body);
    tk_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++)
        tk_json_used_by_token(&w, &tokens[i]);
    tk_jw_arr_end(&w);
    res->status = 200;
    return 0;
}

void tk_api_users_used_by(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, TK_API_SUPERUSER | USERS_SCOPES, users_used_by);
}
