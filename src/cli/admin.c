/* Administration commands (cli.h): user, group and token create/list/delete on the configured
 * database. Output for scripts: the created object's id or key alone on stdout; errors as one
 * line on stderr and a non-zero exit. */
#include <jansson.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "domain/tokens.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/utf8.h"

int tk_cli_token_create(struct tk_cli *cli, struct tk_db *db, struct tk_token_new *t,
                        const char *key, char *key_out, int64_t now)
{
    char generated[TK_KEY_LENGTH_MAX + 1];
    if (key == NULL) {
        tk_key_generate(generated, cli->cfg->key_length);
        key = generated;
    }
    struct tk_buf sealed;
    tk_buf_init(&sealed, TK_KEY_LENGTH_MAX + 256);
    int rc = tk_token_set_key(&cli->secret, t, key, strlen(key), &sealed);
    int64_t id = 0;
    if (rc == 0)
        rc = tk_store_token_insert(db, t, now, &id);
    if (rc == 0 && key_out != NULL)
        memcpy(key_out, key, strlen(key) + 1);
    sodium_memzero(generated, sizeof(generated));
    tk_buf_free(&sealed);
    return rc;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tokend: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int store_fail(const char *what, int rc)
{
    if (rc == TK_ERR_CONFLICT)
        return fail("%s: already exists", what);
    if (rc == TK_ERR_NOTFOUND)
        return fail("%s: not found", what);
    fprintf(stderr, "tokend: %s: %s\n", what, tk_strerror(rc));
    return 1;
}

/* Option value: "--name VALUE". */
static const char *opt(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* A JSON object given on the command line, re-serialised compactly. NULL if invalid. */
static char *json_object_text(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, &e);
    if (v == NULL || !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    char *out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return out;
}

static bool valid_text(const char *s) { return tk_utf8_valid(s, strlen(s)); }

static int user_create(struct tk_cli *cli, struct tk_db *db, int argc, char **argv)
{
    struct tk_user_new u = {.is_active = true, .name = "", .email = ""};
    char *attrs = NULL;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--name") == 0 && (u.name = opt(argc, argv, &i)))
            continue;
        if (strcmp(a, "--email") == 0 && (u.email = opt(argc, argv, &i)))
            continue;
        if (strcmp(a, "--path") == 0 && (u.path = opt(argc, argv, &i)))
            continue;
        if (strcmp(a, "--type") == 0 && (u.type = opt(argc, argv, &i))) {
            if (strcmp(u.type, "internal") && strcmp(u.type, "external") &&
                strcmp(u.type, "service_account") && strcmp(u.type, "internal_service_account"))
                return fail("--type must be internal, external, service_account or "
                            "internal_service_account, not \"%s\"", u.type);
            continue;
        }
        if (strcmp(a, "--inactive") == 0) {
            u.is_active = false;
            continue;
        }
        if (strcmp(a, "--attributes") == 0) {
            const char *v = opt(argc, argv, &i);
            if (v == NULL || (free(attrs), attrs = json_object_text(v)) == NULL)
                return fail("--attributes needs a JSON object");
            u.attributes = attrs;
            continue;
        }
        if (a[0] == '-' || u.username != NULL) {
            free(attrs);
            return fail("user create: unexpected argument \"%s\"", a);
        }
        u.username = a;
    }
    if (u.username == NULL || *u.username == '\0') {
        free(attrs);
        return fail("usage: tokend user create USERNAME [--name N] [--email E] [--inactive] "
                    "[--attributes JSON] [--path P] [--type T]");
    }
    if (!valid_text(u.username) || !valid_text(u.name) || !valid_text(u.email) ||
        strlen(u.username) > 150) {
        free(attrs);
        return fail("user create: text must be UTF-8 and the username at most 150 "
                    "characters");
    }
    int64_t id = 0;
    char uuid[37];
    rc = tk_store_user_create(db, &u, tk_now_us(), &id, uuid);
    free(attrs);
    if (rc)
        return store_fail(u.username, rc);
    printf("%lld\n", (long long)id);
    return 0;
}

static int group_create(struct tk_cli *cli, struct tk_db *db, int argc, char **argv)
{
    struct tk_group_new g = {0};
    const char *parent = NULL;
    char *attrs = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--superuser") == 0) {
            g.is_superuser = true;
            continue;
        }
        if (strcmp(a, "--parent") == 0 && (parent = opt(argc, argv, &i)))
            continue;
        if (strcmp(a, "--attributes") == 0) {
            const char *v = opt(argc, argv, &i);
            if (v == NULL || (free(attrs), attrs = json_object_text(v)) == NULL)
                return fail("--attributes needs a JSON object");
            g.attributes = attrs;
            continue;
        }
        if (a[0] == '-' || g.name != NULL) {
            free(attrs);
            return fail("group create: unexpected argument \"%s\"", a);
        }
        g.name = a;
    }
    if (g.name == NULL || *g.name == '\0' || !valid_text(g.name)) {
        free(attrs);
        return fail("usage: tokend group create NAME [--superuser] [--parent NAME] "
                    "[--attributes JSON]");
    }
    int rc = 0;
    if (parent != NULL && (rc = tk_store_group_find(db, parent, &g.parent_id)) != 0) {
        free(attrs);
        return store_fail(parent, rc);
    }
    int64_t id;
    char uuid[37];
    rc = tk_store_group_create(db, &g, tk_now_us(), &id, uuid);
    free(attrs);
    if (rc)
        return store_fail(g.name, rc);
    printf("%s\n", uuid);
    return 0;
}

