/* The store: everything tokend keeps, behind one interface. Callers (api/, cli/) never see
 * SQL or know which engine answers; the SQL is written once for both engines, in one file per
 * entity (internal.h lists them), with the builder of sql.h, over thin drivers (db.h).
 * Objects returned are allocated in the caller's arena. Thread-safety: struct tk_store is
 * shared; each thread gets its own connection from tk_store_db(). */
#ifndef TK_STORE_STORE_H
#define TK_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/keys.h"
#include "domain/auth.h"
#include "domain/event.h"
#include "domain/group.h"
#include "domain/tokens.h"
#include "domain/user.h"
#include "domain/webhook.h"
#include "store/db.h"
#include "util/arena.h"
#include "util/error.h"
#include "util/limits.h"

struct tk_store;

/* Opens the store for a database URL. Nothing is connected until tk_store_db() or
 * tk_store_migrate() is called. err receives a reason on failure. */
int tk_store_open(const char *url, struct tk_store **out, char *err, size_t err_len) TK_MUST_USE;
/* Closes the calling thread's connection and frees the store. Other threads must have closed
 * theirs (tk_store_thread_done) or exited. Accepts NULL. */
void tk_store_free(struct tk_store *s);
/* Applies pending migrations, creates the installation id. Safe to run on every start. Runs
 * without a statement time budget when called before tk_store_set_statement_timeout (main does):
 * rebuilding an index over a large table may take longer than any request should. */
int tk_store_migrate(struct tk_store *s, char *err, size_t err_len) TK_MUST_USE;
/* Gives the query planner current statistics of every table (ANALYZE), after a bulk change
 * (tk_store_migrate does it when a migration ran; `tokend seed` at its end). On PostgreSQL a
 * table filled since its last ANALYZE is planned as if empty until autovacuum gets to it; on
 * SQLite the sampling is bounded (analysis_limit), so it costs well under a second at a million
 * tokens. Call it outside a transaction. */
int tk_store_analyze(struct tk_db *db) TK_MUST_USE;
/* After bulk changes (a user's deletion cascading to its tokens, a sweep, a restore): analyzes
 * each table the planner now misjudges by a fifth or more of its rows (and at least 100), so that
 * lists and authentication stay planned for the rows there are. Cheap when nothing is off (the
 * planner's belief and a count per table). The sweeper calls it after every pass. *n_analyzed: how
 * many tables were analyzed. Outside a transaction. */
int tk_store_restat(struct tk_db *db, int *n_analyzed) TK_MUST_USE;
/* SQLite: counts again the trigrams most tokens hold, which search skips (docs/api.md §8.2),
 * when the tokens they were counted on are now fewer than half or more than twice as many
 * (*done); else, and on PostgreSQL (its ANALYZE keeps them), nothing. For the sweeper: the
 * number of tokens changes through the API without any ANALYZE. Outside a transaction. */
int tk_store_search_stats_refresh(struct tk_db *db, bool *done) TK_MUST_USE;
/* The time budget of every statement on the store's connections (TOKEND_STATEMENT_TIMEOUT, in
 * milliseconds, 0: none; tk_db_set_statement_timeout): the calling thread's open connection and
 * every connection opened afterwards. Call it before other threads use the store. A statement
 * over budget fails with TK_ERR_TIMEOUT and its transaction is rolled back. */
void tk_store_set_statement_timeout(struct tk_store *s, unsigned ms);
/* On PostgreSQL, watches for commits of every process so that the caches of derived data work
 * there as on SQLite (tk_store_snapshot, docs/api.md §20.1): strict (each read asks the change
 * counter: exact, one round trip) or notified (LISTEN/NOTIFY: no round trip). Connections the
 * store opens from now on carry the watch. Does nothing on SQLite. Stop it after the threads
 * using the store. */
int tk_store_watch_start(struct tk_store *s, bool notified) TK_MUST_USE;
void tk_store_watch_stop(struct tk_store *s);
/* The calling thread's connection, opened on first use; NULL if it cannot be opened. */
struct tk_db *tk_store_db(struct tk_store *s);
/* Closes the calling thread's connection (it reopens on next use). */
void tk_store_thread_done(struct tk_store *s);
/* Is the store PostgreSQL (several processes may share it)? */
bool tk_store_is_pg(const struct tk_store *s);
/* The per-installation UUID (docs/api.md §10.1 uid), valid after tk_store_migrate. */
const char *tk_store_installation_id(const struct tk_store *s);

/* ---- objects: the entities are domain's (domain/user.h, group.h, tokens.h, event.h); the
 * strings of those the store returns live in the arena passed to the call. ---- */

/* ---- reads ---- */

/* A read that spans several queries sees one snapshot between these two calls on SQLite. On
 * PostgreSQL (READ COMMITTED: every statement reads the latest commits anyway) they cost no
 * round trip: no transaction is opened. */
int tk_store_read_begin(struct tk_db *db) TK_MUST_USE;
void tk_store_read_end(struct tk_db *db);

