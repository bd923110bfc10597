/* The bulk load of tokens (src/store/token_bulk.c, tokend seed): its rows are those
 * tk_store_token_insert writes, across several statements (PostgreSQL: COPY, text escapes
 * included); on SQLite the FTS5 index and the token count hold every new row afterwards and the
 * suspended triggers are back (also after a rollback), so later writes keep both in step; an
 * error ends a load that keeps nothing. On SQLite in memory; also on PostgreSQL when
 * TOKEND_TEST_BULK_POSTGRES_URL names an empty database (the PostgreSQL path is otherwise
 * covered by tests/api/test_seed_content.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/db.h"
#include "store/store.h"
#include "util/alloc.h"

#define NOW 1700000000000000LL
#define N_LOAD 300 /* more than two statements' rows (TK_TOKEN_BULK_ROWS) */

static struct tk_store *store;
static struct tk_db *db;
static int64_t owner;

static int setup(void **state)
{
    char err[256], uuid[37];
    tk_alloc_init();
    const char *url = getenv("TOKEND_TEST_BULK_POSTGRES_URL");
    if (tk_store_open(url ? url : "sqlite::memory:", &store, err, sizeof(err)) != 0 ||
        tk_store_migrate(store, err, sizeof(err)) != 0 || (db = tk_store_db(store)) == NULL)
        return -1;
    struct tk_user_new u = {.username = "Bulk-Owner", .name = "", .email = "", .is_active = true};
    return tk_store_user_create(db, &u, NOW, &owner, uuid);
}

static int teardown(void **state)
{
    tk_store_free(store);
    return 0;
}

static int64_t one(const char *sql)
{
    struct tk_db_stmt *st;
    assert_int_equal(tk_db_prepare(db, sql, &st), 0);
    assert_int_equal(tk_db_step(db, st), 1);
    int64_t v = tk_db_col_int(db, st, 0);
    tk_db_reset(db, st);
    return v;
}

static struct tk_token_new token(const char *uuid, const char *identifier)
{
    static const uint8_t sealed[] = "sealed-bytes";
    struct tk_token_new t = {.uuid = uuid,
                             .identifier = identifier,
                             .intent = "app_password",
                             .description = "Déjà Vu \\N \\ \t\n\r end",
                             .managed = NULL,
                             .user_id = owner,
                             .has_expires = true,
                             .expires = NOW + 86400000000LL,
                             .expiring = true,
                             .key_sealed = sealed,
                             .key_sealed_len = sizeof(sealed) - 1,
                             .scopes = "read write",
                             .view_key = TK_VIEW_ONCE};
    memset(t.key_hash, identifier[0], sizeof(t.key_hash));
    return t;
}

static void check_in_step(void)
{
    if (db->dialect != TK_DIALECT_SQLITE)
        return;
    assert_int_equal(one("SELECT n FROM token_count"), one("SELECT COUNT(*) FROM tokens"));
    assert_int_equal(one("SELECT COUNT(*) FROM tokens_fts"), one("SELECT COUNT(*) FROM tokens"));
    assert_int_equal(one("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN "
                         "('tokens_fts_insert', 'token_count_insert')"),
                     2);
}

