/* POST /api/v3/tokend/tokens/{identifier}/rotate/ (docs/api.md §19.5): a new key for a token,
 * the old one kept working for an optional grace window and remembered (as a keyed hash) for
 * reuse detection; a secret_rotate event. The answer is the only place the new key is shown
 * unless the token's view mode lets view_key show it again. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/audit.h"
#include "api/body.h"
#include "api/messages.h"
#include "api/notify.h"
#include "api/tokend.h"
#include "api/tokens.h"
#include "domain/tokens.h"
#include "util/limits.h"
#include "util/time.h"
#include "json/writer.h"

struct rotate {
    struct tk_ctx *c;
    int64_t grace_us;
    char key[TK_KEY_LENGTH_MAX + 1];
    bool has_until;
    int64_t until;
};

static int rotate_tx(struct tk_db *db, void *arg)
{
    struct rotate *x = arg;
    struct tk_ctx *c = x->c;
    struct tk_token *t;
    int rc = tk_tokens_lookup(c, &t);
    if (rc == 0)
        rc = tk_store_token_lock(db, t->id);
    if (rc)
        return rc;
    int64_t now = c->now;
    x->has_until = x->grace_us > 0;
    x->until = now + x->grace_us;
    /* the current key: valid for the grace window (none: already past), then remembered */
    rc = tk_store_token_supersede(db, t->id, now, x->has_until ? x->until : now - 1,
                                  now + c->api->reuse_window_us);
    struct tk_token_new tn = {.uuid = t->uuid};
    struct tk_buf sealed;
    if (rc == 0) {
        rc = tk_token_mint(&c->api->secret, c->api->key_length, NULL, 0, &tn, &sealed, x->key);
        if (rc == 0)
            rc = tk_store_token_set_key(db, t->id, tn.key_hash, tn.key_sealed, tn.key_sealed_len,
                                        TK_KEY_SHOWN);
        tk_buf_free(&sealed);
    }
    if (rc)
        return rc;
    c->scrub = true; /* the old key's sealed copy was replaced */
    size_t len = strlen(t->identifier) + 40;
    char *msg = tk_arena_alloc(c->req->arena, len);
    if (msg == NULL)
        return TK_ERR_NOMEM;
    snprintf(msg, len, "Token %s's secret was rotated.", t->identifier);
    rc = tk_audit_token_message(c, "secret_rotate", TK_APP_TOKENS, t, msg, false);
    if (rc == 0)
        rc = tk_notify_token(db, c->req->arena, now, "token.rotated", t, c->who.user_id, NULL);
    return rc;
}

static int rotate(struct tk_ctx *c)
{
    json_t *body = NULL;
    int rc = tk_body_object(c, &body);
    if (rc)
        return rc;
    struct rotate x = {.c = c};
    json_t *g = json_object_get(body, "grace");
    if (g != NULL && !json_is_null(g)) {
        int64_t us = -1;
        if (!json_is_string(g) || strlen(json_string_value(g)) != json_string_length(g) ||
            tk_duration_parse(json_string_value(g), json_string_length(g), &us) != 0 || us < 0)
            tk_field_errors_add(&c->fe, "grace", TK_MSG_DURATION);
        else if (us > c->api->rotate_grace_max_us)
            tk_field_errors_add(&c->fe, "grace", TK_MSG_GRACE_MAX);
        x.grace_us = us;
    }
    json_decref(body);
    if (tk_field_errors_any(&c->fe))
        return TK_ERR_FIELDS;
    c->res->body.wipe = true; /* the answer holds the key: zeroed when freed */
    rc = tk_store_write_tx(c->db, rotate_tx, &x);
    if (rc == 0) {
        struct tk_jw w;
        tk_jw_init(&w, &c->res->body);
        tk_jw_obj_begin(&w);
        tk_jw_keyl(&w, "key");
        tk_jw_cstr(&w, x.key);
        tk_jw_keyl(&w, "previous_key_valid_until");
        tk_jw_time_or_null(&w, x.has_until, x.until);
        tk_jw_obj_end(&w);
        c->res->status = 200;
    }
    sodium_memzero(x.key, sizeof(x.key));
    return rc;
}

/* docs/api.md §19.2: rotation needs tokens:keys */
void tk_api_tokend_tokens_rotate(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_POST, TK_API_SCOPES(TK_SCOPE_TOKENS_KEYS, TK_SCOPE_TOKENS_KEYS),
               rotate);
}
