/* Administration commands (cli.h): user, group and token create/list/delete on the configured
 * database, and a token's rotation and tokend settings (docs/api.md §19) with the API's rules.
 * Output: aligned text, or JSON with --json (the API's own shapes); a created object's id or a
 * key alone on stdout. Errors: one line on stderr; exit 2 for bad arguments (with the usage), 1
 * for everything else. */
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/audit.h"
#include "api/notify.h"
#include "api/serialize.h"
#include "api/tokend.h"
#include "cli/cli.h"
#include "domain/tokens.h"
#include "http/client_addr.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/utf8.h"
#include "json/writer.h"

int tk_cli_token_create(struct tk_cli *cli, struct tk_db *db, struct tk_token_new *t,
                        const char *key, char *key_out, int64_t now)
{
    struct tk_buf sealed;
    t->view_key = cli->cfg->view_key; /* TOKEND_VIEW_KEY, docs/api.md §19.4 */
    int rc = tk_token_mint(&cli->secret, cli->cfg->key_length, key, key ? strlen(key) : 0, t,
                           &sealed, key_out);
    int64_t id = 0;
    if (rc == 0)
        rc = tk_store_token_insert(db, t, now, &id);
    if (rc == 0 && key != NULL && key_out != NULL) /* a given key is shown as given */
        memcpy(key_out, key, strlen(key) + 1);
    tk_buf_free(&sealed);
    return rc;
}

int tk_cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tokend: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* A failure of the operation itself: exit status 1. */
static int store_fail(const char *what, int rc)
{
    if (rc == TK_ERR_CONFLICT)
        fprintf(stderr, "tokend: %s: already exists\n", what);
    else if (rc == TK_ERR_NOTFOUND)
        fprintf(stderr, "tokend: %s: not found\n", what);
    else
        fprintf(stderr, "tokend: %s: %s\n", what, tk_strerror(rc));
    return 1;
}

static int print_json(struct tk_buf *b);

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

static bool valid_text(const char *s)
{
    return tk_utf8_valid(s, strlen(s));
}

static int user_create(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool json)
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
                return tk_cli_fail("--type must be internal, external, service_account or "
                                   "internal_service_account, not \"%s\"",
                                   u.type);
            continue;
        }
        if (strcmp(a, "--inactive") == 0) {
            u.is_active = false;
            continue;
        }
        if (strcmp(a, "--attributes") == 0) {
            const char *v = opt(argc, argv, &i);
            if (v == NULL || (free(attrs), attrs = json_object_text(v)) == NULL)
                return tk_cli_fail("--attributes needs a JSON object");
            u.attributes = attrs;
            continue;
        }
        if (a[0] == '-' || u.username != NULL) {
            free(attrs);
            return tk_cli_fail("user create: unexpected argument \"%s\"", a);
        }
        u.username = a;
    }
    if (u.username == NULL || *u.username == '\0') {
        free(attrs);
        return tk_cli_fail("user create needs a USERNAME");
    }
    if (!valid_text(u.username) || !valid_text(u.name) || !valid_text(u.email) ||
        strlen(u.username) > 150) {
        free(attrs);
        return tk_cli_fail("user create: text must be UTF-8 and the username at most 150 "
                           "characters");
    }
    int64_t id = 0;
    char uuid[37];
    rc = tk_store_user_create(db, &u, tk_now_us(), &id, uuid);
    free(attrs);
    if (rc)
        return store_fail(u.username, rc);
    if (json)
        printf("{\"pk\":%lld,\"uuid\":\"%s\"}\n", (long long)id, uuid);
    else
        printf("%lld\n", (long long)id);
    return 0;
}

static int group_create(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool json)
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
                return tk_cli_fail("--attributes needs a JSON object");
            g.attributes = attrs;
            continue;
        }
        if (a[0] == '-' || g.name != NULL) {
            free(attrs);
            return tk_cli_fail("group create: unexpected argument \"%s\"", a);
        }
        g.name = a;
    }
    if (g.name == NULL || *g.name == '\0' || !valid_text(g.name)) {
        free(attrs);
        return tk_cli_fail("group create needs a NAME (UTF-8)");
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
    if (json)
        printf("{\"pk\":\"%s\"}\n", uuid);
    else
        printf("%s\n", uuid);
    return 0;
}

static int group_member(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool add)
{
    if (argc != 3)
        return tk_cli_fail("group %s needs GROUP and USERNAME", add ? "add" : "remove");
    int64_t gid, uid;
    int rc = tk_store_group_find(db, argv[1], &gid);
    if (rc)
        return store_fail(argv[1], rc);
    if ((rc = tk_store_user_find(db, argv[2], &uid)) != 0)
        return store_fail(argv[2], rc);
    rc = add ? tk_store_membership_add(db, uid, gid) : tk_store_membership_remove(db, uid, gid);
    return rc ? store_fail(argv[1], rc) : 0;
}

struct token_create_tx {
    struct tk_cli *cli;
    struct tk_token_new *t;
    const char *key;
    char *out;
    int64_t now;
    bool full; /* the owner has TOKEND_MAX_TOKENS_PER_USER tokens already */
};

/* The per-user cap holds for administrators too (README "Users with many tokens"); counted under
 * the owner's row lock as the API does. */
static int token_create_tx(struct tk_db *db, void *arg)
{
    struct token_create_tx *x = arg;
    int rc = tk_store_token_quota(db, x->t->user_id, x->cli->cfg->max_tokens_per_user, &x->full);
    if (rc == 0 && x->full)
        rc = TK_ERR_INVALID;
    if (rc == 0)
        rc = tk_cli_token_create(x->cli, db, x->t, x->key, x->out, x->now);
    struct tk_arena *a = rc == 0 ? tk_arena_new(TK_ROW_ARENA_BYTES) : NULL;
    if (rc == 0 && a == NULL)
        rc = TK_ERR_NOMEM;
    if (rc == 0) { /* docs/api.md §21.3 */
        struct tk_token t = {.identifier = x->t->identifier,
                             .intent = x->t->intent,
                             .user_id = x->t->user_id,
                             .has_expires = x->t->has_expires,
                             .expires = x->t->expires};
        rc = tk_notify_token(db, a, x->now, "token.created", &t, 0, NULL);
    }
    tk_arena_free(a);
    return rc;
}

