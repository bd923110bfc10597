/* What the files of /api/v3/tokend/ share (docs/api.md §19): the TokendToken object and the
 * lookups under the owner-or-superuser rule. */
#ifndef TK_API_TOKEND_H
#define TK_API_TOKEND_H

#include "api/api.h"
#include "json/writer.h"

/* The TokendToken object, keys in the contract's order (docs/api.md §19.1). */
void tk_json_tokend_token(struct tk_jw *w, const struct tk_tokend_token *t);
/* The token named by the path's first parameter, if the requester may see it (404 otherwise:
 * TK_ERR_NOTFOUND). */
int tk_tokend_lookup(struct tk_ctx *c, struct tk_db *db, struct tk_tokend_token **t) TK_MUST_USE;
/* The settings of the token the request authenticated with. */
int tk_tokend_own_settings(struct tk_ctx *c, struct tk_db *db,
                           struct tk_token_settings *out) TK_MUST_USE;

#endif
