/* Configuration (config.h). */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/client_addr.h"
#include "http/http.h"
#include "store/db.h"
#include "util/limits.h"
#include "util/time.h"

const struct tk_setting_doc tk_settings_doc[] = {
    {"TOKEND_DATABASE", "--database", "sqlite:./var/tokend.db", "database URL: sqlite:PATH"},
    {"TOKEND_DATABASE_REPLICA", "--database-replica", "(unset)",
     "PostgreSQL streaming replica that serves list and retrieve reads"},
    {"TOKEND_LISTEN", "--listen", "127.0.0.1:9000", "address and port to serve on"},
    {"TOKEND_SECRET_KEY", "--secret-key", "(unset)",
     "server secret as text; when unset the key file is used"},
    {"TOKEND_SECRET_KEY_FILE", "--secret-key-file", "<database file>.secret",
     "file holding the server secret, created with mode 0600 on first start"},
    {"TOKEND_BOOTSTRAP_TOKEN", "--bootstrap-token", "(unset)",
     "key of the bootstrap token authentik-bootstrap-token (AUTHENTIK_BOOTSTRAP_TOKEN too)"},
    {"TOKEND_THREADS", "--threads", "number of cores",
     "HTTP worker threads (default: one per core on SQLite and on PostgreSQL on this "
     "machine; four per core, at most 64, on PostgreSQL elsewhere)"},
    {"TOKEND_AVATARS", "--avatars", "initials",
     "avatar modes: none, initials, gravatar, attributes.<path>, URL template"},
    {"TOKEND_DEFAULT_TOKEN_DURATION", "--default-token-duration", "minutes=30",
     "lifetime of API tokens and default app-password lifetime (authentik syntax)"},
    {"TOKEND_KEY_LENGTH", "--key-length", "60", "length of generated keys"},
    {"TOKEND_MAX_TOKENS_PER_USER", "--max-tokens-per-user", "10000",
     "tokens one user may own; creating one more is refused with 400 (0: no limit)"},
    {"TOKEND_EVENT_RETENTION", "--event-retention", "days=365",
     "how long audit events are kept (authentik duration syntax)"},
    {"TOKEND_SWEEP_INTERVAL", "--sweep-interval", "minutes=5",
     "how often expired tokens are rotated or deleted and old events removed"},
    {"TOKEND_MAX_CONNECTIONS", "--max-connections", "4096", "concurrent connections"},
    {"TOKEND_MAX_CONNECTIONS_PER_IP", "--max-connections-per-ip", "256",
     "concurrent connections from one TCP peer address (IPv6: one /64); trusted proxies are "
     "exempt (0: no per-address limit)"},
    {"TOKEND_AUTH_FAILURE_BURST", "--auth-failure-burst", "1000",
     "failed authentications one address may make at once before 429 (0: no throttling)"},
    {"TOKEND_AUTH_FAILURE_RATE", "--auth-failure-rate", "100",
     "failed authentications per second an address earns back"},
    {"TOKEND_CONNECTION_TIMEOUT", "--connection-timeout", "30",
     "seconds before an idle connection is closed"},
    {"TOKEND_STATEMENT_TIMEOUT", "--statement-timeout", "10",
     "seconds one database statement may run before it is stopped and the request answered "
     "503 (decimals allowed, 0: no limit)"},
    {"TOKEND_REQUEST_TIMEOUT", "--request-timeout", "30",
     "seconds a connection has to deliver a whole request (headers and body), from its accept "
     "or the previous response"},
    {"TOKEND_TRUSTED_PROXIES", "--trusted-proxies", "(unset)",
     "comma-separated networks of reverse proxies whose X-Forwarded-For gives the client "
     "address"},
    {"TOKEND_VIEW_KEY", "--view-key", "always",
     "view_key mode of new tokens: always, once (the key can be viewed once) or never"},
    {"TOKEND_ROTATE_GRACE_MAX", "--rotate-grace-max", "days=7",
     "longest grace window a rotation may ask for (the old key keeps working meanwhile)"},
    {"TOKEND_REUSE_WINDOW", "--reuse-window", "days=30",
     "how long rotated-out keys are remembered to detect their reuse"},
    {"TOKEND_USAGE_FLUSH", "--usage-flush", "seconds=10",
     "how often token usage (use_count, last_used) is written to the database"},
    {"TOKEND_PG_CACHES", "--pg-caches", "notified",
     "PostgreSQL: how a process learns that cached data changed: notified (LISTEN/NOTIFY, each "
     "commit confirmed by every process before it is answered: no round trip on a cache hit) "
     "or strict (one round trip per request reads the change counter; works through "
     "transaction-mode poolers)"},
    {"TOKEND_EXPIRY_NOTICES", "--expiry-notices", "days=7,days=1",
     "comma-separated durations before an expiring token's expiry at which a token.expiring "
     "webhook message is sent (empty: none)"},
    {"TOKEND_WEBHOOK_ALLOW_PRIVATE", "--webhook-allow-private", "false",
     "true: webhook receivers may be on loopback, private and link-local addresses"},
    {"TOKEND_LOG_LEVEL", "--log-level", "info", "least level logged: debug, info, warning, error"},
    {"TOKEND_LOG_FORMAT", "--log-format", "json",
     "json (one object per line, authentik's fields) or text"},
    {"TOKEND_LOG_FILE", "--log-file", "(stderr)",
     "file the server logs to (appended, created 0640); SIGHUP reopens it"},
    {"TOKEND_METRICS_LISTEN", "--metrics-listen", "127.0.0.1:9300",
     "address and port of the Prometheus /metrics listener (empty or off: none)"},
    {NULL, NULL, NULL, NULL},
};
_Static_assert(sizeof(tk_settings_doc) / sizeof(tk_settings_doc[0]) <= TK_SETTINGS_MAX + 1,
               "raise TK_SETTINGS_MAX");

