/* Search in the store (docs/api.md §8.2): the case-folded text each user, group and token keeps
 * for it (written with the row); the conditions of a token search, which ask the trigram index
 * (FTS5 on SQLite, pg_trgm on PostgreSQL) for the parts of the terms made of trigrams that few
 * tokens hold and check the whole terms on the rows it gives; and the walk that evaluates a
 * search once per request for its count and page. */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/time.h"
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

/* ---- the trigrams in most tokens (docs/api.md §8.2) ---- */

/* A trigram held by more than half the tokens narrows a search down by less than half, and
 * the index reads its list of rows whole: four of the seven trigrams of "user00042" ("use",
 * "ser", "er0", "r00") are in every seeded token, and reading their lists was 22 of the 27 ms
 * of ?search=user00042 at a million tokens (bench/RESULTS.md, issue 17). The index is asked for
 * the parts of a term between such trigrams; the whole term is then checked on the rows it
 * gives. Which trigrams those are is the statistics': SQLite's table search_common_trigrams,
 * filled by tk_store_analyze from FTS5's vocabulary; on PostgreSQL the most common elements
 * ANALYZE keeps of show_trgm(search_fold) (the statistics object migrate.c creates). Stale or
 * missing statistics make a search slower, never different. */

/* How often a PostgreSQL connection re-reads the statistics (ANALYZE changes them; reading
 * them is a view over pg_statistic_ext_data, about 1 ms). */
#define COMMON_TRIGRAMS_REREAD_US (60 * 1000000LL)

/* Appends "<trigram>\x1f" to out (which starts "\x1f"); false when it does not fit (the
 * trigrams left out are then treated as rare: slower, same answers). */
static bool common_add(char *out, size_t *len, const char *t, size_t n)
{
    if (n == 0 || memchr(t, '\x1f', n) != NULL || *len + n + 2 > TK_MAX_COMMON_TRIGRAM_BYTES)
        return false;
    memcpy(out + *len, t, n);
    *len += n;
    out[(*len)++] = '\x1f';
    out[*len] = '\0';
    return true;
}

static int read_common(struct tk_db *db, const char *sql, char *out)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, sql, &st);
    if (rc)
        return rc;
    size_t len = 1;
    out[0] = '\x1f';
    out[1] = '\0';
    while ((rc = tk_db_step(db, st)) == 1) {
        size_t n;
        const char *t = tk_db_col_text(db, st, 0, &n);
        (void)common_add(out, &len, t, n);
    }
    tk_db_reset(db, st);
    if (len == 1)
        out[0] = '\0';
    return rc < 0 ? rc : 0;
}

static int pg_common(struct tk_db *db)
{
    int64_t now = tk_now_us();
    if (db->common_trigrams_at < 0 ||
        (db->common_trigrams_at > 0 && now - db->common_trigrams_at < COMMON_TRIGRAMS_REREAD_US))
        return 0;
    if (db->common_trigrams_at == 0) {
        /* expression statistics, and the view that shows them, are PostgreSQL 14's */
        struct tk_db_stmt *st;
        int64_t version = 0;
        int rc =
            tk_db_prepare(db, "SELECT CAST(current_setting('server_version_num') AS integer)", &st);
        if (rc == 0)
            rc = tk_st_one_int(db, st, &version);
        if (rc)
            return rc;
        if (version < 140000) {
            db->common_trigrams_at = -1;
            db->common_trigrams[0] = '\0';
            return 0;
        }
    }
    int rc = read_common(db,
                         "SELECT e.t FROM pg_stats_ext_exprs s, "
                         "unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), "
                         "s.most_common_elem_freqs) AS e(t, f) "
                         "WHERE s.statistics_name = 'tokens_search_trgm_freq' "
                         "AND s.schemaname = current_schema() AND s.tablename = 'tokens' "
                         "AND e.t IS NOT NULL AND e.f > 0.5",
                         db->common_trigrams);
    if (rc == 0)
        db->common_trigrams_at = now;
    return rc;
}

int tk_st_common_trigrams(struct tk_db *db, struct tk_arena *a, const char **out)
{
    *out = NULL;
    if (db->dialect == TK_DIALECT_SQLITE) {
        char *buf = tk_arena_alloc(a, TK_MAX_COMMON_TRIGRAM_BYTES);
        if (buf == NULL)
            return TK_ERR_NOMEM;
        int rc = read_common(db, "SELECT trigram FROM search_common_trigrams", buf); /* 0006 */
        if (rc == 0)
            *out = buf;
        return rc;
    }
    int rc = pg_common(db);
    if (rc == 0)
        *out = tk_arena_strdup(a, db->common_trigrams);
    return rc == 0 && *out == NULL ? TK_ERR_NOMEM : rc;
}

