/* The SQLite driver's statement time budget (src/store/sqlite.c, README "Statement time
 * budget"): a statement past its budget stops with TK_ERR_TIMEOUT, its transaction is rolled
 * back with nothing kept, the connection goes on; the budget is each statement's own, not the
 * transaction's; 0 is no budget. A statement that never ends on its own (an unbounded recursive
 * CTE) can only end through the budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "store/db.h"
#include "store/store.h"

#define FOREVER "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
#define BUDGET_MS 50

static struct tk_db *db;

static int setup(void **state)
{
    char err[256];
    if (tk_db_sqlite_open(":memory:", &db, err, sizeof(err)) != 0)
        return -1;
    return tk_db_exec(db, "CREATE TABLE t (v INTEGER NOT NULL)");
}

static int teardown(void **state)
{
    tk_db_close(db);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs sql to its end; returns 0 or the error. */
static int run(const char *sql)
{
    struct tk_db_stmt *st;
    int rc = tk_db_prepare(db, sql, &st);
    if (rc)
        return rc;
    while ((rc = tk_db_step(db, st)) == 1)
        ;
    tk_db_reset(db, st);
    return rc;
}

static int64_t count_rows(void)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db, "SELECT COUNT(*) FROM t", &st), 0);
    assert_int_equal(tk_db_step(db, st), 1);
    int64_t n = tk_db_col_int(db, st, 0);
    tk_db_reset(db, st);
    return n;
}

static void test_endless_statement_stops_at_its_budget(void **state)
{
    tk_db_set_statement_timeout(db, BUDGET_MS);
    double t0 = now_s();
    assert_int_equal(run(FOREVER "SELECT COUNT(*) FROM c"), TK_ERR_TIMEOUT);
    double took = now_s() - t0;
    assert_true(took >= BUDGET_MS / 1000.0);
    assert_true(took < 5.0); /* generous: the budget is 50 ms */
    /* the connection goes on serving */
    assert_int_equal(run("SELECT 1"), 0);
    /* sqlite3_exec scripts have the budget too */
    assert_int_equal(tk_db_exec(db, FOREVER "SELECT COUNT(*) FROM c"), TK_ERR_TIMEOUT);
    assert_int_equal(run("SELECT 1"), 0);
    tk_db_set_statement_timeout(db, 0);
}

static int write_then_forever(struct tk_db *d, void *ctx)
{
    int rc = run("INSERT INTO t (v) VALUES (1), (2), (3)");
    return rc ? rc : run((const char *)ctx);
}

static void test_write_transaction_over_budget_keeps_nothing(void **state)
{
    tk_db_set_statement_timeout(db, BUDGET_MS);
    int64_t before = count_rows();
    /* the endless statement a read (rolled back by tk_store_write_tx) and a write (SQLite rolls
     * an interrupted write's transaction back itself) */
    const char *endless[] = {FOREVER "SELECT COUNT(*) FROM c",
                             "INSERT INTO t (v) " FOREVER "SELECT x FROM c"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(tk_store_write_tx(db, write_then_forever, (void *)endless[i]),
                         TK_ERR_TIMEOUT);
        assert_int_equal(count_rows(), before);
        /* no transaction is left open: a new one begins and commits */
        assert_int_equal(tk_db_begin(db, true), 0);
        assert_int_equal(run("INSERT INTO t (v) VALUES (7)"), 0);
        assert_int_equal(tk_db_commit(db), 0);
        before++;
        assert_int_equal(count_rows(), before);
    }
    tk_db_set_statement_timeout(db, 0);
}

/* A bounded statement taking about a fifth of the budget, found by doubling. */
static const char *fifth_of_budget(char *sql, size_t len)
{
    for (long n = 1000;; n *= 2) {
        snprintf(sql, len, FOREVER "SELECT COUNT(*) FROM (SELECT x FROM c LIMIT %ld)", n);
        double t0 = now_s();
        assert_int_equal(run(sql), 0);
        if (now_s() - t0 >= BUDGET_MS / 5000.0 || n > (1L << 30))
            return sql;
    }
}

static void test_budget_is_per_statement(void **state)
{
    char sql[256];
    fifth_of_budget(sql, sizeof(sql)); /* unbudgeted: 0 is no budget */
    tk_db_set_statement_timeout(db, BUDGET_MS);
    /* ten of them in one transaction take about twice the budget; each is within its own */
    double t0 = now_s();
    assert_int_equal(tk_db_begin(db, true), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(run(sql), 0);
    assert_int_equal(tk_db_commit(db), 0);
    assert_true(now_s() - t0 > BUDGET_MS / 1000.0);
    /* and a statement's rows are fetched under one budget from its first step to its reset */
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db, FOREVER "SELECT x FROM c", &st), 0);
    int rc;
    long rows = 0;
    while ((rc = tk_db_step(db, st)) == 1)
        rows++;
    tk_db_reset(db, st);
    assert_int_equal(rc, TK_ERR_TIMEOUT);
    assert_true(rows > 0);
    tk_db_set_statement_timeout(db, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endless_statement_stops_at_its_budget),
        cmocka_unit_test(test_write_transaction_over_budget_keeps_nothing),
        cmocka_unit_test(test_budget_is_per_statement),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