static int token_create(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool json)
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
                return tk_cli_fail("--intent must be api, app_password, recovery or verification, "
                                   "not \"%s\"",
                                   v);
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
                return tk_cli_fail("--key must be 1 to 1024 characters of UTF-8");
            continue;
        }
        if (strcmp(a, "--expires") == 0 && (v = opt(argc, argv, &i))) {
            if (strcmp(v, "none") == 0) {
                t.has_expires = false;
            } else if (tk_time_parse(v, strlen(v), &t.expires) != 0) {
                return tk_cli_fail("--expires needs an ISO 8601 datetime or \"none\", not \"%s\"",
                                   v);
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
                return tk_cli_fail("--expiring must be true or false, not \"%s\"", v);
            continue;
        }
        if (a[0] == '-' || t.identifier != NULL)
            return tk_cli_fail("token create: unexpected argument or missing value: \"%s\"", a);
        t.identifier = a;
    }
    if (t.identifier == NULL || user == NULL)
        return tk_cli_fail("token create needs an IDENTIFIER and --user USERNAME");
    size_t il = strlen(t.identifier);
    bool slug = il > 0 && il <= TK_MAX_IDENTIFIER_CHARS;
    for (size_t i = 0; i < il && slug; i++) {
        char ch = t.identifier[i];
        slug = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '_';
    }
    if (!slug)
        return tk_cli_fail(
            "the identifier must be 1 to 255 letters, digits, '-' or '_', not \"%s\"",
            t.identifier);
    if (!valid_text(t.description) || (t.managed && (!*t.managed || !valid_text(t.managed))))
        return tk_cli_fail("description and managed must be UTF-8 (managed not empty)");
    int rc = tk_store_user_find(db, user, &t.user_id);
    if (rc)
        return store_fail(user, rc);
    char out[TK_KEY_LENGTH_MAX + 1];
    struct token_create_tx x = {cli, &t, key, out, now, false};
    rc = tk_store_write_tx(db, token_create_tx, &x);
    if (x.full) {
        sodium_memzero(out, sizeof(out));
        fprintf(stderr,
                "tokend: %s already has %u tokens, the most one user may have "
                "(TOKEND_MAX_TOKENS_PER_USER)\n",
                user, cli->cfg->max_tokens_per_user);
        return 1;
    }
    if (rc)
        return store_fail(t.identifier, rc);
    if (json) {
        struct tk_buf b;
        tk_buf_init(&b, 4 * TK_KEY_LENGTH_MAX + 64);
        tk_buf_puts(&b, "{\"identifier\":\"");
        tk_json_escape(&b, t.identifier, strlen(t.identifier));
        tk_buf_puts(&b, "\",\"key\":\"");
        tk_json_escape(&b, out, strlen(out));
        tk_buf_puts(&b, "\"}");
        print_json(&b);
        if (b.data)
            sodium_memzero(b.data, b.cap);
        tk_buf_free(&b);
    } else {
        printf("%s\n", out);
    }
    sodium_memzero(out, sizeof(out));
    return 0;
}

static int token_revoke_tx(struct tk_db *db, void *arg)
{
    const char *identifier = arg;
    struct tk_arena *a = tk_arena_new(TK_ROW_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    struct tk_token *t;
    int rc = tk_store_token_get(db, identifier, 0, a, &t);
    if (rc == 0) /* docs/api.md §21.3 */
        rc = tk_notify_token(db, a, tk_now_us(), "token.deleted", t, 0, NULL);
    if (rc == 0)
        rc = tk_store_token_delete_id(db, t->id);
    tk_arena_free(a);
    return rc;
}

static int token_revoke(struct tk_cli *cli, struct tk_db *db, int argc, char **argv)
{
    if (argc != 2)
        return tk_cli_fail("token revoke needs one IDENTIFIER");
    int rc = tk_store_write_tx(db, token_revoke_tx, argv[1]);
    return rc ? store_fail(argv[1], rc) : 0;
}

struct view_key_tx {
    struct tk_cli *cli;
    const char *identifier;
    struct tk_buf key;   /* the opened key */
    bool hidden, erased; /* the view mode refuses; the view erased the sealed copy */
};

/* The view of the API's view_key (docs/api.md §19.4): refused under never, or once after a
 * view; recorded, and under once the sealed copy erased with it. */
static int view_key_tx(struct tk_db *db, void *arg)
{
    struct view_key_tx *x = arg;
    tk_buf_reset(&x->key);
    x->hidden = x->erased = false;
    struct tk_arena *a = tk_arena_new(TK_ROW_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    struct tk_token *t = NULL;
    enum tk_view_mode mode = TK_VIEW_ALWAYS;
    bool viewed = false, stored = false;
    int rc = tk_store_token_get(db, x->identifier, 0, a, &t);
    if (rc == 0)
        rc = tk_store_token_key_state(db, t->id, &mode, &viewed, &stored);
    if (rc == 0 && (mode == TK_VIEW_NEVER || (mode == TK_VIEW_ONCE && viewed) || !stored)) {
        x->hidden = true;
        tk_arena_free(a);
        return 0;
    }
    char uuid[37];
    const uint8_t *sealed;
    size_t len;
    if (rc == 0)
        rc = tk_store_token_sealed_key(db, t->id, a, uuid, &sealed, &len);
    if (rc == 0)
        rc = tk_key_open(&x->cli->secret, uuid, sealed, len, &x->key);
    if (rc == 0)
        rc = tk_store_token_key_viewed(db, t->id, mode == TK_VIEW_ONCE);
    if (rc == 0) /* docs/api.md §21.3 */
        rc = tk_notify_token(db, a, tk_now_us(), "token.key_viewed", t, 0, NULL);
    x->erased = rc == 0 && mode == TK_VIEW_ONCE;
    tk_arena_free(a);
    return rc;
}

static int token_view_key(struct tk_cli *cli, struct tk_db *db, int argc, char **argv)
{
    if (argc != 2)
        return tk_cli_fail("token view-key needs one IDENTIFIER");
    struct view_key_tx x = {.cli = cli, .identifier = argv[1]};
    tk_buf_init(&x.key, TK_OPENED_KEY_MAX_BYTES);
    x.key.wipe = true;
    int rc = tk_store_write_tx(db, view_key_tx, &x);
    if (rc == 0 && x.erased)
        (void)tk_store_scrub(db);
    int status = 0;
    if (rc == 0 && x.hidden) {
        fprintf(stderr,
                "tokend: %s: the key cannot be viewed (view mode once after its view, or "
                "never)\n",
                argv[1]);
        status = 1;
    } else if (rc == 0) {
        printf("%s\n", x.key.data ? x.key.data : "");
    } else if (rc == TK_ERR_CRYPTO) {
        fprintf(stderr, "tokend: %s: the key cannot be opened with this server secret\n", argv[1]);
        status = 1;
    } else {
        status = store_fail(argv[1], rc);
    }
    tk_buf_free(&x.key); /* zeroed (wipe) */
    return status;
}

/* ---- listings ---- */

/* A text table: rows of cells, columns padded to their widest cell. */
struct table {
    size_t n_cols, n_rows;
    const char **cells; /* row-major, n_rows * n_cols */
    struct tk_arena *a;
};

static int table_add(struct table *t, const char *const *row)
{
    const char **cells = tk_arena_calloc(t->a, (t->n_rows + 1) * t->n_cols, sizeof(*cells));
    if (cells == NULL)
        return TK_ERR_NOMEM;
    if (t->n_rows)
        memcpy(cells, t->cells, t->n_rows * t->n_cols * sizeof(*cells));
    for (size_t c = 0; c < t->n_cols; c++)
        cells[t->n_rows * t->n_cols + c] = row[c] ? row[c] : "";
    t->cells = cells;
    t->n_rows++;
    return 0;
}

static void table_print(const struct table *t)
{
    size_t width[16] = {0};
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            size_t w = tk_utf8_length(cell, strlen(cell));
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            fputs(cell, stdout);
            if (c + 1 < t->n_cols)
                for (size_t k = tk_utf8_length(cell, strlen(cell)); k < width[c] + 2; k++)
                    fputc(' ', stdout);
        }
        fputc('\n', stdout);
    }
}

