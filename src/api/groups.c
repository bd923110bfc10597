/* /api/v3/core/groups/ (docs/api.md §14.2): list, create, retrieve, update, delete, add_user/,
 * remove_user/, used_by/, by group UUID. Superusers only. The group tree never gets a cycle. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/listing.h"
#include "api/messages.h"
#include "api/serialize.h"
#include "domain/user.h"
#include "util/uuid.h"

/* docs/api.md §19.2 */
#define GROUPS_SCOPES TK_API_SCOPES(TK_SCOPE_GROUPS_READ, TK_SCOPE_GROUPS_WRITE)

static const struct tk_order_name group_order[] = {
    {"pk", TK_GF_PK},
    {"name", TK_GF_NAME},
    {"is_superuser", TK_GF_IS_SUPERUSER},
    {"parent", TK_GF_PARENT},
    {"attributes", TK_GF_ATTRIBUTES},
};

static void group_json(struct tk_jw *w, const struct tk_api *api, const struct tk_group_full *g,
                       bool include_users)
{
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "pk");
    tk_jw_cstr(w, g->g.uuid);
    tk_jw_keyl(w, "num_pk");
    tk_jw_int(w, tk_group_num_pk(g->g.uuid));
    tk_jw_keyl(w, "name");
    tk_jw_cstr(w, g->g.name);
    tk_jw_keyl(w, "is_superuser");
    tk_jw_bool(w, g->g.is_superuser);
    tk_jw_keyl(w, "parent");
    tk_jw_cstr(w, g->g.has_parent ? g->g.parent_uuid : NULL);
    tk_jw_keyl(w, "parent_name");
    tk_jw_cstr(w, g->g.has_parent ? g->g.parent_name : NULL);
    tk_jw_keyl(w, "users");
    tk_jw_arr_begin(w);
    for (size_t i = 0; i < g->n_users; i++)
        tk_jw_int(w, g->users[i].id);
    tk_jw_arr_end(w);
    tk_jw_keyl(w, "users_obj");
    if (include_users) {
        tk_jw_arr_begin(w);
        for (size_t i = 0; i < g->n_users; i++) {
            const struct tk_user *u = &g->users[i];
            tk_jw_obj_begin(w);
            tk_jw_keyl(w, "pk");
            tk_jw_int(w, u->id);
            tk_jw_keyl(w, "username");
            tk_jw_cstr(w, u->username);
            tk_jw_keyl(w, "name");
            tk_jw_cstr(w, u->name);
            tk_jw_keyl(w, "is_active");
            tk_jw_bool(w, u->is_active);
            tk_jw_keyl(w, "last_login");
            if (u->has_last_login)
                tk_jw_time(w, u->last_login);
            else
                tk_jw_null(w);
            tk_jw_keyl(w, "email");
            tk_jw_cstr(w, u->email);
            tk_jw_keyl(w, "attributes");
            tk_jw_raw(w, u->attributes, strlen(u->attributes));
            tk_jw_keyl(w, "uid");
            char uid[65];
            tk_user_uid(u->id, tk_store_installation_id(api->store), uid);
            tk_jw_cstr(w, uid);
            tk_jw_obj_end(w);
        }
        tk_jw_arr_end(w);
    } else {
        tk_jw_null(w);
    }
    tk_jw_keyl(w, "attributes");
    tk_jw_raw(w, g->g.attributes, strlen(g->g.attributes));
    /* Parity stub, on purpose: tokend keeps no RBAC roles, and authentik answers [] for a group
     * assigned none, which every group here is (docs/api.md). */
    tk_jw_keyl(w, "roles");
    tk_jw_raw(w, "[]", 2);
    tk_jw_keyl(w, "roles_obj");
    tk_jw_raw(w, "[]", 2);
    tk_jw_obj_end(w);
}

