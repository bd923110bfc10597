/* Operations commands (cli.h): tokend config (the effective settings, secrets masked), backup
 * and restore of a SQLite database. They run without opening the configured store (restore
 * opens the backup's copy to check the secret); errors are one line on stderr, exit 2 for bad
 * arguments (with the usage), 1 when the operation fails. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "store/db.h"
#include "store/sqlite_file.h"

static const char config_usage[] =
    "usage: tokend [SETTINGS] config [--json] [SETTINGS]\n"
    "  prints the effective configuration (environment, then flags, then derived defaults),\n"
    "  one TOKEND_NAME=value line per setting (\"# TOKEND_NAME is unset\" for unset ones);\n"
    "  secrets and database passwords are shown as ****\n"
    "  --json   an object: {\"TOKEND_NAME\": {\"value\": ..., \"source\": ...}} where source is\n"
    "           default, derived, environment or flag and value is null when unset\n";

static const char backup_usage[] =
    "usage: tokend [SETTINGS] backup [--force] FILE\n"
    "  copies the SQLite database to FILE (mode 0600) while the server keeps running;\n"
    "  an existing FILE is replaced only with --force. The copy is useless without the\n"
    "  server secret (TOKEND_SECRET_KEY_FILE, default <database file>.secret): keep the secret\n"
    "  too, apart from the backups. For PostgreSQL use pg_dump.\n";

static const char restore_usage[] =
    "usage: tokend [SETTINGS] restore [--force] FILE\n"
    "  replaces the configured SQLite database with the backup FILE (checked first);\n"
    "  refused while a tokend server or command uses the database (it holds <database>.lock);\n"
    "  an existing database is replaced only with --force. The restored tokens open only with\n"
    "  the secret they were sealed with: a backup holding tokens is refused unless the\n"
    "  configured secret is theirs. For PostgreSQL use pg_restore or psql.\n";

__attribute__((format(printf, 2, 3))) static int usage_fail(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tokend: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs(usage, stderr);
    return 2;
}

/* ---- config ---- */

/* Shell and systemd EnvironmentFile syntax: bare when safe, else in double quotes. */
static void print_env_value(const char *v)
{
    if (*v != '\0' && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "_.,:/@%+=-*") == strlen(v)) {
        fputs(v, stdout);
        return;
    }
    putchar('"');
    for (; *v; v++) {
        if (strchr("\"\\$`", *v))
            putchar('\\');
        putchar(*v);
    }
    putchar('"');
}

int tk_cli_config(struct tk_config *cfg, int argc, char **argv)
{
    bool json = false;
    char err[512] = "";
    for (int i = 1; i < argc;) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(config_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            i++;
            continue;
        }
        int used = 0;
        if (tk_config_flag(cfg, argc - i, argv + i, &used, err, sizeof(err)) != 0) {
            fprintf(stderr, "tokend: %s\n", err);
            return 2;
        }
        if (used == 0)
            return usage_fail(config_usage, "config: unexpected argument \"%s\"", argv[i]);
        i += used;
    }
    if (tk_config_finish(cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "tokend: %s\n", err);
        return 2;
    }
    char buf[4096];
    json_t *obj = json ? json_object() : NULL;
    if (json && obj == NULL)
        goto nomem;
    for (size_t i = 0; tk_settings_doc[i].env != NULL; i++) {
        const char *env = tk_settings_doc[i].env;
        const char *v = tk_config_show(cfg, i, buf, sizeof(buf));
        if (!json) {
            if (v == NULL) {
                printf("# %s is unset\n", env);
            } else {
                printf("%s=", env);
                print_env_value(v);
                putchar('\n');
            }
            continue;
        }
        json_t *row = json_pack("{s:o,s:s}", "value", v ? json_string(v) : json_null(), "source",
                                tk_config_source_name(cfg, i));
        if (row == NULL || json_object_set_new(obj, env, row) != 0)
            goto nomem;
    }
    if (json) {
        char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(obj);
        if (text == NULL)
            goto nomem_out;
        puts(text);
        free(text);
    }
    return fflush(stdout) == 0 ? 0 : 1;
nomem:
    json_decref(obj);
nomem_out:
    fprintf(stderr, "tokend: out of memory\n");
    return 1;
}

/* ---- backup and restore ---- */

/* The SQLite file behind the configured database; NULL (after one line on stderr) when there is
 * none: PostgreSQL or an in-memory database. */
static const char *sqlite_file(const struct tk_config *cfg, const char *cmd)
{
    if (tk_db_url_is_pg(cfg->database)) {
        if (strcmp(cmd, "backup") == 0)
            fprintf(stderr,
                    "tokend: backup copies SQLite databases; TOKEND_DATABASE is PostgreSQL: back "
                    "it up with pg_dump (e.g. pg_dump -Fc -f tokend.dump DBNAME)\n");
        else
            fprintf(stderr, "tokend: restore writes SQLite databases; TOKEND_DATABASE is "
                            "PostgreSQL: restore a pg_dump with pg_restore (or psql)\n");
        return NULL;
    }
    const char *p = tk_db_sqlite_path(cfg->database);
    if (p == NULL || strcmp(p, ":memory:") == 0) {
        fprintf(stderr, "tokend: %s: TOKEND_DATABASE is an in-memory database\n", cmd);
        return NULL;
    }
    return p;
}