static struct tk_api api_for(struct tk_cli *cli)
{
    return (struct tk_api){.store = cli->store,
                           .secret = cli->secret,
                           .avatars = cli->cfg->avatars,
                           .default_token_duration_us = cli->cfg->default_token_duration_us,
                           .key_length = cli->cfg->key_length};
}

static int print_json(struct tk_buf *b)
{
    if (b->err)
        return store_fail("output", b->err);
    fwrite(b->data, 1, b->len, stdout);
    fputc('\n', stdout);
    return 0;
}

/* A JSON array for stdout: json_array_begin, the items written to o.w, json_array_print. */
struct json_array {
    struct tk_buf b;
    struct tk_jw w;
};

static void json_array_begin(struct json_array *o)
{
    tk_buf_init(&o->b, TK_MAX_RESPONSE_BYTES);
    tk_jw_init(&o->w, &o->b);
    tk_jw_arr_begin(&o->w);
}

static int json_array_print(struct json_array *o)
{
    tk_jw_arr_end(&o->w);
    int rc = print_json(&o->b);
    tk_buf_free(&o->b);
    return rc;
}

static const char *fmt_time(struct tk_arena *a, bool has, int64_t us)
{
    if (!has)
        return "-";
    char t[TK_TIME_BUFSZ];
    tk_time_format(us, t);
    return tk_arena_strdup(a, t);
}

static int user_list(struct tk_cli *cli, struct tk_db *db, bool json, struct tk_arena *a)
{
    struct tk_user_query q;
    memset(&q, 0, sizeof(q));
    q.is_active = q.is_superuser = -1;
    q.order[0] = (struct tk_order){TK_UF_USERNAME, false};
    q.n_order = 1;
    int64_t count;
    struct tk_user *users;
    size_t n;
    int rc = tk_store_user_count(db, &q, a, &count);
    if (rc == 0)
        rc = tk_store_user_list(db, &q, 0, count, a, &users, &n);
    if (rc)
        return store_fail("user list", rc);
    if (json) {
        struct tk_api api = api_for(cli);
        struct json_array o;
        json_array_begin(&o);
        for (size_t i = 0; i < n; i++)
            tk_json_user(&o.w, &api, &users[i], true);
        return json_array_print(&o);
    }
    struct table t = {.n_cols = 7, .a = a};
    const char *head[] = {"PK", "USERNAME", "NAME", "EMAIL", "ACTIVE", "SUPERUSER", "GROUPS"};
    table_add(&t, head);
    for (size_t i = 0; i < n; i++) {
        struct tk_buf g;
        tk_buf_init(&g, TK_MAX_LIST_TEXT_BYTES);
        for (size_t k = 0; k < users[i].n_groups; k++) {
            if (k)
                tk_buf_putc(&g, ',');
            tk_buf_puts(&g, users[i].groups[k].name);
        }
        const char *row[] = {tk_arena_printf(a, "%lld", (long long)users[i].id),
                             users[i].username,
                             users[i].name,
                             users[i].email,
                             users[i].is_active ? "yes" : "no",
                             users[i].is_superuser ? "yes" : "no",
                             g.data ? tk_arena_strdup(a, g.data) : "-"};
        tk_buf_free(&g);
        if (table_add(&t, row) != 0)
            return store_fail("user list", TK_ERR_NOMEM);
    }
    table_print(&t);
    return 0;
}