/* A whole positive integer as Python int() reads it (surrounding whitespace allowed). */
static bool parse_id(const char *s, size_t len, int64_t *out)
{
    size_t st, sl;
    tk_strip(s, len, &st, &sl);
    if (sl == 0 || sl > 18)
        return false;
    int64_t v = 0;
    for (size_t i = st; i < st + sl; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int member_by_pk(struct tk_ctx *c, const char *v, size_t len, int64_t *id)
{
    bool exists = false;
    if (!parse_id(v, len, id))
        return TK_ERR_INVALID;
    int rc = tk_store_user_exists(c->db, *id, &exists);
    return rc ? rc : exists ? 0 : TK_ERR_NOTFOUND;
}

static int member_by_username(struct tk_ctx *c, const char *v, size_t len, int64_t *id)
{
    return tk_store_user_find(c->db, v, id);
}

static int count_groups(struct tk_ctx *c, struct tk_db *db, void *query, int64_t *count)
{
    return tk_store_group_count(db, query, c->req->arena, count);
}

struct group_page {
    struct tk_group_full *groups;
    size_t n;
};

static int fetch_groups(struct tk_ctx *c, struct tk_db *db, void *query,
                        const struct tk_pagination *pg, void *page)
{
    struct group_page *p = page;
    return tk_store_group_list(db, query, pg->offset, pg->page_size, c->req->arena, &p->groups,
                               &p->n);
}

static void write_groups(struct tk_ctx *c, struct tk_jw *w, void *query, void *page)
{
    struct group_page *p = page;
    bool include_users = tk_include_groups_param(c->req, "include_users");
    for (size_t i = 0; i < p->n; i++)
        group_json(w, c->api, &p->groups[i], include_users);
}

#define Q(field) offsetof(struct tk_group_query, field)
/* authentik's GroupFilter, in its field order (docs/api.md §14.2). */
static const struct tk_filter group_filters[] = {
    {.name = "name", .kind = TK_FILTER_TEXT, .at = Q(name)},
    {.name = "is_superuser", .kind = TK_FILTER_BOOL, .at = Q(is_superuser)},
    {.name = "members_by_pk",
     .kind = TK_FILTER_ID_SET,
     .at = Q(member_sets[0]),
     .resolve = member_by_pk,
     .malformed = "is not a valid value."},
    {.name = "members_by_username",
     .kind = TK_FILTER_ID_SET,
     .at = Q(member_sets[1]),
     .resolve = member_by_username,
     .malformed = ""},
};

static const struct tk_order group_default_order[] = {{TK_GF_NAME, false}};

static const struct tk_list_spec group_list = {
    TK_LIST_FILTERS(group_filters),
    TK_LIST_ATTRIBUTES(struct tk_group_query),
    TK_LIST_SEARCH(struct tk_group_query),
    TK_LIST_ORDERING(struct tk_group_query, group_order, group_default_order),
    .count = count_groups,
    .fetch = fetch_groups,
    .write = write_groups,
};
#undef Q

static int groups_list(struct tk_ctx *c)
{
    struct tk_group_query gq;
    memset(&gq, 0, sizeof(gq));
    struct group_page page = {0};
    return tk_list_run(c, &group_list, &gq, &page);
}

/* ---- validation (GroupSerializer) ---- */

struct group_input {
    enum tk_field_state name_s, is_superuser_s, parent_s, users_s, attributes_s, roles_s;
    const char *name, *attributes;
    bool is_superuser;
    int64_t parent_id;
    int64_t *user_ids;
    size_t n_users;
};

static void msg(struct tk_field_errors *fe, const char *field, struct tk_buf *m)
{
    tk_field_errors_add_n(fe, field, m->data ? m->data : "", m->len);
    tk_buf_free(m);
}

static const char *py_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "str";
    case JSON_INTEGER: return "int";
    case JSON_REAL: return "float";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_ARRAY: return "list";
    case JSON_OBJECT: return "dict";
    default: return "NoneType";
    }
}

