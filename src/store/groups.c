/* Groups in the store (store.h, docs/api.md §14.2): the group list with its filters, single
 * groups with their members, writes with memberships, and the group-tree rules (a parent that
 * would close a cycle, children). */
#include "store/internal.h"

#include <string.h>

#include "util/uuid.h"

int tk_store_group_find(struct tk_db *db, const char *name, int64_t *id)
{
    return tk_st_find_id(db, "SELECT id FROM groups WHERE name = ?", name, id);
}

int tk_st_col_group(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a,
                    struct tk_group *g)
{
    memset(g, 0, sizeof(*g));
    g->id = tk_db_col_int(db, st, c);
    tk_st_col_uuid(db, st, c + 1, g->uuid);
    g->name = tk_st_col_dup(db, st, c + 2, a);
    g->is_superuser = tk_db_col_int(db, st, c + 3) != 0;
    g->has_parent = !tk_db_col_null(db, st, c + 4);
    if (g->has_parent) {
        tk_st_col_uuid(db, st, c + 4, g->parent_uuid);
        g->parent_name = tk_st_col_dup(db, st, c + 5, a);
    }
    g->attributes = tk_st_col_dup(db, st, c + 6, a);
    return g->name && g->attributes && (!g->has_parent || g->parent_name) ? 0 : TK_ERR_NOMEM;
}

