/* /api/v3/core/tokens/ (docs/api.md §7): the list with its filters, search, ordering and paging,
 * under the owner-or-superuser rule of §4.2 (non-superusers see only their own tokens). */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/listing.h"
#include "api/messages.h"
#include "api/query.h"
#include "api/serialize.h"
#include "api/token_cache.h"
#include "api/tokens.h"
#include "api/user_cache.h"
#include "domain/pagination.h"
#include "util/limits.h"
#include "util/time.h"

/* docs/api.md §19.2 */
#define TOKENS_SCOPES TK_API_SCOPES(TK_SCOPE_TOKENS_READ, TK_SCOPE_TOKENS_WRITE)
#define KEYS_SCOPES TK_API_SCOPES(TK_SCOPE_TOKENS_KEYS, TK_SCOPE_TOKENS_KEYS)

static const char *const intents[] = {"api", "app_password", "recovery", "verification"};

/* The intent filter: one of the four intents, or a field error (0) for anything else. */
static int intent_filter(struct tk_ctx *c, const struct tk_query *q, void *query)
{
    struct tk_token_query *tq = query;
    const struct tk_qparam *p = tk_query_get(q, "intent");
    if (p == NULL || p->val_len == 0)
        return 0;
    for (size_t i = 0; i < sizeof(intents) / sizeof(intents[0]); i++) {
        if (strlen(intents[i]) == p->val_len && memcmp(intents[i], p->val, p->val_len) == 0) {
            tq->intent = intents[i];
            return 0;
        }
    }
    struct tk_buf msg;
    tk_buf_init(&msg, TK_MAX_TEXT_BYTES);
    tk_buf_puts(&msg, TK_MSG_CHOICE_PREFIX);
    tk_buf_append(&msg, p->val, p->val_len);
    tk_buf_puts(&msg, TK_MSG_CHOICE_SUFFIX);
    /* The message may hold NUL bytes: add it with its length through the arena copy. */
    size_t mlen = msg.len;
    char *m = msg.err ? NULL : tk_arena_strndup(c->req->arena, msg.data, mlen);
    tk_buf_free(&msg);
    if (m == NULL)
        return TK_ERR_NOMEM;
    tk_field_errors_add_n(&c->fe, "intent", m, mlen);
    return 0;
}

static enum tk_rendering rendering(bool groups)
{
    return groups ? TK_RENDER_USER_GROUPS : TK_RENDER_USER;
}

struct rendered {
    const char *json; /* NULL: render tokens[i].user */
    size_t len;
};

/* The owners of a page, inside its read: each from this thread's cache of rendered users when
 * it holds them for this snapshot, the others loaded in one query with their groups
 * (user_cache.h). */
static int page_owners(struct tk_db *db, const struct tk_store_snapshot *snap, struct tk_arena *a,
                       struct tk_token *tokens, size_t n, bool groups, struct rendered *out)
{
    int64_t *miss = tk_arena_calloc(a, n ? n : 1, sizeof(*miss));
    if (miss == NULL)
        return TK_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *json = tk_user_cache_get(snap, tokens[i].user_id, rendering(groups), &len);
        if (json != NULL) /* stays valid: nothing is put until write_tokens has written */
            out[i] = (struct rendered){json, len};
        else
            miss[m++] = tokens[i].user_id;
    }
    if (m == 0)
        return 0;
    struct tk_user *users;
    size_t n_users;
    int rc = tk_store_users_get(db, miss, m, true, a, &users, &n_users);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (out[i].json == NULL)
            tokens[i].user = tk_store_user_in(users, n_users, tokens[i].user_id);
    return 0;
}

/* Writes the page's tokens. Owners rendered here go into the cache for the next request only
 * once every token is written: a put may evict an entry that owners[] still points to. */