static int group_list(struct tk_cli *cli, struct tk_db *db, bool json, struct tk_arena *a)
{
    struct tk_group_query q;
    memset(&q, 0, sizeof(q));
    q.is_superuser = -1;
    q.order[0] = (struct tk_order){TK_GF_NAME, false};
    q.n_order = 1;
    int64_t count;
    struct tk_group_full *groups;
    size_t n;
    int rc = tk_store_group_count(db, &q, a, &count);
    if (rc == 0)
        rc = tk_store_group_list(db, &q, 0, count, a, &groups, &n);
    if (rc)
        return store_fail("group list", rc);
    if (json) {
        struct json_array o;
        json_array_begin(&o);
        struct tk_jw *w = &o.w;
        for (size_t i = 0; i < n; i++) {
            const struct tk_group *g = &groups[i].g;
            tk_jw_obj_begin(w);
            tk_jw_keyl(w, "pk");
            tk_jw_cstr(w, g->uuid);
            tk_jw_keyl(w, "name");
            tk_jw_cstr(w, g->name);
            tk_jw_keyl(w, "is_superuser");
            tk_jw_bool(w, g->is_superuser);
            tk_jw_keyl(w, "parent");
            tk_jw_cstr(w, g->has_parent ? g->parent_uuid : NULL);
            tk_jw_keyl(w, "parent_name");
            tk_jw_cstr(w, g->has_parent ? g->parent_name : NULL);
            tk_jw_keyl(w, "users");
            tk_jw_arr_begin(w);
            for (size_t k = 0; k < groups[i].n_users; k++)
                tk_jw_cstr(w, groups[i].users[k].username);
            tk_jw_arr_end(w);
            tk_jw_keyl(w, "attributes");
            tk_jw_raw(w, g->attributes, strlen(g->attributes));
            tk_jw_obj_end(w);
        }
        return json_array_print(&o);
    }
    struct table t = {.n_cols = 5, .a = a};
    const char *head[] = {"UUID", "NAME", "SUPERUSER", "PARENT", "MEMBERS"};
    table_add(&t, head);
    for (size_t i = 0; i < n; i++) {
        const struct tk_group *g = &groups[i].g;
        const char *row[] = {g->uuid, g->name, g->is_superuser ? "yes" : "no",
                             g->has_parent ? g->parent_name : "-",
                             tk_arena_printf(a, "%zu", groups[i].n_users)};
        if (table_add(&t, row) != 0)
            return store_fail("group list", TK_ERR_NOMEM);
    }
    table_print(&t);
    return 0;
}

static int cmp_tokend_id(const void *x, const void *y)
{
    int64_t a = ((const struct tk_tokend_token *)x)->id,
            b = ((const struct tk_tokend_token *)y)->id;
    return (a > b) - (a < b);
}

static int token_list(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool json,
                      struct tk_arena *a)
{
    struct tk_token_query q;
    memset(&q, 0, sizeof(q));
    q.expiring = -1;
    q.with_groups = true;
    q.order[0] = (struct tk_order){TK_TF_IDENTIFIER, false};
    q.n_order = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            q.username = argv[++i];
        else
            return tk_cli_fail("token list: unexpected argument \"%s\"", argv[i]);
    }
    /* the tokens and, for the table, their usage (docs/api.md §19.3) in one snapshot */
    int64_t count;
    struct tk_token *tokens;
    struct tk_tokend_token *usage = NULL;
    size_t n, n_usage = 0;
    int rc = tk_store_read_begin(db);
    if (rc == 0)
        rc = tk_store_token_count(db, &q, a, &count);
    if (rc == 0)
        rc = tk_store_token_fetch(db, &q, 0, count, a, &tokens, &n);
    if (rc == 0 && !json) {
        struct tk_tokend_query x;
        memset(&x, 0, sizeof(x));
        x.username = q.username;
        x.never_used = -1;
        x.order[0] = (struct tk_order){TK_XF_IDENTIFIER, false};
        x.n_order = 1;
        x.now = tk_now_us();
        rc = tk_store_tokend_fetch(db, &x, 0, count, a, &usage, &n_usage);
    }
    tk_store_read_end(db);
    if (rc)
        return store_fail("token list", rc);
    if (json) {
        struct tk_api api = api_for(cli);
        struct json_array o;
        json_array_begin(&o);
        for (size_t i = 0; i < n; i++)
            tk_json_token(&o.w, &api, &tokens[i], true);
        return json_array_print(&o);
    }
    if (n_usage > 1)
        qsort(usage, n_usage, sizeof(*usage), cmp_tokend_id);
    struct table t = {.n_cols = 8, .a = a};
    const char *head[] = {"IDENTIFIER", "INTENT",    "USER",      "EXPIRING",
                          "EXPIRES",    "LAST_USED", "USE_COUNT", "DESCRIPTION"};
    table_add(&t, head);
    for (size_t i = 0; i < n; i++) {
        struct tk_tokend_token key = {.id = tokens[i].id};
        const struct tk_tokend_token *u =
            n_usage ? bsearch(&key, usage, n_usage, sizeof(*usage), cmp_tokend_id) : NULL;
        const char *row[] = {tokens[i].identifier,
                             tokens[i].intent,
                             tokens[i].user ? tokens[i].user->username : "?",
                             tokens[i].expiring ? "yes" : "no",
                             fmt_time(a, tokens[i].has_expires, tokens[i].expires),
                             u ? fmt_time(a, u->has_last_used, u->last_used) : "-",
                             u ? tk_arena_printf(a, "%lld", (long long)u->use_count) : "-",
                             tokens[i].description};
        if (table_add(&t, row) != 0)
            return store_fail("token list", TK_ERR_NOMEM);
    }
    table_print(&t);
    return 0;
}

/* ---- tokend's settings and rotation of a token (docs/api.md §19) ---- */

/* A flag's value as an error line quotes it: a control character (a newline would make two
 * lines) is shown as '?'. */
static const char *shown(struct tk_arena *a, const char *v)
{
    char *s = tk_arena_strdup(a, v);
    if (s == NULL)
        return "";
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}

