"""Keys in memory and on disk (issue 13.8, README "Operating tokend"): the SQLite database file is
created 0600 whatever the umask, and its -wal and -shm files follow its mode; a running tokend is
not dumpable (no core file, no ptrace or /proc/PID/mem for other processes of its user). The
wiping of buffers that held a key is pinned by unit tests (tests/unit/util/test_wipe.c,
tests/unit/http/test_wipe_bodies.c), where freed memory can be looked at."""

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from harness import Client, SqliteBackend, Server, assert_status, random_key, tokend_bin


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_database_files_are_created_0600(tmp_path):
    server = Server(tmp_path, SqliteBackend(str(tmp_path)))
    server.start()
    try:
        admin = Client(server, token=server.bootstrap_key)
        assert_status(admin.request("POST", "/api/v3/core/tokens/",
                                    body=b'{"identifier": "wal-writer"}',
                                    headers={"Content-Type": "application/json"}), 201)
        db = server.backend.path
        for path in (db, db + "-wal", db + "-shm"):
            assert os.path.exists(path), path
            assert mode(path) == 0o600, f"{path}: {oct(mode(path))}"
    finally:
        server.stop()


def test_a_permissive_umask_does_not_loosen_the_database(tmp_path):
    db = tmp_path / "loose.db"
    env = dict(os.environ, TOKEND_DATABASE=f"sqlite:{db}", TOKEND_SECRET_KEY="s")
    p = subprocess.run([tokend_bin(), "migrate"], env=env, capture_output=True, timeout=60,
                       preexec_fn=lambda: os.umask(0))
    assert p.returncode == 0, p.stderr
    assert mode(db) == 0o600, oct(mode(db))


def test_an_existing_database_keeps_its_mode(tmp_path):
    db = tmp_path / "kept.db"
    env = dict(os.environ, TOKEND_DATABASE=f"sqlite:{db}", TOKEND_SECRET_KEY="s")
    assert subprocess.run([tokend_bin(), "migrate"], env=env, timeout=60).returncode == 0
    os.chmod(db, 0o640)  # the operator's choice
    assert subprocess.run([tokend_bin(), "migrate"], env=env, timeout=60).returncode == 0
    assert mode(db) == 0o640


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run tokend as another user")
def test_a_running_server_is_not_dumpable():
    """The files under /proc/PID of a non-dumpable process belong to root, whoever runs it:
    tokend runs as nobody here, and /proc/PID/status must not be nobody's (it is, dumpable)."""
    work = tempfile.mkdtemp(prefix="tokend-dump-")
    os.chmod(work, 0o777)
    port = _free_port()
    env = dict(os.environ, TOKEND_DATABASE=f"sqlite:{work}/t.db", TOKEND_SECRET_KEY="s",
               TOKEND_LISTEN=f"127.0.0.1:{port}", TOKEND_METRICS_LISTEN="off",
               TOKEND_BOOTSTRAP_TOKEN=random_key(), HOME=work)
    log = open(os.path.join(work, "serve.log"), "wb")
    proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             tokend_bin(), "serve"], env=env, cwd=work, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        assert proc.poll() is None, open(os.path.join(work, "serve.log")).read()
        status = open(f"/proc/{proc.pid}/status").read()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids[0] == "65534", status  # really running as nobody
        assert os.stat(f"/proc/{proc.pid}/status").st_uid == 0, "tokend is dumpable"
    finally:
        proc.terminate()
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        log.close()
        text = open(os.path.join(work, "serve.log"), errors="replace").read()
        shutil.rmtree(work, ignore_errors=True)
    assert rc == 0 and "ERROR: " not in text, text[-4000:]
