/* The driver wrappers' bind contract (src/store/db.h): a failed bind is never lost. Its error
 * is kept on the connection and answered by the statement's next step, which then does not run
 * the statement (a statement with a parameter missing must not run with it NULL); prepare and
 * reset clear it, so one statement's failure never leaks into the next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/db.h"

static struct tk_db *db;

static int setup(void **state)
{
    char err[256];
    if (tk_db_sqlite_open(":memory:", &db, err, sizeof(err)) != 0)
        return -1;
    return tk_db_exec(db, "CREATE TABLE t (v INTEGER)");
}

static int teardown(void **state)
{
    tk_db_close(db);
    return 0;
}

static int64_t rows(void)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db, "SELECT COUNT(*) FROM t", &st), 0);
    assert_int_equal(tk_db_step(db, st), 1);
    int64_t n = tk_db_col_int(db, st, 0);
    tk_db_reset(db, st);
    return n;
}

static void test_failed_bind_stops_the_statement(void **state)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db, "INSERT INTO t (v) VALUES (?)", &st), 0);
    tk_db_bind_int(db, st, 1, 5);
    tk_db_bind_int(db, st, 2, 6); /* no such parameter: the bind fails */
    assert_true(tk_db_step(db, st) < 0);
    tk_db_reset(db, st);
    assert_int_equal(rows(), 0); /* the insert did not run */
}

static void test_error_does_not_outlive_its_statement(void **state)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db, "INSERT INTO t (v) VALUES (?)", &st), 0);
    tk_db_bind_int(db, st, 9, 1); /* fails, and the statement is never stepped */
    tk_db_reset(db, st);
    assert_int_equal(tk_db_prepare(db, "INSERT INTO t (v) VALUES (?)", &st), 0);
    tk_db_bind_int(db, st, 1, 7);
    assert_int_equal(tk_db_step(db, st), 0);
    tk_db_reset(db, st);
    /* a failed bind left without a step or reset is cleared by the next prepare */
    assert_int_equal(tk_db_prepare(db, "INSERT INTO t (v) VALUES (?)", &st), 0);
    tk_db_bind_cstr(db, st, 3, "x");
    assert_int_equal(tk_db_prepare(db, "INSERT INTO t (v) VALUES (?)", &st), 0);
    tk_db_bind_opt_int(db, st, 1, false, 0);
    assert_int_equal(tk_db_step(db, st), 0);
    tk_db_reset(db, st);
    assert_int_equal(rows(), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_bind_stops_the_statement),
        cmocka_unit_test(test_error_does_not_outlive_its_statement),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
