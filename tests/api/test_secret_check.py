"""A missing or different secret is refused, never silently replaced (issue 13 point 3; README,
"The secret"): the database records a check value of its secret; a start (or a command) with the
secret file gone or another secret exits non-zero with one line naming the setting while the
database holds tokens, and creates no file; a database without tokens takes a new secret; a
text secret (TOKEND_SECRET_KEY) is stretched with Argon2id under a salt and costs the database
keeps; databases from before keep working: their secret is checked through the oldest token's
sealed key, and a text secret's keys are re-keyed from the old derivation. Both stores."""

import os
import re

import pytest

from harness import INVALID_TOKEN, Client, assert_json, make_backend, random_key, served
from startup import (FileSecretServer, key_hash, legacy_subkeys, make_legacy_text_db,
                     refused_start, run, settings, sql, stored_hash)

BOOT = "authentik-bootstrap-token"
KDF_RE = re.compile(r"^\$argon2id\$v=19\$m=65536,t=2,p=1\$[A-Za-z0-9+/]{22}$")


@pytest.fixture
def backend(tmp_path):
    b = make_backend(tmp_path)
    yield b
    b.cleanup()


def file_server(tmp_path, backend, default_path):
    """A started server whose secret is a file: the default <database>.secret (SQLite only) or
    an explicit TOKEND_SECRET_KEY_FILE."""
    if default_path and backend.name != "sqlite":
        pytest.skip("the default secret file is SQLite's (PostgreSQL needs the setting)")
    s = FileSecretServer(tmp_path, backend,
                         None if default_path else os.path.join(str(tmp_path), "secret"))
    s.start()
    return s


def assert_refused(server, setting, env=None):
    """The start exits non-zero with one line naming the setting, and prints no key."""
    rc, lines = refused_start(server, env)
    assert rc not in (0, None), f"the start was not refused (status {rc}): {lines}"
    assert len(lines) == 1, lines
    assert setting in lines[0], lines
    assert server.bootstrap_key not in lines[0]
    return lines[0]


def assert_command_refused(server, setting):
    rc, out, err = run(server, "token", "list")
    assert rc == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tokend: ") and setting in lines[0], err


@pytest.mark.parametrize("default_path", [True, False], ids=["default-file", "setting"])
def test_missing_secret_file_is_refused_and_not_recreated(tmp_path, backend, default_path):
    s = file_server(tmp_path, backend, default_path)
    try:
        s.cli("user", "create", "kim")
        key = s.cli("token", "create", "kim-1", "--user", "kim", "--expiring", "false")
        s.stop()
        path = s.secret_path
        os.rename(path, path + ".saved")
        line = assert_refused(s, f"TOKEND_SECRET_KEY_FILE {path}")
        assert "does not exist" in line
        assert_command_refused(s, f"TOKEND_SECRET_KEY_FILE {path}")
        assert not os.path.exists(path), "a new secret file was created"
        os.rename(path + ".saved", path)
        s.start()
        assert Client(s, key).get("/api/v3/core/users/me/").status == 200
        assert Client(s, s.bootstrap_key).list().status == 200
    finally:
        s.stop()


@pytest.mark.parametrize("default_path", [True, False], ids=["default-file", "setting"])
def test_a_different_secret_file_is_refused(tmp_path, backend, default_path):
    s = file_server(tmp_path, backend, default_path)
    try:
        s.stop()
        path = s.secret_path
        with open(path) as f:
            mine = f.read()
        other = os.urandom(32).hex() + "\n"
        with open(path, "w") as f:
            f.write(other)
        line = assert_refused(s, f"TOKEND_SECRET_KEY_FILE {path}")
        assert "is not the secret" in line
        assert_command_refused(s, f"TOKEND_SECRET_KEY_FILE {path}")
        with open(path) as f:
            assert f.read() == other  # left alone
        with open(path, "w") as f:
            f.write(mine)
        s.start()
        assert Client(s, s.bootstrap_key).list().status == 200
    finally:
        s.stop()