/* Which data a read sees, for caches of derived data: two reads on connections with the same
 * conn and the same non-zero version saw the same data. version 0: unknown, so nothing may be
 * cached (PostgreSQL without the change watch, a replica, the watch's link down). Take it
 * inside the read after its first query (SQLite: the read's snapshot is fixed by then) and
 * before the queries whose results are kept under it (PostgreSQL: each statement reads the
 * latest commits, so the version must not be newer than what they read). */
struct tk_store_snapshot {
    uint64_t conn, version;
};
void tk_store_snapshot(struct tk_db *db, struct tk_store_snapshot *out);

/* Authentication (docs/api.md §3 with §17.3, §19): finds a non-expired token of intent api
 * whose key hash is key_hash, or whose rotated-out key it is during its grace window, whose user
 * is active and which has uses left, with the user's superuser status and the token's settings,
 * in one query (one index lookup by key hash; the remembered keys are asked only when that
 * finds nothing). TK_ERR_NOTFOUND otherwise. Never writes. */
struct tk_auth_result {
    const char *networks; /* the token's allowed_networks (store text, arena), NULL: any */
    int64_t valid_until;  /* when the answer stops holding (INT64_MAX: never), for caches */
    int64_t reused_token; /* > 0 with TK_ERR_NOTFOUND: a key of this token past its grace */
};
int tk_store_authenticate(struct tk_db *db, const uint8_t key_hash[TK_KEY_HASH_BYTES], int64_t now,
                          struct tk_arena *a, struct tk_principal *out,
                          struct tk_auth_result *r) TK_MUST_USE;
/* A key's token as verification and introspection see it (docs/api.md §19.7): the principal
 * and the token's identity and settings (strings in the arena). */
struct tk_key_token {
    struct tk_principal who;
    char uuid[37];
    const char *identifier, *intent, *username;
    const char *scopes; /* store text, NULL: null */
    bool expiring, has_expires;
    int64_t expires;
};
/* tk_store_authenticate's lookup, for tokens of intent api or also app_password. */
int tk_store_key_lookup(struct tk_db *db, const uint8_t key_hash[TK_KEY_HASH_BYTES], int64_t now,
                        bool app_passwords, struct tk_arena *a, struct tk_key_token *k,
                        struct tk_auth_result *r) TK_MUST_USE;

enum tk_token_field {
    TK_TF_PK,
    TK_TF_MANAGED,
    TK_TF_IDENTIFIER,
    TK_TF_INTENT,
    TK_TF_USER,
    TK_TF_DESCRIPTION,
    TK_TF_EXPIRES,
    TK_TF_EXPIRING,
};

/* One term of a list's ordering (DRF's OrderingFilter): a field of the list's entity (enum
 * tk_token_field, tk_user_field or tk_group_field), descending or not. */
struct tk_order {
    int field;
    bool desc;
};

/* A page's statement sent with the count (PostgreSQL's pipeline), read by the fetch. */
struct tk_page_prefetch {
    struct tk_db_stmt *st; /* NULL once read or given up */
    int64_t offset, limit;
};

/* The token list query (docs/api.md §8), already parsed and validated. NULL strings: no filter. */
struct tk_token_query {
    const char *identifier, *intent, *managed, *username, *description;
    bool has_expires;
    int64_t expires;
    int expiring; /* -1: no filter */
    size_t n_terms;
    const char **terms; /* case-folded search terms, all must match */
    size_t n_order;
    struct tk_order order[TK_MAX_ORDERING_FIELDS];
    int64_t owner_id;   /* > 0: only this user's tokens (non-superusers) */
    int64_t id;         /* > 0: only the token with this row id */
    bool with_groups;   /* fill user->groups */
    bool without_users; /* leave token->user NULL: the caller has the users already */
    bool count_known;   /* count is the number of matching tokens in this read: a page */
    int64_t count;      /* past the middle is then read from the end (half the skipping) */
    /* The page the caller will fetch after counting: rows [page_offset, page_offset +
     * page_limit) of the list, or the last page when page_last (page_limit 0: not said). A
     * search (on SQLite one the FTS5 index answers) is then evaluated once: the count walks the
     * matching ids and keeps that page's (page_ids, from row page_ids_offset), and the fetch of
     * the same page reads just those rows. */
    int64_t page_offset, page_limit;
    bool page_last;
    const int64_t *page_ids; /* set by tk_store_token_count, NULL: none kept */
    size_t n_page_ids;
    int64_t page_ids_offset;
    /* set by tk_store_token_count on PostgreSQL: that page, sent with the count (one round
     * trip), for the fetch of the same page; NULL: none */
    struct tk_page_prefetch *prefetch;
    /* set by tk_store_token_count for a search: the trigrams most tokens hold, which the index
     * is not asked for (search.c) */
    const char *common_trigrams;
};

/* The number of matching tokens; may keep the ids of the page q names (above). */
int tk_store_token_count(struct tk_db *db, struct tk_token_query *q, struct tk_arena *a,
                         int64_t *count) TK_MUST_USE;
