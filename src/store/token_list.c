/* The token list (store.h, docs/api.md §8, §9): its WHERE and ORDER BY, the count (kept in a
 * row by triggers when nothing filters), and a page read five ways: by OFFSET, from the end
 * for a page past the middle, as a deferred join for a deep one, from a kept position for a
 * deep one on PostgreSQL (pg_positions.c), or by the ids a search walk kept (search.c). */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

void tk_st_sql_token_where(struct tk_sql *q, const struct tk_token_query *t)
{
    if (t->owner_id > 0) {
        tk_sql_where(q);
        tk_sql_add(q, "t.user_id = ");
        tk_sql_int(q, t->owner_id);
    }
    if (t->id > 0) {
        tk_sql_where(q);
        tk_sql_add(q, "t.id = ");
        tk_sql_int(q, t->id);
    }
    if (t->identifier) {
        tk_sql_where(q);
        tk_sql_add(q, "t.identifier = ");
        tk_sql_cstr(q, t->identifier);
    }
    if (t->intent) {
        tk_sql_where(q);
        tk_sql_add(q, "t.intent = ");
        tk_sql_cstr(q, t->intent);
    }
    if (t->managed) {
        tk_sql_where(q);
        tk_sql_add(q, "t.managed = ");
        tk_sql_cstr(q, t->managed);
    }
    if (t->username) {
        tk_sql_where(q);
        tk_sql_add(q, "u.username = ");
        tk_sql_cstr(q, t->username);
    }
    if (t->description) {
        tk_sql_where(q);
        tk_sql_add(q, "t.description = ");
        tk_sql_cstr(q, t->description);
    }
    if (t->has_expires) {
        tk_sql_where(q);
        tk_sql_add(q, "t.expires = ");
        tk_sql_int(q, t->expires);
    }
    if (t->expiring >= 0) {
        tk_sql_where(q);
        tk_sql_add(q, "t.expiring = ");
        tk_sql_int(q, t->expiring ? 1 : 0);
    }
    /* search (docs/api.md §8): every term is a substring of identifier, intent, username or
     * description, compared on case folds stored at write time (identical on every engine). */
    tk_st_sql_token_search(q, t);
}

static const char *order_column(enum tk_token_field f)
{
    switch (f) {
    case TK_TF_PK: return "t.uuid";
    case TK_TF_MANAGED: return "t.managed";
    case TK_TF_IDENTIFIER: return "t.identifier";
    case TK_TF_INTENT: return "t.intent";
    case TK_TF_USER: return "t.user_id";
    case TK_TF_DESCRIPTION: return "t.description";
    case TK_TF_EXPIRES: return "t.expires";
    case TK_TF_EXPIRING: return "t.expiring";
    }
    return "t.id";
}

#define TOKEN_COLUMNS                                                                              \
    "SELECT t.id, t.uuid, t.managed, t.identifier, t.intent, t.user_id, t.description, "           \
    "t.expires, t.expiring"

#define TK_DEFERRED_JOIN_OFFSET 1000

/* ORDER BY the query's fields, t.id last (a total order), reversed when reverse. Terms after a
 * unique, non-null column (identifier, pk) cannot change the order and are left out: then the
 * column's own index covers the ordering (the default "identifier,-expires" otherwise made a
 * deep page look up every skipped row for its expires). */
void tk_st_sql_token_order(struct tk_sql *q, const struct tk_token_query *tq, bool reverse)
{
    tk_sql_add(q, " ORDER BY ");
    for (size_t i = 0; i < tq->n_order; i++) {
        enum tk_token_field f = tq->order[i].field;
        tk_sql_add(q, order_column(f));
        bool desc = tq->order[i].desc != reverse;
        if (f == TK_TF_IDENTIFIER || f == TK_TF_PK) {
            tk_sql_add(q, desc ? " DESC" : "");
            return;
        }
        /* PostgreSQL's default NULL placement, on every engine (docs/api.md §8). */
        tk_sql_add(q, desc ? " DESC NULLS FIRST, " : " ASC NULLS LAST, ");
    }
    tk_sql_add(q, reverse ? "t.id DESC" : "t.id");
}

