/* Derived fields of users and groups (API.md §10): uid, avatar, num_pk. Pure functions. */
#ifndef TK_DOMAIN_USER_H
#define TK_DOMAIN_USER_H

#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"

/* Lowercase hex SHA-256 of "<pk>-<installation id>", NUL-terminated. */
void tk_user_uid(int64_t pk, const char *installation_id, char out[65]);

/* First five decimal digits of the UUID's 128-bit integer value (fewer if shorter). */
int64_t tk_group_num_pk(const char *uuid);

/* The avatar for modes (comma-separated, as authentik's "avatars" setting: none, initials,
 * gravatar, attributes.<path>, or a URL template). Appended to out. gravatar and URL templates
 * are formatted without probing the remote host (tokend makes no outbound requests). */
int tk_user_avatar(const struct tk_user *u, const char *modes, struct tk_buf *out);

/* The SVG of authentik's generate_avatar_from_name for name (used by "initials"). */
int tk_avatar_svg(const char *name, struct tk_buf *out);

#define TK_AVATAR_DEFAULT "/static/dist/assets/images/user_default.png"

#endif
