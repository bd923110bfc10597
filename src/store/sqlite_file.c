/* Whole-file operations on a SQLite database (sqlite_file.h): lock, online backup, restore.
 * Every file this writes is created 0600 (the database holds sealed keys) and reaches its
 * final name only by rename(), after fsync, so a crash leaves the old file or the new one. */
#include "store/sqlite_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/migrations.h"
#include "util/time.h"

/* checksrc: allow tuning of the online backup, not a limit */
#define BACKUP_PAGES_PER_STEP 1024 /* 4 MiB at 4 KiB pages: other connections run between */
#define BUSY_RETRY_MS 20
#define BUSY_GIVE_UP_MS 60000 /* busy this long without progress: fail */
#define SOURCE_BUSY_TIMEOUT_MS 5000
#define COPY_CHUNK 65536 /* checksrc: allow one read(2) of a file copy, not a limit */

int tk_sqlite_lock(const char *db_path, bool exclusive, int *fd_out, char *err, size_t err_len)
{
    char path[PATH_MAX];
    *fd_out = -1;
    if ((size_t)snprintf(path, sizeof(path), "%s.lock", db_path) >= sizeof(path)) {
        snprintf(err, err_len, "database path %s is too long", db_path);
        return TK_ERR_INVALID;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open the lock file %s: %s", path, strerror(errno));
        return TK_ERR_IO;
    }
    if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, err_len, "%s is held by another process", path);
        if (e == EWOULDBLOCK || e == EINTR)
            return TK_ERR_BUSY;
        snprintf(err, err_len, "cannot lock %s: %s", path, strerror(e));
        return TK_ERR_IO;
    }
    *fd_out = fd;
    return 0;
}

void tk_sqlite_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* drops the flock */
}

void tk_sqlite_create_private(const char *db_path)
{
    if (*db_path == '\0' || strcmp(db_path, ":memory:") == 0 || strncmp(db_path, "file:", 5) == 0)
        return;
    int fd = open(db_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
}

/* ---- helpers ---- */

/* "dir/.base.what-XXXXXX" beside path, created 0600 by mkstemp; returns the fd or -1. */
static int temp_beside(const char *path, const char *what, char *tmp, size_t tmp_len)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    if ((size_t)snprintf(tmp, tmp_len, "%.*s.%s.%s-XXXXXX", dir_len, path, base, what) >= tmp_len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkostemp(tmp, O_CLOEXEC);
}

/* Removes a temporary database and the journals SQLite may have made beside it. */
static void remove_db_files(const char *path)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

/* fsync of the directory holding path, so a rename into it survives a crash. */
static int sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Runs PRAGMA integrity_check; 0 when it answers "ok", else its first line in err. */
static int integrity_ok(sqlite3 *db, const char *name, char *err, size_t err_len)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        snprintf(err, err_len, "%s: %s", name, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return TK_ERR_INVALID;
    }
    const char *r = (const char *)sqlite3_column_text(st, 0);
    if (r == NULL || strcmp(r, "ok") != 0) {
        /* the report is multi-line: its first line is enough for a one-line error */
        const char *line = r ? r : "(null)";
        int n = (int)strcspn(line, "\n");
        if (strncmp(line, "*** in database main ***", (size_t)n) == 0 && line[n] == '\n') {
            line += n + 1;
            n = (int)strcspn(line, "\n");
        }
        snprintf(err, err_len, "%s fails PRAGMA integrity_check: %.*s%s", name, n, line,
                 line[n] ? " ..." : "");
        sqlite3_finalize(st);
        return TK_ERR_INVALID;
    }
    sqlite3_finalize(st);
    return 0;
}

/* ---- backup ---- */

