"""Secrets at rest and in logs (issue 7 point 5, docs/api.md §17.5): no key issued during a run is in
the database files or the server's log in any form (plain, hex, base64); the secret key file is
created 0600 beside the database and a file readable by others is refused at start."""

import json
import os
import stat
import subprocess

import pytest

from harness import Client, SqliteBackend, Server, key_forms, random_key, tokend_bin


def test_no_key_in_database_or_log(tmp_path):
    backend = SqliteBackend(str(tmp_path))
    server = Server(tmp_path, backend)
    # the file-based secret, as `make run` uses it
    server.secret_key = None
    env = server.env

    def env_no_secret():
        e = env()
        e.pop("TOKEND_SECRET_KEY", None)
        return e

    server.env = env_no_secret
    server.start()
    try:
        keys = [server.bootstrap_key]
        admin = Client(server, token=server.bootstrap_key)
        server.cli("user", "create", "sam")
        keys.append(server.cli("token", "create", "sam-cli", "--user", "sam"))
        keys.append(server.cli("token", "create", "sam-given", "--user", "sam",
                               "--key", "Given-" + random_key(40)))
        r = admin.request("POST", "/api/v3/core/tokens/", body=b'{"identifier": "api-made"}',
                          headers={"Content-Type": "application/json"})
        assert r.status == 201
        keys.append(admin.get("/api/v3/core/tokens/api-made/view_key/").json()["key"])
        new = "set-" + random_key(50)
        r = admin.request("POST", "/api/v3/core/tokens/api-made/set_key/",
                          body=json.dumps({"key": new}).encode(),
                          headers={"Content-Type": "application/json"})
        assert r.status == 204
        keys.append(new)
        r = admin.request("POST", "/api/v3/core/users/service_account/",
                          body=b'{"name": "robot"}', headers={"Content-Type": "application/json"})
        assert r.status == 200
        keys.append(r.json()["token"])
        # every key works, so none of them is a dud that could not be found anyway
        for k in (keys[0], keys[1], keys[4]):
            assert Client(server, token=k).get("/api/v3/core/tokens/").status == 200
    finally:
        server.stop()
    db_files = [backend.path + suffix for suffix in ("", "-wal", "-shm")
                if os.path.exists(backend.path + suffix)]
    assert db_files
    blobs = {p: open(p, "rb").read() for p in db_files}
    blobs["server log"] = server.log_text().encode()
    for key in keys:
        assert len(key) >= 20
        for form in key_forms(key):
            for where, data in blobs.items():
                assert form not in data, f"a key ({form[:12]!r}...) is in {where}"


def test_secret_file_is_0600_and_loose_ones_are_refused(tmp_path):
    db = os.path.join(str(tmp_path), "t.db")
    env = dict(os.environ)
    env.pop("TOKEND_SECRET_KEY", None)
    env.pop("TOKEND_SECRET_KEY_FILE", None)
    env["TOKEND_DATABASE"] = "sqlite:" + db
    p = subprocess.run([tokend_bin(), "migrate"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    secret = db + ".secret"
    mode = stat.S_IMODE(os.stat(secret).st_mode)
    assert mode == 0o600, oct(mode)
    assert len(open(secret).read().strip()) == 64
    for loose in (0o644, 0o640, 0o604, 0o660):
        os.chmod(secret, loose)
        p = subprocess.run([tokend_bin(), "serve"], env=dict(env, TOKEND_LISTEN="127.0.0.1:1"),
                           capture_output=True, timeout=60)
        assert p.returncode != 0
        err = p.stderr.decode()
        assert secret in err and "group or others" in err, err
    os.chmod(secret, 0o600)
    p = subprocess.run([tokend_bin(), "migrate"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_a_changed_secret_is_refused_before_it_touches_a_key(tmp_path):
    """Keys are useless without the server secret, and another secret is not even tried: the
    database records a check value of its secret (issue 13.3), so a command under another one
    stops with one line naming the setting and shows no key (that another secret opens no
    sealed copy is tests/unit/crypto/test_keys.c's)."""
    db = os.path.join(str(tmp_path), "t.db")
    env = dict(os.environ, TOKEND_DATABASE="sqlite:" + db, TOKEND_SECRET_KEY="first secret")
    env.pop("TOKEND_BOOTSTRAP_TOKEN", None)
    run = lambda *a, e=env: subprocess.run([tokend_bin(), *a], env=e, capture_output=True,
                                           timeout=60)
    assert run("migrate").returncode == 0
    assert run("user", "create", "kim").returncode == 0
    key = run("token", "create", "kim-1", "--user", "kim").stdout.decode().strip()
    assert run("token", "view-key", "kim-1").stdout.decode().strip() == key
    other = dict(env, TOKEND_SECRET_KEY="second secret")
    p = run("token", "view-key", "kim-1", e=other)
    assert p.returncode == 1 and key.encode() not in p.stdout + p.stderr
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tokend: TOKEND_SECRET_KEY is not the secret")
    assert run("token", "view-key", "kim-1").stdout.decode().strip() == key