/* One page of tokens with their users (and direct groups when q->with_groups). For the page
 * tk_store_token_count kept ids for (in the same read), just those rows are read. */
int tk_store_token_fetch(struct tk_db *db, const struct tk_token_query *q, int64_t offset,
                         int64_t limit, struct tk_arena *a, struct tk_token **tokens,
                         size_t *n) TK_MUST_USE;

int tk_store_user_find(struct tk_db *db, const char *username, int64_t *id) TK_MUST_USE;
int tk_store_group_find(struct tk_db *db, const char *name, int64_t *id) TK_MUST_USE;

/* The user with this id among users as tk_store_users_get returns them (sorted by id), or
 * NULL: a binary search. */
struct tk_user *tk_store_user_in(struct tk_user *users, size_t n, int64_t id);
/* Users with their direct groups and superuser status, in the order of ids. Unknown ids are
 * skipped (*n_out may be smaller than n). */
int tk_store_users_get(struct tk_db *db, const int64_t *ids, size_t n, bool with_groups,
                       struct tk_arena *a, struct tk_user **users, size_t *n_out) TK_MUST_USE;

/* ---- writes (each one transaction unless the caller holds one) ---- */

int tk_store_user_create(struct tk_db *db, const struct tk_user_new *u, int64_t now, int64_t *id,
                         char uuid[37]) TK_MUST_USE;

int tk_store_group_create(struct tk_db *db, const struct tk_group_new *g, int64_t now, int64_t *id,
                          char uuid[37]) TK_MUST_USE;
int tk_store_membership_add(struct tk_db *db, int64_t user_id, int64_t group_id) TK_MUST_USE;
int tk_store_membership_remove(struct tk_db *db, int64_t user_id, int64_t group_id) TK_MUST_USE;

int tk_store_token_insert(struct tk_db *db, const struct tk_token_new *t, int64_t now,
                          int64_t *id) TK_MUST_USE;
int tk_store_token_delete(struct tk_db *db, const char *identifier) TK_MUST_USE;
/* The sealed key of the token with row id id, for view_key. */
int tk_store_token_sealed_key(struct tk_db *db, int64_t id, struct tk_arena *a, char uuid[37],
                              const uint8_t **sealed, size_t *len) TK_MUST_USE;
/* For a token about to be created for user_id, inside the write transaction: locks the user's
 * row (PostgreSQL; SQLite's write transactions are exclusive already), so creates for one owner
 * count one after the other, and tells whether the user already has max tokens or more (*full;
 * max 0: no limit, never full). TK_ERR_NOTFOUND when the user is gone. The count stops at max:
 * its cost does not grow with a user who has more. */
int tk_store_token_quota(struct tk_db *db, int64_t user_id, unsigned max, bool *full) TK_MUST_USE;

/* One token by identifier with its user (and the user's direct groups). owner_id > 0 restricts
 * the lookup to that owner's tokens (a non-superuser's view, docs/api.md §4.2). */
int tk_store_token_get(struct tk_db *db, const char *identifier, int64_t owner_id,
                       struct tk_arena *a, struct tk_token **out) TK_MUST_USE;
/* Like tk_store_token_get by row id: the row a transaction locked or wrote, whatever its
 * identifier has become (a second lookup by identifier could find another row after a
 * concurrent rename). */
int tk_store_token_get_by_id(struct tk_db *db, int64_t id, int64_t owner_id, struct tk_arena *a,
                             struct tk_token **out) TK_MUST_USE;

/* Is the identifier (or managed value) used by a token other than exclude_id? */
int tk_store_token_identifier_taken(struct tk_db *db, const char *identifier, int64_t exclude_id,
                                    bool *taken) TK_MUST_USE;
int tk_store_token_managed_taken(struct tk_db *db, const char *managed, int64_t exclude_id,
                                 bool *taken) TK_MUST_USE;

/* Writes every mutable field of t (identifier, intent, description, expires, expiring,
 * managed) to the row t->id. TK_ERR_CONFLICT on a uniqueness race. */
int tk_store_token_update(struct tk_db *db, const struct tk_token *t) TK_MUST_USE;
/* How a token's key changes (docs/api.md §19.4). */
enum tk_key_change {
    TK_KEY_SET,      /* a new key nobody has seen through tokend (set_key, the sweeper) */
    TK_KEY_SHOWN,    /* a new key the answer shows (rotate): that is the one view of once */
    TK_KEY_RESEALED, /* the same key under a new secret: only a stored sealed copy changes */
};
/* Replaces a token's key (hash and sealed copy). A new key is stored sealed as its view mode
 * allows and counts as not yet viewed. */
int tk_store_token_set_key(struct tk_db *db, int64_t id, const uint8_t hash[TK_KEY_HASH_BYTES],
                           const void *sealed, size_t sealed_len,
                           enum tk_key_change how) TK_MUST_USE;
