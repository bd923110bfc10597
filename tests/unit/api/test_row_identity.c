/* view_key, create and update answer with the row they read or wrote, by its row id (issue 13.8).
 * On PostgreSQL each statement of a transaction reads a fresh snapshot: between two statements
 * of one request, a concurrent rename can move a plain user's token away and give another
 * user's token its identifier. A second lookup by identifier then hands over the other user's
 * row (its key, for view_key). A race cannot be produced on demand from outside, so this test
 * makes it happen in process: the store connection's prepare is wrapped, and the renames run on
 * the same connection just before the Nth statement of the request, for every N the request
 * reaches. Whatever N, the answer is the requester's own token or a 404, never the other's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <jansson.h>

#include "inproc.h"
#include "store/db.h"
#include "util/time.h"

static struct inproc P;
static const char *const ALICE = "Bearer alice-login-key-0123456789";
static int64_t alice_id, bob_id;

/* ---- the interleaving ---- */

static const struct tk_db_ops *real_ops;
static struct tk_db_ops wrapped_ops;
static int inject_at; /* the statement before which the renames run; 0: never */
static int prepared;  /* statements prepared since the count was reset */
static char rename_sql[512];

static int wrapped_prepare(struct tk_db *db, const char *sql, struct tk_db_stmt **out)
{
    if (++prepared == inject_at) {
        db->ops = real_ops;
        assert_int_equal(tk_db_exec(db, rename_sql), 0);
        db->ops = &wrapped_ops;
    }
    return real_ops->prepare(db, sql, out);
}

/* Before statement n of the next request: mine -> mine-moved, theirs -> mine. */
static void arm(int n, const char *mine, const char *theirs)
{
    snprintf(rename_sql, sizeof(rename_sql),
             "UPDATE tokens SET identifier = '%s-moved' WHERE identifier = '%s';"
             "UPDATE tokens SET identifier = '%s' WHERE identifier = '%s';",
             mine, mine, mine, theirs);
    inject_at = n;
    prepared = 0;
}

/* ---- setup ---- */

static int64_t make_user(struct tk_db *db, const char *name)
{
    struct tk_user_new u = {.username = name, .name = name, .is_active = true};
    int64_t id = 0;
    char uuid[37];
    assert_int_equal(tk_store_user_create(db, &u, tk_now_us(), &id, uuid), 0);
    return id;
}

static void make_token(struct tk_db *db, const char *ident, int64_t user, const char *key)
{
    char uuid[37];
    tk_uuid4(uuid);
    struct tk_token_new t = {.uuid = uuid,
                             .identifier = ident,
                             .intent = "api",
                             .description = "",
                             .user_id = user,
                             .expiring = false};
    char out[TK_KEY_LENGTH_MAX + 1];
    assert_int_equal(tk_cli_token_create(&P.cli, db, &t, key, out, tk_now_us()), 0);
}

static int setup(void **state)
{
    (void)state;
    if (inproc_open(&P) != 0)
        return -1;
    struct tk_db *db = tk_store_db(P.cli.store);
    alice_id = make_user(db, "alice");
    bob_id = make_user(db, "bob");
    make_token(db, "alice-login", alice_id, "alice-login-key-0123456789");
    real_ops = db->ops;
    wrapped_ops = *real_ops;
    wrapped_ops.prepare = wrapped_prepare;
    db->ops = &wrapped_ops;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tk_store_db(P.cli.store)->ops = real_ops;
    inproc_close(&P);
    return 0;
}

static json_t *parse(const struct inproc_res *r)
{
    json_t *v = json_loads(r->body, 0, NULL);
    assert_non_null(v);
    return v;
}

/* Alice creates ident through the API (she may then view its key); returns its pk in pk. */
static void alice_creates(const char *ident, char pk[37])
{
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"identifier\":\"%s\"}", ident);
    inject_at = 0;
    struct inproc_res r =
        inproc_call(&P, "POST", "/api/v3/core/tokens/", NULL, ALICE, body, (size_t)n);
    assert_int_equal(r.status, 201);
    json_t *v = parse(&r);
    snprintf(pk, 37, "%s", json_string_value(json_object_get(v, "pk")));
    json_decref(v);
    free(r.body);
}

/* ---- the requests ---- */

