/* The benchmark data set of bench/dataset.md: deterministic for a given --seed
 * (structure from a seeded PRNG; keys from the CSPRNG, since keys are never data to compare),
 * written with a progress bar on stderr: users and groups in one transaction, the tokens in one
 * load (tk_store_token_bulk_*). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "domain/tokens.h"
#include "util/time.h"

#define BATCH 5000

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static const char *const nato[] = {"alpha", "bravo",    "charlie", "delta",  "echo", "foxtrot",
                                   "golf",  "hotel",    "india",   "juliet", "kilo", "lima",
                                   "mike",  "november", "oscar",   "papa"};
static const char *const first[] = {"Ada",    "Alan",     "Grace",  "Linus",   "Ken",  "Barbara",
                                    "Dennis", "Margaret", "Edsger", "Frances", "John", "Radia"};
static const char *const last[] = {"Lovelace", "Turing", "Hopper",   "Torvalds",
                                   "Thompson", "Liskov", "Ritchie",  "Hamilton",
                                   "Dijkstra", "Allen",  "McCarthy", "Perlman"};

static void progress(const char *what, long done, long total)
{
    if (!isatty(STDERR_FILENO) && done != total && done % (BATCH * 20) != 0)
        return;
    int width = 40, filled = total ? (int)((double)done / (double)total * width) : width;
    fprintf(stderr, "\r%-7s [", what);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %ld/%ld", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static long arg_long(int argc, char **argv, const char *name, long def, bool *bad)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            if (i + 1 >= argc) {
                *bad = true;
                return def;
            }
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*argv[i + 1] == '\0' || *end != '\0' || v < 0 || v > 100000000) {
                *bad = true;
                return def;
            }
            return v;
        }
    }
    return def;
}

static const char *arg_str(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

int tk_cli_seed(struct tk_cli *cli, int argc, char **argv)
{
    bool bad = false;
    long n_users = arg_long(argc, argv, "--users", 1000, &bad);
    long n_groups = arg_long(argc, argv, "--groups", 50, &bad);
    long n_tokens = arg_long(argc, argv, "--tokens", 10000, &bad);
    long seed = arg_long(argc, argv, "--seed", 1, &bad);
    const char *admin_key = arg_str(argc, argv, "--admin-token");
    for (int i = 1; i < argc; i += 2)
        if (strcmp(argv[i], "--users") && strcmp(argv[i], "--groups") &&
            strcmp(argv[i], "--tokens") && strcmp(argv[i], "--seed") &&
            strcmp(argv[i], "--admin-token"))
            bad = true;
    if (bad || n_users < 1 || n_groups < 1) {
        fprintf(stderr, "usage: tokend seed [--users U>=1] [--groups G>=1] [--tokens K] "
                        "[--seed S] [--admin-token KEY]\n");
        return 2;
    }
    rng_state = (uint64_t)seed;
    struct tk_db *db = tk_store_db(cli->store);
    if (db == NULL)
        return 1;
    if (tk_cli_bootstrap(cli, stderr, NULL) != 0) {
        fprintf(stderr, "tokend: seed: bootstrap failed\n");
        return 1;
    }
    int64_t now = tk_now_us();
    int64_t *group_ids = calloc((size_t)n_groups, sizeof(*group_ids));
    int64_t *user_ids = calloc((size_t)n_users, sizeof(*user_ids));
    char(*usernames)[24] = calloc((size_t)n_users, 24);
    int rc = group_ids && user_ids && usernames ? 0 : TK_ERR_NOMEM;
    char uuid[37], buf[512], name[128], email[64];

    /* Groups: authentik Admins exists (bootstrap); group-0001 .. group-<G-1>. */
    if (rc == 0)
        rc = tk_store_group_find(db, "authentik Admins", &group_ids[0]);
    if (rc == 0)
        rc = tk_db_begin(db, true);
    for (long g = 1; g < n_groups && rc == 0; g++) {
        char gname[32];
        snprintf(gname, sizeof(gname), "group-%04ld", g);
        snprintf(buf, sizeof(buf),
                 "{\"team\":\"%s\",\"cost_center\":%ld,\"settings\":{\"locale\":\"en\","
                 "\"theme\":\"%s\"}}",
                 nato[below(16)], 1000 + g, below(2) ? "dark" : "light");
        struct tk_group_new gn = {.name = gname, .attributes = buf};
        if (g >= 9)
            gn.parent_id = group_ids[1 + below((uint64_t)g - 1)];
        rc = tk_store_group_create(db, &gn, now, &group_ids[g], uuid);
    }
    /* Users: akadmin is pk 1 (bootstrap); user00001 .. user<U-1>. */
    if (rc == 0)
        rc = tk_store_user_find(db, "akadmin", &user_ids[0]);
    snprintf(usernames[0], 24, "akadmin");
    for (long u = 1; u < n_users && rc == 0; u++) {
        snprintf(usernames[u], 24, "user%05ld", u);
        snprintf(name, sizeof(name), "%s %s", first[below(12)], last[below(12)]);
        snprintf(email, sizeof(email), "%s@example.com", usernames[u]);
        struct tk_user_new un = {.username = usernames[u],
                                 .name = name,
                                 .email = email,
                                 .is_active = true,
                                 .attributes = "{\"goauthentik.io/user/seeded\":true}"};
        rc = tk_store_user_create(db, &un, now, &user_ids[u], uuid);
        long k = n_groups > 1 ? (long)below(4) : 0;
        for (long j = 0; j < k && rc == 0; j++)
            rc = tk_store_membership_add(db, user_ids[u],
                                         group_ids[1 + below((uint64_t)n_groups - 1)]);
        if (u % 1000 == 0 || u == n_users - 1)
            progress("users", u + 1, n_users);
    }
    if (rc == 0)
        rc = tk_db_commit(db);
    else
        tk_db_rollback(db);

    /* Tokens: akadmin-api, then tok-0000000 .. */
    if (rc == 0) {
        int64_t admin_id = user_ids[0];
        char tuuid[37];
        tk_uuid4(tuuid);
        struct tk_token_new t = {.uuid = tuuid,
                                 .identifier = "akadmin-api",
                                 .intent = "api",
                                 .description = "",
                                 .user_id = admin_id,
                                 .has_expires = true,
                                 .expires = now + cli->cfg->default_token_duration_us,
                                 .expiring = false};
        char out[TK_KEY_LENGTH_MAX + 1];
        rc = tk_cli_token_create(cli, db, &t, admin_key, out, now);
        if (rc == TK_ERR_CONFLICT)
            rc = 0; /* seeding again: keep the existing admin token */
        sodium_memzero(out, sizeof(out));
    }
    /* One load for all the tokens (tk_store_token_bulk_*): many rows per statement, one
     * transaction, SQLite's index and count built once at the end (issue 17). The load's last
     * statements walk every new row at once: no statement time budget, as for migrations. */
    static const char *const intents[] = {"api", "app_password", "recovery", "verification"};
    struct tk_store_token_bulk *bulk = NULL;
    if (rc == 0) {
        tk_store_set_statement_timeout(cli->store, 0);
        rc = tk_store_token_bulk_begin(db, &bulk);
    }
    for (long i = 0; i < n_tokens && rc == 0; i++) {
        char ident[32], tuuid[37];
        snprintf(ident, sizeof(ident), "tok-%07ld", i);
        long owner = (long)below((uint64_t)n_users);
        uint64_t r = below(10);
        const char *intent = intents[r < 6 ? 0 : r < 8 ? 1 : r < 9 ? 2 : 3];
        snprintf(buf, sizeof(buf), "token %ld of %s (%s)", i, usernames[owner], nato[below(16)]);
        tk_uuid4(tuuid);
        struct tk_token_new t = {.uuid = tuuid,
                                 .identifier = ident,
                                 .intent = intent,
                                 .description = buf,
                                 .user_id = user_ids[owner],
                                 .expiring = below(10) < 7,
                                 .has_expires = true,
                                 .expires = now + (int64_t)(1 + below(365)) * 86400000000LL};
        t.view_key = cli->cfg->view_key; /* TOKEND_VIEW_KEY, as tk_cli_token_create */
        struct tk_buf sealed;
        rc = tk_token_mint(&cli->secret, cli->cfg->key_length, NULL, 0, &t, &sealed, NULL);
        if (rc == 0)
            rc = tk_store_token_bulk_add(bulk, &t, now);
        tk_buf_free(&sealed);
        if (rc == 0 && (i + 1) % BATCH == 0 && i + 1 < n_tokens)
            progress("tokens", i + 1, n_tokens);
    }
    if (bulk != NULL) {
        /* the bar is full once the tokens are committed: the end of the load (on SQLite the
         * search index of every new row) takes about a quarter of its time */
        int end = tk_store_token_bulk_end(bulk, rc == 0);
        if (rc == 0)
            rc = end;
        if (rc == 0 && n_tokens > 0)
            progress("tokens", n_tokens, n_tokens);
    }
    /* The planner's statistics of what was just written (without them PostgreSQL plans the
     * first requests as if the tables were empty: issue 17, 4.2 ms instead of 0.26 ms). */
    if (rc == 0)
        rc = tk_store_analyze(db);
    free(group_ids);
    free(user_ids);
    free(usernames);
    if (rc) {
        fprintf(stderr, "\ntokend: seed failed: %s (seed into an empty database)\n",
                tk_strerror(rc));
        return 1;
    }
    return 0;
}
