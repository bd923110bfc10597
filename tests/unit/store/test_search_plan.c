/* The statements a token search runs (src/store/search.c, docs/api.md §8.2): the trigram
 * index is asked only for the parts of the terms between trigrams most tokens hold (read from
 * the statistics tk_store_analyze keeps), the whole terms are checked on the rows it gives,
 * and the answers are the same with the statistics as without them. SQLite in memory; the
 * PostgreSQL conditions are checked as text (their answers: tests/api/test_search_*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/tokens.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/arena.h"

#define NOW 1700000000000000LL
#define N_USERS 40
#define N_TOKENS 400 /* ten per user: "use", "ser", "er0", "r00" in every one */
/* what the statistics hold once the tokens above are analyzed (search_common_trigrams) */
#define COMMON "\x1fuse\x1fser\x1f"

static struct tk_store *store;
static struct tk_db *db;
static struct tk_arena *arena;
static int64_t users[N_USERS];

static int add_token(int i, int64_t owner, const char *desc)
{
    static const uint8_t sealed[] = "sealed";
    char uuid[37], ident[16];
    snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", i);
    snprintf(ident, sizeof(ident), "tok-%07d", (i * 7919) % 10007);
    struct tk_token_new t = {.uuid = uuid,
                             .identifier = ident,
                             .intent = i % 5 ? "api" : "recovery",
                             .description = desc,
                             .user_id = owner,
                             .expiring = false,
                             .key_sealed = sealed,
                             .key_sealed_len = sizeof(sealed) - 1,
                             .view_key = TK_VIEW_ONCE};
    memset(t.key_hash, 0, sizeof(t.key_hash));
    memcpy(t.key_hash, &i, sizeof(i));
    int64_t id;
    return tk_store_token_insert(db, &t, NOW, &id);
}

static int setup(void **state)
{
    char err[256];
    tk_alloc_init();
    if (tk_store_open("sqlite::memory:", &store, err, sizeof(err)) != 0 ||
        tk_store_migrate(store, err, sizeof(err)) != 0 || (db = tk_store_db(store)) == NULL)
        return -1;
    arena = tk_arena_new(64 * 1024 * 1024);
    for (int i = 0; i < N_USERS; i++) {
        char name[16], uuid[37];
        snprintf(name, sizeof(name), "user%05d", i * 11);
        struct tk_user_new u = {.username = name, .name = "", .email = "", .is_active = true};
        if (tk_store_user_create(db, &u, NOW, &users[i], uuid) != 0)
            return -1;
    }
    static const char *const words[] = {"alpha", "bravo", "charlie", "delta"};
    for (int i = 0; i < N_TOKENS + 2; i++) {
        char desc[64];
        snprintf(desc, sizeof(desc), "token %d of %s", i, words[i % 4]);
        /* two more: the pieces of "abuserxy" apart, and the term whole (the check matters) */
        if (i >= N_TOKENS)
            snprintf(desc, sizeof(desc), i == N_TOKENS ? "abus and erxy" : "abuserxy");
        if (add_token(i, users[i % N_USERS], desc) != 0)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    tk_arena_free(arena);
    tk_store_free(store);
    return 0;
}

static struct tk_token_query query(const char **terms, size_t n, const char *common)
{
    struct tk_token_query q;
    memset(&q, 0, sizeof(q));
    q.expiring = -1;
    q.order[0] = (struct tk_order){TK_TF_IDENTIFIER, false};
    q.n_order = 1;
    q.terms = terms;
    q.n_terms = n;
    q.common_trigrams = common;
    return q;
}

/* The conditions of a search in dialect d, as text with each parameter written in after its
 * '?' as [value]. */
static const char *conditions(enum tk_dialect d, const char **terms, size_t n, const char *common)
{
    struct tk_token_query tq = query(terms, n, common);
    struct tk_sql q;
    assert_int_equal(tk_sql_init(&q, d, arena), 0);
    tk_st_sql_token_search(&q, &tq);
    assert_int_equal(q.err, 0);
    static char out[4096];
    size_t o = 0, p = 0;
    for (size_t i = 0; i < q.text.len && o + 64 < sizeof(out); i++) {
        out[o++] = q.text.data[i];
        if (q.text.data[i] == '?' && p < q.n_params)
            o += (size_t)snprintf(out + o, sizeof(out) - o, "[%.*s]", (int)q.params[p].len,
                                  q.params[p].s),
                p++;
    }
    out[o] = '\0';
    assert_int_equal(p, q.n_params);
    tk_sql_free(&q);
    return out;
}

static void test_analyze_keeps_the_trigrams_most_tokens_hold(void **state)
{
    const char *common;
    assert_int_equal(tk_st_common_trigrams(db, arena, &common), 0);
    assert_string_equal(common, ""); /* before any ANALYZE: none known */
    assert_int_equal(tk_store_analyze(db), 0);
    assert_int_equal(tk_st_common_trigrams(db, arena, &common), 0);
    /* in every token: the owner ("user000NN"), "tok-", "token ", " of " */
    static const char *const held[] = {"use", "ser", "er0", "r00", "tok", "ken", "of "};
    for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
        char entry[8];
        snprintf(entry, sizeof(entry), "\x1f%s\x1f", held[i]);
        assert_non_null(strstr(common, entry));
    }
    /* in fewer than half: "api" is in 80 %, "alp" in a quarter, "042" in no owner's name */
    assert_null(strstr(common, "\x1f"
                               "alp\x1f"));
    assert_null(strstr(common, "\x1f"
                               "042\x1f"));
    assert_non_null(strstr(common, "\x1f"
                                   "api\x1f"));
}