def test_a_database_without_tokens_takes_a_new_secret(tmp_path, backend):
    s = FileSecretServer(tmp_path, backend, os.path.join(str(tmp_path), "secret"))
    try:
        s.cli("migrate")  # creates the file and records its check value; no token yet
        first = settings(backend)["secret_check"]
        os.remove(s.secret_path)
        s.cli("migrate")  # no token: a new secret is fine
        assert os.path.exists(s.secret_path)
        assert settings(backend)["secret_check"] != first
        with open(s.secret_path, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        s.start()  # and a different one too; the start bootstraps under it
        assert Client(s, s.bootstrap_key).list().status == 200
        s.stop()
        os.remove(s.secret_path)  # now the database holds tokens
        assert_refused(s, "TOKEND_SECRET_KEY_FILE")
        assert not os.path.exists(s.secret_path)
    finally:
        s.stop()


def test_text_secret_is_stretched_with_argon2id(tmp_path):
    with served(tmp_path) as s:
        rec = settings(s.backend)
        assert KDF_RE.match(rec["secret_kdf"]), rec
        assert re.fullmatch(r"[0-9a-f]{64}", rec["secret_check"]), rec
        # not the old derivation: the key's hash is not BLAKE2b keyed by BLAKE2b(secret)
        lookup, _ = legacy_subkeys(s.secret_key)
        assert stored_hash(s.backend, BOOT) != key_hash(lookup, s.bootstrap_key)
        admin = Client(s, s.bootstrap_key)
        r = admin.request("POST", "/api/v3/core/tokens/",
                          body=b'{"identifier": "made-by-api", "expiring": false}',
                          headers={"Content-Type": "application/json"})
        assert r.status == 201
        key = admin.get("/api/v3/core/tokens/made-by-api/view_key/").json()["key"]
        # the passphrase is wiped once derived: not in the process's environment block
        with open(f"/proc/{s.proc.pid}/environ", "rb") as f:
            environ = f.read()
        assert b"TOKEND_SECRET_KEY=" in environ and s.secret_key.encode() not in environ
        s.restart()
        assert settings(s.backend)["secret_kdf"] == rec["secret_kdf"]  # made once
        assert Client(s, key).get("/api/v3/core/users/me/").status == 200
        assert admin.get("/api/v3/core/tokens/made-by-api/view_key/").json() == {"key": key}
        s.stop()
        other = "another-" + random_key(30)
        line = assert_refused(s, "TOKEND_SECRET_KEY", env={"TOKEND_SECRET_KEY": other})
        assert other not in line and s.secret_key not in line
        assert_command_refused_text(s, other)
        s.start()


def assert_command_refused_text(server, other):
    rc, out, err = run(server, "token", "view-key", BOOT, env={"TOKEND_SECRET_KEY": other})
    assert rc == 1 and out == "" and server.bootstrap_key not in err
    assert err.startswith("tokend: TOKEND_SECRET_KEY is not the secret"), err
    assert other not in err and server.secret_key not in err


def test_each_database_has_its_own_salt(tmp_path):
    """The same passphrase and key in two databases: different salts, different key hashes
    (a dump's hashes cannot be attacked for several databases at once)."""
    key, secret = random_key(), "shared-" + random_key(20)
    got = []
    for n in ("a", "b"):
        os.makedirs(tmp_path / n)
        with served(tmp_path / n, bootstrap_key=key, secret_key=secret) as s:
            got.append((settings(s.backend)["secret_kdf"], stored_hash(s.backend, BOOT)))
    assert got[0][0] != got[1][0] and got[0][1] != got[1][1]


def test_text_secret_database_from_before_is_rekeyed(tmp_path, backend):
    """A database an older tokend made with TOKEND_SECRET_KEY (keys hashed and sealed under one
    BLAKE2b pass of the text): a wrong text is refused and changes nothing; the right one
    re-keys every token under Argon2id in one go, and every key keeps working."""
    from harness import Server
    s = Server(tmp_path, backend)
    s.start()
    try:
        s.cli("user", "create", "lee")
        lee = "lee-" + random_key(40)
        s.cli("token", "create", "lee-1", "--user", "lee", "--expiring", "false", "--key", lee)
        s.stop()
        lookup = make_legacy_text_db(backend, s.secret_key, {BOOT: s.bootstrap_key, "lee-1": lee})
        old = stored_hash(backend, "lee-1")
        assert old == key_hash(lookup, lee)

        line = assert_refused(s, "TOKEND_SECRET_KEY", env={"TOKEND_SECRET_KEY": "not-it"})
        assert "oldest token" in line
        assert stored_hash(backend, "lee-1") == old and "secret_kdf" not in settings(backend)

        s.start()
        assert "re-keyed" in s.log_text()
        rec = settings(backend)
        assert KDF_RE.match(rec["secret_kdf"]) and "secret_check" in rec
        assert stored_hash(backend, "lee-1") != old
        assert Client(s, lee).get("/api/v3/core/users/me/").status == 200
        admin = Client(s, s.bootstrap_key)
        assert admin.get("/api/v3/core/tokens/lee-1/view_key/").json() == {"key": lee}
        s.restart()  # once: the next start finds the parameters and derives from them
        assert "re-keyed" not in s.log_text()
        assert Client(s, lee).get("/api/v3/core/users/me/").status == 200
        assert_json(Client(s, "not-" + lee).list(), 403, INVALID_TOKEN)
    finally:
        s.stop()


def test_file_secret_database_from_before_gets_its_check_value(tmp_path, backend):
    """A database from before the check value: the secret is checked by opening the oldest
    token's sealed key (only the right secret opens it), then the check value is recorded."""
    s = FileSecretServer(tmp_path, backend, os.path.join(str(tmp_path), "secret"))
    s.start()
    try:
        s.stop()
        sql(backend, "DELETE FROM settings WHERE key = 'secret_check'")
        path = s.secret_path
        os.rename(path, path + ".saved")
        with open(path, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(path, 0o600)
        line = assert_refused(s, f"TOKEND_SECRET_KEY_FILE {path}")
        assert "oldest token" in line
        assert "secret_check" not in settings(backend)
        os.replace(path + ".saved", path)
        s.start()
        assert "secret_check" in settings(backend)
        assert Client(s, s.bootstrap_key).list().status == 200
    finally:
        s.stop()
