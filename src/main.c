/* tokend: authentik's token API as one C binary. This file reads the command line and
 * configuration, then runs the server or an administration command. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api.h"
#include "api/throttle.h"
#include "cli/cli.h"
#include "config.h"
#include "crypto/keys.h"
#include "http/http.h"
#include "jobs/sweeper.h"
#include "jobs/usage.h"
#include "jobs/webhooks.h"
#include "store/db.h"
#include "store/sqlite_file.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/time.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tokend [SETTINGS] [COMMAND]\n"
               "\n"
               "commands:\n"
               "  serve                 migrate, bootstrap and serve the API (the default)\n"
               "  migrate               create or upgrade the database schema, then exit\n"
               "  bootstrap             create authentik Admins, akadmin and the bootstrap token,\n"
               "                        once per database\n"
               "  user create USERNAME [--name N] [--email E] [--inactive] [--attributes JSON]\n"
               "                        [--path P] [--type T]          prints the user's pk\n"
               "  group create NAME [--superuser] [--parent NAME] [--attributes JSON]\n"
               "                                                       prints the group's uuid\n"
               "  group add GROUP USERNAME | group remove GROUP USERNAME\n"
               "  token create IDENTIFIER --user USERNAME [--intent I] [--description D]\n"
               "               [--expires DATETIME|none] [--expiring true|false] [--managed M]\n"
               "               [--key KEY]                             prints the key\n"
               "  token revoke IDENTIFIER | token view-key IDENTIFIER\n"
               "  token rotate IDENTIFIER [--grace DURATION]           prints the new key\n"
               "  token set IDENTIFIER [--scopes S,...|none] [--networks NET,...|none]\n"
               "            [--rate-limit N/PERIOD|none] [--uses N|none] [--view-key MODE]\n"
               "            [--revoke-on-reuse true|false]             prints the settings\n"
               "  sweep                 rotate or delete expired tokens, drop old events, once\n"
               "  webhook add URL [--events T,...] [--description D] [--disabled]\n"
               "                                                       prints the pk and secret\n"
               "  webhook list [--json] | webhook remove PK\n"
               "  seed [--users U] [--groups G] [--tokens K] [--seed S] [--admin-token KEY]\n"
               "  config [--json]       print the effective configuration, secrets masked\n"
               "  backup [--force] FILE copy the SQLite database, also while serving\n"
               "  restore [--force] FILE  replace the SQLite database with a backup\n"
               "\n"
               "settings (flag or environment variable, default):\n");
    for (const struct tk_setting_doc *d = tk_settings_doc; d->env; d++)
        fprintf(f, "  %-26s %-30s %s\n      %s\n", d->flag, d->env, d->def, d->help);
}

/* Response bodies of a few hundred KiB are built and freed on every list request: keep glibc
 * from serving each one with a fresh mmap (and its page faults). */
static void tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);  /* checksrc: allow glibc tuning, not a limit */
    mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024); /* checksrc: allow glibc tuning, not a limit */
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static struct tk_api api_of(const struct tk_cli *cli)
{
    const struct tk_config *cfg = cli->cfg;
    return (struct tk_api){.store = cli->store,
                           .secret = cli->secret,
                           .avatars = cfg->avatars,
                           .default_token_duration_us = cfg->default_token_duration_us,
                           .key_length = cfg->key_length,
                           .max_tokens_per_user = cfg->max_tokens_per_user,
                           .event_retention_us = cfg->event_retention_us,
                           .view_key = cfg->view_key,
                           .rotate_grace_max_us = cfg->rotate_grace_max_us,
                           .reuse_window_us = cfg->reuse_window_us};
}

/* What the sweeper takes from the configuration. */
static struct tk_sweep_config sweep_config_of(const struct tk_cli *cli)
{
    const struct tk_config *cfg = cli->cfg;
    return (struct tk_sweep_config){.store = cli->store,
                                    .secret = &cli->secret,
                                    .key_length = cfg->key_length,
                                    .token_duration_us = cfg->default_token_duration_us,
                                    .event_retention_us = cfg->event_retention_us,
                                    .reuse_window_us = cfg->reuse_window_us,
                                    .n_notices = cfg->n_expiry_notices,
                                    .notices_us = cfg->expiry_notices_us,
                                    .notice_texts = cfg->expiry_notice_texts};
}

