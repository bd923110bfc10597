/* Single tokens in the store (store.h, docs/api.md §5-§7): get by identifier or row id,
 * create, update, key changes, delete, the per-user cap's count, key-view grants, and the
 * sweeper's and the secret check's reads. */
#include "store/internal.h"

#include <string.h>

void tk_st_token_bind_row(struct tk_db *db, struct tk_db_stmt *st, int first,
                          const struct tk_token_new *t, const char *fold, size_t fold_len,
                          int64_t now)
{
    tk_db_bind_cstr(db, st, first, t->uuid);
    tk_db_bind_cstr(db, st, first + 1, t->identifier);
    tk_db_bind_cstr(db, st, first + 2, t->intent);
    tk_db_bind_int(db, st, first + 3, t->user_id);
    tk_db_bind_cstr(db, st, first + 4, t->description);
    tk_db_bind_opt_int(db, st, first + 5, t->has_expires, t->expires);
    tk_db_bind_int(db, st, first + 6, t->expiring);
    tk_db_bind_cstr(db, st, first + 7, t->managed);
    tk_db_bind_blob(db, st, first + 8, t->key_hash, TK_KEY_HASH_BYTES);
    /* view mode never: no sealed copy is ever stored (docs/api.md §19.4) */
    bool never = t->view_key == TK_VIEW_NEVER;
    tk_db_bind_blob(db, st, first + 9, never ? (const void *)"" : t->key_sealed,
                    never ? 0 : t->key_sealed_len);
    tk_db_bind_text(db, st, first + 10, fold, fold_len);
    tk_db_bind_int(db, st, first + 11, now);
    tk_db_bind_cstr(db, st, first + 12, t->scopes);
    tk_db_bind_cstr(db, st, first + 13, t->allowed_networks);
    tk_db_bind_cstr(db, st, first + 14, tk_view_mode_name(t->view_key));
}

int tk_store_token_insert(struct tk_db *db, const struct tk_token_new *t, int64_t now, int64_t *id)
{
    struct tk_buf fold;
    tk_buf_init(&fold, TK_MAX_TOKEN_FOLD_BYTES);
    int rc = tk_st_token_fold(db, t->identifier, t->intent, t->user_id, t->description, &fold);
    if (rc) {
        tk_buf_free(&fold);
        return rc;
    }
    struct tk_db_stmt *st;
    rc = tk_db_prepare(db,
                       "INSERT INTO tokens (" TK_ST_TOKEN_INSERT_COLUMNS
                       ") VALUES " TK_ST_TOKEN_INSERT_ROW " RETURNING id",
                       &st);
    if (rc == 0) {
        tk_st_token_bind_row(db, st, 1, t, fold.data, fold.len, now);
        rc = tk_st_insert_id(db, st, id);
    }
    tk_buf_free(&fold);
    return rc;
}

int tk_store_token_delete(struct tk_db *db, const char *identifier)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM tokens WHERE identifier = ? RETURNING id", &st);
    if (rc)
        return rc;
    tk_db_bind_cstr(db, st, 1, identifier);
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

int tk_store_token_sealed_key(struct tk_db *db, int64_t id, struct tk_arena *a, char uuid[37],
                              const uint8_t **sealed, size_t *len)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT uuid, key_sealed FROM tokens WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        tk_st_col_uuid(db, st, 0, uuid);
        rc = tk_st_col_blob_dup(db, st, 1, a, sealed, len);
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_store_token_quota(struct tk_db *db, int64_t user_id, unsigned max, bool *full)
{
    *full = false;
    int rc = tk_st_lock_user(db, user_id);
    if (rc || max == 0)
        return rc;
    struct tk_db_stmt *st;
    rc = tk_db_prepare(
        db, "SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE user_id = ? LIMIT ?) AS t", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, user_id);
    tk_db_bind_int(db, st, 2, max);
    int64_t n = 0;
    rc = tk_st_one_int(db, st, &n);
    *full = rc == 0 && n >= (int64_t)max;
    return rc;
}