static int parse_uint(const char *name, const char *v, unsigned lo, unsigned hi, unsigned *out,
                      char *err, size_t err_len)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (*v == '\0' || *v == '-' || *end != '\0' || errno || n < lo || n > hi) {
        snprintf(err, err_len, "%s must be a whole number from %u to %u, got \"%s\"", name, lo, hi,
                 v);
        return TK_ERR_INVALID;
    }
    *out = (unsigned)n;
    return 0;
}

/* Seconds with up to three decimals ("10", "0.25"), from 0 to TK_STATEMENT_TIMEOUT_MAX_S, in
 * milliseconds. */
static int parse_seconds_ms(const char *name, const char *v, unsigned *out_ms, char *err,
                            size_t err_len)
{
    unsigned long long whole = 0, frac = 0;
    size_t i = 0, k = 0;
    while (v[i] >= '0' && v[i] <= '9' && whole <= TK_STATEMENT_TIMEOUT_MAX_S)
        whole = whole * 10 + (unsigned)(v[i++] - '0');
    bool ok = i > 0;
    if (ok && v[i] == '.') {
        for (i++; v[i] >= '0' && v[i] <= '9' && k < 3; i++, k++)
            frac = frac * 10 + (unsigned)(v[i] - '0');
        ok = k > 0;
    }
    for (; k < 3; k++)
        frac *= 10;
    unsigned long long ms = whole * 1000 + frac;
    if (!ok || v[i] != '\0' || ms > TK_STATEMENT_TIMEOUT_MAX_S * 1000ULL) {
        snprintf(err, err_len,
                 "%s must be a number of seconds from 0 (no limit) to %d with at most three "
                 "decimals, such as 10 or 0.5, got \"%s\"",
                 name, TK_STATEMENT_TIMEOUT_MAX_S, v);
        return TK_ERR_INVALID;
    }
    *out_ms = (unsigned)ms;
    return 0;
}