/* [--force] FILE; returns 0, or an exit status after printing the usage. */
static int file_args(int argc, char **argv, const char *usage, bool *force, const char **file)
{
    *force = false;
    *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            *force = true;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return usage_fail(usage, "%s: unknown option %s", argv[0], argv[i]);
        else if (*file != NULL)
            return usage_fail(usage, "%s: unexpected argument \"%s\"", argv[0], argv[i]);
        else
            *file = argv[i];
    }
    if (*file == NULL || **file == '\0')
        return usage_fail(usage, "%s needs a FILE", argv[0]);
    return 0;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* Where the secret that opens the database's keys comes from, for the reminders. */
static void print_secret_note(const struct tk_config *cfg, const char *what)
{
    if (cfg->secret_key != NULL)
        printf("note: %s opens only with the server secret in use now (TOKEND_SECRET_KEY): "
               "keep it, apart from the backups\n",
               what);
    else
        printf("note: %s opens only with the server secret %s: keep a copy of that file, apart "
               "from the backups\n",
               what, cfg->secret_key_file);
}

/* The start both file commands share: --help, FILE [--force], the SQLite database. Returns -1
 * to go on, else the exit status. */
static int file_command(const struct tk_config *cfg, int argc, char **argv, const char *name,
                        const char *usage, bool *force, const char **file, const char **db)
{
    if (wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    int rc = file_args(argc, argv, usage, force, file);
    if (rc)
        return rc;
    *db = sqlite_file(cfg, name);
    return *db == NULL ? 1 : -1;
}

int tk_cli_backup(const struct tk_config *cfg, int argc, char **argv)
{
    bool force;
    const char *file, *db;
    int rc = file_command(cfg, argc, argv, "backup", backup_usage, &force, &file, &db);
    if (rc >= 0)
        return rc;
    char err[1024] = "";
    struct stat st;
    if (stat(db, &st) != 0) {
        fprintf(stderr, "tokend: backup: database %s: %s\n", db, strerror(errno));
        return 1;
    }
    /* shared: a server may run, a restore may not start meanwhile */
    int lock = -1;
    rc = tk_sqlite_lock(db, false, &lock, err, sizeof(err));
    if (rc == TK_ERR_BUSY) {
        fprintf(stderr, "tokend: backup: a restore of %s is running (%s.lock is held)\n", db, db);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "tokend: backup: %s\n", err);
        return 1;
    }
    int64_t bytes = 0;
    rc = tk_sqlite_backup(db, file, force, &bytes, err, sizeof(err));
    tk_sqlite_unlock(lock);
    if (rc) {
        fprintf(stderr, "tokend: backup: %s\n", err);
        return 1;
    }
    printf("backed up %s to %s (%lld bytes)\n", db, file, (long long)bytes);
    print_secret_note(cfg, "the backup");
    return 0;
}

/* restore's check of the backup's copy (tk_sqlite_restore_check): its tokens must open under
 * the configured secret, checked as a start checks it (tk_cli_secret) but writing nothing, so
 * a backup restored on a host without its secret is refused before it replaces anything
 * (issue 13.3) instead of leaving a database no server will start on. */
static int check_secret(const char *copy_path, void *ctx, char *err, size_t err_len)
{
    const struct tk_config *cfg = ctx;
    char url[PATH_MAX + 16];
    snprintf(url, sizeof(url), "sqlite:%s", copy_path);
    struct tk_store *store = NULL;
    struct tk_secret secret;
    int rc = tk_crypto_init();
    if (rc == 0)
        rc = tk_store_open(url, &store, err, err_len);
    struct tk_db *db = rc == 0 ? tk_store_db(store) : NULL;
    if (rc == 0 && db == NULL) {
        snprintf(err, err_len, "cannot open the copy %s", copy_path);
        rc = TK_ERR_IO;
    }
    if (rc == 0)
        rc = tk_cli_secret(cfg, db, TK_SECRET_VERIFY, &secret, err, err_len);
    tk_secret_wipe(&secret);
    tk_store_free(store);
    return rc;
}

int tk_cli_restore(const struct tk_config *cfg, int argc, char **argv)
{
    bool force;
    const char *file, *db;
    int rc = file_command(cfg, argc, argv, "restore", restore_usage, &force, &file, &db);
    if (rc >= 0)
        return rc;
    char err[1024] = "";
    struct stat st;
    if (stat(file, &st) != 0) {
        fprintf(stderr, "tokend: restore: %s: %s\n", file, strerror(errno));
        return 1;
    }
    int lock = -1;
    rc = tk_sqlite_lock(db, true, &lock, err, sizeof(err));
    if (rc == TK_ERR_BUSY) {
        fprintf(stderr,
                "tokend: restore: %s is in use by a running tokend (it holds %s.lock); stop the "
                "server first\n",
                db, db);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "tokend: restore: %s\n", err);
        return 1;
    }
    if (!force && stat(db, &st) == 0) {
        fprintf(stderr, "tokend: restore: database %s exists (--force replaces it)\n", db);
        tk_sqlite_unlock(lock);
        return 1;
    }
    rc = tk_sqlite_restore(file, db, check_secret, (void *)cfg, err, sizeof(err));
    tk_sqlite_unlock(lock);
    if (rc) {
        fprintf(stderr, "tokend: restore: %s\n", err);
        return 1;
    }
    printf("restored %s into %s\n", file, db);
    print_secret_note(cfg, "the restored database");
    return 0;
}