static int parse_group(struct tk_ctx *c, json_t *obj, bool required,
                       const struct tk_group_full *existing, struct group_input *in,
                       struct tk_field_errors *fe)
{
    memset(in, 0, sizeof(*in));
    int64_t self = existing ? existing->g.id : 0;
    int rc;
    struct tk_buf m;
    const struct tk_char_opts no = {.required = required};
    in->name_s = tk_field_char(c, obj, "name", &no, fe, &in->name);
    if (in->name_s == TK_FIELD_SET) {
        bool taken;
        if ((rc = tk_store_group_name_taken(c->db, in->name, self, &taken)) != 0)
            return rc;
        if (taken) {
            tk_field_errors_add(fe, "name", "Group with this name already exists.");
            in->name_s = TK_FIELD_INVALID;
        }
    }
    in->is_superuser_s = tk_field_bool(obj, "is_superuser", false, fe, &in->is_superuser);

    json_t *pv = json_object_get(obj, "parent");
    in->parent_s = TK_FIELD_ABSENT;
    if (pv != NULL && json_is_null(pv)) {
        in->parent_s = TK_FIELD_NULL;
    } else if (pv != NULL) {
        in->parent_s = TK_FIELD_INVALID;
        char uuid[37];
        tk_buf_init(&m, TK_MAX_TEXT_BYTES);
        if (!json_is_string(pv)) {
            tk_buf_printf(&m, TK_MSG_PK_TYPE, py_type(pv));
            msg(fe, "parent", &m);
        } else if (!tk_uuid_parse(json_string_value(pv), json_string_length(pv), uuid)) {
            tk_buf_puts(&m, "\xe2\x80\x9c");
            tk_buf_append(&m, json_string_value(pv), json_string_length(pv));
            tk_buf_puts(&m, "\xe2\x80\x9d is not a valid UUID.");
            msg(fe, "parent", &m);
        } else if ((rc = tk_store_group_find_uuid(c->db, uuid, &in->parent_id)) ==
                   TK_ERR_NOTFOUND) {
            tk_buf_puts(&m, TK_MSG_PK_MISSING_PREFIX);
            tk_buf_append(&m, json_string_value(pv), json_string_length(pv));
            tk_buf_puts(&m, TK_MSG_PK_MISSING_SUFFIX);
            msg(fe, "parent", &m);
        } else if (rc) {
            tk_buf_free(&m);
            return rc;
        } else if (existing && in->parent_id == existing->g.id) {
            tk_buf_free(&m);
            tk_field_errors_add(fe, "parent", "Cannot set group as parent of itself.");
        } else {
            bool cycle = false;
            if (existing && (rc = tk_store_group_would_cycle(c->db, existing->g.id, in->parent_id,
                                                             &cycle)) != 0) {
                tk_buf_free(&m);
                return rc;
            }
            tk_buf_free(&m);
            if (cycle)
                tk_field_errors_add(fe, "parent",
                                    "Cannot set group as parent of one of its descendants.");
            else
                in->parent_s = TK_FIELD_SET;
        }
    }

