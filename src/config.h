/* Configuration: every setting from a TOKEND_* environment variable or a command-line flag
 * (flags win), with defaults, validated once at start. */
#ifndef TK_CONFIG_H
#define TK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "domain/token_settings.h"
#include "util/error.h"
#include "util/limits.h"
#include "util/log.h"

/* Room for this many rows in tk_settings_doc (checked at compile time in config.c). */
#define TK_SETTINGS_MAX 64

enum tk_setting_source { TK_SOURCE_DEFAULT, TK_SOURCE_ENV, TK_SOURCE_FLAG };

struct tk_config {
    const char *database;              /* TOKEND_DATABASE, sqlite:./var/tokend.db */
    const char *database_replica;      /* TOKEND_DATABASE_REPLICA, unset */
    const char *listen;                /* TOKEND_LISTEN, 127.0.0.1:9000 */
    const char *secret_key;            /* TOKEND_SECRET_KEY (text), else the key file */
    const char *secret_key_file;       /* TOKEND_SECRET_KEY_FILE, <database file>.secret */
    const char *bootstrap_token;       /* TOKEND_BOOTSTRAP_TOKEN or AUTHENTIK_BOOTSTRAP_TOKEN */
    unsigned threads;                  /* TOKEND_THREADS, number of cores */
    const char *avatars;               /* TOKEND_AVATARS, "initials" */
    int64_t default_token_duration_us; /* TOKEND_DEFAULT_TOKEN_DURATION, minutes=30 */
    const char *default_token_duration;
    unsigned key_length;          /* TOKEND_KEY_LENGTH, 60 */
    unsigned max_tokens_per_user; /* TOKEND_MAX_TOKENS_PER_USER, 10000 (0: no limit) */
    const char *event_retention;  /* TOKEND_EVENT_RETENTION, days=365 */
    int64_t event_retention_us;
    const char *sweep_interval; /* TOKEND_SWEEP_INTERVAL, minutes=5 */
    int64_t sweep_interval_us;
    enum tk_view_mode view_key;   /* TOKEND_VIEW_KEY, always (docs/api.md §19.4) */
    const char *rotate_grace_max; /* TOKEND_ROTATE_GRACE_MAX, days=7 */
    int64_t rotate_grace_max_us;
    const char *reuse_window; /* TOKEND_REUSE_WINDOW, days=30 */
    int64_t reuse_window_us;
    const char *usage_flush; /* TOKEND_USAGE_FLUSH, seconds=10 */
    const char *pg_caches;   /* TOKEND_PG_CACHES, strict or notified (docs/api.md §20.1) */
    int64_t usage_flush_us;
    unsigned max_connections;      /* TOKEND_MAX_CONNECTIONS */
    unsigned auth_failure_burst;   /* TOKEND_AUTH_FAILURE_BURST, 1000 (0: off) */
    unsigned auth_failure_rate;    /* TOKEND_AUTH_FAILURE_RATE, 100 per second */
    unsigned connection_timeout_s; /* TOKEND_CONNECTION_TIMEOUT */
    unsigned statement_timeout_ms; /* TOKEND_STATEMENT_TIMEOUT (seconds), 10 s, 0: none */
    enum tk_log_level log_level;   /* TOKEND_LOG_LEVEL, info */
    enum tk_log_format log_format; /* TOKEND_LOG_FORMAT, json */
    const char *log_file;          /* TOKEND_LOG_FILE, NULL: stderr */
    const char *metrics_listen;    /* TOKEND_METRICS_LISTEN, 127.0.0.1:9300, NULL: off */

    unsigned max_connections_per_ip; /* TOKEND_MAX_CONNECTIONS_PER_IP, 256 (0: none) */
    unsigned request_timeout_s;      /* TOKEND_REQUEST_TIMEOUT, 30 */
    const char *trusted_proxies;     /* TOKEND_TRUSTED_PROXIES, NULL: none */
    const char *expiry_notices;      /* TOKEND_EXPIRY_NOTICES, days=7,days=1 */
    size_t n_expiry_notices;         /* its durations, longest first, without repeats */
    int64_t expiry_notices_us[TK_WEBHOOK_NOTICES_MAX];
    char expiry_notice_text[TK_WEBHOOK_NOTICES_MAX][TK_WEBHOOK_NOTICE_TEXT_MAX];
    const char *expiry_notice_texts[TK_WEBHOOK_NOTICES_MAX];
    bool webhook_allow_private; /* TOKEND_WEBHOOK_ALLOW_PRIVATE, false */

    char secret_file_buf[4096];
    /* Each setting's text as given and where it came from, by index into tk_settings_doc
     * (tokend config). */
    const char *given[TK_SETTINGS_MAX];
    unsigned char source[TK_SETTINGS_MAX]; /* enum tk_setting_source */
};

/* One setting's description, for --help and README. */
struct tk_setting_doc {
    const char *env, *flag, *def, *help;
};
extern const struct tk_setting_doc tk_settings_doc[];

/* Reads the environment into c. On an invalid value returns TK_ERR_INVALID with one line in
 * err naming the setting. */
int tk_config_from_env(struct tk_config *c, char *err, size_t err_len) TK_MUST_USE;
/* Applies a "--flag=value" or "--flag value" option; *used is 1 or 2 arguments consumed, 0 if
 * argv[0] is not a setting flag. */
int tk_config_flag(struct tk_config *c, int argc, char **argv, int *used, char *err,
                   size_t err_len) TK_MUST_USE;
/* Checks and derives values after env and flags. */
int tk_config_finish(struct tk_config *c, char *err, size_t err_len) TK_MUST_USE;
/* The server secret is loaded against the database: tk_cli_secret (cli/cli.h). */

/* The effective value of setting tk_settings_doc[i] after env, flags and tk_config_finish, for
 * display: secrets (settings named *_KEY, *_TOKEN, *_PASSWORD) are "****", a password inside a
 * database URL or libpq string is masked (tk_config_mask_url). Returns NULL when the setting is
 * unset, else buf (truncated to len). Works for every row of the table: a setting this function
 * has no rule for shows the text it was given, or its documented default. */
const char *tk_config_show(const struct tk_config *c, size_t i, char *buf, size_t len);
/* Copies s into buf (at most len bytes, NUL-terminated) with the password of a
 * "scheme://user:password@host" URL, and any password=VALUE (URL query or libpq keyword,
 * quoted or not), replaced by "****". */
void tk_config_mask_url(const char *s, char *buf, size_t len);
/* The name of a source: "default", "environment", "flag" or "derived" (a default computed from
 * other settings, such as the secret file beside the database). */
const char *tk_config_source_name(const struct tk_config *c, size_t i);

#endif
