"""Helpers of the start-up tests (test_bootstrap_once.py, test_secret_check.py, test_backup.py,
tests/scaleout): SQL straight on a server's database (SQLite file or PostgreSQL), a server whose
secret is a file, a start that must be refused, and the derivation of text secrets before issue
13 (one BLAKE2b pass, through libsodium as tokend used it), to leave a database as an older
tokend left it."""

import ctypes
import ctypes.util
import hashlib
import os
import socket
import subprocess

from harness import SANITIZER_MARKERS, Server, tokend_bin

REFUSE_TIMEOUT_S = 15  # a refused start answers at once; a start that serves is killed then


def sql(backend, statement):
    """Runs one statement on the backend's database; returns the rows as tuples of text."""
    if backend.name == "sqlite":
        import sqlite3
        con = sqlite3.connect(backend.path, timeout=30)
        try:
            rows = con.execute(statement).fetchall()
            con.commit()
        finally:
            con.close()
        return [tuple(None if v is None else str(v) for v in r) for r in rows]
    p = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                        backend.database_url(), "-c", statement],
                       capture_output=True, text=True, timeout=60, check=True)
    return [tuple(line.split("|")) for line in p.stdout.splitlines() if line]


def blob(backend, data):
    """A bytes literal in the backend's SQL."""
    return f"X'{data.hex()}'" if backend.name == "sqlite" else f"'\\x{data.hex()}'::bytea"


def settings(backend):
    return dict(sql(backend, "SELECT key, value FROM settings"))


class FileSecretServer(Server):
    """A server whose secret is a file: TOKEND_SECRET_KEY_FILE=secret_file, or on SQLite with
    secret_file None the default <database>.secret (as `make run` and the systemd unit use)."""

    def __init__(self, workdir, backend, secret_file=None, **kw):
        super().__init__(workdir, backend, **kw)
        self.secret_file = secret_file
        self.drop_env = set()  # variables left out of the environment

    @property
    def secret_path(self):
        return self.secret_file or self.backend.path + ".secret"

    def env(self):
        e = super().env()
        e.pop("TOKEND_SECRET_KEY", None)
        if self.secret_file:
            e["TOKEND_SECRET_KEY_FILE"] = self.secret_file
        for name in self.drop_env:
            e.pop(name, None)
        return e


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused_start(server, env=None):
    """Runs `tokend serve` as the server would start, expecting it to stop on its own: returns
    (exit status, stderr lines). A process still running after REFUSE_TIMEOUT_S is killed and
    reported as status None (it served: the start was not refused)."""
    e = server.env()
    e.update(env or {})
    e["TOKEND_LISTEN"] = f"127.0.0.1:{_free_port()}"
    e["TOKEND_METRICS_LISTEN"] = f"127.0.0.1:{_free_port()}"
    p = subprocess.Popen([tokend_bin(), "serve"], env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=REFUSE_TIMEOUT_S)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        rc = None
    text = err.decode("utf-8", "replace")
    assert not any(m in text for m in SANITIZER_MARKERS), text
    assert out == b"", out  # nothing printed: no bootstrap key
    return rc, text.splitlines()


def run(server, *args, env=None):
    """`tokend ARGS` with the server's settings: (exit status, stdout, stderr)."""
    e = server.env()
    e.update(env or {})
    p = subprocess.run([tokend_bin(), *args], env=e, capture_output=True, timeout=120)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert not any(m in err for m in SANITIZER_MARKERS), err
    return p.returncode, out, err


# -- text secrets as tokend derived them before issue 13 -----------------------------------------

_SODIUM = None


def _sodium():
    global _SODIUM
    if _SODIUM is None:
        lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
        if lib.sodium_init() < 0:
            raise RuntimeError("sodium_init failed")
        _SODIUM = lib
    return _SODIUM


def _subkey(master, subkey_id):
    out = ctypes.create_string_buffer(32)
    rc = _sodium().crypto_kdf_derive_from_key(out, ctypes.c_size_t(32),
                                              ctypes.c_uint64(subkey_id), b"tokend__", master)
    assert rc == 0
    return out.raw


def legacy_subkeys(text):
    """(lookup, seal) keys of a text secret under the old derivation: master = BLAKE2b-256 of
    the text, subkeys 1 and 2 of libsodium's crypto_kdf under the context "tokend__"."""
    master = hashlib.blake2b(text.encode(), digest_size=32).digest()
    return _subkey(master, 1), _subkey(master, 2)


def key_hash(lookup, key):
    return hashlib.blake2b(key.encode(), digest_size=32, key=lookup).digest()


def seal(seal_key, token_uuid, key):
    """XChaCha20-Poly1305 (IETF) of key with the token's uuid as associated data: nonce || box."""
    nonce = os.urandom(24)
    m = key.encode()
    ad = token_uuid.encode()
    c = ctypes.create_string_buffer(len(m) + 16)
    clen = ctypes.c_ulonglong(0)
    rc = _sodium().crypto_aead_xchacha20poly1305_ietf_encrypt(
        c, ctypes.byref(clen), m, ctypes.c_ulonglong(len(m)), ad, ctypes.c_ulonglong(len(ad)),
        None, nonce, seal_key)
    assert rc == 0
    return nonce + c.raw[:clen.value]


def make_legacy_text_db(backend, text, keys):
    """Rewrites a stopped server's database as tokend wrote it before issue 13 with
    TOKEND_SECRET_KEY=text: every token's key (keys: {identifier: key}, which must name every
    token) hashed and sealed under the old derivation, no check value, no Argon2id parameters."""
    lookup, seal_key = legacy_subkeys(text)
    rows = sql(backend, "SELECT identifier, uuid FROM tokens")
    assert sorted(r[0] for r in rows) == sorted(keys), (rows, sorted(keys))
    for identifier, token_uuid in rows:
        k = keys[identifier]
        sql(backend, f"UPDATE tokens SET key_hash = {blob(backend, key_hash(lookup, k))}, "
                     f"key_sealed = {blob(backend, seal(seal_key, token_uuid, k))} "
                     f"WHERE uuid = '{token_uuid}'")
    sql(backend, "DELETE FROM settings WHERE key IN ('secret_check', 'secret_kdf')")
    return lookup


def stored_hash(backend, identifier):
    """The key hash a token's row holds."""
    f = "hex(key_hash)" if backend.name == "sqlite" else "encode(key_hash, 'hex')"
    return bytes.fromhex(sql(backend, f"SELECT {f} FROM tokens WHERE identifier = '{identifier}'")
                         [0][0])