static int page_stmt(struct tk_db *db, const struct tk_token_query *tq, int64_t offset,
                     int64_t limit, bool reverse, struct tk_arena *a, struct tk_db_stmt **out);

/* PostgreSQL: the page the caller will fetch is sent with the count, one round trip for both
 * (tk_db_send), when it is a shallow page by number (its statement then needs no count). */
static void prefetch_page(struct tk_db *db, struct tk_token_query *tq, struct tk_arena *a)
{
    if (db->dialect != TK_DIALECT_PG || tq->page_limit <= 0 || tq->page_last ||
        tq->page_offset >= TK_DEFERRED_JOIN_OFFSET)
        return;
    struct tk_page_prefetch *p = tk_arena_calloc(a, 1, sizeof(*p));
    if (p == NULL || page_stmt(db, tq, tq->page_offset, tq->page_limit, false, a, &p->st) != 0)
        return;
    if (tk_db_send(db, p->st) != 0) {
        tk_db_reset(db, p->st);
        return;
    }
    p->offset = tq->page_offset;
    p->limit = tq->page_limit;
    tq->prefetch = p;
}

/* The prefetched page stays only if the caller will fetch it: a page number past the end is
 * answered from the count alone (docs/api.md §9). */
static void prefetch_keep(struct tk_db *db, struct tk_token_query *tq, int rc, int64_t count)
{
    struct tk_page_prefetch *p = tq->prefetch;
    if (p == NULL || (rc == 0 && (p->offset == 0 || p->offset < count)))
        return;
    tk_db_reset(db, p->st);
    tq->prefetch = NULL;
}

int tk_store_token_count(struct tk_db *db, struct tk_token_query *tq, struct tk_arena *a,
                         int64_t *count)
{
    tq->page_ids = NULL;
    tq->prefetch = NULL;
    tq->common_trigrams = NULL;
    int rc = tq->n_terms > 0 ? tk_st_common_trigrams(db, a, &tq->common_trigrams) : 0;
    if (rc)
        return rc;
    if (tq->page_limit > 0 && tk_st_search_walked(db, tq, a))
        return tk_st_search_walk(db, tq, a, count);
    struct tk_sql q;
    if ((rc = tk_sql_init(&q, db->dialect, a)) != 0)
        return rc;
    if (tq->username)
        tk_sql_add(&q, "SELECT COUNT(*) FROM tokens t JOIN users u ON u.id = t.user_id");
    else
        tk_sql_add(&q, "SELECT COUNT(*) FROM tokens t");
    size_t unfiltered = q.text.len;
    tk_st_sql_token_where(&q, tq);
    struct tk_db_stmt *st;
    if (!tq->username && q.text.len == unfiltered)
        rc = tk_db_prepare(db,
                           db->dialect == TK_DIALECT_SQLITE
                               ? "SELECT n FROM token_count WHERE id = 1" /* sqlite 0003 */
                               : "SELECT SUM(n) FROM token_count_shards", /* pg 0004 */
                           &st);
    else
        rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    if ((rc = tk_db_send(db, st)) != 0) {
        tk_db_reset(db, st);
        return rc;
    }
    prefetch_page(db, tq, a);
    rc = tk_st_one_int(db, st, count);
    prefetch_keep(db, tq, rc, *count);
    return rc;
}

