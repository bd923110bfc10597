/* The user entity (docs/api.md §10.1, §14.1) and the fields derived from users and groups: uid,
 * avatar, num_pk. Pure functions. */
#ifndef TK_DOMAIN_USER_H
#define TK_DOMAIN_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/group.h"
#include "util/buf.h"

struct tk_user {
    int64_t id;
    char uuid[37];
    const char *username, *name, *email;
    bool is_active;
    bool has_last_login;
    int64_t last_login;
    const char *path, *type;
    const char *attributes; /* compact JSON object */
    bool is_superuser;      /* computed: docs/api.md §4.1 */
    size_t n_groups;        /* direct groups */
    struct tk_group *groups;
};

struct tk_user_new {
    const char *username, *name, *email, *path, *type;
    const char *attributes; /* compact JSON object text; NULL: {} */
    bool is_active;
    bool has_last_login;
    int64_t last_login;
    bool set_groups; /* replace the direct groups with group_ids */
    size_t n_groups;
    const int64_t *group_ids;
};

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
