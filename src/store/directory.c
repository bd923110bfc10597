/* Users and groups in the store (store.h, API.md §14): lists with their filters, single
 * objects, writes with memberships, and the group-tree rules (ancestry, cycles). The SQL is
 * written once over the builder (sql.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/alloc.h"
#include "util/utf8.h"

/* ---- shared pieces ---- */

static int user_fold(const struct tk_user_new *u, const char *uuid, struct tk_buf *fold)
{
    /* search covers username, name, is_active, email and uuid (authentik's UserViewSet) */
    tk_utf8_fold(u->username, strlen(u->username), fold);
    tk_buf_putc(fold, '\x1f');
    tk_utf8_fold(u->name ? u->name : "", strlen(u->name ? u->name : ""), fold);
    tk_buf_putc(fold, '\x1f');
    tk_buf_puts(fold, u->is_active ? "true" : "false");
    tk_buf_putc(fold, '\x1f');
    tk_utf8_fold(u->email ? u->email : "", strlen(u->email ? u->email : ""), fold);
    tk_buf_putc(fold, '\x1f');
    return tk_buf_puts(fold, uuid);
}

static int group_fold(const char *name, bool is_superuser, struct tk_buf *fold)
{
    tk_utf8_fold(name, strlen(name), fold);
    tk_buf_putc(fold, '\x1f');
    return tk_buf_puts(fold, is_superuser ? "true" : "false");
}

/* SQLite JSON path '$."a"."b"'; NULL when a key cannot be written in one. */
static char *json_path(struct tk_arena *a, const char *const *keys, size_t n)
{
    struct tk_buf b;
    tk_buf_init(&b, TK_MAX_TEXT_BYTES);
    tk_buf_putc(&b, '$');
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        if (strchr(keys[i], '"') != NULL)
            ok = false;
        tk_buf_puts(&b, ".\"");
        tk_buf_puts(&b, keys[i]);
        tk_buf_putc(&b, '"');
    }
    char *r = ok && b.err == 0 ? tk_arena_strndup(a, b.data, b.len) : NULL;
    tk_buf_free(&b);
    return r;
}

/* PostgreSQL text[] literal {"a","b"} for the #> operators. */
static char *pg_path(struct tk_arena *a, const char *const *keys, size_t n)
{
    struct tk_buf b;
    tk_buf_init(&b, TK_MAX_TEXT_BYTES);
    tk_buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            tk_buf_putc(&b, ',');
        tk_buf_putc(&b, '"');
        for (const char *k = keys[i]; *k; k++) {
            if (*k == '"' || *k == '\\')
                tk_buf_putc(&b, '\\');
            tk_buf_putc(&b, *k);
        }
        tk_buf_putc(&b, '"');
    }
    tk_buf_putc(&b, '}');
    char *r = b.err == 0 ? tk_arena_strndup(a, b.data, b.len) : NULL;
    tk_buf_free(&b);
    return r;
}

static void sql_attr_filter_pg(struct tk_sql *q, struct tk_arena *a, const char *column,
                               const struct tk_attr_filter *f)
{
    char *path = pg_path(a, f->keys, f->n_keys);
    char node[256];
    snprintf(node, sizeof(node), "(CAST(%s AS jsonb) #> CAST(", column);
    const json_t *v = f->value;
    /* jsonb equality: numbers by value, objects regardless of key order */
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    tk_sql_add(q, " AND ");
    tk_sql_add(q, node);
    tk_sql_cstr(q, path ? path : "{}");
    tk_sql_add(q, " AS text[])) = CAST(");
    tk_sql_cstr(q, text ? tk_arena_strdup(a, text) : "null");
    tk_sql_add(q, " AS jsonb)");
    free(text);
}

/* AND <column> at keys equals value, in JSON terms. */
/* The two membership filters of a list (by pk and by name, both resolved to ids): each active
 * one keeps rows with a membership "<link> IN (ids)"; an empty set matches nothing. */
static void sql_membership_filter(struct tk_sql *q, const struct tk_id_set sets[2],
                                  const char *link)
{
    for (int k = 0; k < 2; k++) {
        if (!sets[k].active)
            continue;
        if (sets[k].n == 0) {
            tk_sql_add(q, " AND 0 = 1");
            continue;
        }
        tk_sql_add(q, " AND EXISTS (SELECT 1 FROM memberships m WHERE ");
        tk_sql_add(q, link);
        tk_sql_add(q, " IN ");
        tk_st_sql_id_list(q, sets[k].ids, sets[k].n);
        tk_sql_add(q, ")");
    }
}

