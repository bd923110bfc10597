/* Whole-file operations on a SQLite database, beside the store: the lock every tokend process
 * holds on <db>.lock, an online backup that runs while a server writes, and an atomic restore.
 * Knows nothing of the schema beyond "schema_migrations exists"; never used for PostgreSQL. */
#ifndef TK_STORE_SQLITE_FILE_H
#define TK_STORE_SQLITE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Takes flock() on "<db_path>.lock" (created 0600 when missing, never removed): shared for every
 * process that uses the database (serve and the commands), exclusive for restore. Non-blocking:
 * TK_ERR_BUSY when another process holds a conflicting lock; TK_ERR_IO (reason in err) when the
 * file cannot be opened. On success *fd_out holds the lock until tk_sqlite_unlock or the process
 * ends (the kernel drops it on any exit, SIGKILL included, so it is never stale). */
int tk_sqlite_lock(const char *db_path, bool exclusive, int *fd_out, char *err,
                   size_t err_len) TK_MUST_USE;
/* Releases a lock from tk_sqlite_lock; accepts -1. */
void tk_sqlite_unlock(int fd);

/* Creates db_path as an empty file with mode 0600 when it does not exist yet, so the database
 * (sealed keys, key hashes, the audit log) is never readable by others, whatever the umask;
 * SQLite gives the -wal and -shm files the database file's mode. An existing file, ":memory:",
 * "" and "file:" URIs are left alone; other failures are left to SQLite's open to report. */
void tk_sqlite_create_private(const char *db_path);

/* Copies the database at db_path to dest while other connections keep writing: one read
 * transaction (a consistent snapshot that, under WAL, blocks no writer) and
 * sqlite3_backup_step in chunks, retried while the database is busy or locked. The copy is
 * written to a 0600 temporary file in dest's directory, checked with PRAGMA integrity_check,
 * fsynced and renamed to dest. An existing dest is refused (TK_ERR_CONFLICT) unless force; dest
 * may not be a directory or the database itself (TK_ERR_INVALID). *bytes_out receives the
 * copy's size. On failure nothing is left behind and err holds one line. */
int tk_sqlite_backup(const char *db_path, const char *dest, bool force, int64_t *bytes_out,
                     char *err, size_t err_len) TK_MUST_USE;

/* Replaces the database at db_path with the backup src. The caller holds the exclusive lock.
 * src is copied to a temporary file beside the database and checked there (a SQLite file,
 * integrity_check ok, a schema_migrations table no newer than this binary's migrations:
 * TK_ERR_INVALID otherwise); the current database, if any, is checkpointed so its -wal and
 * -shm files hold nothing and are removed; then the copy is fsynced and renamed over db_path.
 * check (may be NULL) is called with the checked copy's path before anything of the current
 * database is touched: non-zero (with one line in err) refuses the restore. On failure the
 * current database is unchanged and err holds one line. */
typedef int (*tk_sqlite_restore_check)(const char *copy_path, void *ctx, char *err, size_t err_len);
int tk_sqlite_restore(const char *src, const char *db_path, tk_sqlite_restore_check check,
                      void *check_ctx, char *err, size_t err_len) TK_MUST_USE;

#endif