/* The items of a list flag (--scopes, --networks): comma-separated, spaces around each item
 * dropped (an item left empty is kept, for the caller to refuse); "" or only spaces is the empty
 * list. More than max items: only *n is set, for the caller to refuse. */
static int split_list(struct tk_arena *a, const char *v, size_t max, const char ***items, size_t *n)
{
    size_t count = 1;
    for (const char *p = v; *p; p++)
        count += *p == ',';
    *n = 0;
    *items = NULL;
    if (v[strspn(v, " \t")] == '\0')
        return 0;
    if (count > max) {
        *n = count;
        return 0;
    }
    *items = tk_arena_calloc(a, count, sizeof(**items));
    if (*items == NULL)
        return TK_ERR_NOMEM;
    for (const char *p = v;; p++) {
        size_t len = strcspn(p, ",");
        const char *item = p + strspn(p, " \t");
        size_t item_len = len - (size_t)(item - p);
        while (item_len > 0 && (item[item_len - 1] == ' ' || item[item_len - 1] == '\t'))
            item_len--;
        if (((*items)[(*n)++] = tk_arena_strndup(a, item, item_len)) == NULL)
            return TK_ERR_NOMEM;
        p += len;
        if (*p == '\0')
            return 0;
    }
}

/* What `token set` changes, read from its flags, and the token it answers with. */
struct token_set {
    const char *identifier;
    int64_t now;
    struct tk_arena *a;
    bool set_scopes, set_nets, set_rate, set_uses, set_view, set_revoke;
    const char *scopes, *nets, *rate; /* stored text, NULL: null */
    bool has_uses;
    int64_t uses;
    enum tk_view_mode view;
    bool revoke;
    struct tk_tokend_token *t; /* the answer */
    bool scrub;                /* a sealed copy was erased */
};

/* --scopes: "none" (null), or the scopes as the API's PATCH stores them (docs/api.md §19.1). */
static int parse_scopes(struct token_set *x, const char *v)
{
    x->set_scopes = true;
    x->scopes = NULL;
    if (strcmp(v, "none") == 0)
        return 0;
    const char **items;
    size_t n;
    if (split_list(x->a, v, TK_MAX_SCOPES, &items, &n) != 0)
        return store_fail("--scopes", TK_ERR_NOMEM);
    if (n > TK_MAX_SCOPES)
        return tk_cli_fail("--scopes takes at most %d scopes, not %zu", TK_MAX_SCOPES, n);
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        if (!tk_scope_valid(items[i], strlen(items[i])))
            return tk_cli_fail("--scopes: \"%s\" is not a scope (a letter or digit, then up to 127 "
                               "letters, digits or . _ : / -)",
                               shown(x->a, items[i]));
        total += strlen(items[i]) + 1;
    }
    char *text = tk_arena_alloc(x->a, total);
    if (text == NULL)
        return store_fail("--scopes", TK_ERR_NOMEM);
    tk_scopes_join(items, n, text);
    x->scopes = text;
    return 0;
}

/* --networks: "none" (null), or allowed_networks as the API's PATCH stores them. */
static int parse_networks(struct token_set *x, const char *v)
{
    x->set_nets = true;
    x->nets = NULL;
    if (strcmp(v, "none") == 0)
        return 0;
    const char **items;
    size_t n;
    if (split_list(x->a, v, TK_MAX_NETWORKS, &items, &n) != 0)
        return store_fail("--networks", TK_ERR_NOMEM);
    if (n > TK_MAX_NETWORKS)
        return tk_cli_fail("--networks takes at most %d networks, not %zu", TK_MAX_NETWORKS, n);
    char *text = tk_arena_alloc(x->a, n * TK_NET_TEXT_MAX + 1);
    if (text == NULL)
        return store_fail("--networks", TK_ERR_NOMEM);
    size_t len = 0;
    text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        struct tk_net net;
        if (!tk_net_parse(items[i], strlen(items[i]), &net))
            return tk_cli_fail("--networks: \"%s\" is not an IPv4 or IPv6 address or network",
                               shown(x->a, items[i]));
        char one[TK_NET_TEXT_MAX];
        len = tk_words_add(text, len, one, tk_net_format(&net, one));
    }
    x->nets = text;
    return 0;
}

static int parse_rate(struct token_set *x, const char *v)
{
    x->set_rate = true;
    x->rate = NULL;
    if (strcmp(v, "none") == 0)
        return 0;
    struct tk_rate r;
    if (!tk_rate_parse(v, strlen(v), &r))
        return tk_cli_fail(
            "--rate-limit must be none or N/second, N/minute, N/hour or N/day (N from 1 "
            "to %u), not \"%s\"",
            TK_RATE_MAX, shown(x->a, v));
    char *text = tk_arena_alloc(x->a, TK_RATE_TEXT_MAX);
    if (text == NULL)
        return store_fail("--rate-limit", TK_ERR_NOMEM);
    tk_rate_format(&r, text);
    x->rate = text;
    return 0;
}

static int parse_uses(struct token_set *x, const char *v)
{
    x->set_uses = true;
    x->has_uses = false;
    if (strcmp(v, "none") == 0)
        return 0;
    uint64_t n = 0;
    bool ok = *v != '\0';
    for (const char *p = v; *p && ok; p++) {
        ok = *p >= '0' && *p <= '9' && n <= ((uint64_t)INT64_MAX - (uint64_t)(*p - '0')) / 10;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (!ok)
        return tk_cli_fail("--uses must be none or a whole number of at least 0, not \"%s\"",
                           shown(x->a, v));
    x->has_uses = true;
    x->uses = (int64_t)n;
    return 0;
}

static int parse_view(struct token_set *x, const char *v)
{
    x->set_view = true;
    if (!tk_view_mode_parse(v, strlen(v), &x->view))
        return tk_cli_fail("--view-key must be always, once or never, not \"%s\"", shown(x->a, v));
    return 0;
}

static int parse_revoke(struct token_set *x, const char *v)
{
    x->set_revoke = true;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        x->revoke = strcmp(v, "true") == 0;
        return 0;
    }
    return tk_cli_fail("--revoke-on-reuse must be true or false, not \"%s\"", shown(x->a, v));
}