/* Checked when given, so that `tokend config` and every command refuse a bad list too. */
static int check_proxies(struct tk_config *c, const char *v, char *err, size_t err_len)
{
    struct tk_proxies p;
    int rc = tk_proxies_parse(v, "TOKEND_TRUSTED_PROXIES", &p, err, err_len);
    tk_proxies_free(&p);
    if (rc == TK_ERR_NOMEM)
        snprintf(err, err_len, "TOKEND_TRUSTED_PROXIES: out of memory");
    if (rc)
        return TK_ERR_INVALID;
    c->trusted_proxies = *v ? v : NULL;
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* TOKEND_EXPIRY_NOTICES: comma-separated positive durations (docs/api.md §12.3), at most
 * TK_WEBHOOK_NOTICES_MAX, kept longest first without repeats, each with its text. */
static int parse_notices(struct tk_config *c, char *err, size_t err_len)
{
    const char *p = c->expiry_notices;
    c->n_expiry_notices = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t st = 0, n = len;
        while (st < n && (p[st] == ' ' || p[st] == '\t'))
            st++;
        while (n > st && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        int64_t us = 0;
        if (n == st || n - st >= TK_WEBHOOK_NOTICE_TEXT_MAX ||
            c->n_expiry_notices == TK_WEBHOOK_NOTICES_MAX ||
            tk_duration_parse(p + st, n - st, &us) != 0 || us <= 0) {
            snprintf(err, err_len,
                     "TOKEND_EXPIRY_NOTICES must be up to %d positive durations separated by "
                     "commas, such as \"days=7,days=1\", got \"%s\"",
                     TK_WEBHOOK_NOTICES_MAX, c->expiry_notices);
            return TK_ERR_INVALID;
        }
        bool seen = false;
        for (size_t i = 0; i < c->n_expiry_notices; i++)
            seen = seen || c->expiry_notices_us[i] == us;
        if (!seen) {
            size_t k = c->n_expiry_notices++;
            c->expiry_notices_us[k] = us;
            memcpy(c->expiry_notice_text[k], p + st, n - st);
            c->expiry_notice_text[k][n - st] = '\0';
        }
        p += len;
        p += *p == ',';
    }
    /* longest first, each text following its duration */
    for (size_t i = 0; i < c->n_expiry_notices; i++) {
        for (size_t j = i + 1; j < c->n_expiry_notices; j++) {
            if (cmp_desc(&c->expiry_notices_us[i], &c->expiry_notices_us[j]) > 0) {
                int64_t t = c->expiry_notices_us[i];
                c->expiry_notices_us[i] = c->expiry_notices_us[j];
                c->expiry_notices_us[j] = t;
                char tmp[TK_WEBHOOK_NOTICE_TEXT_MAX];
                memcpy(tmp, c->expiry_notice_text[i], sizeof(tmp));
                memcpy(c->expiry_notice_text[i], c->expiry_notice_text[j], sizeof(tmp));
                memcpy(c->expiry_notice_text[j], tmp, sizeof(tmp));
            }
        }
    }
    for (size_t i = 0; i < c->n_expiry_notices; i++)
        c->expiry_notice_texts[i] = c->expiry_notice_text[i];
    return 0;
}

static int set(struct tk_config *c, const char *env, const char *v, char *err, size_t err_len)
{
    if (strcmp(env, "TOKEND_DATABASE") == 0)
        c->database = v;
    else if (strcmp(env, "TOKEND_DATABASE_REPLICA") == 0)
        c->database_replica = *v ? v : NULL;
    else if (strcmp(env, "TOKEND_LISTEN") == 0)
        c->listen = v;
    else if (strcmp(env, "TOKEND_SECRET_KEY") == 0)
        c->secret_key = v;
    else if (strcmp(env, "TOKEND_SECRET_KEY_FILE") == 0)
        c->secret_key_file = v;
    else if (strcmp(env, "TOKEND_BOOTSTRAP_TOKEN") == 0)
        c->bootstrap_token = v;
    else if (strcmp(env, "TOKEND_THREADS") == 0)
        return parse_uint(env, v, 1, 256, &c->threads, err, err_len);
    else if (strcmp(env, "TOKEND_AVATARS") == 0)
        c->avatars = v;
    else if (strcmp(env, "TOKEND_DEFAULT_TOKEN_DURATION") == 0)
        c->default_token_duration = v;
    else if (strcmp(env, "TOKEND_KEY_LENGTH") == 0)
        return parse_uint(env, v, 1, TK_KEY_LENGTH_MAX, &c->key_length, err, err_len);
    else if (strcmp(env, "TOKEND_MAX_TOKENS_PER_USER") == 0)
        return parse_uint(env, v, 0, 1000000000, &c->max_tokens_per_user, err, err_len);
    else if (strcmp(env, "TOKEND_EVENT_RETENTION") == 0)
        c->event_retention = v;
    else if (strcmp(env, "TOKEND_SWEEP_INTERVAL") == 0)
        c->sweep_interval = v;
    else if (strcmp(env, "TOKEND_VIEW_KEY") == 0 &&
             !tk_view_mode_parse(v, strlen(v), &c->view_key)) {
        snprintf(err, err_len, "TOKEND_VIEW_KEY must be always, once or never, got \"%s\"", v);
        return TK_ERR_INVALID;
    } else if (strcmp(env, "TOKEND_ROTATE_GRACE_MAX") == 0)
        c->rotate_grace_max = v;
    else if (strcmp(env, "TOKEND_REUSE_WINDOW") == 0)
        c->reuse_window = v;
    else if (strcmp(env, "TOKEND_USAGE_FLUSH") == 0)
        c->usage_flush = v;
    else if (strcmp(env, "TOKEND_PG_CACHES") == 0) {
        if (strcmp(v, "strict") != 0 && strcmp(v, "notified") != 0) {
            snprintf(err, err_len, "TOKEND_PG_CACHES must be strict or notified, got \"%s\"", v);
            return TK_ERR_INVALID;
        }
        c->pg_caches = v;
    } else if (strcmp(env, "TOKEND_EXPIRY_NOTICES") == 0)
        c->expiry_notices = v;
    else if (strcmp(env, "TOKEND_WEBHOOK_ALLOW_PRIVATE") == 0) {
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
            snprintf(err, err_len, "TOKEND_WEBHOOK_ALLOW_PRIVATE must be true or false, got \"%s\"",
                     v);
            return TK_ERR_INVALID;
        }
        c->webhook_allow_private = strcmp(v, "true") == 0;
    } else if (strcmp(env, "TOKEND_MAX_CONNECTIONS") == 0)
        return parse_uint(env, v, 1, 1000000, &c->max_connections, err, err_len);
    else if (strcmp(env, "TOKEND_MAX_CONNECTIONS_PER_IP") == 0)
        return parse_uint(env, v, 0, 1000000, &c->max_connections_per_ip, err, err_len);
    else if (strcmp(env, "TOKEND_REQUEST_TIMEOUT") == 0)
        return parse_uint(env, v, 1, 3600, &c->request_timeout_s, err, err_len);
    else if (strcmp(env, "TOKEND_TRUSTED_PROXIES") == 0)
        return check_proxies(c, v, err, err_len);
    else if (strcmp(env, "TOKEND_AUTH_FAILURE_BURST") == 0)
        return parse_uint(env, v, 0, 1000000000, &c->auth_failure_burst, err, err_len);
    else if (strcmp(env, "TOKEND_AUTH_FAILURE_RATE") == 0)
        return parse_uint(env, v, 1, 1000000, &c->auth_failure_rate, err, err_len);
    else if (strcmp(env, "TOKEND_CONNECTION_TIMEOUT") == 0)
        return parse_uint(env, v, 1, 3600, &c->connection_timeout_s, err, err_len);
    else if (strcmp(env, "TOKEND_STATEMENT_TIMEOUT") == 0)
        return parse_seconds_ms(env, v, &c->statement_timeout_ms, err, err_len);
    else if (strcmp(env, "TOKEND_LOG_LEVEL") == 0 && tk_log_level_parse(v, &c->log_level) != 0) {
        snprintf(err, err_len, "TOKEND_LOG_LEVEL must be debug, info, warning or error, got \"%s\"",
                 v);
        return TK_ERR_INVALID;
    } else if (strcmp(env, "TOKEND_LOG_FORMAT") == 0 &&
               tk_log_format_parse(v, &c->log_format) != 0) {
        snprintf(err, err_len, "TOKEND_LOG_FORMAT must be json or text, got \"%s\"", v);
        return TK_ERR_INVALID;
    } else if (strcmp(env, "TOKEND_LOG_FILE") == 0)
        c->log_file = *v ? v : NULL;
    else if (strcmp(env, "TOKEND_METRICS_LISTEN") == 0)
        c->metrics_listen = *v && strcmp(v, "off") != 0 ? v : NULL;
    return 0;
}