int tk_st_analyze_trigrams(struct tk_db *db)
{
    if (db->dialect != TK_DIALECT_SQLITE)
        return 0; /* PostgreSQL's ANALYZE keeps them (migrate.c's statistics object) */
    /* Read into a temporary table first (a pass over the FTS5 vocabulary, about a second at a
     * million tokens, which takes no write lock on the database), then replaced in one short
     * write. The row with the empty trigram holds the number of tokens they were counted on
     * (tk_store_search_stats_refresh). */
    int rc = tk_db_exec(db, "DROP TABLE IF EXISTS temp.common_trigrams_new; "
                            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokens_fts_vocab "
                            "USING fts5vocab(main, tokens_fts, row); "
                            "CREATE TABLE temp.common_trigrams_new AS "
                            "SELECT term AS trigram, doc AS docs FROM temp.tokens_fts_vocab "
                            "WHERE doc * 2 > (SELECT n FROM main.token_count WHERE id = 1) "
                            "AND instr(term, char(31)) = 0 "
                            "UNION ALL SELECT '', n FROM main.token_count WHERE id = 1");
    if (rc == 0)
        rc = tk_db_exec(db, "SAVEPOINT common_trigrams; "
                            "DELETE FROM search_common_trigrams; "
                            "INSERT INTO search_common_trigrams (trigram, docs) "
                            "SELECT trigram, docs FROM temp.common_trigrams_new; "
                            "RELEASE common_trigrams");
    if (rc)
        (void)tk_db_exec(db, "ROLLBACK TO common_trigrams; RELEASE common_trigrams");
    (void)tk_db_exec(db, "DROP TABLE IF EXISTS temp.tokens_fts_vocab; "
                         "DROP TABLE IF EXISTS temp.common_trigrams_new");
    return rc;
}

int tk_store_search_stats_refresh(struct tk_db *db, bool *done)
{
    *done = false;
    if (db->dialect != TK_DIALECT_SQLITE)
        return 0;
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db,
                           "SELECT (SELECT n FROM token_count WHERE id = 1), "
                           "COALESCE((SELECT docs FROM search_common_trigrams "
                           "WHERE trigram = ''), -1)",
                           &st);
    if (rc)
        return rc;
    int64_t now = 0, then = -1;
    if ((rc = tk_db_step(db, st)) == 1) {
        now = tk_db_col_int(db, st, 0);
        then = tk_db_col_int(db, st, 1);
        rc = 0;
    }
    tk_db_reset(db, st);
    if (rc < 0)
        return rc;
    /* counted on fewer than half or more than twice today's tokens (and not a few) */
    int64_t grew = now - 2 * (then < 0 ? 0 : then), shrank = then - 2 * now;
    if (grew < TK_SEARCH_STATS_MIN_CHANGE && shrank < TK_SEARCH_STATS_MIN_CHANGE)
        return 0;
    rc = tk_st_analyze_trigrams(db);
    *done = rc == 0;
    return rc;
}

/* Is the trigram t (n bytes) one of common's ("\x1f" before each and at the end)? */
static bool is_common(const char *common, const char *t, size_t n)
{
    if (common == NULL || common[0] != '\x1f')
        return false;
    for (const char *p = common; p[1] != '\0';) {
        const char *e = strchr(p + 1, '\x1f');
        if (e == NULL)
            return false;
        if ((size_t)(e - p - 1) == n && memcmp(p + 1, t, n) == 0)
            return true;
        p = e;
    }
    return false;
}

/* ASCII letters and digits only: what pg_trgm takes into its trigrams in every locale. */
static bool ascii_alnum(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* Trigrams one search hands to the index, over all its terms. FTS5 evaluates a phrase inside
 * one VM instruction, which the statement time budget cannot interrupt, at a cost of about one
 * doclist walk per trigram: 1,022 trigrams of one common character took 1.2 s at 100k tokens
 * (docs/robustness.md). Past this many, terms are checked by instr() alone, row by row, which
 * the budget does stop. On PostgreSQL the same bound keeps a search's LIKE conditions few (the
 * pieces of "usexusex..." repeated, one per four characters). */
#define FTS_MAX_TRIGRAMS 64

struct piece {
    size_t at, len; /* bytes of the term */
};

/* The parts of term the index is asked for, into out (room for one per character): the
 * longest runs of characters whose trigrams are none of common's and, when alnum, of ASCII
 * letters and digits only (pg_trgm splits words at anything else), each at least a trigram,
 * within *budget trigrams in all (taken from it). Their number; 0 also when out of memory
 * (the term is then checked whole, row by row). */