static int group_member(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool add)
{
    if (argc != 3)
        return fail("usage: tokend group %s GROUP USERNAME", add ? "add" : "remove");
    int64_t gid, uid;
    int rc = tk_store_group_find(db, argv[1], &gid);
    if (rc)
        return store_fail(argv[1], rc);
    if ((rc = tk_store_user_find(db, argv[2], &uid)) != 0)
        return store_fail(argv[2], rc);
    rc = add ? tk_store_membership_add(db, uid, gid) : tk_store_membership_remove(db, uid, gid);
    return rc ? store_fail(argv[1], rc) : 0;
}

static int token_create(struct tk_cli *cli, struct tk_db *db, int argc, char **argv)
{
    int64_t now = tk_now_us();
    char uuid[37];
    tk_uuid4(uuid);
    struct tk_token_new t = {.uuid = uuid,
                             .intent = "api",
                             .description = "",
                             .expiring = true,
                             .has_expires = true,
                             .expires = now + cli->cfg->default_token_duration_us};
    const char *user = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--user") == 0 && (user = opt(argc, argv, &i)))
            continue;
        if (strcmp(a, "--intent") == 0 && (v = opt(argc, argv, &i))) {
            if (!tk_intent_valid(v, strlen(v)))
                return fail("--intent must be api, app_password, recovery or verification, "
                            "not \"%s\"", v);
            t.intent = v;
            continue;
        }
        if (strcmp(a, "--description") == 0 && (v = opt(argc, argv, &i))) {
            t.description = v;
            continue;
        }
        if (strcmp(a, "--managed") == 0 && (v = opt(argc, argv, &i))) {
            t.managed = v;
            continue;
        }
        if (strcmp(a, "--key") == 0 && (key = opt(argc, argv, &i))) {
            if (*key == '\0' || strlen(key) > TK_KEY_LENGTH_MAX || !valid_text(key))
                return fail("--key must be 1 to 1024 characters of UTF-8");
            continue;
        }
        if (strcmp(a, "--expires") == 0 && (v = opt(argc, argv, &i))) {
            if (strcmp(v, "none") == 0) {
                t.has_expires = false;
            } else if (tk_time_parse(v, strlen(v), &t.expires) != 0) {
                return fail("--expires needs an ISO 8601 datetime or \"none\", not \"%s\"", v);
            } else {
                t.has_expires = true;
            }
            continue;
        }
        if (strcmp(a, "--expiring") == 0 && (v = opt(argc, argv, &i))) {
            if (strcmp(v, "true") == 0)
                t.expiring = true;
            else if (strcmp(v, "false") == 0)
                t.expiring = false;
            else
                return fail("--expiring must be true or false, not \"%s\"", v);
            continue;
        }
        if (a[0] == '-' || t.identifier != NULL)
            return fail("token create: unexpected argument or missing value: \"%s\"", a);
        t.identifier = a;
    }
    if (t.identifier == NULL || user == NULL)
        return fail("usage: tokend token create IDENTIFIER --user USERNAME [--intent I] "
                    "[--description D] [--expires DATETIME|none] [--expiring true|false] "
                    "[--managed M] [--key KEY]");
    size_t il = strlen(t.identifier);
    bool slug = il > 0 && il <= TK_MAX_IDENTIFIER_CHARS;
    for (size_t i = 0; i < il && slug; i++) {
        char ch = t.identifier[i];
        slug = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '_';
    }
    if (!slug)
        return fail("the identifier must be 1 to 255 letters, digits, '-' or '_', not \"%s\"",
                    t.identifier);
    if (!valid_text(t.description) || (t.managed && (!*t.managed || !valid_text(t.managed))))
        return fail("description and managed must be UTF-8 (managed not empty)");
    int rc = tk_store_user_find(db, user, &t.user_id);
    if (rc)
        return store_fail(user, rc);
    char out[TK_KEY_LENGTH_MAX + 1];
    rc = tk_cli_token_create(cli, db, &t, key, out, now);
    if (rc)
        return store_fail(t.identifier, rc);
    printf("%s\n", out);
    sodium_memzero(out, sizeof(out));
    return 0;
}

