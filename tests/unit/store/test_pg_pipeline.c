/* The PostgreSQL driver's pipeline (src/store/db.h, tk_db_send; src/store/pg.c) on a real
 * server: statements sent one after another cost one round trip together, each keeps its own
 * answer, a failure or a lost connection is answered by the steps and never leaves the handle
 * unusable. Needs TOKEND_TEST_POSTGRES_URL (tests/run-unit-postgres starts a throwaway cluster);
 * without it every test fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store/db.h"
#include "util/buf.h"
#include "util/limits.h"
#include "util/metrics.h"

#define PLUS "SELECT ?::int + 1"
#define SERIES "SELECT generate_series(1, ?::int)"

static struct tk_db *db;    /* the connection under test */
static struct tk_db *other; /* a second one: kills, counts */

static int setup(void **state)
{
    (void)state;
    char err[256];
    const char *u = getenv("TOKEND_TEST_POSTGRES_URL");
    if (u == NULL || *u == '\0') {
        fprintf(stderr, "TOKEND_TEST_POSTGRES_URL is not set: run tests/run-unit-postgres\n");
        return -1;
    }
    if (tk_db_pg_open(u, &db, err, sizeof(err)) != 0 ||
        tk_db_pg_open(u, &other, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return tk_db_exec(db, "DROP TABLE IF EXISTS pt; CREATE TABLE pt (v int)");
}

static int teardown(void **state)
{
    (void)state;
    tk_db_close(db);
    tk_db_close(other);
    return 0;
}

static uint64_t round_trips(void)
{
    struct tk_buf b;
    tk_buf_init(&b, TK_MAX_RESPONSE_BYTES);
    assert_int_equal(tk_metrics_render(&b), 0);
    const char *key = "\ntokend_store_round_trips_total ";
    const char *p = strstr(b.data, key);
    assert_non_null(p);
    uint64_t n = strtoull(p + strlen(key), NULL, 10);
    tk_buf_free(&b);
    return n;
}

/* One statement, prepared, bound to v, sent. */
static struct tk_db_stmt *sent(const char *sql, int64_t v)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db, sql, &st), 0);
    tk_db_bind_int(db, st, 1, v);
    assert_int_equal(tk_db_send(db, st), 0);
    return st;
}

static int64_t one_int(struct tk_db *d, const char *sql)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(d, sql, &st), 0);
    assert_int_equal(tk_db_step(d, st), 1);
    int64_t n = tk_db_col_int(d, st, 0);
    assert_int_equal(tk_db_step(d, st), 0);
    tk_db_reset(d, st);
    return n;
}

static void expect_plus(struct tk_db_stmt *st, int64_t v)
{
    assert_int_equal(tk_db_step(db, st), 1);
    assert_int_equal(tk_db_col_int(db, st, 0), v + 1);
    assert_int_equal(tk_db_step(db, st), 0);
    tk_db_reset(db, st);
}

static void expect_series(struct tk_db_stmt *st, int64_t n)
{
    for (int64_t i = 1; i <= n; i++) {
        assert_int_equal(tk_db_step(db, st), 1);
        assert_int_equal(tk_db_col_int(db, st, 0), i);
    }
    assert_int_equal(tk_db_step(db, st), 0);
    tk_db_reset(db, st);
}

/* The statements in the cache, so that preparing them again costs nothing. */
static void warm(void)
{
    expect_plus(sent(PLUS, 1), 1);
    expect_series(sent(SERIES, 1), 1);
}

static void test_two_statements_one_round_trip(void **state)
{
    (void)state;
    warm();
    uint64_t t0 = round_trips();
    struct tk_db_stmt *a = sent(PLUS, 41);
    struct tk_db_stmt *b = sent(SERIES, 3);
    expect_plus(a, 41);
    expect_series(b, 3);
    assert_int_equal(round_trips() - t0, 1);
}

static void test_second_stepped_first(void **state)
{
    (void)state;
    warm();
    uint64_t t0 = round_trips();
    struct tk_db_stmt *a = sent(PLUS, 7);
    struct tk_db_stmt *b = sent(SERIES, 4);
    expect_series(b, 4);
    expect_plus(a, 7);
    assert_int_equal(round_trips() - t0, 1);
}

static void test_failing_first_fails_both(void **state)
{
    (void)state;
    warm();
    struct tk_db_stmt *a = sent("SELECT 1 / ?::int", 0);
    struct tk_db_stmt *b = sent(SERIES, 2);
    assert_true(tk_db_step(db, a) < 0);
    assert_true(tk_db_step(db, b) < 0);
    tk_db_reset(db, a);
    tk_db_reset(db, b);
    assert_int_equal(one_int(db, "SELECT 31"), 31);
    expect_plus(sent(PLUS, 2), 2);
}

