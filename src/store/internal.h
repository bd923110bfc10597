/* What the store's own files share (the .c files of src/store) and nothing outside src/store/ may
 * use: the store handle's fields, column readers, one-row statement helpers, and the SQL pieces one
 * entity's file needs from another's. Which file holds what: conn.c (connections, transactions,
 * locks), pg_changes.c (PostgreSQL's change watch), pg_sync.c (a commit confirmed by every
 * listener), pg_positions.c (where deep pages start), migrate.c, settings.c, rows.c (these
 * helpers), auth.c (authentication, superusers), users.c, groups.c, filters.c (list filters),
 * token_list.c, tokens.c, token_bulk.c (loads), search.c, events.c. */
#ifndef TK_STORE_INTERNAL_H
#define TK_STORE_INTERNAL_H

#include <pthread.h>

#include "store/sql.h"
#include "store/store.h"

struct tk_store {
    char *url;
    char *replica_url; /* NULL without a replica */
    pthread_key_t replica_key;
    enum tk_dialect dialect;
    pthread_key_t conn_key;
    char installation_id[37];
    unsigned statement_timeout_ms;  /* for every connection opened, 0: none */
    struct tk_changes *changes;     /* PostgreSQL while serving (tk_store_watch_start), else NULL */
    struct tk_positions *positions; /* PostgreSQL, else NULL */
};

/* ---- pg_changes.c (db.h has the version and the commit mark; pg_sync.c the confirmation) */

#define TK_PG_LISTENER_APP "tokend-changes" /* application_name of a listening connection */
#define TK_PG_SYNC_ID_BYTES 40              /* a confirmation's id: "backend pid.number" */

/* The change watch of a PostgreSQL database (url). Notified: starts the listener thread; it
 * connects on its own, with backoff, and the version stays 0 until it has. Strict: no thread;
 * each version is read from the change counter. */
int tk_changes_start(const char *url, bool notified, struct tk_changes **out) TK_MUST_USE;
void tk_changes_stop(struct tk_changes *c);

/* ---- pg_positions.c: where the token list's rows lie in identifier order (docs/api.md §20.4) */

#define TK_POSITIONS_STRIDE 1000      /* every this many rows' identifier is kept */
#define TK_POSITIONS_MIN_OFFSET 10000 /* a page this deep or deeper is read from them */

int tk_positions_new(struct tk_positions **out) TK_MUST_USE;
void tk_positions_free(struct tk_positions *p);
/* A page of the list in identifier order as an ascending read from a kept position: the first
 * limit rows from identifier from on (NULL: from the first row) after skip rows, valid while the
 * order counter is version. */
struct tk_position_page {
    int64_t version;
    const char *from; /* in the arena */
    int64_t skip, limit;
};
/* Rows [offset, offset + limit) of the list in identifier order (descending when desc) from the
 * positions: false when none are known or the page is not within them. */
bool tk_positions_page(struct tk_positions *p, int64_t offset, int64_t limit, bool desc,
                       struct tk_arena *a, struct tk_position_page *out);
/* A page read from the positions of version found the counter moved: they are dropped. */
void tk_positions_stale(struct tk_positions *p, int64_t version);
/* A deep page was read by OFFSET, stepping over walked rows. True when the rows so stepped
 * over since the positions were last read or dropped add up to rows (the table's): the caller
 * is then the one thread to read them, and must call tk_positions_read. */
bool tk_positions_walked(struct tk_positions *p, int64_t walked, int64_t rows);
/* Reads the positions on db (one statement; about one pass over the identifier index). */
int tk_positions_read(struct tk_positions *p, struct tk_db *db);

/* ---- rows.c ---- */

/* Column copies into the arena ("" for NULL text; NULL for NULL with _null). */
const char *tk_st_col_dup(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a);
const char *tk_st_col_dup_null(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a);
/* A blob column copied into the arena (*p, *len); TK_ERR_NOMEM on a failed copy. */
int tk_st_col_blob_dup(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a,
                       const uint8_t **p, size_t *len);
