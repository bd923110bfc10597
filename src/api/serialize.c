/* Serializers (serialize.h). */
#include "api/serialize.h"

#include <string.h>

#include "domain/user.h"
#include "util/time.h"

void tk_json_user_group(struct tk_jw *w, const struct tk_group *g)
{
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "pk");
    tk_jw_cstr(w, g->uuid);
    tk_jw_keyl(w, "num_pk");
    tk_jw_int(w, tk_group_num_pk(g->uuid));
    tk_jw_keyl(w, "name");
    tk_jw_cstr(w, g->name);
    tk_jw_keyl(w, "is_superuser");
    tk_jw_bool(w, g->is_superuser);
    tk_jw_keyl(w, "parent");
    tk_jw_cstr(w, g->has_parent ? g->parent_uuid : NULL);
    tk_jw_keyl(w, "parent_name");
    tk_jw_cstr(w, g->has_parent ? g->parent_name : NULL);
    tk_jw_keyl(w, "attributes");
    tk_jw_raw(w, g->attributes, strlen(g->attributes));
    tk_jw_obj_end(w);
}

void tk_json_user(struct tk_jw *w, const struct tk_api *api, const struct tk_user *u,
                  bool include_groups)
{
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
    tk_jw_keyl(w, "is_superuser");
    tk_jw_bool(w, u->is_superuser);
    tk_jw_keyl(w, "groups");
    tk_jw_arr_begin(w);
    for (size_t i = 0; i < u->n_groups; i++)
        tk_jw_cstr(w, u->groups[i].uuid);
    tk_jw_arr_end(w);
    tk_jw_keyl(w, "groups_obj");
    if (include_groups) {
        tk_jw_arr_begin(w);
        for (size_t i = 0; i < u->n_groups; i++)
            tk_json_user_group(w, &u->groups[i]);
        tk_jw_arr_end(w);
    } else {
        tk_jw_null(w);
    }
    tk_jw_keyl(w, "email");
    tk_jw_cstr(w, u->email);
    tk_jw_keyl(w, "avatar");
    struct tk_buf av;
    tk_buf_init(&av, TK_MAX_AVATAR_BYTES);
    if (tk_user_avatar(u, api->avatars, &av) == 0 && av.data)
        tk_jw_str(w, av.data, av.len);
    else
        tk_jw_cstr(w, TK_AVATAR_DEFAULT);
    tk_buf_free(&av);
    tk_jw_keyl(w, "attributes");
    tk_jw_raw(w, u->attributes, strlen(u->attributes));
    tk_jw_keyl(w, "uid");
    char uid[65];
    tk_user_uid(u->id, tk_store_installation_id(api->store), uid);
    tk_jw_cstr(w, uid);
    tk_jw_keyl(w, "path");
    tk_jw_cstr(w, u->path);
    tk_jw_keyl(w, "type");
    tk_jw_cstr(w, u->type);
    tk_jw_keyl(w, "uuid");
    tk_jw_cstr(w, u->uuid);
    tk_jw_obj_end(w);
}

static void json_token(struct tk_jw *w, const struct tk_api *api, const struct tk_token *t,
                       bool include_groups, const char *user_json, size_t user_len)
{
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "pk");
    tk_jw_cstr(w, t->uuid);
    tk_jw_keyl(w, "managed");
    tk_jw_cstr(w, t->managed);
    tk_jw_keyl(w, "identifier");
    tk_jw_cstr(w, t->identifier);
    tk_jw_keyl(w, "intent");
    tk_jw_cstr(w, t->intent);
    tk_jw_keyl(w, "user");
    tk_jw_int(w, t->user_id);
    tk_jw_keyl(w, "user_obj");
    if (user_json)
        tk_jw_raw(w, user_json, user_len);
    else if (t->user)
        tk_json_user(w, api, t->user, include_groups);
    else
        tk_jw_null(w);
    tk_jw_keyl(w, "description");
    tk_jw_cstr(w, t->description);
    tk_jw_keyl(w, "expires");
    if (t->has_expires)
        tk_jw_time(w, t->expires);
    else
        tk_jw_null(w);
    tk_jw_keyl(w, "expiring");
    tk_jw_bool(w, t->expiring);
    tk_jw_obj_end(w);
}

void tk_json_token(struct tk_jw *w, const struct tk_api *api, const struct tk_token *t,
                   bool include_groups)
{
    json_token(w, api, t, include_groups, NULL, 0);
}

void tk_json_token_rendered_user(struct tk_jw *w, const struct tk_token *t, const char *user_json,
                                 size_t user_len)
{
    json_token(w, NULL, t, false, user_json, user_len);
}

void tk_json_word_list(struct tk_jw *w, const char *text)
{
    if (text == NULL) {
        tk_jw_null(w);
        return;
    }
    tk_jw_arr_begin(w);
    while (*text) {
        size_t len = strcspn(text, " ");
        tk_jw_str(w, text, len);
        text += len;
        text += *text == ' ';
    }
    tk_jw_arr_end(w);
}

void tk_json_page_begin(struct tk_jw *w, const struct tk_pagination *p)
{
    /* A token or user row is about 1.7 KB with its initials avatar: reserve the page at once. */
    if (p->end_index >= p->start_index && p->start_index > 0)
        /* checksrc: allow an estimate of a row's size, not a limit */
        tk_buf_reserve(w->out, 512 + (size_t)(p->end_index - p->start_index + 1) * 2048);
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "pagination");
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "next");
    tk_jw_int(w, p->next);
    tk_jw_keyl(w, "previous");
    tk_jw_int(w, p->previous);
    tk_jw_keyl(w, "count");
    tk_jw_int(w, p->count);
    tk_jw_keyl(w, "current");
    tk_jw_int(w, p->current);
    tk_jw_keyl(w, "total_pages");
    tk_jw_int(w, p->total_pages);
    tk_jw_keyl(w, "start_index");
    tk_jw_int(w, p->start_index);
    tk_jw_keyl(w, "end_index");
    tk_jw_int(w, p->end_index);
    tk_jw_obj_end(w);
    tk_jw_keyl(w, "results");
    tk_jw_arr_begin(w);
}

void tk_json_page_end(struct tk_jw *w)
{
    tk_jw_arr_end(w);
    tk_jw_obj_end(w);
}

void tk_token_display(const struct tk_token *t, struct tk_buf *out)
{
    tk_buf_puts(out, t->identifier);
    if (!t->expiring)
        return;
    tk_buf_puts(out, " (expires=");
    if (t->has_expires) {
        char ts[TK_TIME_BUFSZ];
        tk_time_format_py(t->expires, ts);
        tk_buf_puts(out, ts);
    } else {
        tk_buf_puts(out, "None");
    }
    tk_buf_putc(out, ')');
}

void tk_json_used_by_token(struct tk_jw *w, const struct tk_token *t)
{
    struct tk_buf name;
    tk_buf_init(&name, TK_MAX_TEXT_BYTES);
    tk_token_display(t, &name);
    tk_jw_obj_begin(w);
    tk_jw_keyl(w, "app");
    tk_jw_cstr(w, "authentik_core");
    tk_jw_keyl(w, "model_name");
    tk_jw_cstr(w, "token");
    tk_jw_keyl(w, "pk");
    tk_jw_cstr(w, t->uuid);
    tk_jw_keyl(w, "name");
    tk_jw_str(w, name.data ? name.data : "", name.len);
    tk_jw_keyl(w, "action");
    tk_jw_cstr(w, "cascade");
    tk_jw_obj_end(w);
    tk_buf_free(&name);
}