static size_t term_pieces(struct tk_arena *a, const char *term, const char *common, bool alnum,
                          size_t *budget, struct piece **out)
{
    size_t len = strlen(term), n = tk_utf8_length(term, len);
    *out = NULL;
    if (n < 3 || *budget == 0)
        return 0;
    size_t *off = tk_arena_calloc(a, n + 1, sizeof(*off));
    struct piece *p = tk_arena_calloc(a, n, sizeof(*p));
    if (off == NULL || p == NULL)
        return 0;
    for (size_t k = 0, b = 0; k < n; k++) {
        uint32_t cp;
        off[k] = b;
        b += tk_utf8_decode(term + b, len - b, &cp);
    }
    off[n] = len;
    size_t count = 0, start = 0, tris = 0; /* the run so far: trigrams start .. start+tris-1 */
    for (size_t k = 0; k + 2 <= n; k++) {  /* k = n - 2: past the last trigram, ends a run */
        bool take = false;
        if (k + 3 <= n && *budget > 0) {
            const char *t = term + off[k];
            size_t tn = off[k + 3] - off[k];
            take = !is_common(common, t, tn) && (!alnum || ascii_alnum(t, tn));
        }
        if (take) {
            if (tris++ == 0)
                start = k;
            (*budget)--;
        } else if (tris > 0) {
            p[count++] = (struct piece){off[start], off[start + tris + 2] - off[start]};
            tris = 0;
        }
    }
    *out = p;
    return count;
}

/* Every term's pieces (term_pieces) against common; when no term has one (each is made of
 * common trigrams), against no statistics: the terms whole, as far as the budget goes, so that
 * the index still answers such a search (its cost then grows with the common trigrams' rows). */
static size_t search_pieces(struct tk_arena *a, const struct tk_token_query *t, bool alnum,
                            size_t budget, struct piece **pieces, size_t *n_pieces)
{
    size_t total = 0;
    for (int pass = 0; pass < 2 && total == 0; pass++) {
        const char *common = pass == 0 ? t->common_trigrams : NULL;
        size_t left = budget;
        for (size_t i = 0; i < t->n_terms; i++) {
            n_pieces[i] = term_pieces(a, t->terms[i], common, alnum, &left, &pieces[i]);
            total += n_pieces[i];
        }
    }
    return total;
}

/* Is term i asked for whole (its one piece is all of it), so that the index's answer needs no
 * check? */
static bool whole(const struct tk_token_query *t, struct piece *const *pieces,
                  const size_t *n_pieces, size_t i)
{
    return n_pieces[i] == 1 && pieces[i][0].at == 0 && pieces[i][0].len == strlen(t->terms[i]);
}

/* Does text (n bytes) hold sub (m bytes)? */
static bool holds(const char *text, size_t n, const char *sub, size_t m)
{
    for (size_t o = 0; m <= n && o <= n - m; o++)
        if (memcmp(text + o, sub, m) == 0)
            return true;
    return false;
}

/* Is piece k of term i inside another piece (a longer one, or the same text earlier)? Then it
 * is not asked for: the other one finds only rows that hold it ("usexusexusex": "sexus" once,
 * not twice, and not "sex"). */
static bool repeated(const struct tk_token_query *t, struct piece *const *pieces,
                     const size_t *n_pieces, size_t i, size_t k)
{
    const struct piece *p = &pieces[i][k];
    for (size_t j = 0; j < t->n_terms; j++) {
        for (size_t l = 0; l < n_pieces[j]; l++) {
            const struct piece *o = &pieces[j][l];
            bool earlier = j < i || (j == i && l < k);
            if ((o->len > p->len || (o->len == p->len && earlier)) &&
                holds(t->terms[j] + o->at, o->len, t->terms[i] + p->at, p->len))
                return true;
        }
    }
    return false;
}

/* The FTS5 query over the pieces on SQLite: each one quoted phrase ('"' doubled), joined by
 * AND. NULL when no term has a piece. */
static const char *fts_match(struct tk_sql *q, const struct tk_token_query *t,
                             struct piece *const *pieces, const size_t *n_pieces)
{
    size_t len = 0;
    for (size_t i = 0; i < t->n_terms; i++)
        for (size_t k = 0; k < n_pieces[i]; k++)
            len += 2 * pieces[i][k].len + 7; /* quotes, doubled quotes, " AND " */
    if (len == 0)
        return NULL;
    char *m = tk_arena_alloc(q->arena, len + 1);
    if (m == NULL) {
        q->err = TK_ERR_NOMEM;
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < t->n_terms; i++) {
        for (size_t k = 0; k < n_pieces[i]; k++) {
            const char *s = t->terms[i] + pieces[i][k].at;
            if (repeated(t, pieces, n_pieces, i, k))
                continue;
            if (o > 0) {
                memcpy(m + o, " AND ", 5);
                o += 5;
            }
            m[o++] = '"';
            for (size_t j = 0; j < pieces[i][k].len; j++) {
                if (s[j] == '"')
                    m[o++] = '"';
                m[o++] = s[j];
            }
            m[o++] = '"';
        }
    }
    m[o] = '\0';
    return m;
}