int tk_config_from_env(struct tk_config *c, char *err, size_t err_len)
{
    memset(c, 0, sizeof(*c));
    c->database = "sqlite:./var/tokend.db";
    c->listen = "127.0.0.1:9000";
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = ncpu > 0 ? (unsigned)ncpu : 2;
    c->avatars = "initials";
    c->default_token_duration = "minutes=30";
    c->key_length = TK_KEY_LENGTH_DEFAULT;
    c->max_tokens_per_user = TK_MAX_TOKENS_PER_USER_DEFAULT;
    c->event_retention = "days=365";
    c->sweep_interval = "minutes=5";
    c->view_key = TK_VIEW_ALWAYS;
    c->rotate_grace_max = "days=7";
    c->reuse_window = "days=30";
    c->usage_flush = "seconds=10";
    c->pg_caches = "notified";
    c->expiry_notices = "days=7,days=1";
    c->max_connections = TK_MAX_CONNECTIONS;
    c->max_connections_per_ip = TK_MAX_CONNECTIONS_PER_IP;
    c->request_timeout_s = TK_REQUEST_TIMEOUT_S;
    /* Generous: a 60-character key cannot be guessed at any rate; the bucket is there to take
     * the load of a guessing client off the database, not to lock out clumsy ones. */
    c->auth_failure_burst = 1000;
    c->auth_failure_rate = 100;
    c->connection_timeout_s = TK_CONNECTION_TIMEOUT_S;
    c->statement_timeout_ms = TK_STATEMENT_TIMEOUT_S * 1000;
    c->log_level = TK_LOG_INFO;
    c->log_format = TK_LOG_JSON;
    c->metrics_listen = "127.0.0.1:9300"; /* authentik's metrics port */
    const char *ak = getenv("AUTHENTIK_BOOTSTRAP_TOKEN");
    if (ak != NULL && *ak != '\0')
        c->bootstrap_token = ak;
    for (const struct tk_setting_doc *d = tk_settings_doc; d->env; d++) {
        const char *v = getenv(d->env);
        if (v == NULL || (*v == '\0' && strcmp(d->env, "TOKEND_BOOTSTRAP_TOKEN") == 0))
            continue;
        int rc = set(c, d->env, v, err, err_len);
        if (rc)
            return rc;
        c->given[d - tk_settings_doc] = v;
        c->source[d - tk_settings_doc] = TK_SOURCE_ENV;
    }
    return 0;
}