/* The copy itself: src_path's snapshot into the empty file tmp. */
static int copy_online(const char *src_path, const char *tmp, char *err, size_t err_len)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b = NULL;
    int ret = TK_ERR_STORE;
    int rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot open the database %s: %s", src_path,
                 src ? sqlite3_errmsg(src) : "out of memory");
        goto close;
    }
    sqlite3_busy_timeout(src, SOURCE_BUSY_TIMEOUT_MS);
    /* One read transaction for the whole copy: every step reads the same snapshot, so writers
     * (which WAL lets go on) neither block the copy nor make it start over. */
    rc = sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_master;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot read the database %s: %s", src_path, sqlite3_errmsg(src));
        goto close;
    }
    rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot open %s: %s", tmp,
                 dst ? sqlite3_errmsg(dst) : "out of memory");
        goto close;
    }
    b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL) {
        snprintf(err, err_len, "cannot start the backup: %s", sqlite3_errmsg(dst));
        goto close;
    }
    int64_t busy_since = 0;
    for (;;) {
        rc = sqlite3_backup_step(b, BACKUP_PAGES_PER_STEP);
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_OK) {
            busy_since = 0;
            continue;
        }
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            if (busy_since == 0)
                busy_since = tk_mono_ms();
            else if (tk_mono_ms() - busy_since > BUSY_GIVE_UP_MS)
                break;
            sqlite3_sleep(BUSY_RETRY_MS);
            continue;
        }
        break;
    }
    int frc = sqlite3_backup_finish(b);
    b = NULL;
    if (rc != SQLITE_DONE || frc != SQLITE_OK) {
        snprintf(err, err_len, "the backup failed: %s",
                 rc == SQLITE_BUSY || rc == SQLITE_LOCKED
                     ? "the database stayed locked for 60 s"
                     : sqlite3_errstr(rc != SQLITE_DONE ? rc : frc));
        goto close;
    }
    sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    ret = integrity_ok(dst, "the copy", err, err_len);
close:
    sqlite3_close_v2(dst);
    sqlite3_close_v2(src);
    return ret;
}

int tk_sqlite_backup(const char *db_path, const char *dest, bool force, int64_t *bytes_out,
                     char *err, size_t err_len)
{
    struct stat db_st, st;
    *bytes_out = 0;
    if (stat(db_path, &db_st) != 0) {
        snprintf(err, err_len, "database %s: %s", db_path, strerror(errno));
        return TK_ERR_NOTFOUND;
    }
    if (stat(dest, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, err_len, "%s is a directory (give a file name)", dest);
            return TK_ERR_INVALID;
        }
        if (st.st_dev == db_st.st_dev && st.st_ino == db_st.st_ino) {
            snprintf(err, err_len, "%s is the database itself", dest);
            return TK_ERR_INVALID;
        }
        if (!force) {
            snprintf(err, err_len, "%s exists (--force replaces it)", dest);
            return TK_ERR_CONFLICT;
        }
    } else if (errno != ENOENT) {
        snprintf(err, err_len, "%s: %s", dest, strerror(errno));
        return TK_ERR_IO;
    }
    char tmp[PATH_MAX];
    int fd = temp_beside(dest, "tmp", tmp, sizeof(tmp));
    if (fd < 0) {
        snprintf(err, err_len, "cannot create a file beside %s: %s", dest, strerror(errno));
        return TK_ERR_IO;
    }
    int rc = copy_online(db_path, tmp, err, err_len);
    if (rc == 0 && (fsync(fd) != 0 || fstat(fd, &st) != 0)) {
        snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        rc = TK_ERR_IO;
    }
    close(fd);
    if (rc == 0) {
        /* without --force, link() refuses a dest that appeared meanwhile */
        int mv = force ? rename(tmp, dest) : link(tmp, dest);
        if (mv != 0) {
            int e = errno;
            snprintf(err, err_len, "cannot create %s: %s", dest,
                     e == EEXIST ? "it exists (--force replaces it)" : strerror(e));
            rc = e == EEXIST ? TK_ERR_CONFLICT : TK_ERR_IO;
        } else if (!force) {
            unlink(tmp);
        }
        if (rc == 0)
            sync_dir_of(dest);
    }
    if (rc != 0) {
        remove_db_files(tmp);
        return rc;
    }
    remove_db_files(tmp); /* only journals remain under that name now */
    *bytes_out = (int64_t)st.st_size;
    return 0;
}

/* ---- restore ---- */

static int copy_file(int in, int out)
{
    char buf[COPY_CHUNK];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return fsync(out);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -1;
            off += w;
        }
    }
}