static void test_reset_without_step(void **state)
{
    (void)state;
    warm();
    struct tk_db_stmt *a = sent(PLUS, 5);
    struct tk_db_stmt *b = sent(SERIES, 2);
    tk_db_reset(db, a); /* never stepped */
    expect_series(b, 2);
    a = sent(PLUS, 6);
    tk_db_reset(db, a); /* alone, never stepped */
    assert_int_equal(one_int(db, "SELECT 32"), 32);
    expect_plus(sent(PLUS, 8), 8);
}

static void test_prepare_new_while_queued(void **state)
{
    (void)state;
    warm();
    static int n;
    char sql[64];
    snprintf(sql, sizeof(sql), "SELECT 77 + %d", ++n); /* not in the cache */
    struct tk_db_stmt *a = sent(PLUS, 10);
    struct tk_db_stmt *b = sent(SERIES, 3);
    assert_int_equal(one_int(db, sql), 77 + n);
    expect_series(b, 3);
    expect_plus(a, 10);
}

static void test_bind_failure_answered_by_send(void **state)
{
    (void)state;
    int64_t before = one_int(db, "SELECT COUNT(*) FROM pt");
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db, "INSERT INTO pt (v) VALUES (?)", &st), 0);
    uint64_t t1 = round_trips(); /* the prepare may be a round trip of its own */
    tk_db_bind_int(db, st, 1, 5);
    tk_db_bind_int(db, st, 2, 6); /* no such parameter */
    assert_true(tk_db_send(db, st) != 0);
    tk_db_reset(db, st);
    assert_int_equal(round_trips(), t1); /* nothing was sent */
    assert_int_equal(one_int(db, "SELECT COUNT(*) FROM pt"), before);
    /* and a queued statement sent after it is unaffected */
    expect_plus(sent(PLUS, 3), 3);
}

static void test_exec_begin_commit_while_queued(void **state)
{
    (void)state;
    warm();
    struct tk_db_stmt *a = sent(PLUS, 20);
    struct tk_db_stmt *b = sent(SERIES, 2);
    assert_int_equal(tk_db_exec(db, "INSERT INTO pt (v) VALUES (100)"), 0);
    expect_plus(a, 20);
    expect_series(b, 2);

    a = sent(PLUS, 21);
    assert_int_equal(tk_db_begin(db, true), 0);
    b = sent(SERIES, 3);
    assert_int_equal(tk_db_exec(db, "INSERT INTO pt (v) VALUES (101)"), 0);
    struct tk_db_stmt *c = sent(PLUS, 22);
    assert_int_equal(tk_db_commit(db), 0);
    expect_series(b, 3);
    expect_plus(c, 22);
    expect_plus(a, 21);
    assert_int_equal(one_int(other, "SELECT COUNT(*) FROM pt WHERE v IN (100, 101)"), 2);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_connection_killed_while_queued(void **state)
{
    (void)state;
    warm();
    int64_t pid = one_int(db, "SELECT pg_backend_pid()");
    struct tk_db_stmt *a = sent(PLUS, 30);
    struct tk_db_stmt *b = sent(SERIES, 2);
    char kill[96];
    snprintf(kill, sizeof(kill), "SELECT pg_terminate_backend(%lld)::int", (long long)pid);
    assert_int_equal(one_int(other, kill), 1);
    char gone[96];
    snprintf(gone, sizeof(gone), "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %lld",
             (long long)pid);
    for (int i = 0; i < 100 && one_int(other, gone) != 0; i++)
        sleep_ms(20);
    assert_int_equal(one_int(other, gone), 0);
    int ra = tk_db_step(db, a);
    int rb = tk_db_step(db, b);
    assert_true(ra < 0);
    assert_true(rb < 0);
    tk_db_reset(db, a);
    tk_db_reset(db, b);
    /* the next statement reconnects */
    int64_t pid2 = one_int(db, "SELECT pg_backend_pid()");
    assert_true(pid2 != pid);
    expect_plus(sent(PLUS, 33), 33);
    warm();
    a = sent(PLUS, 34);
    b = sent(SERIES, 2);
    expect_series(b, 2);
    expect_plus(a, 34);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_statements_one_round_trip),
        cmocka_unit_test(test_second_stepped_first),
        cmocka_unit_test(test_failing_first_fails_both),
        cmocka_unit_test(test_reset_without_step),
        cmocka_unit_test(test_prepare_new_while_queued),
        cmocka_unit_test(test_bind_failure_answered_by_send),
        cmocka_unit_test(test_exec_begin_commit_while_queued),
        cmocka_unit_test(test_connection_killed_while_queued),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
