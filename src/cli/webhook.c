/* tokend webhook add|list|remove (docs/api.md §21.5): the command-line side of
 * tokend/webhooks/, with the same rules. add prints the receiver's pk and its secret, the one
 * time the secret is shown. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/webhook_sign.h"
#include "domain/token_settings.h"
#include "domain/webhook.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/utf8.h"
#include "util/uuid.h"
#include "json/writer.h"

#define USAGE                                                                                      \
    "usage: tokend webhook add URL [--events TYPE,...] [--description D] [--disabled] [--json]\n"  \
    "       tokend webhook list [--json]\n"                                                        \
    "       tokend webhook remove PK\n"

static int store_fail(const char *what, int rc)
{
    fprintf(stderr, "tokend: %s: %s\n", what,
            rc == TK_ERR_NOTFOUND ? "not found" : tk_strerror(rc));
    return 1;
}

/* --events: comma-separated known types, sorted and without repeats, into out. */
static int parse_events(struct tk_arena *a, const char *v, const char **out)
{
    const char *items[TK_WEBHOOK_N_TYPES * 4];
    size_t n = 0, total = 1;
    char *copy = tk_arena_strdup(a, v);
    if (copy == NULL)
        return tk_cli_fail("out of memory");
    for (char *p = copy; *p;) {
        size_t len = strcspn(p, ",");
        char *item = p;
        p += len;
        if (*p)
            *p++ = '\0';
        while (*item == ' ')
            item++;
        size_t il = strlen(item);
        while (il > 0 && item[il - 1] == ' ')
            item[--il] = '\0';
        if (!tk_webhook_type_valid(item, il))
            return tk_cli_fail("--events: unknown event type \"%s\"", item);
        if (n == sizeof(items) / sizeof(items[0]))
            return tk_cli_fail("--events: too many types");
        items[n++] = item;
        total += il + 1;
    }
    char *text = tk_arena_alloc(a, total);
    if (text == NULL)
        return tk_cli_fail("out of memory");
    text[0] = '\0';
    tk_scopes_join(items, n, text);
    *out = text;
    return 0;
}

struct add_tx {
    struct tk_cli *cli;
    struct tk_webhook *w;
    const char *secret;
};

static int add_tx(struct tk_db *db, void *arg)
{
    struct add_tx *x = arg;
    struct tk_buf sealed;
    tk_buf_init(&sealed, TK_SEALED_KEY_MAX_BYTES);
    int rc = tk_key_seal(&x->cli->secret, x->w->uuid, x->secret, strlen(x->secret), &sealed);
    if (rc == 0)
        rc = tk_store_webhook_insert(db, x->w, sealed.data, sealed.len, &x->w->id);
    tk_buf_free(&sealed);
    return rc;
}

static int add(struct tk_cli *cli, struct tk_db *db, int argc, char **argv, bool json,
               struct tk_arena *a)
{
    if (argc < 2 || argv[1][0] == '-')
        return tk_cli_fail("webhook add needs a URL");
    struct tk_webhook w = {.url = argv[1], .enabled = true, .description = ""};
    if (!tk_webhook_url_valid(w.url, strlen(w.url)))
        return tk_cli_fail(
            "webhook add: \"%s\" is not an http or https URL of at most %d characters", w.url,
            TK_WEBHOOK_URL_MAX);
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--events") == 0 && v) {
            int rc = parse_events(a, v, &w.event_types);
            if (rc)
                return rc;
            i++;
        } else if (strcmp(argv[i], "--description") == 0 && v) {
            if (!tk_utf8_valid(v, strlen(v)) ||
                tk_utf8_length(v, strlen(v)) > TK_WEBHOOK_DESCRIPTION_MAX)
                return tk_cli_fail("--description must be UTF-8 text of at most %d characters",
                                   TK_WEBHOOK_DESCRIPTION_MAX);
            w.description = v;
            i++;
        } else if (strcmp(argv[i], "--disabled") == 0) {
            w.enabled = false;
        } else {
            return tk_cli_fail("webhook add: unknown or incomplete option %s", argv[i]);
        }
    }
    tk_uuid4(w.uuid);
    w.created = tk_now_us();
    char secret[TK_WEBHOOK_SECRET_TEXT_MAX];
    tk_webhook_secret_new(secret);
    struct add_tx x = {.cli = cli, .w = &w, .secret = secret};
    int rc = tk_store_write_tx(db, add_tx, &x);
    if (rc == 0 && json)
        printf("{\"pk\":\"%s\",\"secret\":\"%s\"}\n", w.uuid, secret);
    else if (rc == 0)
        printf("%s\n%s\n", w.uuid, secret);
    sodium_memzero(secret, sizeof(secret));
    return rc ? store_fail("webhook add", rc) : 0;
}

