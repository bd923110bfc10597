/* Rendered users (tk_json_user) kept per thread for one store snapshot (tk_store_snapshot).
 * A token list page spends most of its time loading its owners with their groups and writing
 * them; across requests that read the same data, the rendered object is the same bytes. An
 * entry is used only while the connection's snapshot is the one it was rendered from, so any
 * change to the database, by any connection or process, retires every entry. Lock-free (each
 * thread has its own table) and bounded (USER_CACHE_SLOTS entries per thread). */
#ifndef TK_API_USER_CACHE_H
#define TK_API_USER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* What was rendered for a user. */
enum tk_rendering {
    TK_RENDER_USER,        /* tk_json_user, groups_obj null */
    TK_RENDER_USER_GROUPS, /* tk_json_user with groups_obj */
    TK_RENDER_ME,          /* the whole users/me/ body */
    TK_RENDERINGS
};

/* User id's rendering as of snapshot s, or NULL. The bytes stay valid until this thread's next
 * tk_user_cache_put. */
const char *tk_user_cache_get(const struct tk_store_snapshot *s, int64_t id, enum tk_rendering r,
                              size_t *len);
/* Keeps json as user id's rendering for snapshot s (nothing when s->version is 0, or when
 * memory is short: the cache is only ever an optimisation). */
void tk_user_cache_put(const struct tk_store_snapshot *s, int64_t id, enum tk_rendering r,
                       const char *json, size_t len);

#endif