void tk_st_col_uuid(struct tk_db *db, struct tk_db_stmt *st, int c, char out[37]);
/* Columns id, uuid, identifier, intent, expires (0-4) into x; TK_ERR_NOMEM on a failed copy. */
int tk_st_col_token_brief(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                          struct tk_token *x);
/* The group row of TK_ST_GROUP_COLUMNS, read from column c on (id, uuid, name, is_superuser,
 * parent uuid, parent name, attributes) into g; TK_ERR_NOMEM on a failed copy. */
int tk_st_col_group(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a,
                    struct tk_group *g);
/* Steps st, a query of one row, and resets it: *v gets the row's first column; TK_ERR_STORE
 * when no row comes back. */
int tk_st_one_int(struct tk_db *db, struct tk_db_stmt *st, int64_t *v);
/* Steps a statement to its end and resets it. */
int tk_st_run(struct tk_db *db, struct tk_db_stmt *st);
/* Runs an INSERT ... RETURNING id to its end and resets it: *id gets the new row's id;
 * TK_ERR_STORE when no row comes back. */
int tk_st_insert_id(struct tk_db *db, struct tk_db_stmt *st, int64_t *id);
/* "(?, ?, ...)" over ids. */
void tk_st_sql_id_list(struct tk_sql *q, const int64_t *ids, size_t n);
/* Runs sql with one text parameter; *id gets the first column of the first row.
 * TK_ERR_NOTFOUND when there is no row. */
int tk_st_find_id(struct tk_db *db, const char *sql, const char *value, int64_t *id);
/* Runs sql with a text parameter and an id to exclude; *taken is whether a row came back. */
int tk_st_taken(struct tk_db *db, const char *sql, const char *value, int64_t exclude_id,
                bool *taken);
/* Prepares q (a SELECT COUNT(*)), frees it and reads the count. */
int tk_st_count(struct tk_db *db, struct tk_sql *q, int64_t *count);
/* Reads a column of up to max ids from a prepared statement into the arena, and resets it. */
int tk_st_read_ids(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a, size_t max,
                   int64_t **ids, size_t *n);
/* qsort order of int64_t. */
int tk_st_cmp_i64(const void *a, const void *b);

/* ---- auth.c ---- */

/* SELECT of the superusers among ids (docs/api.md §4.1). */
void tk_st_sql_superusers(struct tk_sql *q, const int64_t *ids, size_t n);
/* The ids of the groups that make their members superusers, sorted. */
int tk_st_granting_groups(struct tk_db *db, struct tk_arena *a, int64_t **out, size_t *n_out);

/* ---- users.c ---- */

/* Locks the user's row for the rest of the write transaction (tk_store_user_lock);
 * TK_ERR_NOTFOUND when the user is gone. */
int tk_st_lock_user(struct tk_db *db, int64_t id);

/* ---- groups.c ---- */

/* The columns tk_st_col_group reads, with the FROM that gives them (g: the group, p: its
 * parent). */
#define TK_ST_GROUP_COLUMNS                                                                        \
    "g.id, g.uuid, g.name, g.is_superuser, p.uuid, p.name, g.attributes FROM groups g "            \
    "LEFT JOIN groups p ON p.id = g.parent_id"
/* Every row of st (TK_ST_GROUP_COLUMNS) as groups in the arena; resets st. */
int tk_st_read_groups(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                      struct tk_group **out, size_t *n_out);

/* ---- filters.c ---- */

/* "(?, ?, ...)" over texts. */
void tk_st_sql_strs(struct tk_sql *q, const char *const *v, size_t n);
/* The conditions the user and group lists end with: their two membership filters, the
 * attributes filters on attributes_column, and every search term on fold_column. */
