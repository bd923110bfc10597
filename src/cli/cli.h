/* The command line beside the server: bootstrap, administration of users, groups and tokens,
 * and the benchmark data set. Works on the configured database with or without a running
 * server (SQLite WAL and busy timeouts make that safe). */
#ifndef TK_CLI_CLI_H
#define TK_CLI_CLI_H

#include <stdio.h>

#include "config.h"
#include "store/store.h"

struct tk_cli {
    const struct tk_config *cfg;
    struct tk_store *store;
    struct tk_secret secret;
};

/* authentik's first-start setup (API.md §14.3): group "authentik Admins", user akadmin in it,
 * token authentik-bootstrap-token. Creates only what is missing; prints a generated key once
 * to out. */
int tk_cli_bootstrap(struct tk_cli *cli, FILE *out) TK_MUST_USE;

/* "user ...", "group ...", "token ..." commands; argv[0] is the noun. Returns an exit code. */
int tk_cli_admin(struct tk_cli *cli, int argc, char **argv);

/* "seed ..." (../shared/bench-dataset.md). Returns an exit code. */
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
