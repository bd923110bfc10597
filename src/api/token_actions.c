/* The token viewset's extra actions (docs/api.md §7.7-§7.9): view_key opens the sealed key,
 * set_key replaces it, used_by lists what references a token (nothing, in tokend). */
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <string.h>

#include "api/audit.h"
#include "api/body.h"
#include "api/messages.h"
#include "api/notify.h"
#include "api/tokens.h"
#include "domain/tokens.h"
#include "util/limits.h"
#include "json/writer.h"

static int view_key_tx(struct tk_db *db, void *arg)
{
    struct tk_ctx *c = arg;
    c->res->body.wipe = true;    /* the answer holds the key: zeroed when freed */
    tk_buf_reset(&c->res->body); /* the transaction may run again */
    struct tk_token *t;
    int rc = tk_tokens_lookup(c, &t);
    if (rc)
        return rc;
    if (!c->who.is_superuser) {
        /* the object permission that a non-superuser's own create granted (§4.2) */
        bool has = false;
        if ((rc = tk_store_key_viewer_has(db, t->id, c->who.user_id, &has)) != 0)
            return rc;
        if (!has)
            return TK_ERR_FORBIDDEN;
    }
    /* view modes (docs/api.md §19.4): never, or once and already seen, is Not found */
    enum tk_view_mode mode;
    bool viewed, stored;
    if ((rc = tk_store_token_key_state(db, t->id, &mode, &viewed, &stored)) != 0)
        return rc;
    if (mode == TK_VIEW_NEVER || (mode == TK_VIEW_ONCE && viewed) || !stored)
        return TK_ERR_NOTFOUND;
    char uuid[37];
    const uint8_t *sealed;
    size_t len;
    /* the row checked above, by its id: a second lookup by identifier could find another user's
     * token after a concurrent rename (PostgreSQL reads each statement at a new snapshot) */
    if ((rc = tk_store_token_sealed_key(db, t->id, c->req->arena, uuid, &sealed, &len)) != 0)
        return rc;
    /* the view is recorded; once: the sealed copy is erased with it, in this transaction */
    if ((rc = tk_store_token_key_viewed(db, t->id, mode == TK_VIEW_ONCE)) != 0)
        return rc;
    c->scrub = mode == TK_VIEW_ONCE;
    struct tk_buf key;
    tk_buf_init(&key, TK_OPENED_KEY_MAX_BYTES);
    key.wipe = true;
    rc = tk_key_open(&c->api->secret, uuid, sealed, len, &key);
    if (rc == 0)
        rc = tk_audit_token(c, "secret_view", TK_APP_TOKENS, "secret", t);
    if (rc == 0)
        rc =
            tk_notify_token(db, c->req->arena, c->now, "token.key_viewed", t, c->who.user_id, NULL);
    if (rc == 0) {
        struct tk_jw w;
        tk_jw_init(&w, &c->res->body);
        tk_jw_obj_begin(&w);
        tk_jw_key(&w, "key");
        tk_jw_str(&w, key.data ? key.data : "", key.len);
        tk_jw_obj_end(&w);
        c->res->status = 200;
    }
    tk_buf_free(&key); /* zeroed (wipe) */
    return rc;
}

int tk_tokens_view_key(struct tk_ctx *c)
{
    int rc = tk_store_write_tx(c->db, view_key_tx, c);
    if (rc == TK_ERR_CRYPTO)
        return tk_api_refuse(c, 503, "The key cannot be opened: the server secret has changed.");
    return rc;
}

struct set_key_tx {
    struct tk_ctx *c;
    const char *key;
    size_t key_len;
};

static int set_key_tx(struct tk_db *db, void *arg)
{
    struct set_key_tx *x = arg;
    struct tk_ctx *c = x->c;
    struct tk_token *t;
    int rc = tk_tokens_lookup(c, &t);
    if (rc)
        return rc;
    struct tk_token_new tn = {.uuid = t->uuid};
    struct tk_buf sealed;
    rc = tk_token_mint(&c->api->secret, 0, x->key, x->key_len, &tn, &sealed, NULL);
    /* a new key ends the grace window of a rotation (docs/api.md §19.5) */
    if (rc == 0)
        rc = tk_store_token_end_grace(db, t->id, c->now);
    if (rc == 0)
        rc = tk_store_token_set_key(db, t->id, tn.key_hash, tn.key_sealed, tn.key_sealed_len,
                                    TK_KEY_SET);
    tk_buf_free(&sealed);
    /* authentik records model_updated twice: its audit hook and the action itself (§11). */
    if (rc == 0)
        rc = tk_audit_token(c, "model_updated", TK_APP_AUDIT, "model", t);
    if (rc == 0)
        rc = tk_audit_token(c, "model_updated", TK_APP_TOKENS, "model", t);
    if (rc == 0)
        rc = tk_notify_token(db, c->req->arena, c->now, "token.updated", t, c->who.user_id, NULL);
    return rc;
}

static bool falsy(const json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return true;
    if (json_is_string(v))
        return json_string_length(v) == 0;
    if (json_is_number(v))
        return json_number_value(v) == 0.0;
    return false;
}

int tk_tokens_set_key(struct tk_ctx *c)
{
    struct tk_token *t;
    int rc;
    if (!c->who.is_superuser) {
        /* set_token_key is held by superusers only: 404 when not visible, else 403. */
        rc = tk_tokens_lookup(c, &t);
        return rc ? rc : TK_ERR_FORBIDDEN;
    }
    json_t *body;
    if ((rc = tk_body_object(c, &body)) != 0)
        return rc;
    json_t *v = json_object_get(body, "key");
    if (falsy(v)) {
        rc = tk_api_refuse_body(c, 400, NULL); /* SEED: a bare 400 (§7.8) */
    } else if (!json_is_string(v)) {
        tk_field_errors_add(&c->fe, "key", TK_MSG_NOT_STRING);
        rc = TK_ERR_FIELDS;
    } else if (memchr(json_string_value(v), '\0', json_string_length(v)) != NULL) {
        tk_field_errors_add(&c->fe, "key", TK_MSG_NUL_CHARS);
        rc = TK_ERR_FIELDS;
    } else {
        /* stored verbatim: no trimming, no charset check (§7.8) */
        struct set_key_tx x = {c, json_string_value(v), json_string_length(v)};
        rc = tk_store_write_tx(c->db, set_key_tx, &x);
        if (rc == 0) {
            c->res->status = 204;
            c->res->empty = true;
        }
    }
    json_decref(body);
    return rc;
}

int tk_tokens_used_by(struct tk_ctx *c)
{
    if (!c->who.is_superuser)
        return TK_ERR_FORBIDDEN; /* CVE-2024-42490 fix: every identifier, own ones included */
    struct tk_token *t;
    int rc = tk_tokens_lookup(c, &t);
    if (rc)
        return rc;
    /* Parity stub, on purpose: authentik lists the objects that refer to the token by a foreign
     * key; a user's API or app-password token has none, and tokend stores nothing else that
     * could refer to one, so the answer is always [] (docs/api.md). */
    tk_buf_puts(&c->res->body, "[]");
    c->res->status = 200;
    return 0;
}