static void view_key_opens_the_row_it_checked(void **state)
{
    (void)state;
    struct tk_db *db = tk_store_db(P.cli.store);
    int n;
    for (n = 1;; n++) {
        char mine[32], theirs[32], path[96], pk[37];
        snprintf(mine, sizeof(mine), "vk-%d", n);
        snprintf(theirs, sizeof(theirs), "bob-vk-%d", n);
        alice_creates(mine, pk);
        make_token(db, theirs, bob_id, "bob-secret-key-must-not-leak");
        snprintf(path, sizeof(path), "/api/v3/core/tokens/%s/view_key/", mine);
        arm(n, mine, theirs);
        struct inproc_res r = inproc_call(&P, "GET", path, NULL, ALICE, NULL, 0);
        int reached = prepared;
        inject_at = 0;
        if (strstr(r.body, "bob-secret-key-must-not-leak") != NULL)
            fail_msg("statement %d: view_key of %s answered bob's key: %s", n, mine, r.body);
        assert_true(r.status == 200 || r.status == 404);
        if (r.status == 200)
            assert_true(r.wiped); /* the answer holds a key: zeroed when freed */
        free(r.body);
        if (reached < n)
            break;
    }
    assert_true(n > 3);
}

static void create_answers_the_row_it_wrote(void **state)
{
    (void)state;
    struct tk_db *db = tk_store_db(P.cli.store);
    int n;
    for (n = 1;; n++) {
        char mine[32], theirs[32], body[96];
        snprintf(mine, sizeof(mine), "cr-%d", n);
        snprintf(theirs, sizeof(theirs), "bob-cr-%d", n);
        make_token(db, theirs, bob_id, "bob-create-key-0123456789");
        int len = snprintf(body, sizeof(body), "{\"identifier\":\"%s\"}", mine);
        arm(n, mine, theirs);
        struct inproc_res r =
            inproc_call(&P, "POST", "/api/v3/core/tokens/", NULL, ALICE, body, (size_t)len);
        int reached = prepared;
        inject_at = 0;
        /* renamed before the insert: bob's token holds the identifier, a 400 */
        assert_true(r.status == 201 || r.status == 400);
        if (r.status == 201) {
            json_t *v = parse(&r);
            if (json_integer_value(json_object_get(v, "user")) != alice_id)
                fail_msg("statement %d: create of %s answered another user's token: %s", n, mine,
                         r.body);
            json_decref(v);
        }
        free(r.body);
        if (reached < n)
            break;
    }
    assert_true(n > 3);
}

static void update_answers_the_row_it_wrote(void **state)
{
    (void)state;
    struct tk_db *db = tk_store_db(P.cli.store);
    int n;
    for (n = 1;; n++) {
        char mine[32], theirs[32], path[96], pk[37];
        snprintf(mine, sizeof(mine), "up-%d", n);
        snprintf(theirs, sizeof(theirs), "bob-up-%d", n);
        alice_creates(mine, pk);
        make_token(db, theirs, bob_id, "bob-update-key-0123456789");
        snprintf(path, sizeof(path), "/api/v3/core/tokens/%s/", mine);
        const char *body = "{\"description\":\"patched\"}";
        arm(n, mine, theirs);
        struct inproc_res r = inproc_call(&P, "PATCH", path, NULL, ALICE, body, strlen(body));
        int reached = prepared;
        inject_at = 0;
        /* 400: the rename came after the row lock, which PostgreSQL would have made wait;
         * here the update then collides with the identifier bob's token took */
        if (r.status != 200 && r.status != 404 && r.status != 400)
            fail_msg("statement %d: update of %s: %d %s", n, mine, r.status, r.body);
        if (r.status == 200) {
            json_t *v = parse(&r);
            const char *got = json_string_value(json_object_get(v, "pk"));
            if (got == NULL || strcmp(got, pk) != 0 ||
                json_integer_value(json_object_get(v, "user")) != alice_id)
                fail_msg("statement %d: update of %s answered another token: %s", n, mine, r.body);
            json_decref(v);
        }
        free(r.body);
        if (reached < n)
            break;
    }
    assert_true(n > 3);
}

static void service_account_answer_is_wiped(void **state)
{
    (void)state;
    inject_at = 0;
    const char *body = "{\"name\":\"svc-wipe\"}";
    struct inproc_res r = inproc_call(&P, "POST", "/api/v3/core/users/service_account/", NULL,
                                      "Bearer " INPROC_ADMIN_KEY, body, strlen(body));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"token\""));
    assert_true(r.wiped);
    free(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(view_key_opens_the_row_it_checked),
        cmocka_unit_test(create_answers_the_row_it_wrote),
        cmocka_unit_test(update_answers_the_row_it_wrote),
        cmocka_unit_test(service_account_answer_is_wiped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