int tk_st_read_groups(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                      struct tk_group **out, size_t *n_out)
{
    size_t cap = 0, n = 0;
    struct tk_group *g = tk_arena_reserve(a, NULL, 0, &cap, sizeof(*g));
    int rc = g ? 0 : TK_ERR_NOMEM;
    while (rc == 0 && (rc = tk_db_step(db, st)) == 1) {
        struct tk_group *room = tk_arena_reserve(a, g, n, &cap, sizeof(*g));
        if (room == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        g = room;
        rc = tk_st_col_group(db, st, 0, a, &g[n++]);
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *out = g;
    *n_out = n;
    return 0;
}

static void sql_group_where(struct tk_sql *q, struct tk_arena *a, const struct tk_group_query *g)
{
    if (g->name) {
        tk_sql_where(q);
        tk_sql_add(q, "g.name = ");
        tk_sql_cstr(q, g->name);
    }
    if (g->is_superuser >= 0) {
        tk_sql_where(q);
        tk_sql_add(q, "g.is_superuser = ");
        tk_sql_int(q, g->is_superuser);
    }
    struct tk_list_tail tail = {
        g->member_sets, "m.group_id = g.id AND m.user_id", g->attrs,   g->n_attrs,
        "g.attributes", (const char *const *)g->terms,     g->n_terms, "g.search_fold"};
    tk_st_sql_list_tail(q, a, &tail);
}

static const char *group_column(int f)
{
    switch (f) {
    case TK_GF_PK: return "g.uuid";
    case TK_GF_NAME: return "g.name";
    case TK_GF_IS_SUPERUSER: return "g.is_superuser";
    case TK_GF_PARENT: return "p.uuid";
    case TK_GF_ATTRIBUTES: return "g.attributes";
    default: return "g.id";
    }
}

int tk_store_group_count(struct tk_db *db, const struct tk_group_query *gq, struct tk_arena *a,
                         int64_t *count)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT COUNT(*) FROM groups g");
    sql_group_where(&q, a, gq);
    return tk_st_count(db, &q, count);
}

/* Members of the groups (ids sorted), as minimal users. */
static int load_members(struct tk_db *db, struct tk_arena *a, struct tk_group_full *groups,
                        size_t n)
{
    if (n == 0)
        return 0;
    int64_t *gids = tk_arena_calloc(a, n, sizeof(*gids));
    if (gids == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        gids[i] = groups[i].g.id;
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT m.group_id, u.id, u.uuid, u.username, u.name, u.is_active, "
                   "u.last_login, u.email, u.attributes FROM memberships m "
                   "JOIN users u ON u.id = m.user_id WHERE m.group_id IN ");
    tk_st_sql_id_list(&q, gids, n);
    tk_sql_add(&q, " ORDER BY m.group_id, u.id");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t cap_all = 0, cap_owner = 0, used = 0;
    struct tk_user *all = NULL;
    int64_t *owner = NULL;
    while (rc == 0 && (rc = tk_db_step(db, st)) == 1) {
        struct tk_user *na = tk_arena_reserve(a, all, used, &cap_all, sizeof(*all));
        int64_t *no = na ? tk_arena_reserve(a, owner, used, &cap_owner, sizeof(*owner)) : NULL;
        if (na == NULL || no == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        all = na;
        owner = no;
        struct tk_user *u = &all[used];
        owner[used++] = tk_db_col_int(db, st, 0);
        u->id = tk_db_col_int(db, st, 1);
        tk_st_col_uuid(db, st, 2, u->uuid);
        u->username = tk_st_col_dup(db, st, 3, a);
        u->name = tk_st_col_dup(db, st, 4, a);
        u->is_active = tk_db_col_int(db, st, 5) != 0;
        u->has_last_login = !tk_db_col_null(db, st, 6);
        u->last_login = tk_db_col_int(db, st, 6);
        u->email = tk_st_col_dup(db, st, 7, a);
        u->attributes = tk_st_col_dup(db, st, 8, a);
        rc = u->username && u->name && u->email && u->attributes ? 0 : TK_ERR_NOMEM;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < used;) {
        size_t j = i;
        while (j < used && owner[j] == owner[i])
            j++;
        for (size_t k = 0; k < n; k++) {
            if (groups[k].g.id == owner[i]) {
                groups[k].users = &all[i];
                groups[k].n_users = j - i;
            }
        }
        i = j;
    }
    return 0;
}

int tk_store_group_list(struct tk_db *db, const struct tk_group_query *gq, int64_t offset,
                        int64_t limit, struct tk_arena *a, struct tk_group_full **out,
                        size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (limit <= 0)
        return 0;
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT " TK_ST_GROUP_COLUMNS);
    sql_group_where(&q, a, gq);
    tk_st_sql_order_page(&q, gq->order, gq->n_order, group_column, "g.id", limit, offset);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    struct tk_group *g;
    size_t n;
    if ((rc = tk_st_read_groups(db, st, a, &g, &n)) != 0)
        return rc;
    struct tk_group_full *full = tk_arena_calloc(a, n ? n : 1, sizeof(*full));
    if (full == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        full[i].g = g[i];
    if ((rc = load_members(db, a, full, n)) != 0)
        return rc;
    *out = full;
    *n_out = n;
    return 0;
}

int tk_store_group_get(struct tk_db *db, const char *uuid, struct tk_arena *a,
                       struct tk_group_full **out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT " TK_ST_GROUP_COLUMNS " WHERE g.uuid = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, uuid);
    struct tk_group *g;
    size_t n;
    if ((rc = tk_st_read_groups(db, st, a, &g, &n)) != 0)
        return rc;
    if (n == 0)
        return TK_ERR_NOTFOUND;
    struct tk_group_full *full = tk_arena_calloc(a, 1, sizeof(*full));
    if (full == NULL)
        return TK_ERR_NOMEM;
    full->g = g[0];
    if ((rc = load_members(db, a, full, 1)) != 0)
        return rc;
    *out = full;
    return 0;
}

int tk_store_group_find_uuid(struct tk_db *db, const char *uuid, int64_t *id)
{
    return tk_st_find_id(db, "SELECT id FROM groups WHERE uuid = ?", uuid, id);
}

int tk_store_group_name_taken(struct tk_db *db, const char *name, int64_t exclude_id, bool *taken)
{
    return tk_st_taken(db, "SELECT 1 FROM groups WHERE name = ? AND id <> ?", name, exclude_id,
                       taken);
}

int tk_store_group_would_cycle(struct tk_db *db, int64_t group_id, int64_t parent_id, bool *cycle)
{
    /* Walk up from the proposed parent; meeting group_id means a cycle. The walk is bounded by
     * the number of groups, so an existing cycle cannot make it loop. */
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "WITH RECURSIVE up(id, n) AS (SELECT CAST(? AS BIGINT), 0 UNION "
                           "SELECT g.parent_id, up.n + 1 FROM up JOIN groups g ON g.id = up.id "
                           "WHERE g.parent_id IS NOT NULL AND up.n < "
                           "(SELECT COUNT(*) FROM groups)) "
                           "SELECT 1 FROM up WHERE id = ? LIMIT 1",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, parent_id);
    tk_db_bind_int(db, st, 2, group_id);
    rc = tk_db_step(db, st);
    *cycle = rc == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

static int set_group_users(struct tk_db *db, int64_t id, const struct tk_group_write *g)
{
    if (!g->set_users)
        return 0;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM memberships WHERE group_id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    if ((rc = tk_st_run(db, st)) != 0)
        return rc;
    for (size_t i = 0; i < g->n_users && rc == 0; i++)
        rc = tk_store_membership_add(db, g->user_ids[i], id);
    return rc;
}

int tk_store_group_insert(struct tk_db *db, const struct tk_group_write *g, int64_t now,
                          int64_t *id, char uuid[37])
{
    tk_uuid4(uuid);
    struct tk_buf fold;
    tk_buf_init(&fold, TK_MAX_FOLD_BYTES);
    int rc = tk_st_group_fold(g->name, g->is_superuser, &fold);
    struct tk_db_stmt *st = NULL;
    if (rc == 0)
        rc = tk_db_prepare(db,
                           "INSERT INTO groups (uuid, name, is_superuser, parent_id, attributes, "
                           "search_fold, created) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                           &st);
    if (rc == 0) {
        tk_db_bind_cstr(db, st, 1, uuid);
        tk_db_bind_cstr(db, st, 2, g->name);
        tk_db_bind_int(db, st, 3, g->is_superuser);
        tk_db_bind_opt_int(db, st, 4, g->parent_id > 0, g->parent_id);
        tk_db_bind_cstr(db, st, 5, g->attributes ? g->attributes : "{}");
        tk_db_bind_text(db, st, 6, fold.data, fold.len);
        tk_db_bind_int(db, st, 7, now);
        rc = tk_st_insert_id(db, st, id);
    }
    tk_buf_free(&fold);
    if (rc == 0)
        rc = set_group_users(db, *id, g);
    return rc;
}

int tk_store_group_create(struct tk_db *db, const struct tk_group_new *g, int64_t now, int64_t *id,
                          char uuid[37])
{
    struct tk_group_write w = {.name = g->name,
                               .is_superuser = g->is_superuser,
                               .parent_id = g->parent_id,
                               .attributes = g->attributes};
    return tk_store_group_insert(db, &w, now, id, uuid);
}

int tk_store_group_update(struct tk_db *db, int64_t id, const struct tk_group_write *g)
{
    struct tk_buf fold;
    tk_buf_init(&fold, TK_MAX_FOLD_BYTES);
    int rc = tk_st_group_fold(g->name, g->is_superuser, &fold);
    struct tk_db_stmt *st = NULL;
    if (rc == 0)
        rc = tk_db_prepare(db,
                           "UPDATE groups SET name = ?, is_superuser = ?, parent_id = ?, "
                           "attributes = ?, search_fold = ? WHERE id = ?",
                           &st);
    if (rc == 0) {
        tk_db_bind_cstr(db, st, 1, g->name);
        tk_db_bind_int(db, st, 2, g->is_superuser);
        tk_db_bind_opt_int(db, st, 3, g->parent_id > 0, g->parent_id);
        tk_db_bind_cstr(db, st, 4, g->attributes ? g->attributes : "{}");
        tk_db_bind_text(db, st, 5, fold.data, fold.len);
        tk_db_bind_int(db, st, 6, id);
        rc = tk_st_run(db, st);
    }
    tk_buf_free(&fold);
    if (rc == 0)
        rc = set_group_users(db, id, g);
    return rc;
}

int tk_store_group_delete(struct tk_db *db, int64_t id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM groups WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    return tk_st_run(db, st);
}

int tk_store_group_children(struct tk_db *db, int64_t id, struct tk_arena *a,
                            struct tk_group **groups, size_t *n)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(
        db, "SELECT " TK_ST_GROUP_COLUMNS " WHERE g.parent_id = ? ORDER BY g.name", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    return tk_st_read_groups(db, st, a, groups, n);
}

int tk_store_membership_add(struct tk_db *db, int64_t user_id, int64_t group_id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "INSERT INTO memberships (user_id, group_id) VALUES (?, ?) "
                           "ON CONFLICT DO NOTHING",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, user_id);
    tk_db_bind_int(db, st, 2, group_id);
    return tk_st_run(db, st);
}

int tk_store_membership_remove(struct tk_db *db, int64_t user_id, int64_t group_id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM memberships WHERE user_id = ? AND group_id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, user_id);
    tk_db_bind_int(db, st, 2, group_id);
    return tk_st_run(db, st);
}
