"""Backups (issue 9 point 5): `tokend backup FILE` copies the SQLite database while the server
writes to it (a consistent copy holding everything acknowledged before it began), `tokend
restore FILE` puts a backup back only while no tokend uses the database, atomically, and every
bad input is refused with one line and loses nothing. These run on SQLite whatever
TOKEND_TEST_BACKEND says (backup and restore are SQLite's; PostgreSQL is refused by name)."""

import hashlib
import http.client
import json
import os
import signal
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

from harness import Client, Server, SqliteBackend, random_key, tokend_bin

TOKENS = "/api/v3/core/tokens/"


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, SqliteBackend(str(tmp_path)))
    try:
        yield s
    finally:
        if s.proc is not None:
            s.stop()


def run(server, *args, env=None):
    e = server.env()
    e.update(env or {})
    p = subprocess.run([tokend_bin(), *args], env=e, capture_output=True, timeout=300)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert "AddressSanitizer" not in err and "runtime error:" not in err, err
    return p.returncode, out, err


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def identifiers(db_path):
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in con.execute("SELECT identifier FROM tokens")}
    finally:
        con.close()


def create(server, ident, key=None):
    body = {"identifier": ident, "expiring": False}
    r = Client(server, server.bootstrap_key).request(
        "POST", TOKENS, body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    assert r.status == 201, r
    return r


class Writer(threading.Thread):
    """Creates tokens one after the other; acked holds (identifier, time of the 201)."""

    def __init__(self, port, key, wid, stop):
        super().__init__(daemon=True)
        self.port, self.key, self.wid, self.stop = port, key, wid, stop
        self.acked = []
        self.errors = []

    def run(self):
        n = 0
        while not self.stop.is_set():
            ident = f"load-{self.wid}-{n}"
            n += 1
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                c.request("POST", TOKENS, body=json.dumps({"identifier": ident}).encode(),
                          headers={"Authorization": "Bearer " + self.key,
                                   "Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status == 201:
                    self.acked.append((ident, time.monotonic()))
                else:
                    self.errors.append(r.status)
            except OSError as e:
                self.errors.append(repr(e))
            finally:
                c.close()


def test_backup_under_write_load_is_consistent_and_complete(server, tmp_path):
    # a few MiB, so the copy takes several steps while the writers go on
    server.cli("seed", "--users", "100", "--groups", "5", "--tokens", "8000")
    server.start()
    stop = threading.Event()
    writers = [Writer(server.port, server.bootstrap_key, w, stop) for w in range(4)]
    for w in writers:
        w.start()
    try:
        time.sleep(1.0)
        began = time.monotonic()
        dest = str(tmp_path / "backup.db")
        rc, out, err = run(server, "backup", dest)
        ended = time.monotonic()
        time.sleep(0.3)
    finally:
        stop.set()
        for w in writers:
            w.join(timeout=60)
    assert rc == 0, err
    assert f"to {dest}" in out and server.secret_key not in out
    assert "note: the backup opens only with the server secret" in out
    assert not any(w.errors for w in writers), [w.errors[:3] for w in writers]
    before = {i for w in writers for i, t in w.acked if t < began}
    after = {i for w in writers for i, t in w.acked if t > ended}
    assert len(before) > 20 and after, "the writers did not overlap the backup"
    got = identifiers(dest)  # opens, passes integrity_check
    assert before <= got, f"{len(before - got)} tokens acknowledged before the backup are missing"
    assert "authentik-bootstrap-token" in got and len(got) >= 8000
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == sorted(
        p for p in os.listdir(tmp_path) if not p.startswith(".backup.db"))  # no temp files left
    server.stop()


def test_restore_refused_while_the_server_runs(server, tmp_path):
    server.start()
    create(server, "kept")
    dest = str(tmp_path / "b.db")
    rc, _, err = run(server, "backup", dest)
    assert rc == 0, err
    create(server, "made-after-backup")
    db = server.backend.path
    inode = os.stat(db).st_ino
    rc, out, err = run(server, "restore", "--force", dest)
    assert rc == 1 and out == ""
    assert err.strip() == (f"tokend: restore: {db} is in use by a running tokend (it holds "
                           f"{db}.lock); stop the server first")
    assert os.stat(db).st_ino == inode
    r = Client(server, server.bootstrap_key).get(TOKENS + "made-after-backup/")
    assert r.status == 200
    # an admin command holds the lock too while it runs; after it the lock is free again
    server.stop()
    rc, out, err = run(server, "restore", "--force", dest)
    assert rc == 0, err


def test_restore_when_stopped_serves_the_restored_data(server, tmp_path):
    server.start()
    admin = Client(server, server.bootstrap_key)
    create(server, "from-backup")
    key = admin.get(TOKENS + "from-backup/view_key/").json()["key"]
    dest = str(tmp_path / "b.db")
    rc, out, err = run(server, "backup", dest)
    assert rc == 0, err
    create(server, "lost-by-restore")
    server.stop()
    rc, out, err = run(server, "restore", dest)
    assert rc == 1 and "exists (--force replaces it)" in err
    rc, out, err = run(server, "restore", "--force", dest)
    assert rc == 0, err
    assert out.splitlines()[0] == f"restored {dest} into {server.backend.path}"
    assert "the restored database opens only with the server secret" in out
    assert stat.S_IMODE(os.stat(server.backend.path).st_mode) == 0o600
    server.start()
    assert admin.get(TOKENS + "from-backup/").status == 200
    assert admin.get(TOKENS + "lost-by-restore/").status == 404
    # the restored key still authenticates: the same secret opens it
    assert admin.get(TOKENS + "from-backup/view_key/").json()["key"] == key
    assert Client(server, key).get("/api/v3/core/users/me/").status == 200
    server.stop()


def test_restore_after_a_crash_drops_the_stale_wal(server, tmp_path):
    """A server killed with SIGKILL leaves a -wal full of committed transactions of the old
    database; replayed into the restored file it would corrupt it."""
    server.start()
    create(server, "in-backup")
    dest = str(tmp_path / "b.db")
    assert run(server, "backup", dest)[0] == 0
    for i in range(20):
        create(server, f"in-wal-{i}")
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    server._log.close()
    db = server.backend.path
    assert os.path.getsize(db + "-wal") > 0
    rc, out, err = run(server, "restore", "--force", dest)
    assert rc == 0, err
    assert not os.path.exists(db + "-wal") and not os.path.exists(db + "-shm")
    got = identifiers(db)
    assert "in-backup" in got and not any(i.startswith("in-wal-") for i in got)
    server.start()
    assert Client(server, server.bootstrap_key).get(TOKENS + "in-backup/").status == 200
    server.stop()


@pytest.fixture
def stopped(server, tmp_path):
    """A database with one token, a backup of it, and the server stopped."""
    server.start()
    create(server, "precious")
    backup = str(tmp_path / "good.db")
    assert run(server, "backup", backup)[0] == 0
    server.stop()
    return server, backup


def check_nothing_lost(server, db_digest):
    assert digest(server.backend.path) == db_digest
    assert "precious" in identifiers(server.backend.path)


@pytest.mark.parametrize("args,status,message", [
    (["backup"], 2, "tokend: backup needs a FILE"),
    (["restore"], 2, "tokend: restore needs a FILE"),
    (["backup", "a.db", "b.db"], 2, 'tokend: backup: unexpected argument "b.db"'),
    (["restore", "--overwrite", "a.db"], 2, "tokend: restore: unknown option --overwrite"),
])
def test_bad_arguments_exit_2_with_usage(stopped, args, status, message):
    server, _ = stopped
    d = digest(server.backend.path)
    rc, out, err = run(server, *args)
    assert rc == status and out == ""
    assert err.splitlines()[0] == message
    assert "usage: tokend [SETTINGS] " + args[0] in err
    check_nothing_lost(server, d)


def test_help(tmp_path):
    for cmd in ("backup", "restore"):
        p = subprocess.run([tokend_bin(), cmd, "--help"], capture_output=True, timeout=60,
                           env=dict(os.environ, TOKEND_DATABASE="sqlite:" + str(tmp_path / "x")))
        assert p.returncode == 0 and p.stdout.decode().startswith(f"usage: tokend [SETTINGS] {cmd}")
        assert not os.path.exists(tmp_path / "x")


def test_restore_bad_files_lose_nothing(stopped, tmp_path):
    server, backup = stopped
    db = server.backend.path
    d = digest(db)
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database\n" * 10)
    foreign = str(tmp_path / "foreign.db")
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    corrupt = tmp_path / "corrupt.db"
    data = bytearray(open(backup, "rb").read())
    data[4096 * 3:4096 * 6] = os.urandom(4096 * 3)
    corrupt.write_bytes(bytes(data))
    cases = [
        (str(tmp_path / "missing.db"), "missing.db: No such file or directory"),
        (str(not_sqlite), "notes.txt is not a SQLite database"),
        (foreign, "foreign.db is not a tokend database (no schema_migrations table)"),
        (str(corrupt), "corrupt.db"),
        (str(tmp_path), "is not a regular file"),
    ]
    for path, message in cases:
        rc, out, err = run(server, "restore", "--force", path)
        assert rc == 1 and out == "", (path, rc, out, err)
        assert len(err.splitlines()) == 1 and err.startswith("tokend: restore: "), err
        assert message in err, err
        check_nothing_lost(server, d)
        leftovers = [p for p in os.listdir(os.path.dirname(db)) if ".restore-" in p]
        assert leftovers == []
    # existing database without --force
    rc, out, err = run(server, "restore", backup)
    assert rc == 1 and err.strip() == f"tokend: restore: database {db} exists (--force replaces it)"
    check_nothing_lost(server, d)


def test_backup_bad_targets_lose_nothing(stopped, tmp_path):
    server, backup = stopped
    db = server.backend.path
    d = digest(db)
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"keep me")
    rc, out, err = run(server, "backup", str(existing))
    assert rc == 1 and out == ""
    assert err.strip() == f"tokend: backup: {existing} exists (--force replaces it)"
    assert existing.read_bytes() == b"keep me"
    rc, out, err = run(server, "backup", str(tmp_path))
    assert rc == 1 and "is a directory" in err
    rc, out, err = run(server, "backup", "--force", db)
    assert rc == 1 and err.strip() == f"tokend: backup: {db} is the database itself"
    rc, out, err = run(server, "backup", str(tmp_path / "no-such-dir" / "b.db"))
    assert rc == 1 and "cannot create a file beside" in err and len(err.splitlines()) == 1
    check_nothing_lost(server, d)
    # --force replaces the existing file with a real backup
    rc, out, err = run(server, "backup", "--force", str(existing))
    assert rc == 0, err
    assert "precious" in identifiers(str(existing))
    check_nothing_lost(server, d)


def test_backup_of_a_missing_database_creates_nothing(tmp_path):
    db = str(tmp_path / "none.db")
    p = subprocess.run([tokend_bin(), "backup", str(tmp_path / "b.db")], capture_output=True,
                       timeout=60, env=dict(os.environ, TOKEND_DATABASE="sqlite:" + db))
    assert p.returncode == 1
    assert p.stderr.decode().strip() == f"tokend: backup: database {db}: No such file or directory"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("cmd,tool", [("backup", "pg_dump"), ("restore", "pg_restore")])
def test_postgres_is_refused_with_the_right_tool(tmp_path, cmd, tool):
    f = tmp_path / "b.db"
    f.write_bytes(b"x")
    env = dict(os.environ, TOKEND_DATABASE="postgres://tokend:pw@127.0.0.1:1/tokend",
               TOKEND_SECRET_KEY="s")
    p = subprocess.run([tokend_bin(), cmd, "--force", str(f)], capture_output=True, timeout=60,
                       env=env)
    err = p.stderr.decode()
    assert p.returncode == 1 and p.stdout == b""
    assert len(err.splitlines()) == 1 and tool in err and "PostgreSQL" in err
    assert f.read_bytes() == b"x"


def test_a_server_does_not_start_during_a_restore(server, tmp_path):
    """The restore's exclusive lock keeps servers and commands off the database meanwhile."""
    server.cli("migrate")
    db = server.backend.path
    import fcntl
    with open(db + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running restore holds
        rc, out, err = run(server, "token", "list")
        assert rc == 1
        assert err.strip() == (f"tokend: {db} is being restored ({db}.lock is held); try again "
                               "after")
        rc, out, err = run(server, "serve", env={"TOKEND_LISTEN": "127.0.0.1:0"})
        assert rc == 1 and "is being restored" in err


def test_restore_into_a_new_database_needs_no_force(stopped, tmp_path):
    server, backup = stopped
    fresh = tmp_path / "elsewhere"
    fresh.mkdir()
    db = str(fresh / "restored.db")
    env = {"TOKEND_DATABASE": "sqlite:" + db}
    rc, out, err = run(server, "restore", backup, env=env)
    assert rc == 0, err
    assert sorted(os.listdir(fresh)) == ["restored.db", "restored.db.lock"]  # no temp files
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert "precious" in identifiers(db)
    rc, out, err = run(server, "token", "list", env=env)
    assert rc == 0 and "precious" in out, err


def test_restore_without_the_backups_secret_is_refused(tmp_path):
    """A restore on a new host (issue 13.3): the backup's tokens open only under their secret,
    so a restore without that secret file, or with another one, is refused with one line naming
    the setting before anything is replaced or created; with it, the restore goes through."""
    from startup import FileSecretServer
    old = tmp_path / "old"
    old.mkdir()
    s = FileSecretServer(old, SqliteBackend(str(old)))  # the default <database>.secret
    s.start()
    key = s.cli("token", "create", "kept", "--user", "akadmin", "--expiring", "false")
    backup = str(tmp_path / "b.db")
    assert run(s, "backup", backup)[0] == 0
    s.stop()
    new = tmp_path / "new"
    new.mkdir()
    db = str(new / "t.db")
    env = {"TOKEND_DATABASE": "sqlite:" + db}
    rc, out, err = run(s, "restore", backup, env=env)
    assert rc == 1 and out == ""
    assert err.splitlines() == [err.strip()] and f"TOKEND_SECRET_KEY_FILE {db}.secret" in err
    assert "does not exist" in err
    assert os.listdir(new) == ["t.db.lock"]  # no database, no secret file, no temporary file
    with open(db + ".secret", "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(db + ".secret", 0o600)
    rc, out, err = run(s, "restore", backup, env=env)
    assert rc == 1 and f"TOKEND_SECRET_KEY_FILE {db}.secret is not the secret" in err, err
    assert sorted(os.listdir(new)) == ["t.db.lock", "t.db.secret"]
    os.replace(s.secret_path, db + ".secret")
    rc, out, err = run(s, "restore", backup, env=env)
    assert rc == 0, err
    rc, out, err = run(s, "token", "view-key", "kept", env=env)
    assert rc == 0 and out.strip() == key, err


def test_restore_under_another_text_secret_is_refused(stopped):
    server, backup = stopped
    before = digest(server.backend.path)
    other = "other-" + random_key(20)
    rc, out, err = run(server, "restore", "--force", backup, env={"TOKEND_SECRET_KEY": other})
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert err.startswith("tokend: restore: TOKEND_SECRET_KEY is not the secret"), err
    assert other not in err and server.secret_key not in err
    assert digest(server.backend.path) == before
    rc, out, err = run(server, "restore", "--force", backup)
    assert rc == 0, err
