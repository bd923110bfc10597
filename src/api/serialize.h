/* JSON shapes of the API objects (docs/api.md §5, §9, §10), written with the fast writer, keys in
 * authentik's order. */
#ifndef TK_API_SERIALIZE_H
#define TK_API_SERIALIZE_H

#include <stdbool.h>

#include "api/api.h"
#include "domain/pagination.h"
#include "json/writer.h"

/* User (docs/api.md §10.1); groups_obj is null unless include_groups. */
void tk_json_user(struct tk_jw *w, const struct tk_api *api, const struct tk_user *u,
                  bool include_groups);
/* UserGroup (docs/api.md §10.2). */
void tk_json_user_group(struct tk_jw *w, const struct tk_group *g);
/* Token (docs/api.md §5). The key is never part of it. */
void tk_json_token(struct tk_jw *w, const struct tk_api *api, const struct tk_token *t,
                   bool include_groups);
/* Token whose user_obj is already rendered (user_json, from tk_json_user). */
void tk_json_token_rendered_user(struct tk_jw *w, const struct tk_token *t, const char *user_json,
                                 size_t user_len);
/* str(token) as authentik renders it: "<identifier>", plus " (expires=<python str>)" when the
 * token expires. Appended to out. */
void tk_token_display(const struct tk_token *t, struct tk_buf *out);
/* A used_by entry for a token that goes with its owner (action "cascade"). */
void tk_json_used_by_token(struct tk_jw *w, const struct tk_token *t);

/* A list the store keeps as text ("" empty, else space-joined words) as a JSON array; NULL:
 * null (scopes, allowed networks, webhook event types). */
void tk_json_word_list(struct tk_jw *w, const char *text);
/* A page of a list (docs/api.md §9): tk_json_page_begin opens {"pagination": {...}, "results": [
 * and the caller writes the items; tk_json_page_end closes ]}. */
void tk_json_page_begin(struct tk_jw *w, const struct tk_pagination *p);
void tk_json_page_end(struct tk_jw *w);

#endif
