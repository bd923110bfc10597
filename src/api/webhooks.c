/* /api/v3/tokend/webhooks/ (docs/api.md §21.1, §21.2): the receivers of token messages, for
 * superusers only, and each receiver's recent delivery attempts. The secret is made here, sealed
 * with the server secret for the store, and shown in the create answer only. */
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "api/api.h"
#include "api/body.h"
#include "api/listing.h"
#include "api/messages.h"
#include "api/serialize.h"
#include "crypto/webhook_sign.h"
#include "domain/token_settings.h"
#include "domain/webhook.h"
#include "util/limits.h"
#include "util/uuid.h"

#define MSG_URL "Enter a valid http or https URL of at most 2048 characters."
#define MSG_TYPES "Expected null or a list of event types."
#define MSG_TYPE_PREFIX "Unknown event type "

/* ---- the object ---- */

/* The receiver, keys in the order of docs/api.md §21.1; secret only on create. */
static void write_webhook(struct tk_jw *w, const struct tk_webhook *x, const char *secret)
{
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "pk");
    tk_jw_cstr(w, x->uuid);
    tk_jw_keyl(w, "url");
    tk_jw_cstr(w, x->url);
    tk_jw_keyl(w, "event_types");
    tk_json_word_list(w, x->event_types);
    tk_jw_keyl(w, "enabled");
    tk_jw_bool(w, x->enabled);
    tk_jw_keyl(w, "description");
    tk_jw_cstr(w, x->description);
    tk_jw_keyl(w, "created");
    tk_jw_time(w, x->created);
    if (secret != NULL) {
        tk_jw_keyl(w, "secret");
        tk_jw_cstr(w, secret);
    }
    tk_jw_obj_end(w);
}

/* ---- fields ---- */

static void read_url(struct tk_ctx *c, json_t *body, bool required, struct tk_webhook *w)
{
    json_t *v = json_object_get(body, "url");
    if (v == NULL) {
        if (required)
            tk_field_errors_add(&c->fe, "url", TK_MSG_REQUIRED);
        return;
    }
    if (json_is_null(v)) {
        tk_field_errors_add(&c->fe, "url", TK_MSG_NULL);
        return;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        !tk_webhook_url_valid(json_string_value(v), json_string_length(v))) {
        tk_field_errors_add(&c->fe, "url", MSG_URL);
        return;
    }
    w->url = tk_arena_strndup(c->req->arena, json_string_value(v), json_string_length(v));
    if (w->url == NULL)
        c->fe.nomem = true;
}

