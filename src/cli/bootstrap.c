/* First-start setup as authentik's bootstrap blueprint does it (cli.h). Every object is
 * "state: created": made when missing, never changed when present. Unlike authentik, which
 * applies the blueprint on every start and so brings back a deleted akadmin (a confirmed bug of
 * authentik's), it runs once per database: the setting "bootstrapped" records that it ran
 * (issue 13.2; docs/api.md §17.18). */
#include <sodium.h>
#include <string.h>

#include "cli/cli.h"
#include "util/limits.h"
#include "util/time.h"

#define ADMIN_GROUP "authentik Admins"
#define ADMIN_USER "akadmin"
#define BOOTSTRAP_TOKEN "authentik-bootstrap-token"

#define SETTING_BOOTSTRAPPED "bootstrapped"

struct boot {
    struct tk_cli *cli;
    char key[TK_KEY_LENGTH_MAX + 1];
    bool generated;
    struct tk_bootstrap_result res;
};

/* Claims the bootstrap for this transaction: false when it was done before (res->when gets
 * the record). The insert is the claim: on PostgreSQL a second process starting at the same
 * moment waits on the row until the first commits, then finds it and creates nothing; if the
 * first rolls back, the second bootstraps. */
static int claim(struct tk_db *db, int64_t now, struct tk_bootstrap_result *res, bool *claimed)
{
    char when[TK_TIME_BUFSZ];
    tk_time_format(now, when);
    int rc = tk_store_setting_insert(db, SETTING_BOOTSTRAPPED, when, claimed);
    if (rc || *claimed)
        return rc;
    res->already = true;
    struct tk_arena *a = tk_arena_new(TK_SMALL_ARENA_BYTES);
    const char *v = NULL;
    if (a == NULL)
        return TK_ERR_NOMEM;
    rc = tk_store_setting_get(db, SETTING_BOOTSTRAPPED, a, &v);
    if (rc == 0)
        snprintf(res->when, sizeof(res->when), "%s", v);
    tk_arena_free(a);
    return rc;
}

static int boot_tx(struct tk_db *db, void *ctx)
{
    struct boot *b = ctx;
    int64_t now = tk_now_us();
    int64_t gid = 0, uid = 0;
    char uuid[37];
    bool new_user = false, claimed = false, same = false;
    b->res = (struct tk_bootstrap_result){0};
    int rc = claim(db, now, &b->res, &claimed);
    if (rc || !claimed)
        return rc;
    /* The secret was checked when the command started; a token made now must be under the
     * secret the database records at this moment (another process could have recorded its
     * own over an empty database meanwhile, cli/secret.c). */
    rc = tk_cli_secret_current(db, &b->cli->secret, &same);
    if (rc == 0 && !same)
        return TK_ERR_INVALID;
    if (rc == 0)
        rc = tk_store_group_find(db, ADMIN_GROUP, &gid);
    if (rc == TK_ERR_NOTFOUND) {
        struct tk_group_new g = {.name = ADMIN_GROUP, .is_superuser = true};
        rc = tk_store_group_create(db, &g, now, &gid, uuid);
    }
    if (rc)
        return rc;
    rc = tk_store_user_find(db, ADMIN_USER, &uid);
    if (rc == TK_ERR_NOTFOUND) {
        struct tk_user_new u = {.username = ADMIN_USER,
                                .name = "authentik Default Admin",
                                .email = "root@localhost",
                                .is_active = true};
        rc = tk_store_user_create(db, &u, now, &uid, uuid);
        if (rc == 0)
            rc = tk_store_membership_add(db, uid, gid);
        new_user = true;
    }
    if (rc)
        return rc;

    struct tk_arena *a = tk_arena_new(TK_ROW_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    struct tk_token_query q = {.identifier = BOOTSTRAP_TOKEN, .expiring = -1};
    int64_t n = 0;
    rc = tk_store_token_count(db, &q, a, &n);
    tk_arena_free(a);
    if (rc || n > 0)
        return rc;
    const char *key = b->cli->cfg->bootstrap_token;
    if (key == NULL && !new_user)
        return 0; /* only a first start invents a key */
    char tuuid[37];
    tk_uuid4(tuuid);
    struct tk_token_new t = {.uuid = tuuid,
                             .identifier = BOOTSTRAP_TOKEN,
                             .intent = "api",
                             .description = "",
                             .user_id = uid,
                             /* the model default, as authentik's blueprint leaves it */
                             .has_expires = true,
                             .expires = now + b->cli->cfg->default_token_duration_us,
                             .expiring = false};
    rc = tk_cli_token_create(b->cli, db, &t, key, b->key, now);
    b->generated = rc == 0 && key == NULL;
    return rc;
}

int tk_cli_bootstrap(struct tk_cli *cli, FILE *out, struct tk_bootstrap_result *res)
{
    struct boot b = {.cli = cli};
    struct tk_db *db = tk_store_db(cli->store);
    if (db == NULL)
        return TK_ERR_IO;
    int rc = tk_store_write_tx(db, boot_tx, &b);
    if (rc == 0 && b.generated)
        memcpy(b.res.key, b.key, sizeof(b.key));
    sodium_memzero(b.key, sizeof(b.key));
    if (out != NULL)
        tk_cli_bootstrap_announce(out, &b.res, NULL);
    if (res != NULL)
        *res = b.res;
    sodium_memzero(b.res.key, sizeof(b.res.key));
    return rc;
}

void tk_cli_bootstrap_announce(FILE *out, struct tk_bootstrap_result *res, const char *console_url)
{
    if (res->key[0] == '\0')
        return;
    fprintf(out,
            "tokend: created user akadmin with API token %s; its key (shown only now):\n"
            "%s\n",
            BOOTSTRAP_TOKEN, res->key);
    sodium_memzero(res->key, sizeof(res->key));
    if (console_url != NULL)
        fprintf(out, "tokend: the admin console is at %s: sign in there with this key\n",
                console_url);
    fflush(out);
}