int tk_config_flag(struct tk_config *c, int argc, char **argv, int *used, char *err, size_t err_len)
{
    *used = 0;
    const char *a = argv[0];
    for (const struct tk_setting_doc *d = tk_settings_doc; d->env; d++) {
        size_t fl = strlen(d->flag);
        if (strncmp(a, d->flag, fl) != 0)
            continue;
        const char *v;
        if (a[fl] == '=') {
            v = a + fl + 1;
            *used = 1;
        } else if (a[fl] == '\0') {
            if (argc < 2) {
                snprintf(err, err_len, "%s needs a value", d->flag);
                return TK_ERR_INVALID;
            }
            v = argv[1];
            *used = 2;
        } else {
            continue;
        }
        c->given[d - tk_settings_doc] = v;
        c->source[d - tk_settings_doc] = TK_SOURCE_FLAG;
        return set(c, d->env, v, err, err_len);
    }
    return 0;
}

/* Checks an explicitly configured secret file before anything else is touched, so a bad one
 * stops the start before a database is created (tk_secret_file_read checks again on use). */
static int check_secret_file(const char *path, char *err, size_t err_len)
{
    struct stat st;
    if (*path == '\0') {
        snprintf(err, err_len, "TOKEND_SECRET_KEY_FILE must not be empty");
        return TK_ERR_INVALID;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, err_len, "TOKEND_SECRET_KEY_FILE %s: not a regular file", path);
            return TK_ERR_INVALID;
        }
        if (st.st_mode & 077) {
            snprintf(err, err_len,
                     "TOKEND_SECRET_KEY_FILE %s: the file is accessible by group or others "
                     "(chmod 600 it)",
                     path);
            return TK_ERR_INVALID;
        }
        return 0;
    }
    if (errno != ENOENT) {
        snprintf(err, err_len, "TOKEND_SECRET_KEY_FILE %s: %s", path, strerror(errno));
        return TK_ERR_INVALID;
    }
    /* it will be created: its directory must exist */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return 0;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof(dir)) {
        snprintf(err, err_len, "TOKEND_SECRET_KEY_FILE is too long");
        return TK_ERR_INVALID;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "TOKEND_SECRET_KEY_FILE %s: directory %s does not exist", path, dir);
        return TK_ERR_INVALID;
    }
    return 0;
}