static int read_token(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                      struct tk_token *t)
{
    t->id = tk_db_col_int(db, st, 0);
    tk_st_col_uuid(db, st, 1, t->uuid);
    t->managed = tk_st_col_dup_null(db, st, 2, a);
    t->identifier = tk_st_col_dup(db, st, 3, a);
    t->intent = tk_st_col_dup(db, st, 4, a);
    t->user_id = tk_db_col_int(db, st, 5);
    t->description = tk_st_col_dup(db, st, 6, a);
    t->has_expires = !tk_db_col_null(db, st, 7);
    t->expires = tk_db_col_int(db, st, 7);
    t->expiring = tk_db_col_int(db, st, 8) != 0;
    return (t->identifier && t->intent && t->description) ? 0 : TK_ERR_NOMEM;
}

struct id_pos {
    int64_t id;
    size_t pos;
};

static int by_id(const void *x, const void *y)
{
    const struct id_pos *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The rows of the ids tk_st_search_walk kept, in their order. On SQLite the walk and this read
 * are one snapshot, so none can be missing. PostgreSQL's reads open no transaction
 * (tk_store_read_begin): a token deleted between the two is left out of the page, as a page read
 * after its count may miss one there. */
static int fetch_ids(struct tk_db *db, const int64_t *ids, size_t n, struct tk_arena *a,
                     struct tk_token *tokens, size_t *n_out)
{
    *n_out = 0;
    if (n == 0)
        return 0;
    struct id_pos *where = tk_arena_calloc(a, n, sizeof(*where));
    if (where == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        where[i] = (struct id_pos){ids[i], i};
    qsort(where, n, sizeof(*where), by_id);
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, TOKEN_COLUMNS " FROM tokens t WHERE t.id IN ");
    tk_st_sql_id_list(&q, ids, n);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    size_t got = 0;
    while (rc == 0 && (rc = tk_db_step(db, st)) == 1) {
        struct id_pos key = {tk_db_col_int(db, st, 0), 0};
        struct id_pos *w = bsearch(&key, where, n, sizeof(*where), by_id);
        rc = w ? read_token(db, st, a, &tokens[w->pos]) : TK_ERR_STORE;
        got++;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    if (got != n && db->dialect != TK_DIALECT_PG)
        return TK_ERR_STORE;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (tokens[i].identifier != NULL)
            tokens[kept++] = tokens[i];
    *n_out = kept;
    return 0;
}

/* The statement of rows [offset, offset + limit) of the list, prepared and bound: in the
 * list's order, or in its reverse when reverse (offset then counts from the end). */
static int page_stmt(struct tk_db *db, const struct tk_token_query *tq, int64_t offset,
                     int64_t limit, bool reverse, struct tk_arena *a, struct tk_db_stmt **out)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    /* A deep page is a deferred join: the skipped rows are walked for their ids only (in the
     * ordering's index alone, when it covers them), and just the page's rows are read whole.
     * Three times faster 200,000 rows deep; not worth its sort for a shallow page. */
    bool deferred = offset >= TK_DEFERRED_JOIN_OFFSET;
    tk_sql_add(&q, deferred ? "SELECT t.id" : TOKEN_COLUMNS);
    tk_sql_add(&q, " FROM tokens t");
    if (tq->username)
        tk_sql_add(&q, " JOIN users u ON u.id = t.user_id");
    tk_st_sql_token_where(&q, tq);
    tk_st_sql_token_order(&q, tq, reverse);
    tk_sql_limit(&q, limit, offset, tq->n_terms == 0);
    if (deferred) {
        struct tk_sql outer;
        if ((rc = tk_sql_init(&outer, db->dialect, a)) != 0) {
            tk_sql_free(&q);
            return rc;
        }
        tk_sql_add(&outer, TOKEN_COLUMNS " FROM (");
        tk_sql_splice(&outer, &q);
        tk_sql_add(&outer, ") p JOIN tokens t ON t.id = p.id");
        tk_st_sql_token_order(&outer, tq, reverse);
        tk_sql_free(&q);
        q = outer;
    }
    rc = tk_sql_prepare(db, &q, out);
    tk_sql_free(&q);
    return rc;
}

/* Up to limit rows of st (TOKEN_COLUMNS) into tokens (*n_out), and st reset. */
static int read_rows(struct tk_db *db, struct tk_db_stmt *st, int64_t limit, struct tk_arena *a,
                     struct tk_token *tokens, size_t *n_out)
{
    size_t n = 0;
    int rc = 0;
    while (rc == 0 && n < (size_t)limit && (rc = tk_db_step(db, st)) == 1)
        rc = read_token(db, st, a, &tokens[n++]);
    tk_db_reset(db, st);
    *n_out = n;
    return rc < 0 ? rc : 0;
}

/* Rows read in the reverse of the list's order, turned around. */
static void turn_around(struct tk_token *tokens, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        struct tk_token tmp = tokens[i];
        tokens[i] = tokens[n - 1 - i];
        tokens[n - 1 - i] = tmp;
    }
}

