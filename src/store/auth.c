/* Authentication's one query and who is a superuser (docs/api.md §3, §4.1): the groups that
 * grant superuser status are found by walking down from the superuser groups once (GRANTING_CTE),
 * for one key's owner or for a page of users. */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

#define STR_(x) #x

#define STR(x) STR_(x)

/* The groups that make their members superusers: the superuser groups and their descendants
 * down to TK_MAX_GROUP_DEPTH levels (tk_st_sql_superusers). */
#define GRANTING_CTE                                                                               \
    "WITH RECURSIVE granting(id, depth) AS (SELECT id, 0 FROM groups WHERE is_superuser = 1 "      \
    "UNION ALL SELECT g.id, granting.depth + 1 FROM groups g JOIN granting ON g.parent_id = "      \
    "granting.id WHERE granting.depth < " STR(TK_MAX_GROUP_DEPTH) ") "

/* The token a key (or a remembered key's token id) authenticates as, with its owner's superuser
 * status, service-account type and name, and the token's settings (docs/api.md §3, §19). */
#define KEY_SELECT                                                                                 \
    GRANTING_CTE                                                                                   \
    "SELECT t.user_id, t.expiring, t.expires, CASE WHEN EXISTS (SELECT 1 "                         \
    "FROM memberships m WHERE m.user_id = t.user_id AND m.group_id IN "                            \
    "(SELECT id FROM granting)) THEN 1 ELSE 0 END, " /* PG: a boolean */                           \
    "t.id, t.scopes, t.allowed_networks, t.rate_limit, t.uses_remaining, t.uuid, t.identifier, "   \
    "t.intent, u.username, CASE WHEN u.type IN ('service_account', 'internal_service_account') "   \
    "THEN 1 ELSE 0 END FROM tokens t JOIN users u ON u.id = t.user_id WHERE "
#define KEY_WHERE(intents)                                                                         \
    " AND t.intent IN " intents " AND u.is_active = 1 AND (t.uses_remaining IS NULL OR "           \
    "t.uses_remaining > 0) ORDER BY (t.expiring = 0 OR t.expires IS NULL) DESC, "                  \
    "t.expires DESC LIMIT 1" /* the token valid longest, if several */
#define API_ONLY "('api')"
#define API_AND_APP "('api', 'app_password')"

static int lookup(struct tk_db *db, const char *sql, const uint8_t *hash, int64_t id, int64_t now,
                  struct tk_arena *a, struct tk_key_token *k, struct tk_auth_result *r)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, sql, &st);
    if (rc)
        return rc;
    if (hash != NULL)
        tk_db_bind_blob(db, st, 1, hash, TK_KEY_HASH_BYTES);
    else
        tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        memset(k, 0, sizeof(*k));
        struct tk_principal *out = &k->who;
        out->user_id = tk_db_col_int(db, st, 0);
        k->expiring = tk_db_col_int(db, st, 1) != 0;
        k->has_expires = !tk_db_col_null(db, st, 2);
        k->expires = tk_db_col_int(db, st, 2);
        r->valid_until = k->expiring && k->has_expires ? k->expires : INT64_MAX;
        out->is_superuser = tk_db_col_int(db, st, 3) != 0;
        out->token_id = tk_db_col_int(db, st, 4);
        k->scopes = tk_st_col_dup_null(db, st, 5, a);
        out->scoped = !tk_db_col_null(db, st, 5);
        out->scopes = tk_scopes_mask(k->scopes);
        r->networks = tk_st_col_dup_null(db, st, 6, a);
        out->has_networks = !tk_db_col_null(db, st, 6);
        size_t len = 0;
        const char *rate = tk_db_col_text(db, st, 7, &len);
        if (rate == NULL || !tk_rate_parse(rate, len, &out->rate))
            out->rate = (struct tk_rate){0, 0};
        out->has_uses = !tk_db_col_null(db, st, 8);
        tk_st_col_uuid(db, st, 9, k->uuid);
        k->identifier = tk_st_col_dup(db, st, 10, a);
        k->intent = tk_st_col_dup(db, st, 11, a);
        k->username = tk_st_col_dup(db, st, 12, a);
        out->is_service = tk_db_col_int(db, st, 13) != 0;
        if ((out->scoped && k->scopes == NULL) || (out->has_networks && r->networks == NULL) ||
            k->identifier == NULL || k->intent == NULL || k->username == NULL)
            rc = TK_ERR_NOMEM;
        else
            rc = now <= r->valid_until ? 0 : TK_ERR_NOTFOUND;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_key_lookup(struct tk_db *db, const uint8_t key_hash[TK_KEY_HASH_BYTES], int64_t now,
                        bool app_passwords, struct tk_arena *a, struct tk_key_token *k,
                        struct tk_auth_result *r)
{
    memset(r, 0, sizeof(*r));
    int rc = lookup(db,
                    app_passwords ? KEY_SELECT "t.key_hash = ?" KEY_WHERE(API_AND_APP)
                                  : KEY_SELECT "t.key_hash = ?" KEY_WHERE(API_ONLY),
                    key_hash, 0, now, a, k, r);
    if (rc != TK_ERR_NOTFOUND)
        return rc;
    /* a key rotated out: the token's during its grace window, a reuse after it */
    int64_t token_id, grace_until;
    rc = tk_store_token_old_key(db, key_hash, now, &token_id, &grace_until);
    if (rc)
        return rc;
    if (now > grace_until) {
        r->reused_token = token_id;
        return TK_ERR_NOTFOUND;
    }
    rc = lookup(db,
                app_passwords ? KEY_SELECT "t.id = ?" KEY_WHERE(API_AND_APP)
                              : KEY_SELECT "t.id = ?" KEY_WHERE(API_ONLY),
                NULL, token_id, now, a, k, r);
    if (rc == 0 && grace_until < r->valid_until)
        r->valid_until = grace_until;
    return rc;
}

int tk_store_authenticate(struct tk_db *db, const uint8_t key_hash[TK_KEY_HASH_BYTES], int64_t now,
                          struct tk_arena *a, struct tk_principal *out, struct tk_auth_result *r)
{
    struct tk_key_token k;
    int rc = tk_store_key_lookup(db, key_hash, now, false, a, &k, r);
    if (rc == 0)
        *out = k.who;
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