int tk_config_finish(struct tk_config *c, char *err, size_t err_len)
{
    if (tk_duration_parse(c->default_token_duration, strlen(c->default_token_duration),
                          &c->default_token_duration_us) != 0 ||
        c->default_token_duration_us <= 0) {
        snprintf(err, err_len,
                 "TOKEND_DEFAULT_TOKEN_DURATION must be a positive duration such as "
                 "\"minutes=30\" or \"days=1;hours=2\", got \"%s\"",
                 c->default_token_duration);
        return TK_ERR_INVALID;
    }
    if (tk_duration_parse(c->event_retention, strlen(c->event_retention), &c->event_retention_us) !=
            0 ||
        c->event_retention_us <= 0) {
        snprintf(err, err_len,
                 "TOKEND_EVENT_RETENTION must be a positive duration such as \"days=365\", "
                 "got \"%s\"",
                 c->event_retention);
        return TK_ERR_INVALID;
    }
    if (tk_duration_parse(c->sweep_interval, strlen(c->sweep_interval), &c->sweep_interval_us) !=
            0 ||
        c->sweep_interval_us < 1000000) {
        snprintf(err, err_len,
                 "TOKEND_SWEEP_INTERVAL must be a duration of at least one second such as "
                 "\"minutes=5\", got \"%s\"",
                 c->sweep_interval);
        return TK_ERR_INVALID;
    }
    if (tk_duration_parse(c->rotate_grace_max, strlen(c->rotate_grace_max),
                          &c->rotate_grace_max_us) != 0 ||
        c->rotate_grace_max_us < 0) {
        snprintf(err, err_len,
                 "TOKEND_ROTATE_GRACE_MAX must be a duration such as \"days=7\", got \"%s\"",
                 c->rotate_grace_max);
        return TK_ERR_INVALID;
    }
    if (tk_duration_parse(c->reuse_window, strlen(c->reuse_window), &c->reuse_window_us) != 0 ||
        c->reuse_window_us < 0) {
        snprintf(err, err_len,
                 "TOKEND_REUSE_WINDOW must be a duration such as \"days=30\", got \"%s\"",
                 c->reuse_window);
        return TK_ERR_INVALID;
    }
    if (tk_duration_parse(c->usage_flush, strlen(c->usage_flush), &c->usage_flush_us) != 0 ||
        c->usage_flush_us < 100000 || c->usage_flush_us > 3600 * 1000000LL) {
        snprintf(err, err_len,
                 "TOKEND_USAGE_FLUSH must be a duration from 0.1 seconds to an hour such as "
                 "\"seconds=10\", got \"%s\"",
                 c->usage_flush);
        return TK_ERR_INVALID;
    }
    if (parse_notices(c, err, err_len) != 0)
        return TK_ERR_INVALID;
    bool pg = tk_db_url_is_pg(c->database);
    /* a worker waiting on PostgreSQL on another machine uses no core: by default four per core
     * there (one store connection each, docs/api.md §20.2); one per core on SQLite, and on
     * PostgreSQL on this machine, whose work for a waiting worker is done on these cores */
    size_t ti = 0;
    while (tk_settings_doc[ti].env && strcmp(tk_settings_doc[ti].env, "TOKEND_THREADS") != 0)
        ti++;
    if (pg && c->source[ti] == TK_SOURCE_DEFAULT && !tk_db_pg_is_local(c->database)) {
        unsigned n = c->threads * TK_PG_THREADS_PER_CORE;
        c->threads = n > TK_PG_THREADS_MAX ? TK_PG_THREADS_MAX : n;
    }
    if (!pg && tk_db_sqlite_path(c->database) == NULL) {
        char shown[512];
        tk_config_mask_url(c->database, shown, sizeof(shown));
        snprintf(err, err_len,
                 "TOKEND_DATABASE must be sqlite:PATH, postgres://... or a libpq key=value "
                 "string, got \"%s\"",
                 shown);
        return TK_ERR_INVALID;
    }
    if (!pg && *tk_db_sqlite_path(c->database) == '\0') {
        snprintf(err, err_len, "TOKEND_DATABASE needs a file path after sqlite:");
        return TK_ERR_INVALID;
    }
    if (tk_http_listen_check(c->listen, "TOKEND_LISTEN", err, err_len) != 0)
        return TK_ERR_INVALID;
    if (c->secret_key != NULL && *c->secret_key == '\0') {
        snprintf(err, err_len, "TOKEND_SECRET_KEY must not be empty");
        return TK_ERR_INVALID;
    }
    if (c->secret_key == NULL && c->secret_key_file != NULL &&
        check_secret_file(c->secret_key_file, err, err_len) != 0)
        return TK_ERR_INVALID;
    if (c->database_replica != NULL && (!pg || !tk_db_url_is_pg(c->database_replica))) {
        snprintf(err, err_len,
                 "TOKEND_DATABASE_REPLICA must be a PostgreSQL URL, with TOKEND_DATABASE one "
                 "too");
        return TK_ERR_INVALID;
    }
    if (c->secret_key_file == NULL && c->secret_key == NULL) {
        if (pg) {
            /* several processes must share one secret: no file can be guessed for them */
            snprintf(err, err_len,
                     "TOKEND_SECRET_KEY or TOKEND_SECRET_KEY_FILE is needed with PostgreSQL "
                     "(every tokend process on the database must use the same secret)");
            return TK_ERR_INVALID;
        }
        const char *p = tk_db_sqlite_path(c->database);
        if (strcmp(p, ":memory:") == 0) {
            snprintf(err, err_len,
                     "TOKEND_SECRET_KEY or TOKEND_SECRET_KEY_FILE is needed with an in-memory "
                     "database");
            return TK_ERR_INVALID;
        }
        if ((size_t)snprintf(c->secret_file_buf, sizeof(c->secret_file_buf), "%s.secret", p) >=
            sizeof(c->secret_file_buf)) {
            snprintf(err, err_len, "TOKEND_DATABASE path is too long");
            return TK_ERR_INVALID;
        }
        c->secret_key_file = c->secret_file_buf;
        /* a file left from an earlier start must still be private */
        struct stat st;
        if (stat(c->secret_key_file, &st) == 0 &&
            check_secret_file(c->secret_key_file, err, err_len) != 0)
            return TK_ERR_INVALID;
    }
    if (c->metrics_listen != NULL &&
        tk_http_listen_check(c->metrics_listen, "TOKEND_METRICS_LISTEN", err, err_len) != 0)
        return TK_ERR_INVALID;
    if (c->bootstrap_token != NULL && strlen(c->bootstrap_token) > TK_KEY_LENGTH_MAX) {
        snprintf(err, err_len, "TOKEND_BOOTSTRAP_TOKEN is longer than %d characters",
                 TK_KEY_LENGTH_MAX);
        return TK_ERR_INVALID;
    }
    return 0;
}

