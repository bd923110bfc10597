/* Authentication's one query and who is a superuser (docs/api.md §3, §4.1): the groups that
 * grant superuser status are found by walking down from the superuser groups once (GRANTING_CTE),
 * for one key's owner or for a page of users. */
#include "store/internal.h"

#include <stdlib.h>

#define STR_(x) #x

#define STR(x) STR_(x)

/* The groups that make their members superusers: the superuser groups and their descendants
 * down to TK_MAX_GROUP_DEPTH levels (tk_st_sql_superusers). */
#define GRANTING_CTE                                                                               \
    "WITH RECURSIVE granting(id, depth) AS (SELECT id, 0 FROM groups WHERE is_superuser = 1 "      \
    "UNION ALL SELECT g.id, granting.depth + 1 FROM groups g JOIN granting ON g.parent_id = "      \
    "granting.id WHERE granting.depth < " STR(TK_MAX_GROUP_DEPTH) ") "

int tk_store_authenticate(struct tk_db *db, const uint8_t key_hash[TK_KEY_HASH_BYTES], int64_t now,
                          struct tk_principal *out, int64_t *valid_until)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           GRANTING_CTE
                           "SELECT t.user_id, t.expiring, t.expires, CASE WHEN EXISTS (SELECT 1 "
                           "FROM memberships m WHERE m.user_id = t.user_id AND m.group_id IN "
                           "(SELECT id FROM granting)) THEN 1 ELSE 0 END " /* PG: a boolean */
                           "FROM tokens t JOIN users u ON u.id = "
                           "t.user_id WHERE t.key_hash = ? AND t.intent = 'api' AND "
                           "u.is_active = 1 ORDER BY (t.expiring = 0 OR t.expires IS NULL) DESC, "
                           "t.expires DESC LIMIT 1", /* the token valid longest, if several */
                           &st);
    if (rc)
        return rc;
    tk_db_bind_blob(db, st, 1, key_hash, TK_KEY_HASH_BYTES);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        out->user_id = tk_db_col_int(db, st, 0);
        bool expires = tk_db_col_int(db, st, 1) != 0 && !tk_db_col_null(db, st, 2);
        *valid_until = expires ? tk_db_col_int(db, st, 2) : INT64_MAX;
        out->is_superuser = tk_db_col_int(db, st, 3) != 0;
        rc = now <= *valid_until ? 0 : TK_ERR_NOTFOUND;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

/* The users among ids that are superusers through their groups' ancestry (docs/api.md §4.1). A user
 * is a superuser when a group it belongs to, or an ancestor of that group up to
 * TK_MAX_GROUP_DEPTH levels, has is_superuser. Walking down from the (few) superuser groups to
 * their descendants once, and matching the users' memberships against that set, gives the same
 * answer as walking up from every membership, at a fraction of the cost: the descent touches
 * only the superuser subtrees, through groups_parent, and needs no temporary b-tree per user. */
void tk_st_sql_superusers(struct tk_sql *q, const int64_t *ids, size_t n)
{
    tk_sql_add(q, GRANTING_CTE);
    tk_sql_add(q, "SELECT DISTINCT m.user_id FROM memberships m");
    tk_sql_where(q);
    tk_sql_add(q, "m.user_id IN ");
    tk_st_sql_id_list(q, ids, n);
    tk_sql_where(q);
    tk_sql_add(q, "m.group_id IN (SELECT id FROM granting)");
}

/* The groups that make their members superusers (tk_st_sql_superusers), sorted by id. */
int tk_st_granting_groups(struct tk_db *db, struct tk_arena *a, int64_t **out, size_t *n_out)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, GRANTING_CTE);
    tk_sql_add(&q, "SELECT id FROM granting");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t n = 0, cap = 0;
    int64_t *ids = NULL;
    while ((rc = tk_db_step(db, st)) == 1) {
        int64_t *grown = tk_arena_reserve(a, ids, n, &cap, sizeof(*ids));
        if (grown == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        ids = grown;
        ids[n++] = tk_db_col_int(db, st, 0);
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    if (n > 1)
        qsort(ids, n, sizeof(*ids), tk_st_cmp_i64);
    *out = ids;
    *n_out = n;
    return 0;
}