int tk_store_token_delete_id(struct tk_db *db, int64_t id) TK_MUST_USE;
int tk_store_token_set_expires(struct tk_db *db, int64_t id, int64_t expires) TK_MUST_USE;

/* Per-token key-view grants (docs/api.md §4.2). */
int tk_store_key_viewer_add(struct tk_db *db, int64_t token_id, int64_t user_id) TK_MUST_USE;
int tk_store_key_viewer_has(struct tk_db *db, int64_t token_id, int64_t user_id,
                            bool *has) TK_MUST_USE;

int tk_store_user_exists(struct tk_db *db, int64_t id, bool *exists) TK_MUST_USE;
/* A user's own attributes (JSON text). */
int tk_store_user_attributes(struct tk_db *db, int64_t id, struct tk_arena *a,
                             const char **json) TK_MUST_USE;
/* Attributes of the user's effective groups (direct + ancestors, docs/api.md §4.1), ordered by
 * group name: *n JSON texts. */
int tk_store_user_group_attributes(struct tk_db *db, int64_t id, struct tk_arena *a,
                                   const char ***json, size_t *n) TK_MUST_USE;

/* ---- events (docs/api.md §11) ---- */

int tk_store_event_insert(struct tk_db *db, const struct tk_event *e) TK_MUST_USE;
/* n events, up to TK_EVENT_INSERT_ROWS rows per statement (a user's deletion writes one event
 * per token). */
int tk_store_events_insert(struct tk_db *db, const struct tk_event *e, size_t n) TK_MUST_USE;

struct tk_event_query {
    const char *action, *username, *context_model_pk, *client_ip;
    bool created_desc; /* ordering: -created (default) or created */
};
int tk_store_event_count(struct tk_db *db, const struct tk_event_query *q, struct tk_arena *a,
                         int64_t *count) TK_MUST_USE;
int tk_store_event_fetch(struct tk_db *db, const struct tk_event_query *q, int64_t offset,
                         int64_t limit, struct tk_arena *a, struct tk_event **out,
                         size_t *n) TK_MUST_USE;
/* Deletes up to TK_EVENT_EXPIRE_BATCH events whose retention ended before now (a short
 * statement however many have expired: call again while *n_deleted is the batch); *n_deleted. */
int tk_store_event_expire(struct tk_db *db, int64_t now, int64_t *n_deleted) TK_MUST_USE;

/* ---- expiry (docs/api.md §12.4) ---- */

/* Up to limit expiring tokens with expires <= now or NULL: ids, uuids, identifiers, intents,
 * expiry and owner ids (arena). */
int tk_store_token_expired(struct tk_db *db, int64_t now, size_t limit, struct tk_arena *a,
                           struct tk_token **out, size_t *n) TK_MUST_USE;

/* ---- users and groups (docs/api.md §14) ---- */

/* attributes filter: the value at keys[0].keys[1]... equals value (JSON equality). */
struct tk_attr_filter {
    const char *const *keys;
    size_t n_keys;
    const json_t *value;
};

enum tk_user_field {
    TK_UF_PK,
    TK_UF_USERNAME,
    TK_UF_NAME,
    TK_UF_IS_ACTIVE,
    TK_UF_LAST_LOGIN,
    TK_UF_EMAIL,
    TK_UF_PATH,
    TK_UF_TYPE,
    TK_UF_UUID,
    TK_UF_ATTRIBUTES,
};

struct tk_user_query {
    const char *username, *email, *name, *uuid, *path, *path_startswith;
    int is_active, is_superuser; /* -1: no filter */
    size_t n_types;
    const char *const *types;
    /* groups_by_name and groups_by_pk: each active set keeps users in any of its groups (an
     * empty active set keeps none); the sets are ANDed, as separate filters are */
    struct tk_id_set {
        bool active;
        size_t n;
        const int64_t *ids;
    } group_sets[2];
    size_t n_attrs;
    const struct tk_attr_filter *attrs;
    size_t n_terms;
    const char **terms;
    size_t n_order;
    struct tk_order order[TK_MAX_ORDERING_FIELDS];
};

int tk_store_user_count(struct tk_db *db, const struct tk_user_query *q, struct tk_arena *a,
                        int64_t *count) TK_MUST_USE;
/* One page of users in the query's order, with groups and superuser status. */
int tk_store_user_list(struct tk_db *db, const struct tk_user_query *q, int64_t offset,
                       int64_t limit, struct tk_arena *a, struct tk_user **users,
                       size_t *n) TK_MUST_USE;
int tk_store_user_get(struct tk_db *db, int64_t id, struct tk_arena *a,
                      struct tk_user **out) TK_MUST_USE;
int tk_store_user_update(struct tk_db *db, int64_t id, const struct tk_user_new *u) TK_MUST_USE;
/* Sees a batch of n tokens just deleted, inside the deleting transaction (e.g. to audit them):
 * sorted by identifier, without description or user; t and whatever the function allocates
 * in a live until it returns. Non-zero rolls the deletion back. */
