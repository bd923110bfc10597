/* The command line beside the server: bootstrap, administration of users, groups and tokens,
 * and the benchmark data set. Works on the configured database with or without a running
 * server (SQLite WAL and busy timeouts make that safe). */
#ifndef TK_CLI_CLI_H
#define TK_CLI_CLI_H

#include <stdio.h>

#include "config.h"
#include "store/store.h"
#include "util/limits.h"

struct tk_cli {
    const struct tk_config *cfg;
    struct tk_store *store;
    struct tk_secret secret;
};

/* authentik's first-start setup (docs/api.md §14.3): group "authentik Admins", user akadmin in it,
 * token authentik-bootstrap-token. Creates only what is missing; prints a generated key once
 * to out, or, with out NULL, leaves it in res->key for tk_cli_bootstrap_announce (serve prints it
 * last, once it listens). Runs once per database (issue 13.2, a departure from authentik listed in
 * README.md): the setting "bootstrapped" is recorded in the transaction that creates the objects,
 * and once it is set nothing is created again, whatever was deleted or renamed since (*res, which
 * may be NULL, says which happened). Processes starting together on PostgreSQL: exactly one
 * bootstraps. Needs cli->secret from tk_cli_secret, and refuses (TK_ERR_INVALID) when the
 * database meanwhile recorded another secret. */
struct tk_bootstrap_result {
    bool already;  /* bootstrapped before: nothing was created */
    char when[64]; /* then: the recorded value (a time, or how an upgrade counted it) */
    /* out NULL: the key generated now, "" when none was; zeroed by tk_cli_bootstrap_announce */
    char key[TK_KEY_LENGTH_MAX + 1];
};
int tk_cli_bootstrap(struct tk_cli *cli, FILE *out, struct tk_bootstrap_result *res) TK_MUST_USE;
/* Prints res->key as tk_cli_bootstrap would have (nothing when there is none), then, when
 * console_url is not NULL, where the admin console is to sign in with it; zeroes the key. */
void tk_cli_bootstrap_announce(FILE *out, struct tk_bootstrap_result *res, const char *console_url);

/* The server secret of the database behind db (issue 13.3; README "The secret"), from
 * TOKEND_SECRET_KEY (stretched with Argon2id under the salt and costs the database records in
 * its setting secret_kdf, created at first use) or from the file TOKEND_SECRET_KEY_FILE. The
 * database records a check value of the secret (setting secret_check); the secret is refused
 * when it differs from the recorded one, or, for a database made before the check value
 * existed, when the oldest token's sealed key does not open under it, as long as the database
 * holds tokens; a database without tokens takes the secret it is given (and records it). A
 * missing file is created (atomically, 0600) only for a database without tokens. A database
 * whose text secret was derived the old way (one BLAKE2b pass) is re-keyed to Argon2id in one
 * transaction. TK_SECRET_VERIFY checks only: it creates no file, records nothing and re-keys
 * nothing (tokend restore's check of a backup); without a file and without tokens it succeeds
 * with a zeroed *out. On failure err holds one line naming the setting. */
enum tk_secret_mode { TK_SECRET_OPEN, TK_SECRET_VERIFY };
int tk_cli_secret(const struct tk_config *cfg, struct tk_db *db, enum tk_secret_mode mode,
                  struct tk_secret *out, char *err, size_t err_len) TK_MUST_USE;
/* Is s the secret the database records (*same)? false when none is recorded. */
int tk_cli_secret_current(struct tk_db *db, const struct tk_secret *s, bool *same) TK_MUST_USE;

/* "user ...", "group ...", "token ..." commands; argv[0] is the noun. Returns an exit code. */
/* An argument error on the command line: "tokend: <message>" on stderr; returns 2, the exit
 * status for bad input. */
__attribute__((format(printf, 1, 2))) int tk_cli_fail(const char *fmt, ...);
int tk_cli_admin(struct tk_cli *cli, int argc, char **argv);

/* "webhook add|list|remove ..." (docs/api.md §21.5); argv[0] is "webhook". Returns an exit
 * code: 2 for bad input (one line), 1 when the operation failed. */
int tk_cli_webhook(struct tk_cli *cli, int argc, char **argv);

/* "seed ..." (bench/dataset.md). Returns an exit code. */
int tk_cli_seed(struct tk_cli *cli, int argc, char **argv);

/* "config ...": prints the effective configuration; takes setting flags after the command and
 * runs tk_config_finish itself (cfg has the environment applied). Returns an exit code. */
int tk_cli_config(struct tk_config *cfg, int argc, char **argv);

/* "backup [--force] FILE" and "restore [--force] FILE" on the configured SQLite database
 * (store/sqlite_file.h); they open no store. Return an exit code. */
int tk_cli_backup(const struct tk_config *cfg, int argc, char **argv);
int tk_cli_restore(const struct tk_config *cfg, int argc, char **argv);

/* Creates a token with the given key (generated when key is NULL; then written to key_out,
 * which must hold cfg->key_length + 1 bytes). */
int tk_cli_token_create(struct tk_cli *cli, struct tk_db *db, struct tk_token_new *t,
                        const char *key, char *key_out, int64_t now) TK_MUST_USE;

#endif