static void test_sqlite_asks_the_index_for_the_rare_part_only(void **state)
{
    const char *t[] = {"user00044"};
    /* "use" and "ser" skipped: the index gets "er00044", instr() the whole term */
    assert_string_equal(conditions(TK_DIALECT_SQLITE, t, 1, COMMON),
                        " WHERE t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH "
                        "?[\"er00044\"]) AND instr(t.search_fold, ?[user00044]) > 0");
    /* without statistics: the whole term, which the index answers alone */
    assert_string_equal(conditions(TK_DIALECT_SQLITE, t, 1, ""),
                        " WHERE t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH "
                        "?[\"user00044\"])");
    /* a common trigram inside a term splits it in two pieces */
    const char *mid[] = {"abuserxy"};
    assert_string_equal(conditions(TK_DIALECT_SQLITE, mid, 1, COMMON),
                        " WHERE t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH "
                        "?[\"abus\" AND \"erxy\"]) AND instr(t.search_fold, ?[abuserxy]) > 0");
}

static void test_sqlite_terms_of_common_trigrams_alone(void **state)
{
    /* beside a term with a rare part, a term all common is checked row by row */
    const char *two[] = {"user", "kilo"};
    assert_string_equal(conditions(TK_DIALECT_SQLITE, two, 2, COMMON),
                        " WHERE t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH "
                        "?[\"kilo\"]) AND instr(t.search_fold, ?[user]) > 0");
    /* alone, it is asked for whole, as without statistics (else every row would be read) */
    const char *one[] = {"user"};
    assert_string_equal(conditions(TK_DIALECT_SQLITE, one, 1, COMMON),
                        " WHERE t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH "
                        "?[\"user\"])");
    /* short terms never reach the index */
    const char *shrt[] = {"us", "kilo"};
    assert_string_equal(conditions(TK_DIALECT_SQLITE, shrt, 2, COMMON),
                        " WHERE t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH "
                        "?[\"kilo\"]) AND instr(t.search_fold, ?[us]) > 0");
}

static void
test_postgresql_asks_pg_trgm_for_letters_and_digits_between_common_trigrams(void **state)
{
    const char *t[] = {"tok-0004242"};
    const char *common = "\x1ftok\x1f"
                         "000\x1f";
    /* "tok" common, "-" not a word character for pg_trgm, "000" common: LIKE '%0004242%' would
     * read "000" too, so the index gets "004242"; strpos() is not indexable and checks the term */
    assert_string_equal(conditions(TK_DIALECT_PG, t, 1, common),
                        " WHERE t.search_fold LIKE ?[%004242%] ESCAPE '\\' AND "
                        "strpos(t.search_fold, ?[tok-0004242]) > 0");
    /* no statistics (an older server, or before the first ANALYZE): LIKE for each term */
    assert_string_equal(conditions(TK_DIALECT_PG, t, 1, ""),
                        " WHERE t.search_fold LIKE ?[%tok-0004242%] ESCAPE '\\'");
    /* a piece asked for once however often it recurs, and not inside a longer one */
    const char *rep[] = {"usexusexusex", "xsexusx"};
    assert_string_equal(conditions(TK_DIALECT_PG, rep, 1, COMMON),
                        " WHERE t.search_fold LIKE ?[%sexus%] ESCAPE '\\' AND "
                        "strpos(t.search_fold, ?[usexusexusex]) > 0");
    assert_string_equal(conditions(TK_DIALECT_PG, rep, 2, COMMON),
                        " WHERE strpos(t.search_fold, ?[usexusexusex]) > 0 AND "
                        "t.search_fold LIKE ?[%xsexusx%] ESCAPE '\\'");
    assert_string_equal(conditions(TK_DIALECT_SQLITE, rep, 1, COMMON),
                        " WHERE t.id IN (SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH "
                        "?[\"sexus\"]) AND instr(t.search_fold, ?[usexusexusex]) > 0");
    /* letters and digits only: LIKE metacharacters never reach a piece, the term is escaped */
    const char *meta[] = {"100%_x", "user"};
    assert_string_equal(conditions(TK_DIALECT_PG, meta, 2, COMMON),
                        " WHERE t.search_fold LIKE ?[%100%] ESCAPE '\\' AND "
                        "strpos(t.search_fold, ?[100%_x]) > 0 AND "
                        "strpos(t.search_fold, ?[user]) > 0");
}

/* The identifiers of a search's page [offset, offset + limit), by the walk and fetch the API
 * uses, joined by spaces; *count the count. */
