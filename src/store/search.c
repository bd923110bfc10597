/* Search in the store (docs/api.md §8.2): the case-folded text each user, group and token keeps
 * for it (written with the row), the FTS5 trigram MATCH of a token search on SQLite, and the
 * walk that evaluates such a search once per request for its count and page. */
#include "store/internal.h"

#include <string.h>

#include "util/utf8.h"

/* Users and groups in the store (store.h, docs/api.md §14): lists with their filters, single
 * objects, writes with memberships, and the group-tree rules (ancestry, cycles). The SQL is
 * written once over the builder (sql.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/alloc.h"
#include "util/utf8.h"

/* ---- shared pieces ---- */

int tk_st_user_fold(const struct tk_user_new *u, const char *uuid, struct tk_buf *fold)
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

int tk_st_group_fold(const char *name, bool is_superuser, struct tk_buf *fold)
{
    tk_utf8_fold(name, strlen(name), fold);
    tk_buf_putc(fold, '\x1f');
    return tk_buf_puts(fold, is_superuser ? "true" : "false");
}

int tk_st_owner_fold(struct tk_db *db, int64_t user_id, struct tk_buf *out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, "SELECT username_fold FROM users WHERE id = ?", &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, user_id);
    rc = tk_db_step(db, st);
    if (rc == 1) {
        size_t len;
        const char *t = tk_db_col_text(db, st, 0, &len);
        rc = tk_buf_append(out, t, len);
    } else if (rc == 0) {
        rc = TK_ERR_NOTFOUND;
    }
    tk_db_reset(db, st);
    return rc;
}

int tk_st_token_fold_owner(const char *identifier, const char *intent, const char *owner,
                           size_t owner_len, const char *description, struct tk_buf *fold)
{
    /* One text per token for search: the four searched fields, separated by 0x1f, which no
     * search term can contain (it is whitespace to the term splitter). */
    int rc = tk_utf8_fold(identifier, strlen(identifier), fold);
    if (rc == 0)
        rc = tk_buf_putc(fold, '\x1f');
    if (rc == 0)
        rc = tk_buf_puts(fold, intent);
    if (rc == 0)
        rc = tk_buf_putc(fold, '\x1f');
    if (rc == 0)
        rc = tk_buf_append(fold, owner, owner_len);
    if (rc == 0)
        rc = tk_buf_putc(fold, '\x1f');
    if (rc == 0)
        rc = tk_utf8_fold(description, strlen(description), fold);
    return rc;
}

int tk_st_token_fold(struct tk_db *db, const char *identifier, const char *intent, int64_t user_id,
                     const char *description, struct tk_buf *fold)
{
    struct tk_buf owner;
    tk_buf_init(&owner, TK_MAX_FOLD_BYTES);
    int rc = tk_st_owner_fold(db, user_id, &owner);
    if (rc == 0)
        rc = tk_st_token_fold_owner(identifier, intent, owner.data ? owner.data : "", owner.len,
                                    description, fold);
    tk_buf_free(&owner);
    return rc;
}

/* The FTS5 trigram index (migration 0002) finds exact substrings of three characters or more;
 * shorter terms are compared with instr(). */
static bool fts_term(const char *term)
{
    return tk_utf8_length(term, strlen(term)) >= 3;
}

/* Trigrams one search hands to FTS5, over all its terms. FTS5 evaluates a phrase inside one VM
 * instruction, which the statement time budget cannot interrupt, at a cost of about one doclist
 * walk per trigram: 1,022 trigrams of one common character took 1.2 s at 100k tokens
 * (docs/robustness.md). Past this many, terms are checked by instr() alone, row by row, which
 * the budget does stop; a longer term gives the index its first characters and instr() the
 * rest. */
#define FTS_MAX_TRIGRAMS 64

/* The part of term for the index: its first characters, as many as the trigrams *left allow
 * (taken from *left). Its length in bytes; 0: none (instr alone). */
static size_t fts_piece(const char *term, size_t *left)
{
    size_t len = strlen(term), chars = tk_utf8_length(term, len);
    if (chars < 3 || *left == 0)
        return 0;
    size_t take = chars < *left + 2 ? chars : *left + 2, bytes = 0;
    *left -= take - 2;
    for (size_t k = 0; k < take; k++) {
        uint32_t cp;
        bytes += tk_utf8_decode(term + bytes, len - bytes, &cp);
    }
    return bytes;
}