/* event_types: null, or a list of known types: de-duplicated, sorted, space-joined. */
static void read_types(struct tk_ctx *c, json_t *body, struct tk_webhook *w)
{
    json_t *v = json_object_get(body, "event_types");
    if (v == NULL)
        return;
    if (json_is_null(v)) {
        w->event_types = NULL;
        return;
    }
    if (!json_is_array(v)) {
        tk_field_errors_add(&c->fe, "event_types", MSG_TYPES);
        return;
    }
    size_t n = json_array_size(v);
    if (n > TK_WEBHOOK_N_TYPES * 4) {
        tk_field_errors_add(&c->fe, "event_types", MSG_TYPES);
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
        if (!json_is_string(e) ||
            !tk_webhook_type_valid(json_string_value(e), json_string_length(e))) {
            tk_field_errors_add(&c->fe, "event_types", MSG_TYPES);
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
    tk_scopes_join(items, n, text); /* the same sorted, repeat-free text as a scopes list */
    w->event_types = text;
}

static void read_enabled(struct tk_ctx *c, json_t *body, struct tk_webhook *w)
{
    json_t *v = json_object_get(body, "enabled");
    if (v == NULL)
        return;
    if (!json_is_boolean(v)) {
        tk_field_errors_add(&c->fe, "enabled", TK_MSG_BOOLEAN);
        return;
    }
    w->enabled = json_is_true(v);
}

static void read_description(struct tk_ctx *c, json_t *body, struct tk_webhook *w)
{
    const struct tk_char_opts o = {.allow_blank = true, .max_length = TK_WEBHOOK_DESCRIPTION_MAX};
    const char *d = NULL;
    if (tk_field_char(c, body, "description", &o, &c->fe, &d) == TK_FIELD_SET)
        w->description = d;
}

static void read_fields(struct tk_ctx *c, json_t *body, bool create, struct tk_webhook *w)
{
    read_url(c, body, create, w);
    read_types(c, body, w);
    read_enabled(c, body, w);
    read_description(c, body, w);
}

/* ---- the list ---- */

struct webhook_page {
    struct tk_webhook *rows;
    size_t n;
};

static int count_webhooks(struct tk_ctx *c, struct tk_db *db, void *query, int64_t *count)
{
    return tk_store_webhook_count(db, count);
}

static int fetch_webhooks(struct tk_ctx *c, struct tk_db *db, void *query,
                          const struct tk_pagination *pg, void *page)
{
    struct webhook_page *p = page;
    return tk_store_webhook_list(db, pg->offset, pg->page_size, c->req->arena, &p->rows, &p->n);
}

static void write_webhooks(struct tk_ctx *c, struct tk_jw *w, void *query, void *page)
{
    struct webhook_page *p = page;
    for (size_t i = 0; i < p->n; i++)
        write_webhook(w, &p->rows[i], NULL);
}

static const struct tk_list_spec webhook_list = {
    .count = count_webhooks,
    .fetch = fetch_webhooks,
    .write = write_webhooks,
};

/* ---- create ---- */

struct create {
    struct tk_ctx *c;
    struct tk_webhook w;
    const char *secret;
};

static int create_tx(struct tk_db *db, void *arg)
{
    struct create *x = arg;
    struct tk_buf sealed;
    tk_buf_init(&sealed, TK_SEALED_KEY_MAX_BYTES);
    int rc = tk_key_seal(&x->c->api->secret, x->w.uuid, x->secret, strlen(x->secret), &sealed);
    if (rc == 0)
        rc = tk_store_webhook_insert(db, &x->w, sealed.data, sealed.len, &x->w.id);
    tk_buf_free(&sealed);
    return rc;
}

static int webhook_create(struct tk_ctx *c)
{
    json_t *body = NULL;
    int rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct create x = {.c = c, .w = {.enabled = true, .description = "", .created = c->now}};
    read_fields(c, body, true, &x.w);
    if (tk_field_errors_any(&c->fe)) {
        json_decref(body);
        return TK_ERR_FIELDS;
    }
    tk_uuid4(x.w.uuid);
    char secret[TK_WEBHOOK_SECRET_TEXT_MAX];
    tk_webhook_secret_new(secret);
    x.secret = secret;
    rc = tk_store_write_tx(c->db, create_tx, &x);
    json_decref(body);
    if (rc == 0) {
        c->res->body.wipe = true; /* the answer holds the secret */
        struct tk_jw w;
        tk_jw_init(&w, &c->res->body);
        write_webhook(&w, &x.w, secret);
        c->res->status = 201;
    }
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

/* ---- one receiver ---- */

static int lookup(struct tk_ctx *c, struct tk_db *db, struct tk_webhook **w)
{
    char uuid[37];
    if (!tk_uuid_parse(c->req->params[0], strlen(c->req->params[0]), uuid))
        return TK_ERR_NOTFOUND;
    return tk_store_webhook_get(db, uuid, c->req->arena, w);
}

static int answer(struct tk_ctx *c, const struct tk_webhook *w, int status)
{
    tk_buf_reset(&c->res->body);
    struct tk_jw jw;
    tk_jw_init(&jw, &c->res->body);
    write_webhook(&jw, w, NULL);
    c->res->status = status;
    return 0;
}

struct patch {
    struct tk_ctx *c;
    json_t *body;
    struct tk_webhook *w;
};

static int patch_tx(struct tk_db *db, void *arg)
{
    struct patch *x = arg;
    int rc = lookup(x->c, db, &x->w);
    if (rc)
        return rc;
    read_fields(x->c, x->body, false, x->w);
    if (tk_field_errors_any(&x->c->fe))
        return TK_ERR_FIELDS;
    return tk_store_webhook_update(db, x->w);
}

static int delete_tx(struct tk_db *db, void *arg)
{
    struct tk_ctx *c = arg;
    struct tk_webhook *w;
    int rc = lookup(c, db, &w);
    return rc ? rc : tk_store_webhook_delete(db, w->id);
}

static int webhook_detail(struct tk_ctx *c)
{
    struct tk_webhook *w = NULL;
    int rc;
    switch (c->req->method) {
    case TK_M_PATCH: {
        /* the receiver first (404 before any body error), as DRF's get_object */
        if ((rc = lookup(c, c->db, &w)) != 0)
            return rc;
        json_t *body = NULL;
        if ((rc = tk_body_object(c, &body)) != 0)
            return rc;
        struct patch x = {.c = c, .body = body};
        rc = tk_store_write_tx(c->db, patch_tx, &x);
        json_decref(body);
        return rc ? rc : answer(c, x.w, 200);
    }
    case TK_M_DELETE:
        if ((rc = tk_store_write_tx(c->db, delete_tx, c)) != 0)
            return rc;
        c->res->status = 204;
        c->res->empty = true;
        return 0;
    default: rc = lookup(c, c->db, &w); return rc ? rc : answer(c, w, 200);
    }
}

/* ---- deliveries ---- */

struct attempts_query {
    int64_t endpoint_id;
};

struct attempts_page {
    struct tk_webhook_attempt *rows;
    size_t n;
};

static int count_attempts(struct tk_ctx *c, struct tk_db *db, void *query, int64_t *count)
{
    struct attempts_query *q = query;
    return tk_store_webhook_attempt_count(db, q->endpoint_id, count);
}

static int fetch_attempts(struct tk_ctx *c, struct tk_db *db, void *query,
                          const struct tk_pagination *pg, void *page)
{
    struct attempts_query *q = query;
    struct attempts_page *p = page;
    return tk_store_webhook_attempts(db, q->endpoint_id, pg->offset, pg->page_size, c->req->arena,
                                     &p->rows, &p->n);
}

static void write_attempts(struct tk_ctx *c, struct tk_jw *w, void *query, void *page)
{
    struct attempts_page *p = page;
    for (size_t i = 0; i < p->n; i++) {
        const struct tk_webhook_attempt *a = &p->rows[i];
        tk_jw_obj_begin(w);
        tk_jw_keyl(w, "message_id");
        tk_jw_cstr(w, a->msg_id);
        tk_jw_keyl(w, "type");
        tk_jw_cstr(w, a->type);
        tk_jw_keyl(w, "attempt");
        tk_jw_int(w, a->attempt);
        tk_jw_keyl(w, "status");
        if (a->has_status)
            tk_jw_int(w, a->status);
        else
            tk_jw_null(w);
        tk_jw_keyl(w, "error");
        tk_jw_cstr(w, a->error);
        tk_jw_keyl(w, "created");
        tk_jw_time(w, a->at);
        tk_jw_obj_end(w);
    }
}

static const struct tk_list_spec attempt_list = {
    .count = count_attempts,
    .fetch = fetch_attempts,
    .write = write_attempts,
};

static int deliveries(struct tk_ctx *c)
{
    struct tk_webhook *w;
    int rc = lookup(c, c->db, &w);
    if (rc)
        return rc;
    struct attempts_query q = {.endpoint_id = w->id};
    struct attempts_page page = {0};
    return tk_list_run(c, &attempt_list, &q, &page);
}

static int collection(struct tk_ctx *c)
{
    if (c->req->method == TK_M_POST)
        return webhook_create(c);
    struct webhook_page page = {0};
    int none = 0;
    return tk_list_run(c, &webhook_list, &none, &page);
}

/* Superusers only, and no scoped token (no scope covers webhooks, docs/api.md §21.1). */
#define WEBHOOKS (TK_API_SUPERUSER | TK_API_UNSCOPED)

void tk_api_tokend_webhooks_collection(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_POST, WEBHOOKS, collection);
}

void tk_api_tokend_webhooks_detail(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_PATCH | TK_M_DELETE, WEBHOOKS, webhook_detail);
}

void tk_api_tokend_webhooks_deliveries(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, WEBHOOKS, deliveries);
}