typedef int (*tk_store_tokens_fn)(void *ctx, struct tk_db *db, const struct tk_token *t, size_t n,
                                  struct tk_arena *a);
/* Deletes a user with their tokens, grants and memberships. The tokens go first,
 * TK_USER_DELETE_BATCH per statement, each batch shown to on_batch (may be NULL) in a fresh arena:
 * memory and each statement's time stay bounded whatever the number of tokens. Call it inside a
 * write transaction (tk_store_write_tx) so that the batches are one deletion. PostgreSQL: the
 * user's row is locked first, so no token of theirs can be created meanwhile. TK_ERR_NOTFOUND when
 * there is no such user. */
int tk_store_user_delete(struct tk_db *db, int64_t id, tk_store_tokens_fn on_batch,
                         void *ctx) TK_MUST_USE;
/* Stores a password hash (crypto_pwhash_str form); tokend itself has no password logins. */
int tk_store_user_set_password(struct tk_db *db, int64_t id, const char *hash) TK_MUST_USE;
int tk_store_username_taken(struct tk_db *db, const char *username, int64_t exclude_id,
                            bool *taken) TK_MUST_USE;
/* The user's effective groups (direct + ancestors), ordered by name. */
int tk_store_user_effective_groups(struct tk_db *db, int64_t id, struct tk_arena *a,
                                   struct tk_group **groups, size_t *n) TK_MUST_USE;
/* Tokens owned by the user (for used_by and the command line). */
int tk_store_user_tokens(struct tk_db *db, int64_t id, struct tk_arena *a, struct tk_token **tokens,
                         size_t *n) TK_MUST_USE;

enum tk_group_field { TK_GF_PK, TK_GF_NAME, TK_GF_IS_SUPERUSER, TK_GF_PARENT, TK_GF_ATTRIBUTES };

struct tk_group_query {
    const char *name;
    int is_superuser;                /* -1: no filter */
    struct tk_id_set member_sets[2]; /* members_by_pk, members_by_username */
    size_t n_attrs;
    const struct tk_attr_filter *attrs;
    size_t n_terms;
    const char **terms;
    size_t n_order;
    struct tk_order order[TK_MAX_ORDERING_FIELDS];
};

/* A group with its members. */
struct tk_group_full {
    struct tk_group g;
    size_t n_users;
    struct tk_user *users; /* members, ordered by id; no groups loaded */
};

int tk_store_group_count(struct tk_db *db, const struct tk_group_query *q, struct tk_arena *a,
                         int64_t *count) TK_MUST_USE;
int tk_store_group_list(struct tk_db *db, const struct tk_group_query *q, int64_t offset,
                        int64_t limit, struct tk_arena *a, struct tk_group_full **groups,
                        size_t *n) TK_MUST_USE;
int tk_store_group_get(struct tk_db *db, const char *uuid, struct tk_arena *a,
                       struct tk_group_full **out) TK_MUST_USE;
int tk_store_group_find_uuid(struct tk_db *db, const char *uuid, int64_t *id) TK_MUST_USE;
int tk_store_group_name_taken(struct tk_db *db, const char *name, int64_t exclude_id,
                              bool *taken) TK_MUST_USE;
/* Would making parent_id the parent of group_id close a cycle (parent_id is group_id or one
 * of its descendants)? */
int tk_store_group_would_cycle(struct tk_db *db, int64_t group_id, int64_t parent_id,
                               bool *cycle) TK_MUST_USE;

struct tk_group_write {
    const char *name;
    bool is_superuser;
    int64_t parent_id;      /* 0: none */
    const char *attributes; /* compact JSON object */
    bool set_users;
    size_t n_users;
    const int64_t *user_ids;
};

int tk_store_group_insert(struct tk_db *db, const struct tk_group_write *g, int64_t now,
                          int64_t *id, char uuid[37]) TK_MUST_USE;
int tk_store_group_update(struct tk_db *db, int64_t id, const struct tk_group_write *g) TK_MUST_USE;
int tk_store_group_delete(struct tk_db *db, int64_t id) TK_MUST_USE;
/* Child groups of a group (for used_by). */
int tk_store_group_children(struct tk_db *db, int64_t id, struct tk_arena *a,
                            struct tk_group **groups, size_t *n) TK_MUST_USE;

/* ---- tokend's token settings, usage and rotation (token_settings.c, docs/api.md §19) ---- */

enum tk_tokend_field { TK_XF_IDENTIFIER, TK_XF_LAST_USED, TK_XF_USE_COUNT, TK_XF_EXPIRES };