/* The FTS5 query over the terms' pieces (fts_piece) on SQLite: each piece one quoted phrase
 * ('"' doubled), joined by AND. covered[i]: term i is matched by the index alone (its whole
 * text is a phrase). NULL when no term has a piece (or on PostgreSQL). */
const char *tk_st_fts_match(struct tk_sql *q, const struct tk_token_query *t, bool *covered)
{
    if (q->dialect != TK_DIALECT_SQLITE || covered == NULL)
        return NULL;
    size_t len = 0;
    for (size_t i = 0; i < t->n_terms; i++)
        len += 2 * strlen(t->terms[i]) + 7; /* quotes, doubled quotes, " AND " */
    char *m = tk_arena_alloc(q->arena, len + 1);
    if (m == NULL) {
        q->err = TK_ERR_NOMEM;
        return NULL;
    }
    size_t o = 0, left = FTS_MAX_TRIGRAMS;
    for (size_t i = 0; i < t->n_terms; i++) {
        const char *term = t->terms[i];
        size_t piece = fts_piece(term, &left);
        covered[i] = piece > 0 && term[piece] == '\0';
        if (piece == 0)
            continue;
        if (o > 0) {
            memcpy(m + o, " AND ", 5);
            o += 5;
        }
        m[o++] = '"';
        for (size_t k = 0; k < piece; k++) {
            if (term[k] == '"')
                m[o++] = '"';
            m[o++] = term[k];
        }
        m[o++] = '"';
    }
    m[o] = '\0';
    return o > 0 ? m : NULL;
}

/* Does the query hold a term for the FTS5 index (tk_st_fts_match)? Its MATCH is evaluated whole
 * before the first row comes back (SQLite builds the list of matching rowids), so a COUNT(*) and a
 * page query would evaluate it twice: such searches are walked once instead (tk_st_search_walk).
 * Short terms alone are instr() per row, which the page query stops evaluating at the page's end.
 */
bool tk_st_fts_search(struct tk_db *db, const struct tk_token_query *tq)
{
    if (db->dialect != TK_DIALECT_SQLITE)
        return false;
    for (size_t i = 0; i < tq->n_terms; i++)
        if (fts_term(tq->terms[i]))
            return true;
    return false;
}

/* One statement walks the ids of every matching token in list order: their number is the
 * count, and the ids of the page the caller asked for (tq->page_offset, page_limit, page_last)
 * are kept for tk_store_token_fetch, which then reads just those rows. Memory: the page's ids
 * (the last page's through a ring of page_limit ids), whatever the count. */
int tk_st_search_walk(struct tk_db *db, struct tk_token_query *tq, struct tk_arena *a,
                      int64_t *count)
{
    struct tk_sql q;
    int rc = tk_sql_init(&q, db->dialect, a);
    if (rc)
        return rc;
    tk_sql_add(&q, "SELECT t.id FROM tokens t");
    if (tq->username)
        tk_sql_add(&q, " JOIN users u ON u.id = t.user_id");
    tk_st_sql_token_where(&q, tq);
    tk_st_sql_token_order(&q, tq, false);
    struct tk_db_stmt *st;
    rc = tk_sql_prepare(db, &q, &st);
    tk_sql_free(&q);
    if (rc)
        return rc;
    int64_t limit = tq->page_limit, first = tq->page_last ? 0 : tq->page_offset, i = 0;
    int64_t *ids = tk_arena_calloc(a, (size_t)limit, sizeof(*ids));
    if (ids == NULL)
        rc = TK_ERR_NOMEM;
    while (rc == 0 && (rc = tk_db_step(db, st)) == 1) {
        int64_t id = tk_db_col_int(db, st, 0);
        if (tq->page_last)
            ids[i % limit] = id;
        else if (i >= first && i - first < limit)
            ids[i - first] = id;
        i++;
        rc = 0;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    *count = i;
    int64_t n = i > first ? i - first : 0;
    if (tq->page_last) {
        /* the last page starts where tk_paginate puts it; its rows are the ring's newest */
        first = i > 0 ? (i - 1) / limit * limit : 0;
        n = i - first;
        int64_t *ordered = tk_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*ordered));
        if (ordered == NULL)
            return TK_ERR_NOMEM;
        for (int64_t k = 0; k < n; k++)
            ordered[k] = ids[(first + k) % limit];
        ids = ordered;
    }
    tq->page_ids = ids;
    tq->n_page_ids = (size_t)(n < limit ? n : limit);
    tq->page_ids_offset = first;
    return 0;
}