static int token_revoke(struct tk_cli *cli, struct tk_db *db, int argc, char **argv)
{
    if (argc != 2)
        return fail("usage: tokend token revoke IDENTIFIER");
    int rc = tk_store_token_delete(db, argv[1]);
    return rc ? store_fail(argv[1], rc) : 0;
}

static int token_view_key(struct tk_cli *cli, struct tk_db *db, int argc, char **argv)
{
    if (argc != 2)
        return fail("usage: tokend token view-key IDENTIFIER");
    struct tk_arena *a = tk_arena_new(1 << 20);
    if (a == NULL)
        return fail("out of memory");
    char uuid[37];
    const uint8_t *sealed;
    size_t len;
    int rc = tk_store_token_sealed_key(db, argv[1], a, uuid, &sealed, &len);
    if (rc == 0) {
        struct tk_buf key;
        tk_buf_init(&key, TK_KEY_LENGTH_MAX + 1);
        rc = tk_key_open(&cli->secret, uuid, sealed, len, &key);
        if (rc == 0)
            printf("%s\n", key.data);
        else
            fprintf(stderr, "tokend: %s: the key cannot be opened with this server secret\n",
                    argv[1]);
        if (key.data)
            sodium_memzero(key.data, key.cap);
        tk_buf_free(&key);
        tk_arena_free(a);
        return rc ? 1 : 0;
    }
    tk_arena_free(a);
    return store_fail(argv[1], rc);
}

int tk_cli_admin(struct tk_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: tokend %s COMMAND ... (see tokend --help)", argv[0]);
    struct tk_db *db = tk_store_db(cli->store);
    if (db == NULL)
        return 1;
    const char *noun = argv[0], *verb = argv[1];
    argc--;
    argv++;
    if (strcmp(noun, "user") == 0 && strcmp(verb, "create") == 0)
        return user_create(cli, db, argc, argv);
    if (strcmp(noun, "group") == 0 && strcmp(verb, "create") == 0)
        return group_create(cli, db, argc, argv);
    if (strcmp(noun, "group") == 0 && strcmp(verb, "add") == 0)
        return group_member(cli, db, argc, argv, true);
    if (strcmp(noun, "group") == 0 && strcmp(verb, "remove") == 0)
        return group_member(cli, db, argc, argv, false);
    if (strcmp(noun, "token") == 0 && strcmp(verb, "create") == 0)
        return token_create(cli, db, argc, argv);
    if (strcmp(noun, "token") == 0 && strcmp(verb, "revoke") == 0)
        return token_revoke(cli, db, argc, argv);
    if (strcmp(noun, "token") == 0 && strcmp(verb, "view-key") == 0)
        return token_view_key(cli, db, argc, argv);
    fprintf(stderr, "tokend: unknown command \"%s %s\" (see tokend --help)\n", noun, verb);
    return 2;
}