static void write_tokens(struct tk_ctx *c, struct tk_jw *w, const struct tk_store_snapshot *snap,
                         const struct tk_token *tokens, size_t n, bool groups,
                         struct rendered *owners)
{
    bool *fresh = tk_arena_calloc(c->req->arena, n ? n : 1, sizeof(*fresh));
    struct tk_buf user;
    tk_buf_init(&user, TK_MAX_RESPONSE_BYTES);
    for (size_t i = 0; i < n; i++) {
        const struct tk_token *t = &tokens[i];
        if (owners[i].json == NULL && t->user != NULL && fresh != NULL) {
            struct tk_jw uw;
            tk_buf_reset(&user);
            tk_jw_init(&uw, &user);
            tk_json_user(&uw, c->api, t->user, groups);
            char *copy = user.err == 0 ? tk_arena_alloc(c->req->arena, user.len) : NULL;
            if (copy != NULL) {
                memcpy(copy, user.data, user.len);
                fresh[i] = true;
                for (size_t k = i; k < n; k++) /* the same owner further down the page */
                    if (owners[k].json == NULL && tokens[k].user_id == t->user_id)
                        owners[k] = (struct rendered){copy, user.len};
            }
        }
        if (owners[i].json != NULL)
            tk_json_token_rendered_user(w, t, owners[i].json, owners[i].len);
        else
            tk_json_token(w, c->api, t, groups);
    }
    tk_buf_free(&user);
    for (size_t i = 0; fresh != NULL && i < n; i++)
        if (fresh[i])
            tk_user_cache_put(snap, tokens[i].user_id, rendering(groups), owners[i].json,
                              owners[i].len);
}

/* The page a token list reads: the tokens, and their owners rendered or loaded in the same
 * read (page_owners). */
struct token_page {
    struct tk_token *tokens;
    size_t n;
    struct rendered *owners;
    struct tk_store_snapshot snap;
    bool include_groups;
};

/* The page to come, so that a search is evaluated once for count and page (store.h); a page
 * number that cannot be valid is answered from the count alone. */
static void plan_page(void *query, const struct tk_page_request *pr, int64_t page_size)
{
    struct tk_token_query *tq = query;
    if (!pr->invalid && !pr->too_big &&
        (pr->last || (pr->number >= 1 && pr->number <= INT64_MAX / page_size))) {
        tq->page_last = pr->last;
        tq->page_offset = pr->last ? 0 : (pr->number - 1) * page_size;
        tq->page_limit = page_size;
    }
}

/* The list's query, and what count_tokens found in this thread's caches (token_cache.h): the
 * row of a list filtered by identifier alone, or the whole page the same query string gave
 * before; the count and the page then come from there, without the store. */
struct token_list_query {
    struct tk_token_query tq;      /* first: the list's filters write its fields */
    struct tk_store_snapshot snap; /* of the count */
    int64_t count;                 /* the count, from the store or a cache */
    struct tk_token *cached;       /* NULL: no row by identifier */
    struct tk_token *page;         /* NULL: no page by query */
    size_t n_page;
};

/* Is the list filtered by identifier and nothing else (a caller's own tokens aside)? */
static bool identifier_only(const struct tk_token_query *tq)
{
    return tq->identifier != NULL && tq->intent == NULL && tq->managed == NULL &&
           tq->username == NULL && tq->description == NULL && !tq->has_expires &&
           tq->expiring < 0 && tq->n_terms == 0 && tq->id == 0;
}

/* The row of the token named identifier from this thread's cache: true when the cache holds it
 * for snap, and then *t is the row (arena) when the caller may see it (owner_id > 0: only that
 * user's), else NULL. */
static bool cached_token(struct tk_ctx *c, const struct tk_store_snapshot *snap,
                         const char *identifier, int64_t owner_id, struct tk_token **t)
{
    struct tk_token row;
    *t = NULL;
    if (!tk_token_cache_get(snap, identifier, c->req->arena, &row))
        return false;
    if (owner_id == 0 || row.user_id == owner_id) {
        *t = tk_arena_alloc(c->req->arena, sizeof(**t));
        if (*t == NULL)
            return false; /* memory short: the store answers */
        **t = row;
    }
    return true;
}