/* The /api/v3/tokend/tokens/ list query, parsed and validated. */
struct tk_tokend_query {
    const char *identifier, *intent, *username; /* NULL: no filter */
    size_t n_scopes;
    const char **scopes; /* the token's scopes contain every one */
    bool has_used_before, has_used_after, has_expiring_until;
    int64_t used_before, used_after, expiring_until;
    int never_used; /* -1: no filter */
    size_t n_order;
    struct tk_order order[TK_MAX_ORDERING_FIELDS];
    int64_t owner_id; /* > 0: only this user's tokens */
    int64_t now;      /* for previous_key_valid_until */
};
int tk_store_tokend_count(struct tk_db *db, const struct tk_tokend_query *q, struct tk_arena *a,
                          int64_t *count) TK_MUST_USE;
int tk_store_tokend_fetch(struct tk_db *db, const struct tk_tokend_query *q, int64_t offset,
                          int64_t limit, struct tk_arena *a, struct tk_tokend_token **out,
                          size_t *n) TK_MUST_USE;
/* One token by identifier (owner_id > 0: only that owner's). TK_ERR_NOTFOUND. */
int tk_store_tokend_get(struct tk_db *db, const char *identifier, int64_t owner_id, int64_t now,
                        struct tk_arena *a, struct tk_tokend_token **out) TK_MUST_USE;
/* Writes every setting of s to the token's row. */
int tk_store_token_settings_write(struct tk_db *db, int64_t id,
                                  const struct tk_token_settings *s) TK_MUST_USE;
/* The token's view mode, whether its key was viewed since it was set, and whether a sealed
 * copy is stored. */
int tk_store_token_key_state(struct tk_db *db, int64_t id, enum tk_view_mode *mode, bool *viewed,
                             bool *sealed) TK_MUST_USE;
/* Records a view of the key; erase: the sealed copy goes too (view mode once). */
int tk_store_token_key_viewed(struct tk_db *db, int64_t id, bool erase) TK_MUST_USE;
/* Erases the token's sealed copy (the bytes are overwritten, docs/api.md §19.4). */
int tk_store_token_erase_sealed(struct tk_db *db, int64_t id) TK_MUST_USE;
/* After a commit that erased a sealed copy: best effort to leave no copy of the erased bytes in
 * the database's files (SQLite's WAL checkpointed and truncated). */
int tk_store_scrub(struct tk_db *db);
/* Ends the grace window of every rotated-out key of the token (set_key, a new rotation). */
int tk_store_token_end_grace(struct tk_db *db, int64_t id, int64_t now) TK_MUST_USE;
/* Before a rotation replaces the token's key: ends the grace window of the keys rotated out
 * before (tk_store_token_end_grace) and remembers the current key's hash, which authenticates as
 * the token until valid_until and is recognised as reused until forget_after. */
int tk_store_token_supersede(struct tk_db *db, int64_t id, int64_t now, int64_t valid_until,
                             int64_t forget_after) TK_MUST_USE;
/* A remembered key not yet forgotten at now: its token and the end of its grace window.
 * TK_ERR_NOTFOUND. */
int tk_store_token_old_key(struct tk_db *db, const uint8_t hash[TK_KEY_HASH_BYTES], int64_t now,
                           int64_t *token_id, int64_t *valid_until) TK_MUST_USE;
/* *alert: no suspicious_request event for this token in the last quiet_us (and now recorded
 * as one). */
int tk_store_token_reuse_alert(struct tk_db *db, int64_t id, int64_t now, int64_t quiet_us,
                               bool *alert) TK_MUST_USE;
/* Forgets remembered keys past their reuse window (the sweeper). */
int tk_store_old_keys_forget(struct tk_db *db, int64_t now) TK_MUST_USE;
/* Takes one of the token's remaining uses, atomically across processes: *ok false when none
 * was left (or the token has no limit: callers ask only for tokens that have one). */
int tk_store_token_take_use(struct tk_db *db, int64_t id, bool *ok) TK_MUST_USE;
/* Usage gathered in memory, one entry per token. */
struct tk_usage {
    int64_t token_id;
    int64_t count;
    int64_t last_used;
    const char *last_used_ip;
};
/* A rate-limit window shared by processes (docs/api.md §19.3): one entry per token window
 * still open in this process. */
struct tk_rate_share {
    int64_t token_id, window_start;
    int64_t added; /* this process's uses since the last share, to add to the total */
    int64_t total; /* filled by tk_store_rate_share: the window's total over every process */
};
/* Adds each window's uses to the shared totals and reads the totals back, in one statement
 * (n at most TK_USAGE_FLUSH_ROWS). */
int tk_store_rate_share(struct tk_db *db, struct tk_rate_share *x, size_t n) TK_MUST_USE;
/* Drops shared windows that ended before now (the sweeper). */
int tk_store_rate_forget(struct tk_db *db, int64_t now) TK_MUST_USE;
/* Adds n tokens' usage in one statement (n at most TK_USAGE_FLUSH_ROWS). */
int tk_store_usage_flush(struct tk_db *db, const struct tk_usage *u, size_t n) TK_MUST_USE;

/* Settings (key/value): get into the arena; TK_ERR_NOTFOUND when unset. */
int tk_store_setting_get(struct tk_db *db, const char *key, struct tk_arena *a,
                         const char **value) TK_MUST_USE;
