/* Helpers shared by the store's own files (store.c, directory.c). Not for use outside
 * src/store/. */
#ifndef TK_STORE_INTERNAL_H
#define TK_STORE_INTERNAL_H

#include "store/sql.h"
#include "store/store.h"

/* Column copies into the arena ("" for NULL text; NULL for NULL with _null). */
const char *tk_st_col_dup(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a);
const char *tk_st_col_dup_null(struct tk_db *db, struct tk_db_stmt *st, int c, struct tk_arena *a);
void tk_st_col_uuid(struct tk_db *db, struct tk_db_stmt *st, int c, char out[37]);
/* Columns id, uuid, identifier, intent, expires (0-4) into x; TK_ERR_NOMEM on a failed copy. */
int tk_st_col_token_brief(struct tk_db *db, struct tk_db_stmt *st, struct tk_arena *a,
                          struct tk_token *x);
/* Steps st, a query of one row, and resets it: *v gets the row's first column; TK_ERR_STORE
 * when no row comes back. */
int tk_st_one_int(struct tk_db *db, struct tk_db_stmt *st, int64_t *v);
/* Locks the user's row for the rest of the write transaction (tk_store_user_lock);
 * TK_ERR_NOTFOUND when the user is gone. */
int tk_st_lock_user(struct tk_db *db, int64_t id);
/* Steps a statement to its end and resets it. */
int tk_st_run(struct tk_db *db, struct tk_db_stmt *st);
/* "(?, ?, ...)" over ids. */
void tk_st_sql_id_list(struct tk_sql *q, const int64_t *ids, size_t n);
/* SELECT of the superusers among ids (API.md §4.1). */
void tk_st_sql_superusers(struct tk_sql *q, const int64_t *ids, size_t n);
/* Runs sql with one text parameter; *id gets the first column of the first row.
 * TK_ERR_NOTFOUND when there is no row. */
int tk_st_find_id(struct tk_db *db, const char *sql, const char *value, int64_t *id);
/* Runs sql with a text parameter and an id to exclude; *taken is whether a row came back. */
int tk_st_taken(struct tk_db *db, const char *sql, const char *value, int64_t exclude_id,
                bool *taken);

/* The search text of a token: fold(identifier) 0x1f intent 0x1f fold(owner's username) 0x1f
 * fold(description). */
int tk_st_token_fold(struct tk_db *db, const char *identifier, const char *intent, int64_t user_id,
                     const char *description, struct tk_buf *fold);
/* Recomputes the search text of every token of a user (after a username change). */
int tk_st_refold_user_tokens(struct tk_db *db, int64_t user_id);

#endif