    json_t *uv = json_object_get(obj, "users");
    in->users_s = TK_FIELD_ABSENT;
    if (uv != NULL) {
        in->users_s = TK_FIELD_INVALID;
        tk_buf_init(&m, TK_MAX_TEXT_BYTES);
        if (json_is_null(uv)) {
            tk_buf_free(&m);
            tk_field_errors_add(fe, "users", TK_MSG_NULL);
        } else if (!json_is_array(uv)) {
            tk_buf_printf(&m, "Expected a list of items but got type \"%s\".", py_type(uv));
            msg(fe, "users", &m);
        } else {
            size_t n = json_array_size(uv);
            in->user_ids = tk_arena_calloc(c->req->arena, n ? n : 1, sizeof(int64_t));
            if (in->user_ids == NULL) {
                tk_buf_free(&m);
                return TK_ERR_NOMEM;
            }
            bool bad = false;
            for (size_t i = 0; i < n && !bad; i++) {
                json_t *item = json_array_get(uv, i);
                int64_t id = 0;
                bool ok = json_is_integer(item);
                if (ok)
                    id = json_integer_value(item);
                else if (json_is_string(item))
                    ok = parse_id(json_string_value(item), json_string_length(item), &id);
                if (!ok) {
                    tk_buf_printf(&m, TK_MSG_PK_TYPE, py_type(item));
                    bad = true;
                    break;
                }
                bool exists = false;
                if (id > 0 && (rc = tk_store_user_exists(c->db, id, &exists)) != 0) {
                    tk_buf_free(&m);
                    return rc;
                }
                if (!exists) {
                    const char *shown = tk_py_str(c->req->arena, item);
                    tk_buf_printf(&m, TK_MSG_PK_MISSING, shown ? shown : "");
                    bad = true;
                    break;
                }
                in->user_ids[in->n_users++] = id;
            }
            if (bad) {
                msg(fe, "users", &m);
            } else {
                tk_buf_free(&m);
                in->users_s = TK_FIELD_SET;
            }
        }
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

    /* roles, a parity stub on purpose: tokend keeps no roles, so every role given is unknown
     * and gets authentik's answer for an unknown role (docs/api.md) */
    json_t *rv = json_object_get(obj, "roles");
    if (rv != NULL) {
        tk_buf_init(&m, TK_MAX_TEXT_BYTES);
        if (json_is_null(rv)) {
            tk_buf_free(&m);
            tk_field_errors_add(fe, "roles", TK_MSG_NULL);
        } else if (!json_is_array(rv)) {
            tk_buf_printf(&m, "Expected a list of items but got type \"%s\".", py_type(rv));
            msg(fe, "roles", &m);
        } else if (json_array_size(rv) > 0) {
            json_t *item = json_array_get(rv, 0);
            char uuid[37];
            if (!json_is_string(item)) {
                tk_buf_printf(&m, TK_MSG_PK_TYPE, py_type(item));
            } else if (!tk_uuid_parse(json_string_value(item), json_string_length(item), uuid)) {
                tk_buf_puts(&m, "\xe2\x80\x9c");
                tk_buf_append(&m, json_string_value(item), json_string_length(item));
                tk_buf_puts(&m, "\xe2\x80\x9d is not a valid UUID.");
            } else {
                tk_buf_puts(&m, TK_MSG_PK_MISSING_PREFIX);
                tk_buf_append(&m, json_string_value(item), json_string_length(item));
                tk_buf_puts(&m, TK_MSG_PK_MISSING_SUFFIX);
            }
            msg(fe, "roles", &m);
        } else {
            tk_buf_free(&m);
        }
    }
    return 0;
}

static void apply_group(const struct group_input *in, struct tk_group_write *w)
{
    if (in->name_s == TK_FIELD_SET)
        w->name = in->name;
    if (in->is_superuser_s == TK_FIELD_SET)
        w->is_superuser = in->is_superuser;
    if (in->parent_s == TK_FIELD_SET)
        w->parent_id = in->parent_id;
    else if (in->parent_s == TK_FIELD_NULL)
        w->parent_id = 0;
    if (in->users_s == TK_FIELD_SET) {
        w->set_users = true;
        w->user_ids = in->user_ids;
        w->n_users = in->n_users;
    }
    if (in->attributes_s == TK_FIELD_SET)
        w->attributes = in->attributes;
}

struct group_tx {
    struct tk_ctx *c;
    json_t *body;
    bool put;
    int64_t id;
    char uuid[37];
};

static int group_create_tx(struct tk_db *db, void *arg)
{
    struct group_tx *x = arg;
    struct group_input in;
    int rc = parse_group(x->c, x->body, true, NULL, &in, &x->c->fe);
    if (rc || tk_field_errors_any(&x->c->fe))
        return rc ? rc : TK_ERR_INVALID;
    struct tk_group_write w = {.attributes = "{}"};
    apply_group(&in, &w);
    return tk_store_group_insert(db, &w, x->c->now, &x->id, x->uuid);
}

static int group_update_tx(struct tk_db *db, void *arg)
{
    struct group_tx *x = arg;
    struct tk_group_full *cur;
    int64_t gid;
    int rc = tk_store_group_find_uuid(db, x->uuid, &gid);
    if (rc == 0)
        rc = tk_store_group_lock(db, gid); /* see user_update_tx */
    if (rc == 0)
        rc = tk_store_group_get(db, x->uuid, x->c->req->arena, &cur);
    if (rc)
        return rc;
    struct group_input in;
    if ((rc = parse_group(x->c, x->body, x->put, cur, &in, &x->c->fe)) != 0 ||
        tk_field_errors_any(&x->c->fe))
        return rc ? rc : TK_ERR_INVALID;
    int64_t parent_id = 0;
    if (cur->g.has_parent && (rc = tk_store_group_find_uuid(db, cur->g.parent_uuid, &parent_id)))
        return rc;
    struct tk_group_write w = {.name = cur->g.name,
                               .is_superuser = cur->g.is_superuser,
                               .parent_id = parent_id,
                               .attributes = cur->g.attributes};
    apply_group(&in, &w);
    x->id = cur->g.id;
    return tk_store_group_update(db, cur->g.id, &w);
}

static bool url_group_uuid(const struct tk_request *req, char out[37])
{
    return tk_uuid_parse(req->params[0], strlen(req->params[0]), out);
}

static int respond_group(struct tk_ctx *c, const char *uuid, int status)
{
    struct tk_group_full *g;
    int rc = tk_store_group_get(c->db, uuid, c->req->arena, &g);
    if (rc)
        return rc;
    struct tk_jw w;
    tk_jw_init(&w, &c->res->body);
    group_json(&w, c->api, g, tk_include_groups_param(c->req, "include_users"));
    c->res->status = status;
    return 0;
}

/* The outcome of a create or update transaction: its field errors, a name taken by a
 * concurrent write between check and write, or the group as it is now. */
static int finish_write(struct tk_ctx *c, struct group_tx *x, int rc, int status)
{
    if (tk_field_errors_any(&c->fe))
        return TK_ERR_FIELDS;
    if (rc == TK_ERR_CONFLICT) {
        tk_field_errors_add(&c->fe, "name", "Group with this name already exists.");
        return TK_ERR_FIELDS;
    }
    return rc ? rc : respond_group(c, x->uuid, status);
}

static int groups_create(struct tk_ctx *c)
{
    json_t *body;
    int rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct group_tx x = {.c = c, .body = body};
    rc = tk_store_write_tx(c->db, group_create_tx, &x);
    json_decref(body);
    return finish_write(c, &x, rc, 201);
}

static int groups_update(struct tk_ctx *c, bool put)
{
    struct group_tx x = {.c = c, .put = put};
    int64_t id;
    int rc = url_group_uuid(c->req, x.uuid) ? tk_store_group_find_uuid(c->db, x.uuid, &id)
                                            : TK_ERR_NOTFOUND;
    if (rc == 0)
        rc = tk_body_object(c, &x.body);
    if (rc)
        return rc;
    rc = tk_store_write_tx(c->db, group_update_tx, &x);
    json_decref(x.body);
    return finish_write(c, &x, rc, 200);
}

static int groups_delete(struct tk_ctx *c)
{
    char uuid[37];
    int64_t id;
    int rc =
        url_group_uuid(c->req, uuid) ? tk_store_group_find_uuid(c->db, uuid, &id) : TK_ERR_NOTFOUND;
    if (rc == 0)
        rc = tk_store_group_delete(c->db, id);
    if (rc)
        return rc;
    c->res->status = 204;
    c->res->empty = true;
    return 0;
}

static int groups_collection(struct tk_ctx *c)
{
    return c->req->method == TK_M_POST ? groups_create(c) : groups_list(c);
}

static int groups_detail(struct tk_ctx *c)
{
    char uuid[37];
    switch (c->req->method) {
    case TK_M_PUT: return groups_update(c, true);
    case TK_M_PATCH: return groups_update(c, false);
    case TK_M_DELETE: return groups_delete(c);
    default: return url_group_uuid(c->req, uuid) ? respond_group(c, uuid, 200) : TK_ERR_NOTFOUND;
    }
}

void tk_api_groups_collection(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_POST, TK_API_SUPERUSER | GROUPS_SCOPES,
               groups_collection);
}

