/* The PostgreSQL change watch (src/store/pg_changes.c, notified mode) on a real server: the
 * version is 0 until the listener listens, a commit elsewhere (its notification, or only its
 * counter, found by the heartbeat) or of this process advances it, a lost listener makes it 0
 * until it listens again, and a version is never seen again under different data. Needs
 * TOKEND_TEST_POSTGRES_URL (tests/run-unit-postgres starts a throwaway cluster); without it
 * every test fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "store/internal.h"

#define WAIT_MS 5000 /* heartbeat (1 s) and reconnect backoff, with room */
#define MAX_SEEN 1024

static const char *url;
static struct tk_db *db;    /* a store connection, the one a request would read on */
static struct tk_db *other; /* another process's writes, the locks, the kills */
static struct tk_changes *watch;
static uint64_t seen[MAX_SEEN]; /* every non-zero version seen, in order */
static int n_seen;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The version now; every non-zero one is recorded and must not be below the last. */
static uint64_t version(void)
{
    uint64_t v = tk_changes_version(watch, db);
    if (v != 0) {
        if (n_seen > 0)
            assert_true(v >= seen[n_seen - 1]);
        if (n_seen < MAX_SEEN && (n_seen == 0 || seen[n_seen - 1] != v))
            seen[n_seen++] = v;
    }
    return v;
}

/* Polls until the version is non-zero and other than from (0: any), or WAIT_MS pass. */
static uint64_t wait_version(uint64_t from)
{
    for (int t = 0; t < WAIT_MS; t += 10) {
        uint64_t v = version();
        if (v != 0 && v != from)
            return v;
        sleep_ms(10);
    }
    fail_msg("the version did not move from %llu in %d ms", (unsigned long long)from, WAIT_MS);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    url = getenv("TOKEND_TEST_POSTGRES_URL");
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "TOKEND_TEST_POSTGRES_URL is not set: run tests/run-unit-postgres\n");
        return -1;
    }
    if (tk_db_pg_open(url, &db, err, sizeof(err)) != 0 ||
        tk_db_pg_open(url, &other, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    /* the counter the store's migration (pg 0005) keeps; the triggers are not needed here */
    return tk_db_exec(other, "CREATE TABLE IF NOT EXISTS change_count_shards"
                             " (shard smallint PRIMARY KEY, n bigint NOT NULL DEFAULT 0);"
                             "INSERT INTO change_count_shards VALUES (0, 0)"
                             " ON CONFLICT DO NOTHING;"
                             "CREATE TABLE IF NOT EXISTS chg_t (v int)");
}

static int teardown(void **state)
{
    (void)state;
    tk_changes_stop(watch);
    tk_db_close(db);
    tk_db_close(other);
    return 0;
}

static void test_zero_until_listening(void **state)
{
    (void)state;
    /* the listener's first counter read waits behind this lock: it cannot be listening yet */
    assert_int_equal(tk_db_begin(other, true), 0);
    assert_int_equal(tk_db_exec(other, "LOCK TABLE change_count_shards IN ACCESS EXCLUSIVE MODE"),
                     0);
    assert_int_equal(tk_changes_start(url, true, &watch), 0);
    assert_non_null(watch);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(version(), 0);
        sleep_ms(10);
    }
    assert_int_equal(tk_db_commit(other), 0);
    assert_true(wait_version(0) != 0);
}

static void test_quiet_version_is_stable(void **state)
{
    (void)state;
    uint64_t v = wait_version(0);
    sleep_ms(1500); /* a heartbeat passes: nothing changed, nothing moves */
    assert_int_equal(version(), v);
}

static void test_notification_advances(void **state)
{
    (void)state;
    uint64_t v = wait_version(0);
    assert_int_equal(tk_db_exec(other, "NOTIFY tokend_changed"), 0);
    uint64_t w = wait_version(v);
    assert_true(w > v);
}

static void test_counter_without_notification_advances(void **state)
{
    (void)state;
    /* A heartbeat passes first: a counter move in a window where a notification was heard is
     * taken as that notification's (pg_changes.c, confirm), and the last test notified. */
    sleep_ms(1500);
    uint64_t v = wait_version(0);
    assert_int_equal(tk_db_exec(other, "UPDATE change_count_shards SET n = n + 1"), 0);
    uint64_t w = wait_version(v); /* the heartbeat finds it */
    assert_true(w > v);
}

static void test_committed_advances_at_once(void **state)
{
    (void)state;
    uint64_t v = wait_version(0);
    tk_changes_committed(watch);
    uint64_t w = version();
    assert_true(w > v);
}

/* A write on a store connection outside a transaction commits there: the version moves at
 * once, whether the statement ran at its step or was sent (tk_db_send) first. */
static void write_on(struct tk_db *d, bool send)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(d, "INSERT INTO chg_t (v) VALUES (?)", &st), 0);
    tk_db_bind_int(d, st, 1, 1);
    if (send)
        assert_int_equal(tk_db_send(d, st), 0);
    assert_int_equal(tk_db_step(d, st), 0);
    tk_db_reset(d, st);
}

static void test_own_write_advances_at_once(void **state)
{
    (void)state;
    db->changes = watch;
    write_on(db, false); /* the statement in the cache */
    uint64_t v = wait_version(0);
    write_on(db, false);
    uint64_t w = version();
    assert_true(w > v);
    write_on(db, true);
    assert_true(version() > w);
    db->changes = NULL;
}

static void test_lost_listener(void **state)
{
    (void)state;
    uint64_t last = wait_version(0);
    /* its counter read after listening again waits behind this lock: it stays away until the
     * commit below, long enough to be seen away */
    assert_int_equal(tk_db_begin(other, true), 0);
    assert_int_equal(tk_db_exec(other, "LOCK TABLE change_count_shards IN ACCESS EXCLUSIVE MODE"),
                     0);
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(other,
                                   "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                   " WHERE application_name = 'tokend-changes'",
                                   &st),
                     0);
    assert_int_equal(tk_db_step(other, st), 1);
    assert_int_equal(tk_db_col_int(other, st, 0), 1);
    tk_db_reset(other, st);
    bool zero = false;
    for (int t = 0; t < WAIT_MS && !zero; t += 5) {
        zero = version() == 0;
        if (!zero)
            sleep_ms(5);
    }
    assert_true(zero);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(version(), 0);
        sleep_ms(10);
    }
    assert_int_equal(tk_db_commit(other), 0);
    /* nothing changed, but a change may have been missed while it was away: listening again
     * is itself a new version */
    uint64_t v = wait_version(0);
    assert_true(v > last);
    for (int i = 0; i < n_seen - 1; i++)
        assert_true(seen[i] != v);
}

static void test_versions_never_repeat(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++) {
        uint64_t v = wait_version(0);
        if (i % 2 == 0)
            assert_int_equal(tk_db_exec(other, "NOTIFY tokend_changed"), 0);
        else
            tk_changes_committed(watch);
        uint64_t w = wait_version(v);
        for (int j = 0; j < n_seen - 1; j++)
            assert_true(seen[j] < w);
    }
    for (int j = 1; j < n_seen; j++)
        assert_true(seen[j] > seen[j - 1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_until_listening),
        cmocka_unit_test(test_quiet_version_is_stable),
        cmocka_unit_test(test_notification_advances),
        cmocka_unit_test(test_counter_without_notification_advances),
        cmocka_unit_test(test_committed_advances_at_once),
        cmocka_unit_test(test_own_write_advances_at_once),
        cmocka_unit_test(test_lost_listener),
        cmocka_unit_test(test_versions_never_repeat),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