static int list(struct tk_db *db, bool json, struct tk_arena *a)
{
    int64_t count = 0;
    struct tk_webhook *rows = NULL;
    size_t n = 0;
    int rc = tk_store_webhook_count(db, &count);
    if (rc == 0)
        rc = tk_store_webhook_list(db, 0, count, a, &rows, &n);
    if (rc)
        return store_fail("webhook list", rc);
    struct tk_buf out;
    tk_buf_init(&out, TK_MAX_RESPONSE_BYTES);
    struct tk_jw w;
    tk_jw_init(&w, &out);
    if (json)
        tk_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        const struct tk_webhook *x = &rows[i];
        if (!json) {
            tk_buf_printf(&out, "%s %s %s %s\n", x->uuid, x->enabled ? "enabled" : "disabled",
                          x->url, x->event_types ? x->event_types : "(all types)");
            continue;
        }
        tk_jw_obj_begin(&w);
        tk_jw_keyl(&w, "pk");
        tk_jw_cstr(&w, x->uuid);
        tk_jw_keyl(&w, "url");
        tk_jw_cstr(&w, x->url);
        tk_jw_keyl(&w, "event_types");
        if (x->event_types == NULL) {
            tk_jw_null(&w);
        } else {
            tk_jw_arr_begin(&w);
            for (const char *t = x->event_types; *t;) {
                size_t len = strcspn(t, " ");
                tk_jw_str(&w, t, len);
                t += len;
                t += *t == ' ';
            }
            tk_jw_arr_end(&w);
        }
        tk_jw_keyl(&w, "enabled");
        tk_jw_bool(&w, x->enabled);
        tk_jw_keyl(&w, "description");
        tk_jw_cstr(&w, x->description);
        tk_jw_keyl(&w, "created");
        tk_jw_time(&w, x->created);
        tk_jw_obj_end(&w);
    }
    if (json) {
        tk_jw_arr_end(&w);
        tk_buf_putc(&out, '\n');
    }
    rc = out.err;
    if (rc == 0 && out.len)
        fwrite(out.data, 1, out.len, stdout);
    tk_buf_free(&out);
    return rc ? store_fail("webhook list", rc) : 0;
}

static int remove_tx(struct tk_db *db, void *arg)
{
    struct tk_webhook *w = arg;
    return tk_store_webhook_delete(db, w->id);
}

static int remove_one(struct tk_db *db, int argc, char **argv, struct tk_arena *a)
{
    char uuid[37];
    if (argc != 2)
        return tk_cli_fail("webhook remove needs one PK");
    if (!tk_uuid_parse(argv[1], strlen(argv[1]), uuid))
        return tk_cli_fail("webhook remove: \"%s\" is not a uuid", argv[1]);
    struct tk_webhook *w;
    int rc = tk_store_webhook_get(db, uuid, a, &w);
    if (rc == 0)
        rc = tk_store_write_tx(db, remove_tx, w);
    return rc ? store_fail(argv[1], rc) : 0;
}

int tk_cli_webhook(struct tk_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* --json anywhere after the verb; then argv[0] is the verb and its arguments follow */
    const char *verb = argv[1];
    bool json = false;
    int n = 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            argv[n++] = argv[i];
    }
    argv[0] = (char *)verb;
    struct tk_db *db = tk_store_db(cli->store);
    if (db == NULL)
        return 1;
    struct tk_arena *a = tk_arena_new(TK_ARENA_MAX_BYTES);
    if (a == NULL)
        return store_fail("webhook", TK_ERR_NOMEM);
    int rc;
    if (strcmp(verb, "add") == 0)
        rc = add(cli, db, n, argv, json, a);
    else if (strcmp(verb, "list") == 0)
        rc = n == 1 ? list(db, json, a) : tk_cli_fail("webhook list takes no arguments");
    else if (strcmp(verb, "remove") == 0)
        rc = remove_one(db, n, argv, a);
    else
        rc = tk_cli_fail("unknown command \"webhook %s\" (see tokend webhook --help)", verb);
    tk_arena_free(a);
    return rc;
}