void tk_api_groups_detail(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_PUT | TK_M_PATCH | TK_M_DELETE,
               TK_API_SUPERUSER | GROUPS_SCOPES, groups_detail);
}

static int membership(struct tk_ctx *c, bool add)
{
    char uuid[37];
    int64_t gid, uid = 0;
    int rc = url_group_uuid(c->req, uuid) ? tk_store_group_find_uuid(c->db, uuid, &gid)
                                          : TK_ERR_NOTFOUND;
    json_t *body;
    if (rc == 0)
        rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    json_t *pv = json_object_get(body, "pk");
    bool ok = false, exists = false;
    if (json_is_integer(pv)) {
        uid = json_integer_value(pv);
        ok = true;
    } else if (json_is_string(pv)) {
        ok = parse_id(json_string_value(pv), json_string_length(pv), &uid);
    }
    json_decref(body);
    if (ok && uid > 0 && (rc = tk_store_user_exists(c->db, uid, &exists)) != 0)
        return rc;
    if (!exists)
        return TK_ERR_NOTFOUND; /* authentik: Http404 for an unknown user */
    rc = add ? tk_store_membership_add(c->db, uid, gid)
             : tk_store_membership_remove(c->db, uid, gid);
    if (rc)
        return rc;
    c->res->status = 204;
    c->res->empty = true;
    return 0;
}