/* Is the copy at tmp a tokend database this binary can run? */
static int verify_copy(const char *tmp, const char *src, char *err, size_t err_len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ret = TK_ERR_INVALID;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot open %s: %s", src, db ? sqlite3_errmsg(db) : "no memory");
        goto close;
    }
    if (integrity_ok(db, src, err, err_len) != 0)
        goto close;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, err_len, "%s is not a tokend database (no schema_migrations table)", src);
        goto close;
    }
    int64_t version = sqlite3_column_int64(st, 0);
    unsigned latest = tk_migrations_sqlite[tk_n_migrations_sqlite - 1].version;
    if (version < 1) {
        snprintf(err, err_len, "%s is not a tokend database (no migration applied)", src);
        goto close;
    }
    if (version > (int64_t)latest) {
        snprintf(err, err_len,
                 "%s has schema version %lld, newer than this tokend's %u: restore it with the "
                 "tokend that made it",
                 src, (long long)version, latest);
        goto close;
    }
    ret = 0;
close:
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    return ret;
}

/* Folds the current database's WAL into it, so its -wal and -shm can go without losing a
 * committed transaction (a stale WAL beside the restored file would be replayed into it). */
static int retire_current(const char *db_path, char *err, size_t err_len)
{
    struct stat st;
    if (stat(db_path, &st) != 0)
        return 0; /* no current database */
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int ret = TK_ERR_STORE;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 0)
        ret = 0;
    if (ret != 0)
        snprintf(err, err_len,
                 "cannot checkpoint the current database %s (%s): move it and its -wal and -shm "
                 "files away, then restore again",
                 db_path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_finalize(s);
    sqlite3_close_v2(db);
    if (ret != 0)
        return ret;
    char p[PATH_MAX + 8];
    static const char *const suffixes[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s%s", db_path, suffixes[i]);
        if (unlink(p) != 0 && errno != ENOENT) {
            snprintf(err, err_len, "cannot remove %s: %s", p, strerror(errno));
            return TK_ERR_IO;
        }
    }
    return 0;
}

int tk_sqlite_restore(const char *src, const char *db_path, tk_sqlite_restore_check check,
                      void *check_ctx, char *err, size_t err_len)
{
    static const char magic[16] = "SQLite format 3";
    char head[16];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, err_len, "%s: %s", src, strerror(errno));
        return errno == ENOENT ? TK_ERR_NOTFOUND : TK_ERR_IO;
    }
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s is not a regular file", src);
        close(in);
        return TK_ERR_INVALID;
    }
    if (pread(in, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
        memcmp(head, magic, sizeof(magic)) != 0) {
        snprintf(err, err_len, "%s is not a SQLite database", src);
        close(in);
        return TK_ERR_INVALID;
    }
    char tmp[PATH_MAX];
    int out = temp_beside(db_path, "restore", tmp, sizeof(tmp));
    if (out < 0) {
        snprintf(err, err_len, "cannot create a file beside %s: %s", db_path, strerror(errno));
        close(in);
        return TK_ERR_IO;
    }
    int rc = 0;
    if (copy_file(in, out) != 0) {
        snprintf(err, err_len, "cannot copy %s to %s: %s", src, tmp, strerror(errno));
        rc = TK_ERR_IO;
    }
    close(in);
    if (rc == 0)
        rc = verify_copy(tmp, src, err, err_len);
    if (rc == 0 && check != NULL)
        rc = check(tmp, check_ctx, err, err_len);
    /* verifying may have opened the copy in WAL mode: whatever it wrote is in the file now */
    if (rc == 0 && fsync(out) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        rc = TK_ERR_IO;
    }
    close(out);
    if (rc == 0)
        rc = retire_current(db_path, err, err_len);
    if (rc == 0 && rename(tmp, db_path) != 0) {
        snprintf(err, err_len, "cannot rename %s to %s: %s", tmp, db_path, strerror(errno));
        rc = TK_ERR_IO;
    }
    if (rc != 0) {
        remove_db_files(tmp);
        return rc;
    }
    remove_db_files(tmp); /* journals of the verification, if any were left */
    sync_dir_of(db_path);
    return 0;
}