/* Records that are written once and raced for by processes starting together (the secret's
 * check value, bootstrap): insert only while key is unset, replace only while the value is
 * still old. *done says whether this call wrote. On PostgreSQL a concurrent writer of the same
 * key is waited for, then seen (the insert writes nothing, the replace matches nothing). */
int tk_store_setting_insert(struct tk_db *db, const char *key, const char *value,
                            bool *done) TK_MUST_USE;
int tk_store_setting_replace(struct tk_db *db, const char *key, const char *old, const char *value,
                             bool *done) TK_MUST_USE;

/* A token's stored key, for checking and re-keying the server secret (cli/secret.c). */
struct tk_token_key {
    int64_t id;
    char uuid[37];
    const uint8_t *sealed; /* in the arena */
    size_t sealed_len;
};
/* Up to limit tokens with id > after_id that have a sealed copy of their key, in id order (the
 * oldest first). */
int tk_store_token_keys(struct tk_db *db, int64_t after_id, size_t limit, struct tk_arena *a,
                        struct tk_token_key **out, size_t *n) TK_MUST_USE;

/* Cluster-wide mutual exclusion for jobs (the sweeper): on PostgreSQL a session advisory lock
 * (several processes share a database); on SQLite always granted (transactions serialize). */
int tk_store_try_lock(struct tk_db *db, int64_t key, bool *got) TK_MUST_USE;
void tk_store_unlock(struct tk_db *db, int64_t key);

/* Locks a token row for the rest of the write transaction (PostgreSQL: SELECT ... FOR UPDATE;
 * SQLite's write transactions are already exclusive), so concurrent updates of one token apply
 * one after the other and none is lost. */
int tk_store_token_lock(struct tk_db *db, int64_t id) TK_MUST_USE;
/* The same for a user and a group row. */
int tk_store_user_lock(struct tk_db *db, int64_t id) TK_MUST_USE;
int tk_store_group_lock(struct tk_db *db, int64_t id) TK_MUST_USE;

/* Read replica (PostgreSQL): list and retrieve reads may go to it. */
int tk_store_set_replica(struct tk_store *s, const char *url) TK_MUST_USE;
/* The calling thread's connection for reads that may be served by the replica: the replica's
 * when one is configured and reachable, else the primary's. */
struct tk_db *tk_store_db_read(struct tk_store *s);

/* ---- loading many tokens (tokend seed, issue 17; token_bulk.c) ---- */

/* A load of many new tokens in one write transaction. Rows are written as
 * tk_store_token_insert writes them (the same columns, search text and defaults): on SQLite
 * TK_TOKEN_BULK_ROWS per INSERT, on PostgreSQL by COPY (TK_TOKEN_BULK_COPY_BYTES at a time). On
 * SQLite the tokens triggers' work (the FTS5 index, the
 * token count) is done once by tk_store_token_bulk_end for all the new rows instead of once per
 * row (the triggers are dropped and created again inside the transaction), and the page cache
 * is enlarged for the load. The connection must do nothing else until the end, and SQLite's
 * database is locked for writing throughout: a command's tool, not a request's. */
struct tk_store_token_bulk;
int tk_store_token_bulk_begin(struct tk_db *db, struct tk_store_token_bulk **out) TK_MUST_USE;
/* Adds a token created at now; everything of t is copied. The row may be written by a later
 * call: an error about it (TK_ERR_CONFLICT for a taken identifier, TK_ERR_NOTFOUND for an
 * unknown owner) may come from this call or any later one, and the load must then be ended with
 * commit false. */
int tk_store_token_bulk_add(struct tk_store_token_bulk *b, const struct tk_token_new *t,
                            int64_t now) TK_MUST_USE;
/* commit: writes the rows left, finishes the triggers' work and commits; else (or when that
 * fails) the whole load is rolled back. Frees b either way; accepts NULL. */
int tk_store_token_bulk_end(struct tk_store_token_bulk *b, bool commit) TK_MUST_USE;

/* ---- webhooks (webhooks.c, docs/api.md §21) ---- */

/* Receivers. The secret is stored only sealed (tk_key_seal, bound to the receiver's uuid). */
int tk_store_webhook_insert(struct tk_db *db, const struct tk_webhook *w, const void *sealed,
                            size_t sealed_len, int64_t *id) TK_MUST_USE;
int tk_store_webhook_count(struct tk_db *db, int64_t *count) TK_MUST_USE;
/* One page of receivers, oldest first. */
int tk_store_webhook_list(struct tk_db *db, int64_t offset, int64_t limit, struct tk_arena *a,
                          struct tk_webhook **out, size_t *n) TK_MUST_USE;
/* TK_ERR_NOTFOUND when no receiver has this uuid. */
int tk_store_webhook_get(struct tk_db *db, const char *uuid, struct tk_arena *a,
                         struct tk_webhook **out) TK_MUST_USE;