/* ---- tokend config ---- */

/* Where the settings this file knows live in struct tk_config. Settings without a row here
 * (added to tk_settings_doc later) show the text they were given or their default. */
static const struct {
    const char *env;
    size_t off;
    bool num; /* unsigned, else const char * */
} fields[] = {
    {"TOKEND_DATABASE", offsetof(struct tk_config, database), false},
    {"TOKEND_DATABASE_REPLICA", offsetof(struct tk_config, database_replica), false},
    {"TOKEND_LISTEN", offsetof(struct tk_config, listen), false},
    {"TOKEND_SECRET_KEY", offsetof(struct tk_config, secret_key), false},
    {"TOKEND_SECRET_KEY_FILE", offsetof(struct tk_config, secret_key_file), false},
    {"TOKEND_BOOTSTRAP_TOKEN", offsetof(struct tk_config, bootstrap_token), false},
    {"TOKEND_THREADS", offsetof(struct tk_config, threads), true},
    {"TOKEND_AVATARS", offsetof(struct tk_config, avatars), false},
    {"TOKEND_DEFAULT_TOKEN_DURATION", offsetof(struct tk_config, default_token_duration), false},
    {"TOKEND_KEY_LENGTH", offsetof(struct tk_config, key_length), true},
    {"TOKEND_MAX_TOKENS_PER_USER", offsetof(struct tk_config, max_tokens_per_user), true},
    {"TOKEND_EVENT_RETENTION", offsetof(struct tk_config, event_retention), false},
    {"TOKEND_SWEEP_INTERVAL", offsetof(struct tk_config, sweep_interval), false},
    {"TOKEND_MAX_CONNECTIONS", offsetof(struct tk_config, max_connections), true},
    {"TOKEND_AUTH_FAILURE_BURST", offsetof(struct tk_config, auth_failure_burst), true},
    {"TOKEND_AUTH_FAILURE_RATE", offsetof(struct tk_config, auth_failure_rate), true},
    {"TOKEND_CONNECTION_TIMEOUT", offsetof(struct tk_config, connection_timeout_s), true},
    {"TOKEND_MAX_CONNECTIONS_PER_IP", offsetof(struct tk_config, max_connections_per_ip), true},
    {"TOKEND_REQUEST_TIMEOUT", offsetof(struct tk_config, request_timeout_s), true},
    {"TOKEND_TRUSTED_PROXIES", offsetof(struct tk_config, trusted_proxies), false},
    {"TOKEND_ROTATE_GRACE_MAX", offsetof(struct tk_config, rotate_grace_max), false},
    {"TOKEND_REUSE_WINDOW", offsetof(struct tk_config, reuse_window), false},
    {"TOKEND_USAGE_FLUSH", offsetof(struct tk_config, usage_flush), false},
    {"TOKEND_PG_CACHES", offsetof(struct tk_config, pg_caches), false},
    {"TOKEND_EXPIRY_NOTICES", offsetof(struct tk_config, expiry_notices), false},
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_secret(const char *env)
{
    if (strcmp(env, "TOKEND_VIEW_KEY") == 0) /* a mode, not a key */
        return false;
    return ends_with(env, "_KEY") || ends_with(env, "_TOKEN") || ends_with(env, "_PASSWORD");
}

/* The value before masking; NULL when unset. */
static const char *raw_value(const struct tk_config *c, size_t i, char *num, size_t num_len)
{
    const struct tk_setting_doc *d = &tk_settings_doc[i];
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
        if (strcmp(fields[f].env, d->env) != 0)
            continue;
        const char *base = (const char *)c + fields[f].off;
        if (fields[f].num) {
            unsigned v;
            memcpy(&v, base, sizeof(v));
            snprintf(num, num_len, "%u", v);
            return num;
        }
        const char *v;
        memcpy(&v, base, sizeof(v));
        return v;
    }
    if (c->given[i] != NULL)
        return c->given[i];
    return strcmp(d->def, "(unset)") == 0 ? NULL : d->def;
}