static int add_user(struct tk_ctx *c)
{
    return membership(c, true);
}

static int remove_user(struct tk_ctx *c)
{
    return membership(c, false);
}

void tk_api_groups_add_user(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_POST, TK_API_SUPERUSER | GROUPS_SCOPES, add_user);
}

void tk_api_groups_remove_user(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_POST, TK_API_SUPERUSER | GROUPS_SCOPES, remove_user);
}

static int groups_used_by(struct tk_ctx *c)
{
    struct tk_request *req = c->req;
    struct tk_response *res = c->res;
    char uuid[37];
    struct tk_group_full *g;
    struct tk_group *children = NULL;
    size_t n_children = 0;
    int rc = url_group_uuid(req, uuid) ? tk_store_group_get(c->db, uuid, req->arena, &g)
                                       : TK_ERR_NOTFOUND;
    if (rc == 0)
        rc = tk_store_group_children(c->db, g->g.id, req->arena, &children, &n_children);
    if (rc)
        return rc;
    /* what refers to this group: child groups (their parent is cleared on delete) and members
     * (the membership goes with the group) */
    struct tk_jw w;
    tk_jw_init(&w, &res->body);
    tk_jw_arr_begin(&w);
    for (size_t i = 0; i < n_children; i++) {
        tk_jw_obj_begin(&w);
        tk_jw_key(&w, "app");
        tk_jw_cstr(&w, "authentik_core");
        tk_jw_key(&w, "model_name");
        tk_jw_cstr(&w, "group");
        tk_jw_key(&w, "pk");
        tk_jw_cstr(&w, children[i].uuid);
        tk_jw_key(&w, "name");
        tk_jw_cstr(&w, children[i].name);
        tk_jw_key(&w, "action");
        tk_jw_cstr(&w, "set_null");
        tk_jw_obj_end(&w);
    }
    for (size_t i = 0; i < g->n_users; i++) {
        char pk[24];
        snprintf(pk, sizeof(pk), "%lld", (long long)g->users[i].id);
        tk_jw_obj_begin(&w);
        tk_jw_key(&w, "app");
        tk_jw_cstr(&w, "authentik_core");
        tk_jw_key(&w, "model_name");
        tk_jw_cstr(&w, "user");
        tk_jw_key(&w, "pk");
        tk_jw_cstr(&w, pk);
        tk_jw_key(&w, "name");
        tk_jw_cstr(&w, g->users[i].username);
        tk_jw_key(&w, "action");
        tk_jw_cstr(&w, "cascade_many");
        tk_jw_obj_end(&w);
    }
    tk_jw_arr_end(&w);
    res->status = 200;
    return 0;
}

void tk_api_groups_used_by(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, TK_API_SUPERUSER | GROUPS_SCOPES, groups_used_by);
}