/* Is tq the whole list (no condition) in identifier order, *desc when descending: the order
 * whose positions pg_positions.c keeps? */
static bool whole_by_identifier(const struct tk_token_query *tq, struct tk_arena *a, bool *desc)
{
    if (tq->n_order == 0 || tq->order[0].field != TK_TF_IDENTIFIER || tq->n_terms > 0 ||
        tq->username)
        return false;
    struct tk_sql q;
    if (tk_sql_init(&q, TK_DIALECT_PG, a) != 0)
        return false;
    tk_st_sql_token_where(&q, tq);
    bool whole = !q.in_where && q.err == 0;
    tk_sql_free(&q);
    *desc = tq->order[0].desc;
    return whole;
}

/* The rows of pp (ascending), provided the order counter is still pp's: in the statement's own
 * snapshot, so a moved list gives no row at all. */
static int read_positioned(struct tk_db *db, const struct tk_position_page *pp, struct tk_arena *a,
                           struct tk_token *tokens, size_t *n_out)
{
    *n_out = 0;
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, TOKEN_COLUMNS " FROM tokens t");
    if (pp->from != NULL) {
        tk_sql_where(&q);
        tk_sql_add(&q, "t.identifier >= ");
        tk_sql_cstr(&q, pp->from);
    }
    tk_sql_where(&q);
    tk_sql_add(&q, "(SELECT SUM(n) FROM token_order_shards) = "); /* pg 0007 */
    tk_sql_int(&q, pp->version);
    tk_sql_add(&q, " ORDER BY t.identifier");
    tk_sql_limit(&q, pp->limit, pp->skip, false);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    return rc ? rc : read_rows(db, st, pp->limit, a, tokens, n_out);
}

/* The page from the process's positions when they are known and the list has not moved since
 * they were read (*done), else dropped when it has. */
static int from_positions(struct tk_db *db, int64_t offset, int64_t limit, bool desc,
                          struct tk_arena *a, struct tk_token *tokens, size_t *n_out, bool *done)
{
    struct tk_position_page pp;
    if (!tk_positions_page(db->positions, offset, limit, desc, a, &pp))
        return 0;
    int rc = read_positioned(db, &pp, a, tokens, n_out);
    if (rc)
        return rc;
    if (*n_out == 0) {
        tk_positions_stale(db->positions, pp.version); /* moved since they were read */
        return 0;
    }
    if (desc)
        turn_around(tokens, *n_out);
    *done = true;
    return 0;
}

/* PostgreSQL: a page of the whole list in identifier order, TK_POSITIONS_MIN_OFFSET rows deep or
 * deeper, read from the process's positions (pg_positions.c, docs/api.md §20.4), which are read
 * first when the OFFSET reads since they were last read have paid for it. *done false: the
 * caller reads the page by OFFSET. */