static void test_load_writes_what_insert_writes(void **state)
{
    struct tk_token_new a = token("00000000-0000-4000-8000-000000000001", "a-one");
    int64_t id;
    assert_int_equal(tk_store_token_insert(db, &a, NOW, &id), 0);

    struct tk_store_token_bulk *b;
    assert_int_equal(tk_store_token_bulk_begin(db, &b), 0);
    for (int i = 0; i < N_LOAD; i++) {
        char uuid[37], ident[16];
        snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", 1000 + i);
        snprintf(ident, sizeof(ident), "b-%03d", i);
        struct tk_token_new t = token(uuid, ident);
        assert_int_equal(tk_store_token_bulk_add(b, &t, NOW), 0);
    }
    assert_int_equal(tk_store_token_bulk_end(b, true), 0);

    assert_int_equal(one("SELECT COUNT(*) FROM tokens"), 1 + N_LOAD);
    /* every column but the row's own (id, uuid, identifier, key hash, the identifier's part of
     * the search text) as the single insert wrote it */
    assert_int_equal(one("SELECT COUNT(*) FROM tokens b JOIN tokens a ON a.identifier = 'a-one' "
                         "WHERE b.identifier LIKE 'b-%' AND b.intent = a.intent AND "
                         "b.user_id = a.user_id AND b.description = a.description AND "
                         "b.expires = a.expires AND b.expiring = a.expiring AND "
                         "b.managed IS NULL AND a.managed IS NULL AND b.key_sealed = a.key_sealed "
                         "AND substr(b.search_fold, 6) = substr(a.search_fold, 6) AND "
                         "b.created = a.created AND b.scopes = a.scopes AND "
                         "b.allowed_networks IS NULL AND a.allowed_networks IS NULL AND "
                         "b.view_key = a.view_key AND b.view_key = 'once' AND "
                         "b.key_viewed = a.key_viewed AND b.use_count = a.use_count"),
                     N_LOAD);
    assert_int_equal(one("SELECT COUNT(*) FROM tokens WHERE "
                         "substr(description, 1, 10) = 'Déjà Vu \\N'"),
                     N_LOAD + 1);
    if (db->dialect == TK_DIALECT_SQLITE) /* char(): SQLite's */
        assert_int_equal(one("SELECT COUNT(*) FROM tokens WHERE search_fold = 'b-007' || char(31) "
                             "|| 'app_password' || char(31) || 'bulk-owner' || char(31) || "
                             "'déjà vu \\n \\ ' || char(9) || char(10) || char(13) || ' end'"),
                         1);
    if (db->dialect == TK_DIALECT_SQLITE)
        assert_int_equal(one("SELECT COUNT(*) FROM tokens_fts WHERE tokens_fts MATCH '\"b-29\"'"),
                         10);
    check_in_step();

    /* the triggers work again */
    struct tk_token_new c = token("00000000-0000-4000-8000-000000000002", "c-after");
    assert_int_equal(tk_store_token_insert(db, &c, NOW, &id), 0);
    check_in_step();
    if (db->dialect == TK_DIALECT_SQLITE)
        assert_int_equal(one("SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH '\"c-after\"'"),
                         id);
}

static void test_error_keeps_nothing(void **state)
{
    int64_t before = one("SELECT COUNT(*) FROM tokens");
    struct tk_store_token_bulk *b;
    assert_int_equal(tk_store_token_bulk_begin(db, &b), 0);
    int rc = 0;
    for (int i = 0; i < 200 && rc == 0; i++) {
        char uuid[37], ident[16];
        snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", 5000 + i);
        snprintf(ident, sizeof(ident), "d-%03d", i == 150 ? 0 : i); /* d-000 twice */
        struct tk_token_new t = token(uuid, ident);
        rc = tk_store_token_bulk_add(b, &t, NOW);
    }
    int end = tk_store_token_bulk_end(b, rc == 0);
    assert_int_equal(rc ? rc : end, TK_ERR_CONFLICT);
    assert_int_equal(one("SELECT COUNT(*) FROM tokens"), before);
    check_in_step();

    /* an unknown owner */
    assert_int_equal(tk_store_token_bulk_begin(db, &b), 0);
    struct tk_token_new t = token("00000000-0000-4000-8000-000000000003", "e-x");
    t.user_id = owner + 1000;
    assert_int_equal(tk_store_token_bulk_add(b, &t, NOW), TK_ERR_NOTFOUND);
    assert_int_equal(tk_store_token_bulk_end(b, false), 0);
    assert_int_equal(one("SELECT COUNT(*) FROM tokens"), before);
    check_in_step();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_writes_what_insert_writes),
        cmocka_unit_test(test_error_keeps_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
