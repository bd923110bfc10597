/* Where the token list's rows lie in identifier order, kept by a PostgreSQL process for deep
 * pages (docs/api.md §20.4). PostgreSQL finds row 800,000 of an OFFSET by stepping over the
 * 799,999 before it (about 30 ms at a million tokens), where SQLite skips through its b-tree's
 * pages. So a process keeps the identifier of every TK_POSITIONS_STRIDE-th row, read in one
 * statement together with the order counter (pg 0007: it grows with every insert, delete and
 * changed identifier) and the number of tokens; a deep page then starts at the kept identifier
 * before it and steps over fewer than TK_POSITIONS_STRIDE rows. The page's statement compares
 * the counter with the one the positions were read under, in its own snapshot, so a page is
 * never read from positions that moved, whichever process moved them: it comes back empty, the
 * positions are dropped and the page is read by OFFSET.
 *
 * Reading the positions costs about as much as stepping over the whole table once. They are
 * (re)read when the deep pages read by OFFSET since they were last read or dropped have together
 * stepped over as many rows as the table has, so a list that changes between every deep page
 * never pays more than about twice what OFFSET alone would. */
#include "store/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

struct tk_positions {
    pthread_mutex_t lock;
    bool known;      /* starts, version and rows hold positions read */
    int64_t version; /* the order counter they were read under */
    int64_t rows;    /* the number of tokens then */
    char **starts;   /* starts[i]: the identifier of row (i + 1) * TK_POSITIONS_STRIDE */
    size_t n_starts;
    int64_t walked; /* rows deep pages stepped over by OFFSET since the last read or drop */
    bool reading;   /* a thread is reading them (tk_positions_walked chose it) */
};

int tk_positions_new(struct tk_positions **out)
{
    struct tk_positions *p = tk_calloc(1, sizeof(*p));
    if (p == NULL)
        return TK_ERR_NOMEM;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return TK_ERR_NOMEM;
    }
    *out = p;
    return 0;
}

static void free_starts(char **starts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(starts[i]);
    free(starts);
}

void tk_positions_free(struct tk_positions *p)
{
    if (p == NULL)
        return;
    free_starts(p->starts, p->n_starts);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

bool tk_positions_page(struct tk_positions *p, int64_t offset, int64_t limit, bool desc,
                       struct tk_arena *a, struct tk_position_page *out)
{
    bool ok = false;
    pthread_mutex_lock(&p->lock);
    if (!p->known || offset < 0 || limit <= 0 || offset >= p->rows)
        goto done;
    int64_t start = offset;
    if (desc) { /* rows [offset, offset + limit) from the end, read forwards */
        start = p->rows - offset - limit;
        if (start < 0) {
            limit += start;
            start = 0;
        }
    }
    int64_t kept = start / TK_POSITIONS_STRIDE; /* rows [kept * STRIDE, ...) start there */
    if (kept > (int64_t)p->n_starts)
        goto done;
    out->from = NULL;
    if (kept > 0 && (out->from = tk_arena_strdup(a, p->starts[kept - 1])) == NULL)
        goto done;
    out->version = p->version;
    out->skip = start - kept * TK_POSITIONS_STRIDE;
    out->limit = limit;
    ok = true;
done:
    pthread_mutex_unlock(&p->lock);
    return ok;
}

void tk_positions_stale(struct tk_positions *p, int64_t version)
{
    pthread_mutex_lock(&p->lock);
    if (p->known && p->version == version) {
        p->known = false;
        p->walked = 0;
    }
    pthread_mutex_unlock(&p->lock);
}

bool tk_positions_walked(struct tk_positions *p, int64_t walked, int64_t rows)
{
    bool read = false;
    pthread_mutex_lock(&p->lock);
    p->walked += walked;
    if (!p->reading && p->walked >= rows) {
        p->reading = read = true;
        p->walked = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return read;
}

/* One snapshot: the order counter, the number of tokens, and every STRIDE-th identifier (rows
 * numbered from 1: row STRIDE + 1 is the one at offset STRIDE). The LEFT JOIN keeps the counters'
 * row when the table has no row that deep. */
#define POSITIONS_SQL                                                                              \
    "SELECT c.o, c.n, s.identifier FROM (SELECT (SELECT SUM(n) FROM token_order_shards) AS o, "    \
    "(SELECT SUM(n) FROM token_count_shards) AS n) c LEFT JOIN (SELECT identifier, r FROM "        \
    "(SELECT identifier, row_number() OVER (ORDER BY identifier) AS r FROM tokens) w "             \
    "WHERE r % ? = 1 AND r > 1) s ON true ORDER BY s.r"

static int read_positions(struct tk_db *db, int64_t *version, int64_t *rows, char ***starts,
                          size_t *n_starts)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, POSITIONS_SQL, &st);
    if (rc)
        return rc;
    tk_db_bind_int(db, st, 1, TK_POSITIONS_STRIDE);
    size_t n = 0, cap = 0;
    char **v = NULL;
    while ((rc = tk_db_step(db, st)) == 1) {
        *version = tk_db_col_int(db, st, 0);
        *rows = tk_db_col_int(db, st, 1);
        if (tk_db_col_null(db, st, 2))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nv = tk_realloc(v, ncap * sizeof(*nv));
            if (nv == NULL) {
                rc = TK_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        size_t len;
        const char *s = tk_db_col_text(db, st, 2, &len);
        if ((v[n] = tk_strndup(s ? s : "", len)) == NULL) {
            rc = TK_ERR_NOMEM;
            break;
        }
        n++;
    }
    tk_db_reset(db, st);
    if (rc < 0) {
        free_starts(v, n);
        return rc;
    }
    *starts = v;
    *n_starts = n;
    return 0;
}

int tk_positions_read(struct tk_positions *p, struct tk_db *db)
{
    int64_t version = 0, rows = 0;
    char **starts = NULL;
    size_t n = 0;
    int rc = read_positions(db, &version, &rows, &starts, &n);
    pthread_mutex_lock(&p->lock);
    p->reading = false;
    if (rc == 0) {
        free_starts(p->starts, p->n_starts);
        p->starts = starts;
        p->n_starts = n;
        p->version = version;
        p->rows = rows;
        p->known = true;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}