static int fetch_positioned(struct tk_db *db, const struct tk_token_query *tq, int64_t offset,
                            int64_t limit, struct tk_arena *a, struct tk_token *tokens,
                            size_t *n_out, bool *done)
{
    *done = false;
    *n_out = 0;
    bool desc;
    if (db->positions == NULL || offset < TK_POSITIONS_MIN_OFFSET || !tq->count_known ||
        offset >= tq->count || !whole_by_identifier(tq, a, &desc))
        return 0;
    int rc = from_positions(db, offset, limit, desc, a, tokens, n_out, done);
    if (rc || *done)
        return rc;
    /* what OFFSET would step over (fetch_query reads a page past the middle from the end) */
    int64_t walk = offset > tq->count / 2 ? tq->count - offset : offset;
    if (!tk_positions_walked(db->positions, walk, tq->count) ||
        tk_positions_read(db->positions, db) != 0)
        return 0;
    return from_positions(db, offset, limit, desc, a, tokens, n_out, done);
}

/* Rows [offset, offset + limit) of the list by its own query (or the one sent with the count,
 * prefetch_page). */
static int fetch_query(struct tk_db *db, const struct tk_token_query *tq, int64_t offset,
                       int64_t limit, struct tk_arena *a, struct tk_token *tokens, size_t *n_out)
{
    *n_out = 0;
    struct tk_db_stmt *st = NULL;
    struct tk_page_prefetch *p = tq->prefetch;
    bool reverse = false;
    int rc = 0;
    if (p != NULL && p->st != NULL && p->offset == offset && p->limit == limit) {
        st = p->st;
        p->st = NULL; /* read once */
    } else {
        if (p != NULL && p->st != NULL) { /* another page after all */
            tk_db_reset(db, p->st);
            p->st = NULL;
        }
        bool done;
        if ((rc = fetch_positioned(db, tq, offset, limit, a, tokens, n_out, &done)) != 0 || done)
            return rc;
        /* OFFSET walks the skipped rows: a page past the middle is the same rows read in the
         * reverse of the (total: t.id breaks ties) order from the end, then turned around. */
        reverse = tq->count_known && offset > tq->count / 2 && offset < tq->count;
        if (reverse) {
            int64_t from_end = tq->count - offset - limit;
            if (from_end < 0) {
                limit += from_end; /* the last page, shorter */
                from_end = 0;
            }
            offset = from_end;
        }
        if ((rc = page_stmt(db, tq, offset, limit, reverse, a, &st)) != 0)
            return rc;
    }
    if ((rc = read_rows(db, st, limit, a, tokens, n_out)) == 0 && reverse)
        turn_around(tokens, *n_out);
    return rc;
}

int tk_store_token_fetch(struct tk_db *db, const struct tk_token_query *tq, int64_t offset,
                         int64_t limit, struct tk_arena *a, struct tk_token **tokens_out,
                         size_t *n_out)
{
    *tokens_out = NULL;
    *n_out = 0;
    if (limit <= 0)
        return 0;
    struct tk_token *tokens = tk_arena_calloc(a, (size_t)limit, sizeof(*tokens));
    if (tokens == NULL)
        return TK_ERR_NOMEM;
    size_t n = 0;
    int rc;
    if (tq->page_ids != NULL && offset == tq->page_ids_offset && limit == tq->page_limit)
        rc = fetch_ids(db, tq->page_ids, tq->n_page_ids, a, tokens, &n); /* tk_st_search_walk's */
    else
        rc = fetch_query(db, tq, offset, limit, a, tokens, &n);
    if (rc)
        return rc;
    if (tq->without_users) {
        *tokens_out = tokens;
        *n_out = n;
        return 0;
    }
    int64_t *uids = tk_arena_calloc(a, n ? n : 1, sizeof(*uids));
    if (uids == NULL)
        return TK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        uids[i] = tokens[i].user_id;
    struct tk_user *users;
    size_t n_users;
    rc = tk_store_users_get(db, uids, n, tq->with_groups, a, &users, &n_users);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        tokens[i].user = tk_store_user_in(users, n_users, tokens[i].user_id);
    *tokens_out = tokens;
    *n_out = n;
    return 0;
}