struct tk_list_tail {
    const struct tk_id_set *sets;
    const char *membership_link;
    const struct tk_attr_filter *attrs;
    size_t n_attrs;
    const char *attributes_column;
    const char *const *terms;
    size_t n_terms;
    const char *fold_column;
};
void tk_st_sql_list_tail(struct tk_sql *q, struct tk_arena *a, const struct tk_list_tail *t);
/* " ORDER BY <order's columns>, <tie> LIMIT ? OFFSET ?" (nulls last ascending, first
 * descending); column names a field of the list. */
void tk_st_sql_order_page(struct tk_sql *q, const struct tk_order *order, size_t n_order,
                          const char *(*column)(int field), const char *tie, int64_t limit,
                          int64_t offset);

/* ---- token_list.c ---- */

/* The token list's conditions (tk_sql_where) and its ORDER BY (t.id last; reversed when
 * reverse). */
void tk_st_sql_token_where(struct tk_sql *q, const struct tk_token_query *t);
void tk_st_sql_token_order(struct tk_sql *q, const struct tk_token_query *tq, bool reverse);

/* ---- tokens.c ---- */

/* The columns a new token's row is written with, in the order tk_st_token_bind_row binds them,
 * and one row's placeholders. */
#define TK_ST_TOKEN_INSERT_COLUMNS                                                                 \
    "uuid, identifier, intent, user_id, description, expires, expiring, managed, key_hash, "       \
    "key_sealed, search_fold, created, scopes, allowed_networks, view_key"
#define TK_ST_TOKEN_INSERT_N_COLUMNS 15
#define TK_ST_TOKEN_INSERT_ROW "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
/* Binds a new token's row (search text fold, created now) to parameters first ..
 * first + TK_ST_TOKEN_INSERT_N_COLUMNS - 1 of st. */
void tk_st_token_bind_row(struct tk_db *db, struct tk_db_stmt *st, int first,
                          const struct tk_token_new *t, const char *fold, size_t fold_len,
                          int64_t now);

/* ---- search.c ---- */

/* The search texts written with each row: a user's (username, name, is_active, email, uuid), a
 * group's (name, is_superuser) and a token's (identifier, intent, owner's username,
 * description), case-folded, fields separated by 0x1f. */
int tk_st_user_fold(const struct tk_user_new *u, const char *uuid, struct tk_buf *fold);
int tk_st_group_fold(const char *name, bool is_superuser, struct tk_buf *fold);
int tk_st_token_fold(struct tk_db *db, const char *identifier, const char *intent, int64_t user_id,
                     const char *description, struct tk_buf *fold);
/* The same with the owner's username fold given (tk_st_owner_fold appends it to out;
 * TK_ERR_NOTFOUND when there is no such user), for loads that fold many tokens of few owners. */
int tk_st_token_fold_owner(const char *identifier, const char *intent, const char *owner,
                           size_t owner_len, const char *description, struct tk_buf *fold);
int tk_st_owner_fold(struct tk_db *db, int64_t user_id, struct tk_buf *out);
/* Recomputes the search text of every token of a user (after a username change). */
int tk_st_refold_user_tokens(struct tk_db *db, int64_t user_id);
/* The conditions of a token search (tk_sql_where each): the trigram index asked for the parts
 * of the terms between common trigrams (tq->common_trigrams), the terms checked whole where
 * the index's answer does not settle them. */
void tk_st_sql_token_search(struct tk_sql *q, const struct tk_token_query *t);
/* The trigrams in more than half the tokens' search texts, by the statistics, into the arena:
 * 0x1f before each and at the end; "" for none. */
int tk_st_common_trigrams(struct tk_db *db, struct tk_arena *a, const char **out);
/* SQLite: refills search_common_trigrams from the FTS5 index (part of tk_store_analyze). */
int tk_st_analyze_trigrams(struct tk_db *db);
/* Is this a search walked once (then tk_st_search_walk counts it)? */
bool tk_st_search_walked(struct tk_db *db, const struct tk_token_query *tq, struct tk_arena *a);
/* Counts a search in one walk, keeping the ids of the page tq names (store.h). */
int tk_st_search_walk(struct tk_db *db, struct tk_token_query *tq, struct tk_arena *a,
                      int64_t *count);

#endif