static const struct {
    const char *flag;
    int (*parse)(struct token_set *x, const char *v);
} set_flags[] = {
    {"--scopes", parse_scopes}, {"--networks", parse_networks}, {"--rate-limit", parse_rate},
    {"--uses", parse_uses},     {"--view-key", parse_view},     {"--revoke-on-reuse", parse_revoke},
};

/* The API's PATCH (docs/api.md §19.1) for an administrator: any setting of any token. */
static int token_set_tx(struct tk_db *db, void *arg)
{
    struct token_set *x = arg;
    struct tk_tokend_token *t;
    int rc = tk_store_tokend_get(db, x->identifier, 0, x->now, x->a, &t);
    if (rc)
        return rc;
    int64_t id = t->id;
    rc = tk_store_token_lock(db, id);
    if (rc == 0) /* as it is now that it is locked */
        rc = tk_store_tokend_get(db, x->identifier, 0, x->now, x->a, &t);
    if (rc == 0 && t->id != id)
        rc = TK_ERR_RETRY; /* renamed meanwhile: start again with the row that has the name */
    if (rc)
        return rc;
    struct tk_token_settings s = t->s;
    if (x->set_scopes)
        s.scopes = x->scopes;
    if (x->set_nets)
        s.allowed_networks = x->nets;
    if (x->set_rate)
        s.rate_limit = x->rate;
    if (x->set_uses) {
        s.has_uses = x->has_uses;
        s.uses_remaining = x->uses;
    }
    if (x->set_view)
        s.view_key = x->view;
    if (x->set_revoke)
        s.revoke_on_reuse = x->revoke;
    rc = tk_store_token_settings_write(db, id, &s);
    /* once or never: a key already viewed (or any key, for never) loses its sealed copy
     * (docs/api.md §19.4) */
    if (rc == 0 && x->set_view && s.view_key != TK_VIEW_ALWAYS) {
        enum tk_view_mode old;
        bool viewed, sealed;
        rc = tk_store_token_key_state(db, id, &old, &viewed, &sealed);
        if (rc == 0 && sealed && (s.view_key == TK_VIEW_NEVER || viewed)) {
            rc = tk_store_token_erase_sealed(db, id);
            x->scrub = true;
        }
    }
    if (rc == 0)
        rc = tk_store_tokend_get(db, x->identifier, 0, x->now, x->a, &x->t);
    struct tk_token *tok = NULL;
    if (rc == 0) /* docs/api.md §21.3 */
        rc = tk_store_token_get_by_id(db, id, 0, x->a, &tok);
    if (rc == 0)
        rc = tk_notify_token(db, x->a, x->now, "token.updated", tok, 0, NULL);
    return rc;
}

/* A list setting as `token set` takes it: none (null), "" (empty) or comma-separated. */
static const char *list_text(struct tk_arena *a, const char *stored)
{
    if (stored == NULL)
        return "none";
    if (*stored == '\0')
        return "\"\"";
    char *s = tk_arena_strdup(a, stored);
    for (char *p = s; p && *p; p++)
        if (*p == ' ')
            *p = ',';
    return s ? s : "?";
}

/* The TokendToken as aligned "key: value" lines, keys in the object's order (docs/api.md
 * §19.1), values as the flags of `token set` take them. */
static void print_tokend(struct tk_arena *a, const struct tk_tokend_token *t)
{
    const char *none = "none";
    struct {
        const char *key, *value;
    } f[] = {
        {"identifier", t->identifier},
        {"intent", t->intent},
        {"user", tk_arena_printf(a, "%lld", (long long)t->user_id)},
        {"scopes", list_text(a, t->s.scopes)},
        {"allowed_networks", list_text(a, t->s.allowed_networks)},
        {"rate_limit", t->s.rate_limit ? t->s.rate_limit : none},
        {"uses_remaining",
         t->s.has_uses ? tk_arena_printf(a, "%lld", (long long)t->s.uses_remaining) : none},
        {"view_key", tk_view_mode_name(t->s.view_key)},
        {"revoke_on_reuse", t->s.revoke_on_reuse ? "true" : "false"},
        {"last_used", t->has_last_used ? fmt_time(a, true, t->last_used) : none},
        {"last_used_ip", t->last_used_ip ? t->last_used_ip : none},
        {"use_count", tk_arena_printf(a, "%lld", (long long)t->use_count)},
        {"previous_key_valid_until",
         t->has_previous_until ? fmt_time(a, true, t->previous_until) : none},
    };
    size_t width = 0;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (strlen(f[i].key) > width)
            width = strlen(f[i].key);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        printf("%s:%*s%s\n", f[i].key, (int)(width - strlen(f[i].key) + 1), "",
               f[i].value ? f[i].value : "?");
}

static int token_set(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool json,
                     struct tk_arena *a)
{
    struct token_set x = {.now = tk_now_us(), .a = a};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-') {
            if (x.identifier != NULL)
                return tk_cli_fail("token set: unexpected argument \"%s\"", shown(a, arg));
            x.identifier = arg;
            continue;
        }
        size_t k = 0;
        while (k < sizeof(set_flags) / sizeof(set_flags[0]) && strcmp(set_flags[k].flag, arg))
            k++;
        if (k == sizeof(set_flags) / sizeof(set_flags[0]))
            return tk_cli_fail("token set: unknown option \"%s\"", shown(a, arg));
        const char *v = opt(argc, argv, &i);
        if (v == NULL)
            return tk_cli_fail("%s needs a value", arg);
        int rc = set_flags[k].parse(&x, v);
        if (rc)
            return rc;
    }
    if (x.identifier == NULL)
        return tk_cli_fail("token set needs an IDENTIFIER");
    int rc = tk_store_write_tx(db, token_set_tx, &x);
    if (rc)
        return store_fail(x.identifier, rc);
    if (x.scrub)
        (void)tk_store_scrub(db); /* best effort, after the erasing commit */
    if (json) {
        struct tk_buf b;
        tk_buf_init(&b, TK_MAX_RESPONSE_BYTES);
        struct tk_jw w;
        tk_jw_init(&w, &b);
        tk_json_tokend_token(&w, x.t);
        rc = print_json(&b);
        tk_buf_free(&b);
        return rc;
    }
    print_tokend(a, x.t);
    return 0;
}