int tk_store_token_get(struct tk_db *db, const char *identifier, int64_t owner_id,
                       struct tk_arena *a, struct tk_token **out)
{
    struct tk_token_query q;
    memset(&q, 0, sizeof(q));
    q.identifier = identifier;
    q.owner_id = owner_id;
    q.expiring = -1;
    q.with_groups = true;
    q.n_order = 0;
    struct tk_token *t;
    size_t n;
    int rc = tk_store_token_fetch(db, &q, 0, 1, a, &t, &n);
    if (rc)
        return rc;
    if (n == 0)
        return TK_ERR_NOTFOUND;
    *out = t;
    return 0;
}

int tk_store_token_get_by_id(struct tk_db *db, int64_t id, int64_t owner_id, struct tk_arena *a,
                             struct tk_token **out)
{
    if (id <= 0)
        return TK_ERR_NOTFOUND;
    struct tk_token_query q;
    memset(&q, 0, sizeof(q));
    q.id = id;
    q.owner_id = owner_id;
    q.expiring = -1;
    q.with_groups = true;
    struct tk_token *t;
    size_t n;
    int rc = tk_store_token_fetch(db, &q, 0, 1, a, &t, &n);
    if (rc)
        return rc;
    if (n == 0)
        return TK_ERR_NOTFOUND;
    *out = t;
    return 0;
}

int tk_store_token_identifier_taken(struct tk_db *db, const char *identifier, int64_t exclude_id,
                                    bool *out)
{
    return tk_st_taken(db, "SELECT 1 FROM tokens WHERE identifier = ? AND id <> ?", identifier,
                       exclude_id, out);
}

int tk_store_token_managed_taken(struct tk_db *db, const char *managed, int64_t exclude_id,
                                 bool *out)
{
    return tk_st_taken(db, "SELECT 1 FROM tokens WHERE managed = ? AND id <> ?", managed,
                       exclude_id, out);
}

int tk_st_refold_user_tokens(struct tk_db *db, int64_t user_id)
{
    struct tk_arena *a = tk_arena_new(TK_REFOLD_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    struct tk_token *tokens;
    size_t n;
    int rc = tk_store_user_tokens(db, user_id, a, &tokens, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = tk_store_token_update(db, &tokens[i]);
    tk_arena_free(a);
    return rc;
}

int tk_store_token_update(struct tk_db *db, const struct tk_token *t)
{
    struct tk_buf fold;
    tk_buf_init(&fold, TK_MAX_TOKEN_FOLD_BYTES);
    int rc = tk_st_token_fold(db, t->identifier, t->intent, t->user_id, t->description, &fold);
    struct tk_db_stmt *st = NULL;
    if (rc == 0)
        rc = tk_db_prepare(db,
                           "UPDATE tokens SET identifier = ?, intent = ?, description = ?, "
                           "expires = ?, expiring = ?, managed = ?, search_fold = ? "
                           "WHERE id = ?",
                           &st);
    if (rc == 0) {
        tk_db_bind_cstr(db, st, 1, t->identifier);
        tk_db_bind_cstr(db, st, 2, t->intent);
        tk_db_bind_cstr(db, st, 3, t->description);
        tk_db_bind_opt_int(db, st, 4, t->has_expires, t->expires);
        tk_db_bind_int(db, st, 5, t->expiring);
        tk_db_bind_cstr(db, st, 6, t->managed);
        tk_db_bind_text(db, st, 7, fold.data, fold.len);
        tk_db_bind_int(db, st, 8, t->id);
        rc = tk_st_run(db, st);
    }
    tk_buf_free(&fold);
    return rc;
}

int tk_store_token_set_key(struct tk_db *db, int64_t id, const uint8_t hash[TK_KEY_HASH_BYTES],
                           const void *sealed, size_t sealed_len, enum tk_key_change how)
{
    int rc = 0;
    bool shown = how == TK_KEY_SHOWN;
    if (how != TK_KEY_RESEALED) {
        /* a new key: not yet viewed; stored sealed unless the mode is never, or once and this
         * answer shows it (docs/api.md §19.4) */
        enum tk_view_mode mode;
        bool viewed, stored;
        rc = tk_store_token_key_state(db, id, &mode, &viewed, &stored);
        if (rc)
            return rc;
        if (mode == TK_VIEW_NEVER || (mode == TK_VIEW_ONCE && shown)) {
            sealed = "";
            sealed_len = 0;
        }
    }
    struct tk_db_stmt *st;
    rc = tk_db_prepare(db,
                       how == TK_KEY_RESEALED
                           ? "UPDATE tokens SET key_hash = ?, key_sealed = ? WHERE id = ?"
                           : "UPDATE tokens SET key_hash = ?, key_sealed = ?, key_viewed = ? "
                             "WHERE id = ?",
                       &st);
    if (rc)
        return rc;
    tk_db_bind_blob(db, st, 1, hash, TK_KEY_HASH_BYTES);
    tk_db_bind_blob(db, st, 2, sealed, sealed_len);
    if (how == TK_KEY_RESEALED) {
        tk_db_bind_int(db, st, 3, id);
    } else {
        tk_db_bind_int(db, st, 3, shown ? 1 : 0);
        tk_db_bind_int(db, st, 4, id);
    }
    return tk_st_run(db, st);
}

int tk_store_token_set_expires(struct tk_db *db, int64_t id, int64_t expires)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "UPDATE tokens SET expires = ? WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, expires);
    tk_db_bind_int(db, st, 2, id);
    return tk_st_run(db, st);
}

int tk_store_token_delete_id(struct tk_db *db, int64_t id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "DELETE FROM tokens WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, id);
    return tk_st_run(db, st);
}

int tk_store_key_viewer_add(struct tk_db *db, int64_t token_id, int64_t user_id)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "INSERT INTO token_key_viewers (token_id, user_id) VALUES (?, ?) "
                           "ON CONFLICT DO NOTHING",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, token_id);
    tk_db_bind_int(db, st, 2, user_id);
    return tk_st_run(db, st);
}

