"""Starting several processes on one PostgreSQL (issue 13 points 2 and 3): a new node without
the secret file, or with another one, refuses to start (one line naming the setting) instead of
writing tokens under a secret no other node has; processes starting together on a fresh
database end with one secret file and exactly one bootstrap."""

import concurrent.futures
import contextlib
import os
import re
import time

from harness import Client
from startup import FileSecretServer, refused_start
from test_scaleout import SharedDb

KEY_LINE = re.compile(r"^[A-Za-z0-9]{60}$", re.M)


@contextlib.contextmanager
def nodes(cluster, tmp_path, secret_files, **kw):
    """File-secret servers (not started) on one fresh database, one per secret file; whatever
    happens they are killed and the database dropped at the end."""
    db = SharedDb(cluster)
    servers = []
    for i, secret in enumerate(secret_files):
        os.makedirs(tmp_path / str(i))
        servers.append(FileSecretServer(tmp_path / str(i), db, secret, **kw))
    try:
        yield servers
    finally:
        for s in servers:
            if s.proc is not None:
                s.proc.kill()
                s.proc.wait()
        db.cleanup()


def test_a_new_node_without_the_secret_file_refuses_to_start(cluster, tmp_path):
    files = [str(tmp_path / "secret-a"), str(tmp_path / "secret-b")]
    with nodes(cluster, tmp_path, files, bootstrap_key="boot-" + "k" * 40) as (a, b):
        a.start()
        rc, lines = refused_start(b)  # b's file does not exist
        assert rc not in (0, None) and len(lines) == 1, (rc, lines)
        assert f"TOKEND_SECRET_KEY_FILE {b.secret_path}" in lines[0]
        assert not os.path.exists(b.secret_path)
        with open(b.secret_path, "w") as f:  # a file, but not the cluster's secret
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(b.secret_path, 0o600)
        rc, lines = refused_start(b)
        assert rc not in (0, None) and len(lines) == 1, (rc, lines)
        assert "is not the secret" in lines[0]
        with open(a.secret_path) as src, open(b.secret_path, "w") as dst:
            dst.write(src.read())
        b.start()
        assert Client(b, a.bootstrap_key).list().status == 200
        b.stop()
        a.stop()


def test_processes_starting_together_share_one_secret_and_bootstrap_once(cluster, tmp_path):
    """Three processes, one secret file path that does not exist yet, no bootstrap key: one
    file is created, exactly one process bootstraps and prints the key it invented, and that
    key works through all three."""
    secret = str(tmp_path / "secret")
    with nodes(cluster, tmp_path, [secret] * 3) as servers:
        for s in servers:
            s.drop_env = {"TOKEND_BOOTSTRAP_TOKEN", "AUTHENTIK_BOOTSTRAP_TOKEN"}
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            list(ex.map(lambda s: s.start(), servers))
        # the key is printed once its process listens, just after the port accepts
        deadline = time.monotonic() + 5
        while True:
            printed = [KEY_LINE.findall(s.log_text()) for s in servers]
            keys = [k for p in printed for k in p]
            if keys or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.2)  # a second key, were one printed, would be there by now
        printed = [KEY_LINE.findall(s.log_text()) for s in servers]
        keys = [k for p in printed for k in p]
        assert len(keys) == 1, printed
        for s in servers:
            r = Client(s, keys[0]).list({"identifier": "authentik-bootstrap-token"})
            assert r.status == 200 and r.json()["pagination"]["count"] == 1
        assert [t for t in os.listdir(tmp_path) if t.startswith("secret")] == ["secret"]
        for s in servers:
            s.stop()
