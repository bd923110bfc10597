/* Webhook messages about tokens (notify.h). */
#include "api/notify.h"

#include <string.h>

#include "util/limits.h"
#include "util/time.h"
#include "json/writer.h"

#define MSG_ID_CHARS 27 /* after "msg_": 160 bits of [A-Za-z0-9] */

static int user_of(struct tk_db *db, struct tk_arena *a, int64_t id, struct tk_user **out)
{
    size_t n = 0;
    int rc = tk_store_users_get(db, &id, 1, false, a, out, &n);
    if (rc == 0 && n == 0)
        *out = NULL; /* gone: written as null */
    return rc;
}

static void write_user(struct tk_jw *w, const struct tk_user *u)
{
    if (u == NULL) {
        tk_jw_null(w);
        return;
    }
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "pk");
    tk_jw_int(w, u->id);
    tk_jw_keyl(w, "username");
    tk_jw_cstr(w, u->username);
    tk_jw_keyl(w, "email");
    tk_jw_cstr(w, u->email);
    tk_jw_obj_end(w);
}

int tk_notify_token(struct tk_db *db, struct tk_arena *a, int64_t now, const char *type,
                    const struct tk_token *t, int64_t actor_id, const char *notice)
{
    bool wanted = false;
    int rc = tk_store_outbox_wanted(db, type, &wanted);
    if (rc || !wanted)
        return rc;
    struct tk_user *owner = t->user, *actor = NULL;
    if (owner == NULL && (rc = user_of(db, a, t->user_id, &owner)) != 0)
        return rc;
    if (actor_id > 0 && owner != NULL && actor_id == owner->id)
        actor = owner;
    else if (actor_id > 0 && (rc = user_of(db, a, actor_id, &actor)) != 0)
        return rc;

    struct tk_buf body;
    tk_buf_init(&body, TK_WEBHOOK_BODY_MAX);
    struct tk_jw w;
    tk_jw_init(&w, &body);
    tk_jw_obj_begin(&w);
    tk_jw_keyl(&w, "type");
    tk_jw_cstr(&w, type);
    tk_jw_keyl(&w, "timestamp");
    tk_jw_time(&w, now);
    tk_jw_keyl(&w, "data");
    tk_jw_obj_begin(&w);
    tk_jw_keyl(&w, "identifier");
    tk_jw_cstr(&w, t->identifier);
    tk_jw_keyl(&w, "intent");
    tk_jw_cstr(&w, t->intent);
    tk_jw_keyl(&w, "owner");
    write_user(&w, owner);
    tk_jw_keyl(&w, "expires");
    tk_jw_time_or_null(&w, t->has_expires, t->expires);
    tk_jw_keyl(&w, "acting_user");
    write_user(&w, actor);
    if (notice != NULL) {
        tk_jw_keyl(&w, "notice");
        tk_jw_cstr(&w, notice);
    }
    tk_jw_obj_end(&w);
    tk_jw_obj_end(&w);
    rc = body.err;
    char msg_id[4 + MSG_ID_CHARS + 1];
    memcpy(msg_id, "msg_", 4);
    tk_key_generate(msg_id + 4, MSG_ID_CHARS);
    if (rc == 0)
        rc = tk_store_outbox_add(db, msg_id, type, body.data, now);
    tk_buf_free(&body);
    return rc;
}