static int count_tokens(struct tk_ctx *c, struct tk_db *db, void *query, int64_t *count)
{
    struct token_list_query *lq = query;
    lq->cached = lq->page = NULL;
    tk_api_snapshot(c, db, &lq->snap);
    if (identifier_only(&lq->tq) &&
        cached_token(c, &lq->snap, lq->tq.identifier, lq->tq.owner_id, &lq->cached)) {
        *count = lq->cached != NULL;
        return 0;
    }
    if (tk_token_cache_page_get(&lq->snap, lq->tq.owner_id, c->req->query, c->req->query_len,
                                c->req->arena, count, &lq->page, &lq->n_page))
        return 0;
    int rc = tk_store_token_count(db, &lq->tq, c->req->arena, count);
    lq->count = *count;
    return rc;
}

static bool same_snapshot(const struct tk_store_snapshot *a, const struct tk_store_snapshot *b)
{
    return a->version != 0 && a->version == b->version && a->conn == b->conn;
}

static int fetch_tokens(struct tk_ctx *c, struct tk_db *db, void *query,
                        const struct tk_pagination *pg, void *page)
{
    struct token_list_query *lq = query;
    struct tk_token_query *tq = &lq->tq;
    struct token_page *p = page;
    struct tk_arena *a = c->req->arena;
    tk_api_snapshot(c, db, &p->snap);
    tq->without_users = p->snap.version != 0;
    tq->count_known = true;
    tq->count = pg->count;
    if (lq->cached != NULL && same_snapshot(&lq->snap, &p->snap)) {
        p->tokens = lq->cached;
        p->n = pg->offset == 0 && pg->page_size > 0;
    } else if (lq->page != NULL && same_snapshot(&lq->snap, &p->snap)) {
        p->tokens = lq->page; /* the same query string: the same page of the same count */
        p->n = lq->n_page;
    } else {
        int rc = tk_store_token_fetch(db, tq, pg->offset, pg->page_size, a, &p->tokens, &p->n);
        if (rc)
            return rc;
        if (p->n == 1 && pg->offset == 0 && identifier_only(tq))
            tk_token_cache_put(&p->snap, &p->tokens[0]);
        else if (lq->cached == NULL && lq->page == NULL && same_snapshot(&lq->snap, &p->snap))
            tk_token_cache_page_put(&p->snap, tq->owner_id, c->req->query, c->req->query_len,
                                    lq->count, p->tokens, p->n);
    }
    p->owners = tk_arena_calloc(a, p->n ? p->n : 1, sizeof(*p->owners));
    if (p->owners == NULL)
        return TK_ERR_NOMEM;
    return tq->without_users
               ? page_owners(db, &p->snap, a, p->tokens, p->n, p->include_groups, p->owners)
               : 0;
}

static void write_page(struct tk_ctx *c, struct tk_jw *w, void *query, void *page)
{
    struct token_page *p = page;
    write_tokens(c, w, &p->snap, p->tokens, p->n, p->include_groups, p->owners);
}

#define Q(field) offsetof(struct tk_token_query, field)
/* The FilterSet's fields in its order, all errors in one body (docs/api.md §8.1). */
static const struct tk_filter token_filters[] = {
    {.name = "identifier", .kind = TK_FILTER_TEXT, .at = Q(identifier)},
    {.name = "intent", .kind = TK_FILTER_OWN, .own = intent_filter},
    {.name = "user__username", .kind = TK_FILTER_TEXT, .at = Q(username)},
    {.name = "description", .kind = TK_FILTER_TEXT, .at = Q(description)},
    {.name = "expires", .kind = TK_FILTER_DATETIME, .at = Q(expires), .has = Q(has_expires)},
    {.name = "expiring", .kind = TK_FILTER_BOOL, .at = Q(expiring)},
    {.name = "managed", .kind = TK_FILTER_TEXT, .at = Q(managed)},
};

static const struct tk_list_spec token_list = {
    TK_LIST_FILTERS(token_filters),
    TK_LIST_SEARCH(struct tk_token_query),
    TK_LIST_ORDERING(struct tk_token_query, tk_token_orderings, tk_token_default_order),
    .replica = true,
    .plan = plan_page,
    .count = count_tokens,
    .fetch = fetch_tokens,
    .write = write_page,
};
#undef Q