static bool at_word_start(const char *s, const char *p)
{
    return p == s || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '?' || p[-1] == '&';
}

void tk_config_mask_url(const char *s, char *buf, size_t len)
{
    if (len == 0)
        return;
    size_t o = 0;
    const char *pass = NULL, *at = NULL;
    const char *scheme = strstr(s, "://");
    if (scheme != NULL) {
        const char *a = scheme + 3;
        const char *end = a + strcspn(a, "/?#");
        for (const char *p = a; p < end; p++)
            if (*p == '@')
                at = p;
        if (at != NULL)
            pass = memchr(a, ':', (size_t)(at - a));
        if (pass != NULL)
            pass++;
    }
    for (const char *p = s; *p;) {
        const char *put = NULL;
        if (pass != NULL && p == pass) {
            put = "****";
            p = at;
            pass = NULL; /* an empty password starts at the '@' itself: mask it once */
        } else if (strncmp(p, "password", 8) == 0 && at_word_start(s, p) &&
                   p[8 + strspn(p + 8, " \t")] == '=') {
            /* libpq "password = 'it''s'" or "password=x", URL "?password=x&..." */
            put = "password=****";
            p += 8 + strspn(p + 8, " \t") + 1;
            p += strspn(p, " \t");
            if (*p == '\'') {
                for (p++; *p && *p != '\''; p++)
                    if (*p == '\\' && p[1])
                        p++;
                if (*p)
                    p++;
            } else {
                p += strcspn(p, " \t&#");
            }
        }
        if (put != NULL) {
            for (; *put; put++)
                if (o + 1 < len)
                    buf[o++] = *put;
            continue;
        }
        if (o + 1 < len)
            buf[o++] = *p;
        p++;
    }
    buf[o] = '\0';
}

const char *tk_config_show(const struct tk_config *c, size_t i, char *buf, size_t len)
{
    char num[32];
    const char *v = raw_value(c, i, num, sizeof(num));
    if (v == NULL || len == 0)
        return NULL;
    if (is_secret(tk_settings_doc[i].env)) {
        snprintf(buf, len, "****");
        return buf;
    }
    tk_config_mask_url(v, buf, len);
    return buf;
}

const char *tk_config_source_name(const struct tk_config *c, size_t i)
{
    if (c->source[i] == TK_SOURCE_ENV)
        return "environment";
    if (c->source[i] == TK_SOURCE_FLAG)
        return "flag";
    char num[32];
    const char *v = raw_value(c, i, num, sizeof(num));
    const char *def = tk_settings_doc[i].def;
    /* unset by default or unset because another setting took its place: no value to derive */
    if (v != NULL && strcmp(v, def) != 0)
        return "derived";
    return "default";
}