/* The sealed secret of receiver id, copied into the arena. */
int tk_store_webhook_secret(struct tk_db *db, int64_t id, struct tk_arena *a,
                            const uint8_t **sealed, size_t *len) TK_MUST_USE;
/* Writes url, event_types, enabled and description of the receiver w->id. */
int tk_store_webhook_update(struct tk_db *db, const struct tk_webhook *w) TK_MUST_USE;
/* Deletes a receiver with its deliveries and attempts. */
int tk_store_webhook_delete(struct tk_db *db, int64_t id) TK_MUST_USE;
/* The receiver's recorded attempts, newest first. */
int tk_store_webhook_attempt_count(struct tk_db *db, int64_t endpoint_id,
                                   int64_t *count) TK_MUST_USE;
int tk_store_webhook_attempts(struct tk_db *db, int64_t endpoint_id, int64_t offset, int64_t limit,
                              struct tk_arena *a, struct tk_webhook_attempt **out,
                              size_t *n) TK_MUST_USE;

/* The outbox. *wanted: an enabled receiver takes messages of this type (so a message is worth
 * building). */
int tk_store_outbox_wanted(struct tk_db *db, const char *type, bool *wanted) TK_MUST_USE;
/* Writes a message and one pending delivery for every enabled receiver that takes its type, due
 * now. Call it inside the transaction of the change it tells of. */
int tk_store_outbox_add(struct tk_db *db, const char *msg_id, const char *type, const char *body,
                        int64_t now) TK_MUST_USE;
/* *any: a delivery is pending; *next: the earliest time one may be claimed. */
int tk_store_outbox_next(struct tk_db *db, bool *any, int64_t *next) TK_MUST_USE;
/* A delivery claimed to be sent. */
struct tk_outbox_item {
    int64_t delivery_id, endpoint_id;
    char endpoint_uuid[37];
    int64_t attempts; /* made before this one */
    const char *url, *msg_id, *type, *body;
    int64_t created; /* the message's */
};
/* Asked for each due delivery's receiver: true takes it (and counts it against the receiver's
 * share of attempts in flight). */
typedef bool (*tk_store_outbox_take_fn)(void *ctx, int64_t endpoint_id);
/* Claims up to limit due deliveries that take accepts, none of the n_skip receivers skip, until
 * lease_until: no other process claims them before then unless their result is written first.
 * Call it inside a write transaction (PostgreSQL: rows other processes are claiming are
 * skipped, not waited for). */
int tk_store_outbox_claim(struct tk_db *db, int64_t now, int64_t lease_until, size_t limit,
                          const int64_t *skip, size_t n_skip, tk_store_outbox_take_fn take,
                          void *ctx, struct tk_arena *a, struct tk_outbox_item **out,
                          size_t *n) TK_MUST_USE;
/* The outcome of one attempt. status 0: none came back (error says why). */
struct tk_outbox_result {
    enum { TK_OUTBOX_PENDING, TK_OUTBOX_DELIVERED, TK_OUTBOX_FAILED } state;
    int64_t next_attempt; /* when pending */
    int64_t status;
    const char *error; /* NULL with a status */
};
/* Records an attempt's outcome: the delivery's state, attempts and next attempt (its claim
 * ends), and a row of the receiver's attempts. */
int tk_store_outbox_result(struct tk_db *db, const struct tk_outbox_item *x,
                           const struct tk_outbox_result *r, int64_t now) TK_MUST_USE;
/* Ends every claim (SQLite, at start: one process, so any claim is a dead one's). */
int tk_store_outbox_release_all(struct tk_db *db) TK_MUST_USE;
/* Pending deliveries and the creation time of the oldest one's message. */
int tk_store_outbox_stats(struct tk_db *db, int64_t *pending, bool *has_oldest,
                          int64_t *oldest) TK_MUST_USE;
/* Drops attempts and finished deliveries last changed before `before`, and messages left
 * without deliveries (the sweeper). */
int tk_store_outbox_forget(struct tk_db *db, int64_t before) TK_MUST_USE;

/* Expiry notices (docs/api.md §21.3): up to limit expiring tokens that expire after now and
 * within notice_us of it and have no notice notice_us for their current expiry yet. */
int tk_store_notice_due(struct tk_db *db, int64_t now, int64_t notice_us, size_t limit,
                        struct tk_arena *a, int64_t **ids, size_t *n) TK_MUST_USE;
/* Records notice notice_us for the token's expiry; *first: this call recorded it (no process
 * had before), so the notice is to be sent. */
int tk_store_notice_record(struct tk_db *db, int64_t token_id, int64_t notice_us, int64_t expires,
                           bool *first) TK_MUST_USE;
/* Forgets notices of expiry dates before `before`. */
int tk_store_notice_forget(struct tk_db *db, int64_t before) TK_MUST_USE;

/* Runs fn inside one write transaction: commit if it returns 0, roll back otherwise. */
int tk_store_write_tx(struct tk_db *db, int (*fn)(struct tk_db *db, void *ctx),
                      void *ctx) TK_MUST_USE;

#endif
