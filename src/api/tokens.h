/* The token viewset's pieces shared by tokens.c (list, retrieve, routing), token_write.c and
 * token_actions.c. */
#ifndef TK_API_TOKENS_H
#define TK_API_TOKENS_H

#include "api/api.h"

/* The token named by the URL, within the requester's visibility (docs/api.md §4.2): superusers see
 * every token, others their own; TK_ERR_NOTFOUND otherwise. */
int tk_tokens_lookup(struct tk_ctx *c, struct tk_token **t) TK_MUST_USE;

/* include_groups (docs/api.md §7.1, §9): true unless present and not "true". */
bool tk_include_groups(const struct tk_request *req);

/* Handlers (api.h's contract). */
int tk_tokens_create(struct tk_ctx *c);
int tk_tokens_update(struct tk_ctx *c, bool put);
int tk_tokens_delete(struct tk_ctx *c);
int tk_tokens_view_key(struct tk_ctx *c);
int tk_tokens_set_key(struct tk_ctx *c);
int tk_tokens_used_by(struct tk_ctx *c);

#endif