struct token_rotate {
    struct tk_cli *cli;
    const char *identifier;
    struct tk_arena *a;
    int64_t now, grace_us;
    char key[TK_KEY_LENGTH_MAX + 1];
};

/* The API's rotation (docs/api.md §19.5) without a requester: the event is the sweeper's kind,
 * without user or address (§11.3). */
static int token_rotate_tx(struct tk_db *db, void *arg)
{
    struct token_rotate *x = arg;
    const struct tk_config *cfg = x->cli->cfg;
    struct tk_token *t;
    int rc = tk_store_token_get(db, x->identifier, 0, x->a, &t);
    if (rc == 0)
        rc = tk_store_token_lock(db, t->id);
    if (rc)
        return rc;
    /* the current key: valid for the grace window (none: already past), then remembered */
    int64_t until = x->grace_us > 0 ? x->now + x->grace_us : x->now - 1;
    rc = tk_store_token_supersede(db, t->id, x->now, until, x->now + cfg->reuse_window_us);
    struct tk_token_new tn = {.uuid = t->uuid};
    struct tk_buf sealed;
    if (rc == 0) {
        rc = tk_token_mint(&x->cli->secret, cfg->key_length, NULL, 0, &tn, &sealed, x->key);
        if (rc == 0) /* shown: under view mode once this output is the one view */
            rc = tk_store_token_set_key(db, t->id, tn.key_hash, tn.key_sealed, tn.key_sealed_len,
                                        TK_KEY_SHOWN);
        tk_buf_free(&sealed);
    }
    const char *msg =
        rc ? NULL : tk_arena_printf(x->a, "Token %s's secret was rotated.", t->identifier);
    if (rc == 0 && msg == NULL)
        rc = TK_ERR_NOMEM;
    if (rc == 0)
        rc = tk_audit_system_token(db, x->now, cfg->event_retention_us, "secret_rotate",
                                   TK_APP_MODELS, t, msg);
    if (rc == 0) /* docs/api.md §21.3 */
        rc = tk_notify_token(db, x->a, x->now, "token.rotated", t, 0, NULL);
    return rc;
}

static int token_rotate(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool json,
                        struct tk_arena *a)
{
    struct token_rotate x = {.cli = cli, .a = a, .now = tk_now_us()};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (strcmp(arg, "--grace") == 0) {
            if ((v = opt(argc, argv, &i)) == NULL)
                return tk_cli_fail("--grace needs a value");
            int64_t us;
            if (tk_duration_parse(v, strlen(v), &us) != 0 || us < 0)
                return tk_cli_fail("--grace must be a duration of at least 0 such as minutes=5 or "
                                   "hours=1;minutes=30, not \"%s\"",
                                   shown(a, v));
            if (us > cli->cfg->rotate_grace_max_us)
                return tk_cli_fail(
                    "--grace must be at most TOKEND_ROTATE_GRACE_MAX (%s), not \"%s\"",
                    cli->cfg->rotate_grace_max, shown(a, v));
            x.grace_us = us;
            continue;
        }
        if (arg[0] == '-' || x.identifier != NULL)
            return tk_cli_fail("token rotate: unexpected argument \"%s\"", shown(a, arg));
        x.identifier = arg;
    }
    if (x.identifier == NULL)
        return tk_cli_fail("token rotate needs an IDENTIFIER");
    int rc = tk_store_write_tx(db, token_rotate_tx, &x);
    if (rc) {
        sodium_memzero(x.key, sizeof(x.key));
        return store_fail(x.identifier, rc);
    }
    (void)tk_store_scrub(db); /* the old key's sealed copy was replaced */
    if (json) {
        struct tk_buf b;
        tk_buf_init(&b, 4 * TK_KEY_LENGTH_MAX + 128);
        b.wipe = true; /* it holds the key */
        struct tk_jw w;
        tk_jw_init(&w, &b);
        tk_jw_obj_begin(&w);
        tk_jw_keyl(&w, "key");
        tk_jw_cstr(&w, x.key);
        tk_jw_keyl(&w, "previous_key_valid_until");
        if (x.grace_us > 0)
            tk_jw_time(&w, x.now + x.grace_us);
        else
            tk_jw_null(&w);
        tk_jw_obj_end(&w);
        rc = print_json(&b);
        tk_buf_free(&b);
    } else {
        printf("%s\n", x.key);
    }
    sodium_memzero(x.key, sizeof(x.key));
    return rc;
}

/* token.deleted for each token that goes with the user (docs/api.md §21.3). */
static int notify_deleted_tokens(void *arg, struct tk_db *db, const struct tk_token *t, size_t n,
                                 struct tk_arena *a)
{
    int64_t user_id = *(int64_t *)arg, now = tk_now_us();
    bool wanted = false;
    int rc = tk_store_outbox_wanted(db, "token.deleted", &wanted);
    for (size_t i = 0; rc == 0 && wanted && i < n; i++) {
        struct tk_token x = t[i];
        x.user_id = user_id;
        x.user = NULL;
        rc = tk_notify_token(db, a, now, "token.deleted", &x, 0, NULL);
    }
    return rc;
}

static int user_delete_tx(struct tk_db *db, void *arg)
{
    return tk_store_user_delete(db, *(int64_t *)arg, notify_deleted_tokens, arg);
}

