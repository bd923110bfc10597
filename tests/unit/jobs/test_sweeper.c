/* The expiry sweeper's selection and actions (src/jobs/sweeper.c, docs/api.md §12.4, §17.3) on an
 * in-memory store: expiring tokens past their expiry (or without one) are processed, api tokens
 * rotated with a new key and expiry, the others deleted; non-expiring and future tokens stay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "inproc.h"
#include "jobs/sweeper.h"
#include "util/time.h"

static struct inproc P;

static int setup(void **state)
{
    return inproc_open(&P);
}
static int teardown(void **state)
{
    inproc_close(&P);
    return 0;
}

static void make(const char *ident, const char *intent, bool has_expires, int64_t expires,
                 bool expiring, char key_out[TK_KEY_LENGTH_MAX + 1])
{
    struct tk_db *db = tk_store_db(P.cli.store);
    int64_t uid;
    assert_int_equal(tk_store_user_find(db, "akadmin", &uid), 0);
    char uuid[37];
    tk_uuid4(uuid);
    struct tk_token_new t = {.uuid = uuid,
                             .identifier = ident,
                             .intent = intent,
                             .description = "",
                             .user_id = uid,
                             .has_expires = has_expires,
                             .expires = expires,
                             .expiring = expiring};
    assert_int_equal(tk_cli_token_create(&P.cli, db, &t, NULL, key_out, tk_now_us()), 0);
}

static bool exists(const char *ident)
{
    struct tk_arena *a = tk_arena_new(1 << 20);
    struct tk_token *t;
    int rc = tk_store_token_get(tk_store_db(P.cli.store), ident, 0, a, &t);
    tk_arena_free(a);
    return rc == 0;
}

static void test_selection_and_actions(void **state)
{
    int64_t now = tk_now_us(), hour = 3600LL * 1000000;
    char k_api[TK_KEY_LENGTH_MAX + 1], k[TK_KEY_LENGTH_MAX + 1];
    make("api-expired", "api", true, now - hour, true, k_api);
    make("app-expired", "app_password", true, now - hour, true, k);
    make("rec-expired", "recovery", true, now - 1, true, k);
    make("ver-null", "verification", false, 0, true, k); /* expiring without expiry */
    make("api-future", "api", true, now + hour, true, k);
    make("app-not-expiring", "app_password", true, now - hour, false, k);
    struct tk_db *db = tk_store_db(P.cli.store);

    struct tk_arena *a = tk_arena_new(1 << 20);
    struct tk_token *sel;
    size_t n;
    assert_int_equal(tk_store_token_expired(db, now, 100, a, &sel, &n), 0);
    assert_int_equal(n, 4);
    const char *want[] = {"api-expired", "app-expired", "rec-expired", "ver-null"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(sel[i].identifier, want[i]);
    tk_arena_free(a);

    /* the sweeper takes its settings from the configuration, as main gives them */
    const struct tk_sweep_config sc = {.store = P.cli.store,
                                       .secret = &P.api.secret,
                                       .key_length = P.cfg.key_length,
                                       .token_duration_us = P.cfg.default_token_duration_us,
                                       .event_retention_us = P.cfg.event_retention_us};
    struct tk_sweep_stats st;
    assert_int_equal(tk_sweep_once(&sc, db, now, &st), 0);
    assert_int_equal(st.rotated, 1);
    assert_int_equal(st.deleted, 3);
    assert_true(exists("api-expired"));
    assert_false(exists("app-expired"));
    assert_false(exists("rec-expired"));
    assert_false(exists("ver-null"));
    assert_true(exists("api-future"));
    assert_true(exists("app-not-expiring"));

    /* the rotated token: old key gone, a new expiry ahead */
    uint8_t hash[TK_KEY_HASH_BYTES];
    tk_key_hash(&P.api.secret, k_api, strlen(k_api), hash);
    struct tk_principal who;
    struct tk_auth_result r;
    a = tk_arena_new(1 << 20);
    assert_int_equal(tk_store_authenticate(db, hash, now, a, &who, &r), TK_ERR_NOTFOUND);
    struct tk_token *t;
    assert_int_equal(tk_store_token_get(db, "api-expired", 0, a, &t), 0);
    assert_true(t->has_expires && t->expires > now);
    /* the old key is remembered as rotated out: its use is recognised as a reuse */
    assert_int_equal(r.reused_token, t->id);
    tk_arena_free(a);

    /* a second pass finds nothing */
    assert_int_equal(tk_sweep_once(&sc, db, now, &st), 0);
    assert_int_equal(st.rotated + st.deleted, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection_and_actions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