static int sweep(struct tk_cli *cli)
{
    struct tk_sweep_config sc = sweep_config_of(cli);
    struct tk_db *db = tk_store_db(cli->store);
    struct tk_sweep_stats st;
    int rc = db ? tk_sweep_once(&sc, db, tk_now_us(), &st) : TK_ERR_IO;
    if (rc) {
        fprintf(stderr, "tokend: sweep failed: %s\n", tk_strerror(rc));
        return 1;
    }
    printf("rotated %lld, deleted %lld, events expired %lld\n", (long long)st.rotated,
           (long long)st.deleted, (long long)st.events_expired);
    return 0;
}

/* tokend bootstrap: once per database (cli.h); later runs create nothing, say so on stderr
 * and succeed, so provisioning scripts may run it on every deploy. */
static int bootstrap(struct tk_cli *cli)
{
    struct tk_bootstrap_result res;
    int rc = tk_cli_bootstrap(cli, stdout, &res);
    if (rc) {
        fprintf(stderr, "tokend: bootstrap failed: %s\n", tk_strerror(rc));
        return 1;
    }
    if (res.already)
        fprintf(stderr,
                "tokend: bootstrap: this database was bootstrapped before (%s); nothing was "
                "created (bootstrap runs once per database)\n",
                res.when);
    return 0;
}

/* The admin console's address on the listener (docs/api.md §22), as a browser on this host
 * reaches it: a wildcard address is reached through loopback. */
static void console_url(char *out, size_t len, const char *listen, uint16_t port)
{
    const char *colon = strrchr(listen, ':');
    int hlen = colon ? (int)(colon - listen) : 0;
    if ((hlen == 7 && strncmp(listen, "0.0.0.0", 7) == 0) || hlen == 0)
        snprintf(out, len, "http://127.0.0.1:%u/", (unsigned)port);
    else if (hlen == 4 && strncmp(listen, "[::]", 4) == 0)
        snprintf(out, len, "http://[::1]:%u/", (unsigned)port);
    else
        snprintf(out, len, "http://%.*s:%u/", hlen, listen, (unsigned)port);
}