int tk_store_key_viewer_has(struct tk_db *db, int64_t token_id, int64_t user_id, bool *has)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT 1 FROM token_key_viewers WHERE token_id = ? AND user_id = ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, token_id);
    tk_db_bind_int(db, st, 2, user_id);
    rc = tk_db_step(db, st);
    *has = rc == 1;
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}

int tk_store_token_expired(struct tk_db *db, int64_t now, size_t limit, struct tk_arena *a,
                           struct tk_token **out, size_t *n_out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT id, uuid, identifier, intent, expires, user_id FROM tokens "
                           "WHERE expiring = 1 AND (expires IS NULL OR expires <= ?) "
                           "ORDER BY id LIMIT ?",
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, now);
    tk_db_bind_int(db, st, 2, (int64_t)limit);
    struct tk_token *t = tk_arena_calloc(a, limit ? limit : 1, sizeof(*t));
    size_t n = 0;
    if (t == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && n < limit && (rc = tk_db_step(db, st)) == 1) {
        struct tk_token *x = &t[n++];
        x->expiring = true;
        x->user_id = tk_db_col_int(db, st, 5);
        rc = tk_st_col_token_brief(db, st, a, x);
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *out = t;
    *n_out = n;
    return 0;
}

int tk_store_token_keys(struct tk_db *db, int64_t after_id, size_t limit, struct tk_arena *a,
                        struct tk_token_key **out, size_t *n)
{
    *n = 0;
    *out = tk_arena_calloc(a, limit ? limit : 1, sizeof(**out));
    if (*out == NULL)
        return TK_ERR_NOMEM;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT id, uuid, key_sealed FROM tokens WHERE id > ? AND "
                           "length(key_sealed) > 0 ORDER BY id LIMIT ?", /* erased: none */
                           &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, after_id);
    tk_db_bind_int(db, st, 2, (int64_t)limit);
    while ((rc = tk_db_step(db, st)) == 1 && *n < limit) {
        struct tk_token_key *k = &(*out)[*n];
        k->id = tk_db_col_int(db, st, 0);
        tk_st_col_uuid(db, st, 1, k->uuid);
        size_t len = 0;
        const void *p = tk_db_col_blob(db, st, 2, &len);
        uint8_t *copy = tk_arena_alloc(a, len ? len : 1);
        if (copy == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        if (len)
            memcpy(copy, p, len);
        k->sealed = copy;
        k->sealed_len = len;
        (*n)++;
    }
    tk_db_reset(db, st);
    return rc < 0 ? rc : 0;
}