static int tokens_list(struct tk_ctx *c)
{
    struct token_list_query lq;
    memset(&lq, 0, sizeof(lq));
    lq.tq.with_groups = true; /* "groups" (uuids) is always part of the user */
    lq.tq.owner_id = c->who.is_superuser ? 0 : c->who.user_id;
    struct token_page page = {.include_groups = tk_include_groups(c->req)};
    return tk_list_run(c, &token_list, &lq, &page);
}

bool tk_include_groups_param(const struct tk_request *req, const char *name)
{
    struct tk_query q;
    if (tk_query_parse(req->arena, req->query, req->query_len, &q) != 0)
        return true;
    const struct tk_qparam *p = tk_query_get(&q, name);
    return p == NULL || (p->val_len == 4 && strncasecmp(p->val, "true", 4) == 0);
}

bool tk_include_groups(const struct tk_request *req)
{
    return tk_include_groups_param(req, "include_groups");
}

int tk_tokens_lookup(struct tk_ctx *c, struct tk_token **t)
{
    int64_t owner = c->who.is_superuser ? 0 : c->who.user_id;
    return tk_store_token_get(c->db, c->req->params[0], owner, c->req->arena, t);
}

static int tokens_retrieve(struct tk_ctx *c)
{
    struct tk_token_query tq;
    memset(&tq, 0, sizeof(tq));
    tq.identifier = c->req->params[0];
    tq.owner_id = c->who.is_superuser ? 0 : c->who.user_id;
    tq.expiring = -1;
    tq.with_groups = true;
    bool groups = tk_include_groups(c->req);
    struct tk_token *t = NULL;
    struct rendered owner = {NULL, 0};
    struct tk_store_snapshot snap = {0, 0};
    size_t n = 0;
    int rc;
    for (;;) {
        struct tk_db *db = tk_api_rdb(c);
        if ((rc = tk_store_read_begin(db)) == 0) {
            /* the owner as in a list (page_owners): rendered already, or loaded in this read */
            tk_api_snapshot(c, db, &snap);
            tq.without_users = snap.version != 0;
            if (cached_token(c, &snap, tq.identifier, tq.owner_id, &t)) {
                n = t != NULL;
            } else {
                rc = tk_store_token_fetch(db, &tq, 0, 1, c->req->arena, &t, &n);
                if (rc == 0 && n == 1)
                    tk_token_cache_put(&snap, t);
            }
            if (rc == 0 && n == 1 && tq.without_users)
                rc = page_owners(db, &snap, c->req->arena, t, 1, groups, &owner);
            tk_store_read_end(db);
        }
        if (rc == 0 || !tk_api_rdb_failed(c, rc))
            break;
    }
    if (rc == 0 && n == 0)
        rc = TK_ERR_NOTFOUND;
    if (rc)
        return rc;
    struct tk_jw w;
    tk_jw_init(&w, &c->res->body);
    write_tokens(c, &w, &snap, t, 1, groups, &owner);
    c->res->status = 200;
    return 0;
}

static int tokens_collection(struct tk_ctx *c)
{
    return c->req->method == TK_M_POST ? tk_tokens_create(c) : tokens_list(c);
}

static int tokens_detail(struct tk_ctx *c)
{
    switch (c->req->method) {
    case TK_M_PUT: return tk_tokens_update(c, true);
    case TK_M_PATCH: return tk_tokens_update(c, false);
    case TK_M_DELETE: return tk_tokens_delete(c);
    default: return tokens_retrieve(c);
    }
}

void tk_api_tokens_collection(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_POST, TOKENS_SCOPES, tokens_collection);
}

void tk_api_tokens_detail(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET | TK_M_PUT | TK_M_PATCH | TK_M_DELETE, TOKENS_SCOPES,
               tokens_detail);
}

void tk_api_tokens_view_key(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, KEYS_SCOPES, tk_tokens_view_key);
}

void tk_api_tokens_set_key(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_POST, KEYS_SCOPES, tk_tokens_set_key);
}

void tk_api_tokens_used_by(struct tk_request *req, struct tk_response *res, void *ctx)
{
    tk_api_run(ctx, req, res, TK_M_GET, TOKENS_SCOPES, tk_tokens_used_by);
}
