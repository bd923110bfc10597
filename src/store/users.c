/* Users in the store (store.h, docs/api.md §14.1): reading users with their direct groups and
 * superuser status, the user list with its filters, writes with memberships, deletion with
 * the user's tokens in bounded batches, and a user's effective groups (ancestry). */
#include "store/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/utf8.h"
#include "util/uuid.h"

int tk_store_user_find(struct tk_db *db, const char *username, int64_t *id)
{
    return tk_st_find_id(db, "SELECT id FROM users WHERE username = ?", username, id);
}

struct tk_user *tk_store_user_in(struct tk_user *users, size_t n, int64_t id)
{
    /* users are sorted by id (see tk_store_users_get): binary search */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (users[mid].id == id)
            return &users[mid];
        if (users[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

struct owned_group {
    int64_t owner;
    struct tk_group g;
};

/* By user, then by name and id: the order of groups_obj. Names compare as bytes, as the
 * columns' collation does (BINARY on SQLite, "C" on PostgreSQL). */
static int cmp_owned_group(const void *a, const void *b)
{
    const struct owned_group *x = a, *y = b;
    if (x->owner != y->owner)
        return (x->owner > y->owner) - (x->owner < y->owner);
    int c = strcmp(x->g.name, y->g.name);
    if (c != 0)
        return c;
    return (x->g.id > y->g.id) - (x->g.id < y->g.id);
}

static int load_groups(struct tk_db *db, struct tk_arena *a, struct tk_user *users, size_t n,
                       const int64_t *ids, size_t n_ids)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    /* No ORDER BY: the rows are few, and sorting them here spares SQLite a sorter (about
     * half of this query's work). */
    /* the columns of TK_ST_GROUP_COLUMNS after the owner's id (tk_st_col_group) */
    tk_sql_add(&q, "SELECT m.user_id, g.id, g.uuid, g.name, g.is_superuser, p.uuid, p.name, "
                   "g.attributes FROM memberships m JOIN groups g ON g.id = m.group_id "
                   "LEFT JOIN groups p ON p.id = g.parent_id WHERE m.user_id IN ");
    tk_st_sql_id_list(&q, ids, n_ids);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t cap = 0, used = 0;
    struct owned_group *rows = NULL;
    while ((rc = tk_db_step(db, st)) == 1) {
        struct owned_group *grown = tk_arena_reserve(a, rows, used, &cap, sizeof(*rows));
        if (grown == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        rows = grown;
        struct owned_group *r = &rows[used];
        r->owner = tk_db_col_int(db, st, 0);
        if ((rc = tk_st_col_group(db, st, 1, a, &r->g)) != 0)
            break;
        used++;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    if (used == 0)
        return 0;
    qsort(rows, used, sizeof(*rows), cmp_owned_group);
    struct tk_group *all = tk_arena_calloc(a, used, sizeof(*all));
    if (all == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < used; i++)
        all[i] = rows[i].g;
    for (size_t i = 0; i < used;) {
        size_t j = i;
        while (j < used && rows[j].owner == rows[i].owner)
            j++;
        struct tk_user *u = tk_store_user_in(users, n, rows[i].owner);
        if (u != NULL) {
            u->groups = &all[i];
            u->n_groups = j - i;
        }
        i = j;
    }
    return 0;
}

static int load_superusers(struct tk_db *db, struct tk_arena *a, struct tk_user *users, size_t n,
                           const int64_t *ids, size_t n_ids)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_st_sql_superusers(&q, ids, n_ids);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    while ((rc = tk_db_step(db, st)) == 1) {
        struct tk_user *u = tk_store_user_in(users, n, tk_db_col_int(db, st, 0));
        if (u != NULL)
            u->is_superuser = true;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_users_get(struct tk_db *db, const int64_t *ids_in, size_t n, bool with_groups,
                       struct tk_arena *a, struct tk_user **users_out, size_t *n_out)
{
    *users_out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    /* Sorted, unique ids. */
    int64_t *ids = tk_arena_calloc(a, n, sizeof(*ids));
    if (ids == NULL)
        return TK_ERR_NOMEM;
    memcpy(ids, ids_in, n * sizeof(*ids));
    qsort(ids, n, sizeof(*ids), tk_st_cmp_i64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || ids[m - 1] != ids[i])
            ids[m++] = ids[i];

    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT id, uuid, username, name, email, is_active, last_login, path, type, "
                   "attributes FROM users WHERE id IN ");
    tk_st_sql_id_list(&q, ids, m);
    tk_sql_add(&q, " ORDER BY id");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    struct tk_user *users = tk_arena_calloc(a, m, sizeof(*users));
    size_t got = 0;
    if (users == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && got < m && (rc = tk_db_step(db, st)) == 1) {
        struct tk_user *u = &users[got++];
        u->id = tk_db_col_int(db, st, 0);
        tk_st_col_uuid(db, st, 1, u->uuid);
        u->username = tk_st_col_dup(db, st, 2, a);
        u->name = tk_st_col_dup(db, st, 3, a);
        u->email = tk_st_col_dup(db, st, 4, a);
        u->is_active = tk_db_col_int(db, st, 5) != 0;
        u->has_last_login = !tk_db_col_null(db, st, 6);
        u->last_login = tk_db_col_int(db, st, 6);
        u->path = tk_st_col_dup(db, st, 7, a);
        u->type = tk_st_col_dup(db, st, 8, a);
        u->attributes = tk_st_col_dup(db, st, 9, a);
        if (!u->username || !u->name || !u->email || !u->path || !u->type || !u->attributes)
            rc = TK_ERR_NOMEM;
        else
            rc = 0;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    if (with_groups) {
        /* The page's memberships are at hand: the superusers follow from them and the (small)
         * set of groups that grant superuser, without a query per page over memberships. */
        int64_t *granting = NULL;
        size_t n_granting = 0;
        if ((rc = load_groups(db, a, users, got, ids, m)) != 0 ||
            (rc = tk_st_granting_groups(db, a, &granting, &n_granting)) != 0)
            return rc;
        for (size_t i = 0; i < got; i++)
            for (size_t k = 0; k < users[i].n_groups && !users[i].is_superuser; k++)
                users[i].is_superuser = bsearch(&users[i].groups[k].id, granting, n_granting,
                                                sizeof(*granting), tk_st_cmp_i64) != NULL;
    } else if ((rc = load_superusers(db, a, users, got, ids, m)) != 0) {
        return rc;
    }
    *users_out = users;
    *n_out = got;
    return 0;
}

int tk_store_user_exists(struct tk_db *db, int64_t id, bool *exists)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT 1 FROM users WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    *exists = rc == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_st_lock_user(struct tk_db *db, int64_t id)
{
    bool exists = false;
    int rc = tk_store_user_lock(db, id);
    if (rc == 0)
        rc = tk_store_user_exists(db, id, &exists);
    return rc ? rc : exists ? 0 : TK_ERR_NOTFOUND;
}

int tk_store_user_attributes(struct tk_db *db, int64_t id, struct tk_arena *a, const char **json)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT attributes FROM users WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        *json = tk_st_col_dup(db, st, 0, a);
        rc = *json ? 0 : TK_ERR_NOMEM;
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_user_group_attributes(struct tk_db *db, int64_t id, struct tk_arena *a,
                                   const char ***json, size_t *n)
{
    struct tk_group *groups;
    size_t n_groups;
    int rc = tk_store_user_effective_groups(db, id, a, &groups, &n_groups);
    if (rc)
        return rc;
    const char **out = tk_arena_calloc(a, n_groups ? n_groups : 1, sizeof(*out));
    if (out == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n_groups; i++)
        out[i] = groups[i].attributes;
    *json = out;
    *n = n_groups;
    return 0;
}

static void sql_user_where(struct tk_sql *q, struct tk_arena *a, const struct tk_user_query *u)
{
    const struct {
        const char *col, *val;
    } eq[] = {{"u.username", u->username},
              {"u.email", u->email},
              {"u.name", u->name},
              {"u.uuid", u->uuid},
              {"u.path", u->path}};
    for (size_t i = 0; i < sizeof(eq) / sizeof(eq[0]); i++) {
        if (eq[i].val == NULL)
            continue;
        tk_sql_where(q);
        tk_sql_add(q, eq[i].col);
        tk_sql_add(q, " = ");
        tk_sql_cstr(q, eq[i].val);
    }
    if (u->path_startswith) {
        /* a prefix test without LIKE, so '%' and '_' are literal */
        tk_sql_where(q);
        tk_sql_add(q, "substr(u.path, 1, length(CAST(");
        tk_sql_cstr(q, u->path_startswith);
        tk_sql_add(q, " AS TEXT))) = ");
        tk_sql_cstr(q, u->path_startswith);
    }
    if (u->is_active >= 0) {
        tk_sql_where(q);
        tk_sql_add(q, "u.is_active = ");
        tk_sql_int(q, u->is_active);
    }
    if (u->is_superuser >= 0) {
        /* authentik evaluates this on the direct groups only */
        tk_sql_where(q);
        tk_sql_add(q, u->is_superuser ? "EXISTS" : "NOT EXISTS");
        tk_sql_add(q, " (SELECT 1 FROM memberships m JOIN groups g ON g.id = m.group_id "
                      "WHERE m.user_id = u.id AND g.is_superuser = 1)");
    }
    if (u->n_types > 0) {
        tk_sql_where(q);
        tk_sql_add(q, "u.type IN ");
        tk_st_sql_strs(q, u->types, u->n_types);
    }
    struct tk_list_tail tail = {
        u->group_sets,  "m.user_id = u.id AND m.group_id", u->attrs,   u->n_attrs,
        "u.attributes", (const char *const *)u->terms,     u->n_terms, "u.search_fold"};
    tk_st_sql_list_tail(q, a, &tail);
}

static const char *user_column(int f)
{
    switch (f) {
    case TK_UF_USERNAME: return "u.username";
    case TK_UF_NAME: return "u.name";
    case TK_UF_IS_ACTIVE: return "u.is_active";
    case TK_UF_LAST_LOGIN: return "u.last_login";
    case TK_UF_EMAIL: return "u.email";
    case TK_UF_PATH: return "u.path";
    case TK_UF_TYPE: return "u.type";
    case TK_UF_UUID: return "u.uuid";
    case TK_UF_ATTRIBUTES: return "u.attributes";
    default: return "u.id";
    }
}

int tk_store_user_count(struct tk_db *db, const struct tk_user_query *uq, struct tk_arena *a,
                        int64_t *count)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT COUNT(*) FROM users u");
    sql_user_where(&q, a, uq);
    return tk_st_count(db, &q, count);
}

int tk_store_user_list(struct tk_db *db, const struct tk_user_query *uq, int64_t offset,
                       int64_t limit, struct tk_arena *a, struct tk_user **users_out, size_t *n_out)
{
    *users_out = NULL;
    *n_out = 0;
    if (limit <= 0)
        return 0;
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT u.id FROM users u");
    sql_user_where(&q, a, uq);
    tk_st_sql_order_page(&q, uq->order, uq->n_order, user_column, "u.id", limit, offset);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    int64_t *ids;
    size_t n;
    if ((rc = tk_st_read_ids(db, st, a, (size_t)limit, &ids, &n)) != 0)
        return rc;
    struct tk_user *sorted;
    size_t n_sorted;
    if ((rc = tk_store_users_get(db, ids, n, true, a, &sorted, &n_sorted)) != 0)
        return rc;
    struct tk_user *out = tk_arena_calloc(a, n ? n : 1, sizeof(*out));
    if (out == NULL)
        return TK_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct tk_user *u = tk_store_user_in(sorted, n_sorted, ids[i]);
        if (u != NULL)
            out[k++] = *u;
    }
    *users_out = out;
    *n_out = k;
    return 0;
}

int tk_store_user_get(struct tk_db *db, int64_t id, struct tk_arena *a, struct tk_user **out)
{
    struct tk_user *u;
    size_t n;
    int rc = tk_store_users_get(db, &id, 1, true, a, &u, &n);
    if (rc)
        return rc;
    if (n == 0)
        return TK_ERR_NOTFOUND;
    *out = u;
    return 0;
}

static int set_user_groups(struct tk_db *db, int64_t id, const struct tk_user_new *u)
{
    if (!u->set_groups)
        return 0;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM memberships WHERE user_id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    if ((rc = tk_st_run(db, st)) != 0)
        return rc;
    for (size_t i = 0; i < u->n_groups && rc == 0; i++)
        rc = tk_store_membership_add(db, id, u->group_ids[i]);
    return rc;
}

int tk_store_user_create(struct tk_db *db, const struct tk_user_new *u, int64_t now, int64_t *id,
                         char uuid[37])
{
    struct tk_buf ufold, sfold;
    tk_buf_init(&ufold, TK_MAX_TEXT_BYTES);
    tk_buf_init(&sfold, TK_MAX_FOLD_BYTES);
    tk_uuid4(uuid);
    tk_utf8_fold(u->username, strlen(u->username), &ufold);
    int rc = tk_st_user_fold(u, uuid, &sfold);
    if (rc == 0)
        rc = ufold.err;
    struct tk_db_stmt *st = NULL;
    if (rc == 0)
        rc = tk_db_prepare(db,
                           "INSERT INTO users (uuid, username, username_fold, name, email, "
                           "is_active, last_login, path, type, attributes, search_fold, created) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                           &st);
    if (rc == 0) {
        tk_db_bind_cstr(db, st, 1, uuid);
        tk_db_bind_cstr(db, st, 2, u->username);
        tk_db_bind_text(db, st, 3, ufold.data ? ufold.data : "", ufold.len);
        tk_db_bind_cstr(db, st, 4, u->name ? u->name : "");
        tk_db_bind_cstr(db, st, 5, u->email ? u->email : "");
        tk_db_bind_int(db, st, 6, u->is_active);
        tk_db_bind_opt_int(db, st, 7, u->has_last_login, u->last_login);
        tk_db_bind_cstr(db, st, 8, u->path ? u->path : "users");
        tk_db_bind_cstr(db, st, 9, u->type ? u->type : "internal");
        tk_db_bind_cstr(db, st, 10, u->attributes ? u->attributes : "{}");
        tk_db_bind_text(db, st, 11, sfold.data, sfold.len);
        tk_db_bind_int(db, st, 12, now);
        rc = tk_st_insert_id(db, st, id);
    }
    tk_buf_free(&ufold);
    tk_buf_free(&sfold);
    if (rc == 0)
        rc = set_user_groups(db, *id, u);
    return rc;
}

int tk_store_user_update(struct tk_db *db, int64_t id, const struct tk_user_new *u)
{
    struct tk_arena *a = tk_arena_new(TK_ROW_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    struct tk_user *cur;
    int rc = tk_store_user_get(db, id, a, &cur);
    struct tk_buf ufold, sfold;
    tk_buf_init(&ufold, TK_MAX_TEXT_BYTES);
    tk_buf_init(&sfold, TK_MAX_FOLD_BYTES);
    if (rc == 0) {
        tk_utf8_fold(u->username, strlen(u->username), &ufold);
        rc = tk_st_user_fold(u, cur->uuid, &sfold);
        if (rc == 0)
            rc = ufold.err;
    }
    struct tk_db_stmt *st = NULL;
    if (rc == 0)
        rc = tk_db_prepare(db,
                           "UPDATE users SET username = ?, username_fold = ?, name = ?, email = ?, "
                           "is_active = ?, last_login = ?, path = ?, type = ?, attributes = ?, "
                           "search_fold = ? WHERE id = ?",
                           &st);
    if (rc == 0) {
        tk_db_bind_cstr(db, st, 1, u->username);
        tk_db_bind_text(db, st, 2, ufold.data ? ufold.data : "", ufold.len);
        tk_db_bind_cstr(db, st, 3, u->name ? u->name : "");
        tk_db_bind_cstr(db, st, 4, u->email ? u->email : "");
        tk_db_bind_int(db, st, 5, u->is_active);
        tk_db_bind_opt_int(db, st, 6, u->has_last_login, u->last_login);
        tk_db_bind_cstr(db, st, 7, u->path ? u->path : "users");
        tk_db_bind_cstr(db, st, 8, u->type ? u->type : "internal");
        tk_db_bind_cstr(db, st, 9, u->attributes ? u->attributes : "{}");
        tk_db_bind_text(db, st, 10, sfold.data, sfold.len);
        tk_db_bind_int(db, st, 11, id);
        rc = tk_st_run(db, st);
    }
    bool renamed = rc == 0 && strcmp(cur->username, u->username) != 0;
    tk_buf_free(&ufold);
    tk_buf_free(&sfold);
    tk_arena_free(a);
    if (rc == 0)
        rc = set_user_groups(db, id, u);
    if (rc == 0 && renamed)
        rc = tk_st_refold_user_tokens(db, id); /* search covers the owner's username */
    return rc;
}

static int by_identifier(const void *x, const void *y)
{
    return strcmp(((const struct tk_token *)x)->identifier,
                  ((const struct tk_token *)y)->identifier);
}

/* Deletes up to TK_USER_DELETE_BATCH of the user's tokens whose identifier sorts after `after`
 * (NULL: from the first), in identifier order, and reads back what was deleted (RETURNING: the
 * rows as they were when deleted, whatever a concurrent update did before) sorted by
 * identifier. The cursor keeps each statement an index range scan: on PostgreSQL the rows
 * deleted earlier in the transaction are still in the index, and starting from the first
 * identifier every time would walk over all of them again. */
static int delete_token_batch(struct tk_db *db, int64_t user_id, const char *after,
                              struct tk_arena *a, struct tk_token **out, size_t *n_out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           after ? "DELETE FROM tokens WHERE id IN (SELECT id FROM tokens "
                                   "WHERE user_id = ? AND identifier > ? ORDER BY identifier "
                                   "LIMIT ?) RETURNING id, uuid, identifier, intent, expires, "
                                   "expiring"
                                 : "DELETE FROM tokens WHERE id IN (SELECT id FROM tokens "
                                   "WHERE user_id = ? ORDER BY identifier LIMIT ?) RETURNING "
                                   "id, uuid, identifier, intent, expires, expiring",
                           &st);
    if (rc)
        return rc;
    int p = 1;
    tk_db_bind_int(db, st, p++, user_id);
    if (after)
        tk_db_bind_cstr(db, st, p++, after);
    tk_db_bind_int(db, st, p, TK_USER_DELETE_BATCH);
    struct tk_token *t = tk_arena_calloc(a, TK_USER_DELETE_BATCH, sizeof(*t));
    size_t n = 0;
    if (t == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && (rc = tk_db_step(db, st)) == 1) {
        if (n == TK_USER_DELETE_BATCH) {
            rc = TK_ERR_STORE; /* more rows than the LIMIT: cannot happen */
            break;
        }
        struct tk_token *x = &t[n++];
        x->expiring = tk_db_col_int(db, st, 5) != 0;
        x->user_id = user_id;
        x->description = "";
        rc = tk_st_col_token_brief(db, st, a, x);
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    qsort(t, n, sizeof(*t), by_identifier);
    *out = t;
    *n_out = n;
    return 0;
}

int tk_store_user_delete(struct tk_db *db, int64_t id, tk_store_tokens_fn on_batch, void *ctx)
{
    /* PostgreSQL: the user's row stays locked to the end of the transaction, so no token of
     * theirs is created meanwhile (token creates lock the owner's row too) */
    int rc = tk_st_lock_user(db, id);
    /* The tokens first, a batch per statement with a fresh arena each: memory and each
     * statement's time do not grow with the number of tokens. A second pass from the start
     * takes what a concurrent rename moved behind the cursor (PostgreSQL; finds nothing on
     * SQLite, whose write transactions exclude every other writer). */
    char *after = NULL;
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        size_t n = TK_USER_DELETE_BATCH;
        while (rc == 0 && n == TK_USER_DELETE_BATCH) {
            struct tk_arena *a = tk_arena_new(TK_ARENA_MAX_BYTES);
            struct tk_token *t = NULL;
            n = 0;
            rc = a ? delete_token_batch(db, id, after, a, &t, &n) : TK_ERR_NOMEM;
            if (rc == 0 && n > 0 && on_batch != NULL)
                rc = on_batch(ctx, db, t, n, a);
            free(after);
            after = NULL;
            if (rc == 0 && n == TK_USER_DELETE_BATCH &&
                (after = tk_strdup(t[n - 1].identifier)) == NULL)
                rc = TK_ERR_NOMEM;
            tk_arena_free(a);
        }
        free(after);
        after = NULL;
    }
    if (rc)
        return rc;
    /* what is left goes with the user (ON DELETE CASCADE): grants and memberships */
    struct tk_db_stmt *st;
    rc = tk_db_prepare(db, "DELETE FROM users WHERE id = ? RETURNING id", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    bool found = rc == 1;
    if (found)
        rc = tk_st_run(db, st);
    else
        tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    return found ? 0 : TK_ERR_NOTFOUND;
}

int tk_store_user_set_password(struct tk_db *db, int64_t id, const char *hash)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "UPDATE users SET password = ? WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, hash);
    tk_db_bind_int(db, st, 2, id);
    return tk_st_run(db, st);
}

int tk_store_username_taken(struct tk_db *db, const char *username, int64_t exclude_id, bool *taken)
{
    return tk_st_taken(db, "SELECT 1 FROM users WHERE username = ? AND id <> ?", username,
                       exclude_id, taken);
}

int tk_store_user_effective_groups(struct tk_db *db, int64_t id, struct tk_arena *a,
                                   struct tk_group **groups, size_t *n)
{
    /* The one walk up a user's group ancestry: from the direct groups through their parents,
     * TK_MAX_GROUP_DEPTH levels at most (UNION, not UNION ALL: a cycle ends it too). The depth
     * is text, not a parameter: the statement is users/me's and keeps its SQL. */
    char depth[16];
    snprintf(depth, sizeof(depth), "%d", TK_MAX_GROUP_DEPTH);
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "WITH RECURSIVE anc(group_id, depth) AS ("
                   "SELECT m.group_id, 0 FROM memberships m WHERE m.user_id = ");
    tk_sql_int(&q, id);
    tk_sql_add(&q, " UNION SELECT g.parent_id, anc.depth + 1 FROM anc "
                   "JOIN groups g ON g.id = anc.group_id "
                   "WHERE g.parent_id IS NOT NULL AND anc.depth < ");
    tk_sql_add(&q, depth);
    tk_sql_add(&q, ") SELECT " TK_ST_GROUP_COLUMNS " WHERE g.id IN (SELECT group_id FROM anc) "
                   "ORDER BY g.name, g.id");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    return tk_st_read_groups(db, st, a, groups, n);
}

int tk_store_user_tokens(struct tk_db *db, int64_t id, struct tk_arena *a, struct tk_token **tokens,
                         size_t *n)
{
    struct tk_token_query q;
    memset(&q, 0, sizeof(q));
    q.owner_id = id > 0 ? id : -1;
    q.expiring = -1;
    q.order[0] = (struct tk_order){TK_TF_IDENTIFIER, false};
    q.n_order = 1;
    int64_t count = 0;
    int rc = tk_store_token_count(db, &q, a, &count);
    if (rc)
        return rc;
    return tk_store_token_fetch(db, &q, 0, count, a, tokens, n);
}