static const char *page(const char **terms, size_t n, int64_t offset, int64_t limit, bool last,
                        int64_t *count)
{
    struct tk_token_query q = query(terms, n, NULL);
    q.page_offset = offset;
    q.page_limit = limit;
    q.page_last = last;
    q.without_users = true;
    assert_int_equal(tk_store_read_begin(db), 0);
    assert_int_equal(tk_store_token_count(db, &q, arena, count), 0);
    if (last)
        offset = *count > 0 ? (*count - 1) / limit * limit : 0;
    struct tk_token *tokens;
    size_t got;
    assert_int_equal(tk_store_token_fetch(db, &q, offset, limit, arena, &tokens, &got), 0);
    tk_store_read_end(db);
    static char out[4096];
    size_t o = 0;
    for (size_t i = 0; i < got; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s ", tokens[i].identifier);
    out[o] = '\0';
    return tk_arena_strdup(arena, out);
}

/* The same page by brute force: every token whose search text holds every term. */
static const char *brute(const char **terms, size_t n, int64_t offset, int64_t limit, bool last,
                         int64_t *count)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db,
                                   "SELECT identifier, search_fold FROM tokens "
                                   "ORDER BY identifier",
                                   &st),
                     0);
    const char *ids[N_TOKENS + 2];
    int64_t k = 0;
    while (tk_db_step(db, st) == 1) {
        size_t len;
        const char *fold = tk_db_col_text(db, st, 1, &len);
        bool all = true;
        for (size_t i = 0; i < n; i++)
            all = all && strstr(fold, terms[i]) != NULL;
        if (all)
            ids[k++] = tk_arena_strdup(arena, tk_db_col_text(db, st, 0, &len));
    }
    tk_db_reset(db, st);
    *count = k;
    if (last)
        offset = k > 0 ? (k - 1) / limit * limit : 0;
    static char out[4096];
    size_t o = 0;
    for (int64_t i = offset; i < k && i < offset + limit; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s ", ids[i]);
    out[o] = '\0';
    return tk_arena_strdup(arena, out);
}

static void test_answers_are_those_of_every_term_checked_on_every_row(void **state)
{
    assert_int_equal(tk_store_analyze(db), 0);
    const char *common;
    assert_int_equal(tk_st_common_trigrams(db, arena, &common), 0);
    assert_true(strlen(common) > 10); /* the statistics are in use below */
    static const char *cases[][3] = {
        {"abuserxy", NULL}, {"user00044", NULL},    {"user00", "alpha"}, {"user", NULL},
        {"tok-00", NULL},   {"er0004", "recovery"}, {"oken", "of"},      {"abuserxy", NULL},
        {"bravo", "api"},   {"user00429", "tok"},   {"39", "ser"},       {"n", "delta"},
        {"r00", "p"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const char **terms = (const char **)cases[c];
        size_t n = terms[1] ? 2 : 1;
        for (int64_t offset = 0; offset < 60; offset += 25) {
            for (int last = 0; last < 2; last++) {
                int64_t got_n, want_n;
                const char *want = brute(terms, n, offset, 25, last, &want_n);
                const char *got = page(terms, n, offset, 25, last, &got_n);
                assert_int_equal(got_n, want_n);
                assert_string_equal(got, want);
            }
        }
    }
}

static void test_the_sweep_counts_again_when_the_tokens_doubled(void **state)
{
    assert_int_equal(tk_store_analyze(db), 0);
    bool done = true;
    assert_int_equal(tk_store_search_stats_refresh(db, &done), 0);
    assert_false(done); /* counted on today's tokens */
    const char *common;
    /* 1,600 tokens more, each with "zzq" in its description: more than twice as many tokens */
    for (int i = 0; i < 1600; i++)
        assert_int_equal(add_token(N_TOKENS + 2 + i, users[0], "zzqv"), 0);
    assert_int_equal(tk_st_common_trigrams(db, arena, &common), 0);
    assert_null(strstr(common, "\x1fzzq\x1f")); /* not yet */
    assert_int_equal(tk_store_search_stats_refresh(db, &done), 0);
    assert_true(done);
    assert_int_equal(tk_st_common_trigrams(db, arena, &common), 0);
    assert_non_null(strstr(common, "\x1fzzq\x1f"));
    assert_null(strstr(common, "\x1f"
                               "alp\x1f"));
    assert_int_equal(tk_store_search_stats_refresh(db, &done), 0);
    assert_false(done); /* once */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analyze_keeps_the_trigrams_most_tokens_hold),
        cmocka_unit_test(test_sqlite_asks_the_index_for_the_rare_part_only),
        cmocka_unit_test(test_sqlite_terms_of_common_trigrams_alone),
        cmocka_unit_test(
            test_postgresql_asks_pg_trgm_for_letters_and_digits_between_common_trigrams),
        cmocka_unit_test(test_answers_are_those_of_every_term_checked_on_every_row),
        cmocka_unit_test(test_the_sweep_counts_again_when_the_tokens_doubled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