static int user_delete(struct tk_cli *cli, struct tk_db *db, int argc, char **argv)
{
    if (argc != 2)
        return tk_cli_fail("user delete needs one USERNAME");
    int64_t id;
    int rc = tk_store_user_find(db, argv[1], &id);
    if (rc == 0) /* one transaction, however many batches of tokens */
        rc = tk_store_write_tx(db, user_delete_tx, &id);
    return rc ? store_fail(argv[1], rc) : 0;
}

static const struct {
    const char *noun, *verb, *usage;
} commands[] = {
    {"user", "create",
     "tokend user create USERNAME [--name NAME] [--email EMAIL] [--inactive]\n"
     "                   [--attributes JSON] [--path PATH] [--type TYPE] [--json]\n"
     "  Creates a user; prints its pk."},
    {"user", "list", "tokend user list [--json]\n  Lists users with their groups."},
    {"user", "delete",
     "tokend user delete USERNAME\n  Deletes a user with its tokens and memberships."},
    {"group", "create",
     "tokend group create NAME [--superuser] [--parent NAME] [--attributes JSON] [--json]\n"
     "  Creates a group; prints its uuid."},
    {"group", "add", "tokend group add GROUP USERNAME\n  Puts a user into a group."},
    {"group", "remove", "tokend group remove GROUP USERNAME\n  Takes a user out of a group."},
    {"group", "list", "tokend group list [--json]\n  Lists groups with their members."},
    {"token", "create",
     "tokend token create IDENTIFIER --user USERNAME [--intent INTENT] [--description TEXT]\n"
     "                    [--expires DATETIME|none] [--expiring true|false]\n"
     "                    [--managed TEXT] [--key KEY] [--json]\n"
     "  Creates a token; prints its key (the only time it is shown besides view-key)."},
    {"token", "list",
     "tokend token list [--user USERNAME] [--json]\n"
     "  Lists tokens with their last use and use count (the table), never keys."},
    {"token", "revoke", "tokend token revoke IDENTIFIER\n  Deletes a token."},
    {"token", "view-key", "tokend token view-key IDENTIFIER\n  Prints a token's key."},
    {"token", "rotate",
     "tokend token rotate IDENTIFIER [--grace DURATION] [--json]\n"
     "  Gives a token a new key and prints it. The old key keeps working for the grace (default\n"
     "  none, at most TOKEND_ROTATE_GRACE_MAX), then is remembered to detect its reuse."},
    {"token", "set",
     "tokend token set IDENTIFIER [--scopes SCOPE,...|none] [--networks NET,...|none]\n"
     "                 [--rate-limit N/PERIOD|none] [--uses N|none]\n"
     "                 [--view-key always|once|never] [--revoke-on-reuse true|false] [--json]\n"
     "  Changes a token's tokend settings and prints them all. none: null (no restriction);\n"
     "  \"\": an empty list."},
};

int tk_cli_admin(struct tk_cli *cli, int argc, char **argv)
{
    const char *noun = argv[0];
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        bool help = argc >= 2;
        FILE *f = help ? stdout : stderr;
        fprintf(f, "usage:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(commands[i].noun, noun) == 0)
                fprintf(f, "  %s\n", commands[i].usage);
        return help ? 0 : 2;
    }
    const char *verb = argv[1];
    const char *usage = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].noun, noun) == 0 && strcmp(commands[i].verb, verb) == 0)
            usage = commands[i].usage;
    if (usage == NULL) {
        fprintf(stderr, "tokend: unknown command \"%s %s\" (see tokend %s --help)\n", noun, verb,
                noun);
        return 2;
    }
    /* --help and --json anywhere after the verb */
    bool json = false;
    int n = 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s\n", usage);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            argv[n++] = argv[i];
    }
    argc = n;
    argv[0] = (char *)verb;
    struct tk_db *db = tk_store_db(cli->store);
    if (db == NULL)
        return 1;
    struct tk_arena *a = tk_arena_new(TK_ARENA_MAX_BYTES);
    if (a == NULL)
        return store_fail(verb, TK_ERR_NOMEM);
    int rc;
    if (strcmp(noun, "user") == 0 && strcmp(verb, "create") == 0)
        rc = user_create(cli, db, argc, argv, json);
    else if (strcmp(noun, "user") == 0 && strcmp(verb, "list") == 0)
        rc = argc == 1 ? user_list(cli, db, json, a) : tk_cli_fail("user list takes no arguments");
    else if (strcmp(noun, "user") == 0 && strcmp(verb, "delete") == 0)
        rc = user_delete(cli, db, argc, argv);
    else if (strcmp(noun, "group") == 0 && strcmp(verb, "create") == 0)
        rc = group_create(cli, db, argc, argv, json);
    else if (strcmp(noun, "group") == 0 && strcmp(verb, "add") == 0)
        rc = group_member(cli, db, argc, argv, true);
    else if (strcmp(noun, "group") == 0 && strcmp(verb, "remove") == 0)
        rc = group_member(cli, db, argc, argv, false);
    else if (strcmp(noun, "group") == 0 && strcmp(verb, "list") == 0)
        rc =
            argc == 1 ? group_list(cli, db, json, a) : tk_cli_fail("group list takes no arguments");
    else if (strcmp(noun, "token") == 0 && strcmp(verb, "create") == 0)
        rc = token_create(cli, db, argc, argv, json);
    else if (strcmp(noun, "token") == 0 && strcmp(verb, "list") == 0)
        rc = token_list(cli, db, argc, argv, json, a);
    else if (strcmp(noun, "token") == 0 && strcmp(verb, "revoke") == 0)
        rc = token_revoke(cli, db, argc, argv);
    else if (strcmp(noun, "token") == 0 && strcmp(verb, "rotate") == 0)
        rc = token_rotate(cli, db, argc, argv, json, a);
    else if (strcmp(noun, "token") == 0 && strcmp(verb, "set") == 0)
        rc = token_set(cli, db, argc, argv, json, a);
    else
        rc = token_view_key(cli, db, argc, argv);
    tk_arena_free(a);
    if (rc == 2)
        fprintf(stderr, "usage: %s\n", usage);
    return rc;
}