static int serve(struct tk_cli *cli)
{
    const struct tk_config *cfg = cli->cfg;
    char err[512] = "";
    struct tk_bootstrap_result boot = {0};
    /* a key generated now is printed last, once the console can be opened to use it */
    int brc = tk_cli_bootstrap(cli, NULL, &boot);
    if (brc != 0) {
        tk_log(TK_LOG_ERROR, "tokend", "bootstrap failed: %s", tk_strerror(brc));
        return 1;
    }
    if (boot.already)
        tk_log(TK_LOG_INFO, "tokend", "bootstrap ran before (%s): nothing created", boot.when);
    struct tk_api api = api_of(cli);
    api.throttle = tk_throttle_new(cfg->auth_failure_burst, (double)cfg->auth_failure_rate);
    api.usage = tk_usage_new();
    struct tk_router *router = tk_router_new();
    struct tk_router *metrics_router = cfg->metrics_listen ? tk_router_new() : NULL;
    struct tk_http *http = NULL, *metrics = NULL;
    struct tk_sweeper *sweeper = NULL;
    struct tk_usage_flusher *flusher = NULL;
    struct tk_webhooks *webhooks = NULL;
    int rc = 1;
    if (router == NULL || api.usage == NULL || tk_api_register(&api, router) != 0 ||
        (cfg->metrics_listen &&
         (metrics_router == NULL || tk_api_register_metrics(metrics_router) != 0))) {
        tk_log(TK_LOG_ERROR, "tokend", "out of memory");
        goto out;
    }
    /* The main thread's connection is not needed while serving. */
    tk_store_thread_done(cli->store);

    /* Block the stop signals in every thread; the main thread waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP); /* reopens the log file */
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    tune_malloc();

    struct tk_http_opts ho = {.listen = cfg->listen,
                              .threads = cfg->threads,
                              .max_connections = cfg->max_connections,
                              .max_connections_per_ip = cfg->max_connections_per_ip,
                              .connection_timeout_s = cfg->connection_timeout_s,
                              .request_timeout_s = cfg->request_timeout_s,
                              .trusted_proxies = cfg->trusted_proxies,
                              .health_reserve = true};
    /* the metrics listener: one thread, a few connections, no log lines of its own */
    struct tk_http_opts mo = {.listen = cfg->metrics_listen,
                              .setting = "TOKEND_METRICS_LISTEN",
                              .threads = 1,
                              .max_connections = 16,
                              .connection_timeout_s = cfg->connection_timeout_s,
                              .request_timeout_s = cfg->request_timeout_s,
                              .quiet = true};
    /* PostgreSQL: the caches work once the change watch has connected (docs/api.md §20.1) */
    if (tk_store_watch_start(cli->store, strcmp(cfg->pg_caches, "notified") == 0) != 0) {
        tk_log(TK_LOG_ERROR, "tokend", "cannot start the change watch");
        goto out;
    }
    /* webhook delivery first (it initialises libcurl before other threads run), then the usage
     * flusher before the API serves (its uses are written from the start); metrics next: once
     * the API port accepts, everything is up */
    struct tk_webhook_config wc = {
        .store = cli->store, .secret = &cli->secret, .allow_private = cfg->webhook_allow_private};
    if (tk_webhooks_start(&wc, &webhooks) != 0) {
        tk_log(TK_LOG_ERROR, "tokend", "cannot start webhook delivery");
        goto out;
    }
    if (tk_usage_flusher_start(cli->store, api.usage, cfg->usage_flush_us, &flusher) != 0) {
        tk_log(TK_LOG_ERROR, "tokend", "cannot start the usage flusher");
        goto out;
    }
    if ((cfg->metrics_listen && tk_http_start(&mo, metrics_router, &metrics, err, sizeof(err))) ||
        tk_http_start(&ho, router, &http, err, sizeof(err)) != 0) {
        tk_log(TK_LOG_ERROR, "tokend", "%s", err);
        goto out;
    }
    struct tk_sweep_config sc = sweep_config_of(cli);
    if (tk_sweeper_start(&sc, cfg->sweep_interval_us, &sweeper) != 0) {
        tk_log(TK_LOG_ERROR, "tokend", "cannot start the expiry sweeper");
        goto out;
    }
    struct tk_log_line l;
    if (tk_log_begin(&l, TK_LOG_INFO, "tokend", "serving")) {
        tk_log_cstr(&l, "listen", cfg->listen);
        tk_log_int(&l, "port", tk_http_port(http));
        tk_log_int(&l, "threads", cfg->threads);
        tk_log_cstr(&l, "metrics_listen", cfg->metrics_listen);
        if (metrics)
            tk_log_int(&l, "metrics_port", tk_http_port(metrics));
        tk_log_cstr(&l, "version", TOKEND_VERSION);
        tk_log_end(&l);
    }
    char url[320]; /* a checked listen address: a host of less than 256 bytes */
    console_url(url, sizeof(url), cfg->listen, tk_http_port(http));
    tk_cli_bootstrap_announce(stdout, &boot, url);
    int sig = 0;
    while (sigwait(&stop, &sig) == 0 && sig == SIGHUP) {
        /* logrotate moved the file: lines go to a new one at the configured path */
        if (tk_log_reopen() != 0)
            tk_log(TK_LOG_ERROR, "tokend", "cannot reopen the log file %s: %s", cfg->log_file,
                   strerror(errno));
        else
            tk_log(TK_LOG_INFO, "tokend", "SIGHUP received, log reopened");
    }
    tk_log(TK_LOG_INFO, "tokend", "%s received, finishing in-flight requests",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out:
    tk_cli_bootstrap_announce(stdout, &boot, NULL); /* not served: the key is not lost */
    tk_http_stop(http, 10000);
    tk_http_stop(metrics, 0);
    tk_sweeper_stop(sweeper);
    tk_webhooks_stop(webhooks);
    tk_usage_flusher_stop(flusher);  /* after the API stopped: the last uses are written */
    tk_store_watch_stop(cli->store); /* after every thread that used the store */
    tk_router_free(router);
    tk_router_free(metrics_router);
    tk_throttle_free(api.throttle);
    tk_usage_free(api.usage);
    tk_secret_wipe(&api.secret);
    if (rc == 0)
        tk_log(TK_LOG_INFO, "tokend", "stopped");
    return rc;
}

int main(int argc, char **argv)
{
    /* Keys pass through this process's memory (request and response bodies, view-key and token
     * create on the command line): no core file of it, and no ptrace or /proc/PID/mem access by
     * other processes of the same user. Best effort: a failure changes nothing else. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    tk_alloc_init();
    struct tk_config cfg;
    char err[512] = "";
    if (tk_config_from_env(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "tokend: %s\n", err);
        return 2;
    }
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("tokend %s\n", TOKEND_VERSION);
            return 0;
        }
        int used = 0;
        if (tk_config_flag(&cfg, argc - i, argv + i, &used, err, sizeof(err)) != 0) {
            fprintf(stderr, "tokend: %s\n", err);
            return 2;
        }
        if (used == 0) {
            fprintf(stderr, "tokend: unknown option %s (see tokend --help)\n", argv[i]);
            return 2;
        }
        i += used;
    }
    const char *cmd = i < argc ? argv[i] : "serve";
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "config") == 0)
        return tk_cli_config(&cfg, argc - i, argv + i);
    bool serve_cmd = strcmp(cmd, "serve") == 0;
    if (serve_cmd) {
        /* serve takes the settings after the command too */
        for (int j = i + 1; j < argc;) {
            int used = 0;
            if (strcmp(argv[j], "--help") == 0) {
                usage(stdout);
                return 0;
            }
            if (tk_config_flag(&cfg, argc - j, argv + j, &used, err, sizeof(err)) != 0 ||
                used == 0) {
                fprintf(stderr, "tokend: %s\n", err[0] ? err : "unknown serve option");
                return 2;
            }
            j += used;
        }
    } else if (strcmp(cmd, "migrate") && strcmp(cmd, "bootstrap") && strcmp(cmd, "user") &&
               strcmp(cmd, "group") && strcmp(cmd, "token") && strcmp(cmd, "seed") &&
               strcmp(cmd, "sweep") && strcmp(cmd, "backup") && strcmp(cmd, "restore") &&
               strcmp(cmd, "webhook")) {
        fprintf(stderr, "tokend: unknown command \"%s\" (see tokend --help)\n", cmd);
        return 2;
    }
    if (tk_config_finish(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "tokend: %s\n", err);
        return 2;
    }
    if (strcmp(cmd, "backup") == 0)
        return tk_cli_backup(&cfg, argc - i, argv + i);
    if (strcmp(cmd, "restore") == 0)
        return tk_cli_restore(&cfg, argc - i, argv + i);
    /* The server logs as configured; administration commands keep plain "tokend: " lines. */
    if (serve_cmd && tk_log_init(cfg.log_level, cfg.log_format, cfg.log_file) != 0) {
        fprintf(stderr, "tokend: TOKEND_LOG_FILE %s cannot be opened: %s\n", cfg.log_file,
                strerror(errno));
        return 1;
    }
    if (tk_crypto_init() != 0) {
        fprintf(stderr, "tokend: cannot initialise libsodium\n");
        return 1;
    }
    struct tk_cli cli = {.cfg = &cfg};
    bool admin = strcmp(cmd, "user") == 0 || strcmp(cmd, "group") == 0 ||
                 strcmp(cmd, "token") == 0 || strcmp(cmd, "sweep") == 0 ||
                 strcmp(cmd, "webhook") == 0;
    bool wants_help = false;
    for (int j = i + 1; j < argc; j++)
        wants_help = wants_help || strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0;
    if (admin && (wants_help || i + 1 >= argc) && strcmp(cmd, "sweep") != 0) {
        /* usage needs no database */
        return strcmp(cmd, "webhook") == 0 ? tk_cli_webhook(&cli, argc - i, argv + i)
                                           : tk_cli_admin(&cli, argc - i, argv + i);
    }
    const char *path = tk_db_sqlite_path(cfg.database);
    if (admin && path != NULL && strcmp(path, ":memory:") != 0 && access(path, F_OK) != 0) {
        /* administration never creates a database: a typo in TOKEND_DATABASE must not pass */
        fprintf(stderr,
                "tokend: database %s does not exist (set TOKEND_DATABASE, or create it with "
                "tokend migrate)\n",
                path);
        return 1;
    }
    /* Every process on a SQLite file holds <db>.lock shared, so tokend restore can tell that
     * the database is in use (store/sqlite_file.h). */
    int lock = -1;
    if (!tk_db_url_is_pg(cfg.database) && strcmp(path, ":memory:") != 0) {
        int lrc = tk_sqlite_lock(path, false, &lock, err, sizeof(err));
        if (lrc == TK_ERR_BUSY)
            fprintf(stderr, "tokend: %s is being restored (%s.lock is held); try again after\n",
                    path, path);
        else if (lrc)
            fprintf(stderr, "tokend: TOKEND_DATABASE %s: %s\n", path, err);
        if (lrc)
            return 1;
    }
    if (tk_store_open(cfg.database, &cli.store, err, sizeof(err)) != 0) {
        tk_log(TK_LOG_ERROR, "tokend", "%s", err);
        tk_sqlite_unlock(lock);
        return 1;
    }
    int rc = 1;
    if (cfg.database_replica != NULL && tk_store_set_replica(cli.store, cfg.database_replica)) {
        fprintf(stderr, "tokend: out of memory\n");
        goto free_store;
    }
    if (tk_store_migrate(cli.store, err, sizeof(err)) != 0) {
        tk_log(TK_LOG_ERROR, "tokend", "%s", err);
        goto free_store;
    }
    /* Every statement after the migrations has a time budget: requests, the sweeper and the
     * administration commands alike (backup and restore use SQLite's own API, no store). */
    tk_store_set_statement_timeout(cli.store, cfg.statement_timeout_ms);
    struct tk_db *db = tk_store_db(cli.store);
    if (db == NULL || tk_cli_secret(&cfg, db, TK_SECRET_OPEN, &cli.secret, err, sizeof(err))) {
        tk_log(TK_LOG_ERROR, "tokend", "%s", db ? err : "cannot open the database");
        goto free_store;
    }
    /* The passphrase is not needed again: wipe it where it lives (the environment block or
     * argv), so it is neither in this process's memory nor in /proc/<pid>/environ or cmdline. */
    if (cfg.secret_key != NULL)
        sodium_memzero((char *)cfg.secret_key, strlen(cfg.secret_key));
    if (serve_cmd)
        rc = serve(&cli);
    else if (strcmp(cmd, "migrate") == 0)
        rc = 0;
    else if (strcmp(cmd, "bootstrap") == 0)
        rc = bootstrap(&cli);
    else if (strcmp(cmd, "sweep") == 0)
        rc = sweep(&cli);
    else if (strcmp(cmd, "seed") == 0)
        rc = tk_cli_seed(&cli, argc - i, argv + i);
    else if (strcmp(cmd, "webhook") == 0)
        rc = tk_cli_webhook(&cli, argc - i, argv + i);
    else
        rc = tk_cli_admin(&cli, argc - i, argv + i);
    tk_secret_wipe(&cli.secret);
free_store:
    tk_store_free(cli.store);
    tk_log_close();
    tk_sqlite_unlock(lock);
    return rc;
}