static void sql_attr_filter(struct tk_sql *q, struct tk_arena *a, const char *column,
                            const struct tk_attr_filter *f)
{
    if (q->dialect == TK_DIALECT_PG) {
        sql_attr_filter_pg(q, a, column, f);
        return;
    }
    char *path = json_path(a, f->keys, f->n_keys);
    if (path == NULL) {
        tk_sql_add(q, " AND 0 = 1");
        return;
    }
    char expr_type[256], expr_val[256];
    snprintf(expr_type, sizeof(expr_type), "json_type(%s, ", column);
    snprintf(expr_val, sizeof(expr_val), "json_extract(%s, ", column);
    tk_sql_add(q, " AND ");
    tk_sql_add(q, expr_type);
    tk_sql_cstr(q, path);
    const json_t *v = f->value;
    switch (json_typeof(v)) {
    case JSON_STRING:
        tk_sql_add(q, ") = 'text' AND ");
        tk_sql_add(q, expr_val);
        tk_sql_cstr(q, path);
        tk_sql_add(q, ") = ");
        tk_sql_text(q, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
    case JSON_REAL: {
        char num[64];
        if (json_is_integer(v))
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        else
            snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        tk_sql_add(q, ") IN ('integer', 'real') AND ");
        tk_sql_add(q, expr_val);
        tk_sql_cstr(q, path);
        tk_sql_add(q, ") = CAST(");
        tk_sql_cstr(q, tk_arena_strdup(a, num));
        tk_sql_add(q, json_is_integer(v) ? " AS INTEGER)" : " AS REAL)");
        break;
    }
    case JSON_TRUE: tk_sql_add(q, ") = 'true'"); break;
    case JSON_FALSE: tk_sql_add(q, ") = 'false'"); break;
    case JSON_NULL: tk_sql_add(q, ") = 'null'"); break;
    default: {
        char *text = json_dumps(v, JSON_COMPACT);
        tk_sql_add(q, ") IN ('object', 'array') AND ");
        tk_sql_add(q, expr_val);
        tk_sql_cstr(q, path);
        tk_sql_add(q, ") = json(");
        tk_sql_cstr(q, text ? tk_arena_strdup(a, text) : "null");
        tk_sql_add(q, ")");
        free(text);
        break;
    }
    }
}

static void sql_strs(struct tk_sql *q, const char *const *v, size_t n)
{
    tk_sql_add(q, "(");
    for (size_t i = 0; i < n; i++) {
        if (i)
            tk_sql_add(q, ",");
        tk_sql_cstr(q, v[i]);
    }
    tk_sql_add(q, ")");
}

static int count_of(struct tk_db *db, struct tk_sql *q, int64_t *count)
{
    struct tk_db_stmt *st;
    int rc = tk_sql_prepare(db, q, &st);
    tk_sql_free(q);
    if (rc)
        return rc;
    return tk_st_one_int(db, st, count);
}

/* Reads a column of ids from a prepared statement into the arena. */
static int read_ids(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a, size_t max,
                    int64_t **ids, size_t *n)
{
    int64_t *out = tk_arena_calloc(a, max ? max : 1, sizeof(*out));
    size_t k = 0;
    int rc = out ? 0 : TK_ERR_NOMEM;
    while (rc == 0 && k < max && (rc = tk_db_step(db, st)) == 1) {
        out[k++] = tk_db_col_int(db, st, 0);
        rc = 0;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *ids = out;
    *n = k;
    return 0;
}

/* ---- users ---- */

static void sql_user_where(struct tk_sql *q, struct tk_arena *a, const struct tk_user_query *u)
{
    tk_sql_add(q, " WHERE 1 = 1");
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
        tk_sql_add(q, " AND ");
        tk_sql_add(q, eq[i].col);
        tk_sql_add(q, " = ");
        tk_sql_cstr(q, eq[i].val);
    }
    if (u->path_startswith) {
        /* a prefix test without LIKE, so '%' and '_' are literal */
        tk_sql_add(q, " AND substr(u.path, 1, length(CAST(");
        tk_sql_cstr(q, u->path_startswith);
        tk_sql_add(q, " AS TEXT))) = ");
        tk_sql_cstr(q, u->path_startswith);
    }
    if (u->is_active >= 0) {
        tk_sql_add(q, " AND u.is_active = ");
        tk_sql_int(q, u->is_active);
    }
    if (u->is_superuser >= 0) {
        /* authentik evaluates this on the direct groups only */
        tk_sql_add(q, u->is_superuser ? " AND" : " AND NOT");
        tk_sql_add(q, " EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.id = m.group_id "
                      "WHERE m.user_id = u.id AND g.is_superuser = 1)");
    }
    if (u->n_types > 0) {
        tk_sql_add(q, " AND u.type IN ");
        sql_strs(q, u->types, u->n_types);
    }
    sql_membership_filter(q, u->group_sets, "m.user_id = u.id AND m.group_id");
    for (size_t i = 0; i < u->n_attrs; i++)
        sql_attr_filter(q, a, "u.attributes", &u->attrs[i]);
    for (size_t i = 0; i < u->n_terms; i++) {
        tk_sql_add(q, " AND ");
        tk_sql_contains(q, "u.search_fold", u->terms[i]);
    }
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
    return count_of(db, &q, count);
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
    tk_sql_add(&q, " ORDER BY ");
    for (size_t i = 0; i < uq->n_order; i++) {
        tk_sql_add(&q, user_column(uq->order[i].field));
        tk_sql_add(&q, uq->order[i].desc ? " DESC NULLS FIRST, " : " ASC NULLS LAST, ");
    }
    tk_sql_add(&q, "u.id LIMIT ");
    tk_sql_int(&q, limit);
    tk_sql_add(&q, " OFFSET ");
    tk_sql_int(&q, offset);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    int64_t *ids;
    size_t n;
    if ((rc = read_ids(db, st, a, (size_t)limit, &ids, &n)) != 0)
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
    int rc = user_fold(u, uuid, &sfold);
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
        rc = tk_db_step(db, st);
        if (rc == 1) {
            *id = tk_db_col_int(db, st, 0);
            rc = tk_st_run(db, st);
        } else {
            tk_db_reset(db, st);
            if (rc == 0)
                rc = TK_ERR_STORE;
        }
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
        rc = user_fold(u, cur->uuid, &sfold);
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

static int read_groups(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                       struct tk_group **out, size_t *n_out)
{
    /* columns: id, uuid, name, is_superuser, parent uuid, parent name, attributes */
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
        struct tk_group *x = &g[n++];
        x->id = tk_db_col_int(db, st, 0);
        tk_st_col_uuid(db, st, 1, x->uuid);
        x->name = tk_st_col_dup(db, st, 2, a);
        x->is_superuser = tk_db_col_int(db, st, 3) != 0;
        x->has_parent = !tk_db_col_null(db, st, 4);
        if (x->has_parent) {
            tk_st_col_uuid(db, st, 4, x->parent_uuid);
            x->parent_name = tk_st_col_dup(db, st, 5, a);
        }
        x->attributes = tk_st_col_dup(db, st, 6, a);
        rc = x->name && x->attributes && (!x->has_parent || x->parent_name) ? 0 : TK_ERR_NOMEM;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *out = g;
    *n_out = n;
    return 0;
}

#define GROUP_COLUMNS                                                                              \
    "g.id, g.uuid, g.name, g.is_superuser, p.uuid, p.name, g.attributes FROM groups g "            \
    "LEFT JOIN groups p ON p.id = g.parent_id"

int tk_store_user_effective_groups(struct tk_db *db, int64_t id, struct tk_arena *a,
                                   struct tk_group **groups, size_t *n)
{
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
    tk_sql_add(&q, ") SELECT " GROUP_COLUMNS " WHERE g.id IN (SELECT group_id FROM anc) "
                   "ORDER BY g.name, g.id");
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    return read_groups(db, st, a, groups, n);
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

/* ---- groups ---- */

static void sql_group_where(struct tk_sql *q, struct tk_arena *a, const struct tk_group_query *g)
{
    tk_sql_add(q, " WHERE 1 = 1");
    if (g->name) {
        tk_sql_add(q, " AND g.name = ");
        tk_sql_cstr(q, g->name);
    }
    if (g->is_superuser >= 0) {
        tk_sql_add(q, " AND g.is_superuser = ");
        tk_sql_int(q, g->is_superuser);
    }
    sql_membership_filter(q, g->member_sets, "m.group_id = g.id AND m.user_id");
    for (size_t i = 0; i < g->n_attrs; i++)
        sql_attr_filter(q, a, "g.attributes", &g->attrs[i]);
    for (size_t i = 0; i < g->n_terms; i++) {
        tk_sql_add(q, " AND ");
        tk_sql_contains(q, "g.search_fold", g->terms[i]);
    }
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
    return count_of(db, &q, count);
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
    tk_sql_add(&q, "SELECT " GROUP_COLUMNS);
    sql_group_where(&q, a, gq);
    tk_sql_add(&q, " ORDER BY ");
    for (size_t i = 0; i < gq->n_order; i++) {
        tk_sql_add(&q, group_column(gq->order[i].field));
        tk_sql_add(&q, gq->order[i].desc ? " DESC NULLS FIRST, " : " ASC NULLS LAST, ");
    }
    tk_sql_add(&q, "g.id LIMIT ");
    tk_sql_int(&q, limit);
    tk_sql_add(&q, " OFFSET ");
    tk_sql_int(&q, offset);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    struct tk_group *g;
    size_t n;
    if ((rc = read_groups(db, st, a, &g, &n)) != 0)
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
    int rc = tk_db_prepare(db, "SELECT " GROUP_COLUMNS " WHERE g.uuid = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, uuid);
    struct tk_group *g;
    size_t n;
    if ((rc = read_groups(db, st, a, &g, &n)) != 0)
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
    int rc = group_fold(g->name, g->is_superuser, &fold);
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
        rc = tk_db_step(db, st);
        if (rc == 1) {
            *id = tk_db_col_int(db, st, 0);
            rc = tk_st_run(db, st);
        } else {
            tk_db_reset(db, st);
            if (rc == 0)
                rc = TK_ERR_STORE;
        }
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
    int rc = group_fold(g->name, g->is_superuser, &fold);
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
    int rc =
        tk_db_prepare(db, "SELECT " GROUP_COLUMNS " WHERE g.parent_id = ? ORDER BY g.name", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    return read_groups(db, st, a, groups, n);
}