void tk_st_sql_token_search(struct tk_sql *q, const struct tk_token_query *t)
{
    if (t->n_terms == 0)
        return;
    bool pg = q->dialect == TK_DIALECT_PG;
    struct piece **pieces = tk_arena_calloc(q->arena, t->n_terms, sizeof(*pieces));
    size_t *n_pieces = tk_arena_calloc(q->arena, t->n_terms, sizeof(*n_pieces));
    if (pieces == NULL || n_pieces == NULL) {
        q->err = TK_ERR_NOMEM;
        return;
    }
    /* On PostgreSQL the pieces only where there are statistics: without them every term is
     * asked for whole (LIKE), which pg_trgm's index answers as well as its pieces. */
    size_t total = 0;
    if (!pg)
        total = search_pieces(q->arena, t, false, FTS_MAX_TRIGRAMS, pieces, n_pieces);
    else if (t->common_trigrams != NULL && t->common_trigrams[0] != '\0')
        total = search_pieces(q->arena, t, true, FTS_MAX_TRIGRAMS, pieces, n_pieces);
    if (!pg && total > 0) {
        /* the pieces as one MATCH: one lookup, however many terms (one subquery per term made
         * SQLite build and probe a list per term) */
        const char *match = fts_match(q, t, pieces, n_pieces);
        tk_sql_where(q);
        tk_sql_add(q, "t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH ");
        tk_sql_cstr(q, match ? match : "");
        tk_sql_add(q, ")");
    }
    if (pg && total > 0) {
        /* each piece a LIKE for pg_trgm's index; a term asked for in pieces is then checked by
         * strpos(), which the index does not take (else it would read every trigram again) */
        for (size_t i = 0; i < t->n_terms; i++) {
            for (size_t k = 0; k < n_pieces[i]; k++) {
                if (repeated(t, pieces, n_pieces, i, k))
                    continue;
                tk_sql_where(q);
                tk_sql_contains(
                    q, "t.search_fold",
                    tk_arena_strndup(q->arena, t->terms[i] + pieces[i][k].at, pieces[i][k].len));
            }
            if (whole(t, pieces, n_pieces, i))
                continue;
            tk_sql_where(q);
            tk_sql_add(q, "strpos(t.search_fold, ");
            tk_sql_cstr(q, t->terms[i]);
            tk_sql_add(q, ") > 0");
        }
        return;
    }
    for (size_t i = 0; i < t->n_terms; i++) {
        if (total > 0 && whole(t, pieces, n_pieces, i))
            continue;
        tk_sql_where(q);
        tk_sql_contains(q, "t.search_fold", t->terms[i]);
    }
}

/* Does the query hold a search walked once (tk_st_search_walk) instead of counted and paged by
 * two statements? On SQLite one with a term for the FTS5 index: its MATCH is evaluated whole
 * before the first row comes back (SQLite builds the list of matching rowids), so a COUNT(*)
 * and a page query would evaluate it twice; short terms alone are instr() per row, which the
 * page query stops evaluating at the page's end. On PostgreSQL one with a piece for pg_trgm's
 * index beside common trigrams (tk_st_sql_token_search): the page query otherwise walks the
 * ordering's index testing each token until it has a page, which costs the whole table for
 * matches that sort late (?search=tok-09999: ~1M tokens tested for 100). A search of common
 * trigrams alone (?search=api, 60 % of the tokens) keeps the two statements there: its count
 * reads most of the table either way, and its page is found early in the ordering's index,
 * where a walk would sort and send every match (twice the time at a million tokens). */
bool tk_st_search_walked(struct tk_db *db, const struct tk_token_query *tq, struct tk_arena *a)
{
    if (db->dialect == TK_DIALECT_SQLITE) {
        for (size_t i = 0; i < tq->n_terms; i++)
            if (tk_utf8_length(tq->terms[i], strlen(tq->terms[i])) >= 3)
                return true;
        return false;
    }
    if (tq->n_terms == 0 || tq->common_trigrams == NULL || tq->common_trigrams[0] == '\0')
        return false;
    size_t left = FTS_MAX_TRIGRAMS;
    for (size_t i = 0; i < tq->n_terms; i++) {
        struct piece *p;
        if (term_pieces(a, tq->terms[i], tq->common_trigrams, true, &left, &p) > 0)
            return true;
    }
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
