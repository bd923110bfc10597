"""Black-box harness for tokend's API tests: the store backend, the server process and its admin
command line, a small HTTP client on http.client, a raw-socket client for requests http.client
will not send, and matchers for the few response values a test cannot know in advance.

Tests import this module (not conftest.py, which pytest discourages importing); conftest.py
registers it for assertion rewriting so failures show both sides. Python stdlib + pytest only.
"""

import base64
import contextlib
import html
import http.client
import json
import math
import os
import re
import secrets
import signal
import socket
import string
import subprocess
import time
import urllib.parse
import uuid

import pytest

# Helper modules of the test files, rewritten like this one (conftest registers this module and
# world.py; registering here happens before any test module imports them).
pytest.register_assert_rewrite("tokenapi")
pytest.register_assert_rewrite("schema_check")
import schema_check  # noqa: E402  (after its rewrite registration)

# The debug build of the checkout these tests belong to (make debug), whichever folder it is in.
DEFAULT_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "build", "debug", "tokend")
LIST = "/api/v3/core/tokens/"
LIST_ALLOW = "GET, POST, HEAD, OPTIONS"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)

# Sanitizer reports seen in any server or CLI output during the session (conftest prints them
# and fails the session).
SANITIZER_REPORTS = []

# No key, ever, in a log (issue 9): every key the tests see (bootstrap keys, keys printed by the
# CLI, `key`/`token` values in request and response bodies, Bearer tokens the server accepted)
# and every server log file of the session; conftest checks them all at the end of the session.
SEEN_KEYS = set()
LOG_PATHS = []
MIN_KEY_LEN = 16  # shorter test "keys" could match unrelated log text by chance


def note_key(value):
    if isinstance(value, str) and len(value) >= MIN_KEY_LEN:
        SEEN_KEYS.add(value)


def _note_keys_in(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("key", "token") and isinstance(v, str):
                note_key(v)
            else:
                _note_keys_in(v)
    elif isinstance(value, list):
        for v in value:
            _note_keys_in(v)


def note_keys_in_body(body):
    """Records the `key` and `token` string fields of a JSON body (bytes or str)."""
    if not body:
        return
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "replace")
    if b'"key"' not in raw and b'"token"' not in raw:
        return  # most bodies: no parse
    try:
        _note_keys_in(json.loads(raw))
    except ValueError:
        pass


def key_forms(key):
    """The key as text and as the encodings a careless log line might use (test_secrets)."""
    raw = key.encode()
    yield raw
    yield raw.hex().encode()
    yield raw.hex().upper().encode()
    yield base64.b64encode(raw).rstrip(b"=")
    yield base64.urlsafe_b64encode(raw).rstrip(b"=")


_RUN_RE = re.compile(rb"[A-Za-z0-9+/=_\-]{%d,}" % MIN_KEY_LEN)


def find_keys(keys, texts):
    """[(key prefix, where)] for every key of keys found, in any form, in texts ({where: bytes}).
    Indexes the first MIN_KEY_LEN bytes of every form and slides over the long word runs of
    each text, so a whole test session's logs are checked in seconds."""
    by_prefix = {}
    for k in keys:
        for form in key_forms(k):
            by_prefix.setdefault(form[:MIN_KEY_LEN], []).append((form, k))
    found = {}
    for where, text in texts.items():
        for m in _RUN_RE.finditer(text):
            run = m.group(0)
            for i in range(len(run) - MIN_KEY_LEN + 1):
                hits = by_prefix.get(run[i:i + MIN_KEY_LEN])
                for form, k in hits or ():
                    if text.startswith(form, m.start() + i):
                        found[(k, where)] = (k[:4] + "...", where)
    return list(found.values())


def leaked_keys():
    """Keys of SEEN_KEYS found in any log of LOG_PATHS."""
    texts = {}
    for path in LOG_PATHS:
        with contextlib.suppress(OSError), open(path, "rb") as f:
            texts[path] = f.read()
    return find_keys(SEEN_KEYS, texts)


_LEAKED = None


def session_leaks():
    """leaked_keys() of the whole session, searched once, at its end."""
    global _LEAKED
    if _LEAKED is None:
        _LEAKED = leaked_keys()
    return _LEAKED


def report_session(terminalreporter, logs):
    """The end of a session's summary: how many keys were searched in how many logs (`logs`
    names them), any key found, any sanitizer report. True when the session must fail."""
    leaked = session_leaks()
    terminalreporter.write_line(f"keys checked against {len(LOG_PATHS)} {logs}: "
                                f"{len(SEEN_KEYS)}")
    if leaked:
        terminalreporter.section(f"keys found in {logs}", sep="=", red=True)
        for prefix, where in leaked:
            terminalreporter.write_line(f"key {prefix} in {where}")
    if SANITIZER_REPORTS:
        terminalreporter.section("tokend sanitizer reports", sep="=", red=True)
        for report in SANITIZER_REPORTS:
            terminalreporter.write_line(report)



def tokend_bin():
    return os.environ.get("TOKEND_BIN", DEFAULT_BIN)


def random_key(n=60):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _sanitizer_lines(text):
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


# --------------------------------------------------------------------------------------------
# Store backends: each one provides the database URL a server and its CLI share.


class SqliteBackend:
    name = "sqlite"

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "tokend.db")

    def database_url(self):
        return "sqlite:" + self.path

    def cleanup(self):
        pass


class PostgresBackend:
    """A fresh database per server on the cluster TOKEND_TEST_POSTGRES_URL points at (e.g.
    postgres://tokend@127.0.0.1:5432/postgres), made and dropped with createdb/dropdb."""

    name = "postgres"

    def __init__(self, workdir):
        self.base = os.environ.get("TOKEND_TEST_POSTGRES_URL")
        if not self.base:
            pytest.fail("TOKEND_TEST_BACKEND=postgres needs TOKEND_TEST_POSTGRES_URL")
        self.dbname = "tokend_test_" + uuid.uuid4().hex[:16]
        parts = urllib.parse.urlsplit(self.base)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + self.dbname))
        subprocess.run(["createdb", "--maintenance-db=" + self.base, self.dbname],
                       check=True, capture_output=True, timeout=60)

    def database_url(self):
        return self.url

    def cleanup(self):
        subprocess.run(["dropdb", "--if-exists", "--maintenance-db=" + self.base, self.dbname],
                       capture_output=True, timeout=60)


BACKENDS = {"sqlite": SqliteBackend, "postgres": PostgresBackend}


def make_backend(workdir):
    name = os.environ.get("TOKEND_TEST_BACKEND", "sqlite")
    if name not in BACKENDS:
        pytest.fail(f"unknown TOKEND_TEST_BACKEND {name!r} (known: {', '.join(BACKENDS)})")
    return BACKENDS[name](str(workdir))


# --------------------------------------------------------------------------------------------
# The server process and its admin command line.


class CliError(AssertionError):
    pass


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `tokend serve` process on 127.0.0.1:<free port> with its own database."""

    def __init__(self, workdir, backend, bootstrap_key=None, secret_key=None, extra_env=None):
        self.bin = tokend_bin()
        self.extra_env = dict(extra_env or {})  # more settings for the server and its CLI
        self.workdir = str(workdir)
        self.backend = backend
        self.bootstrap_key = bootstrap_key or random_key()
        note_key(self.bootstrap_key)
        self.secret_key = secret_key or "tokend-test-secret-" + random_key(40)
        self.proc = None
        self.port = None
        self.metrics_port = None
        self.n_starts = 0
        self.log_path = None
        self._log = None
        if not os.access(self.bin, os.X_OK):
            pytest.fail(f"tokend binary {self.bin!r} not found or not executable "
                        "(set TOKEND_BIN or build build/debug)")

    def env(self):
        env = dict(os.environ)
        env.pop("TOKEND_LISTEN", None)
        env["TOKEND_DATABASE"] = self.backend.database_url()
        env["TOKEND_SECRET_KEY"] = self.secret_key
        env["TOKEND_BOOTSTRAP_TOKEN"] = self.bootstrap_key
        # The suites make many failed authentications from one address on purpose; throttling
        # has its own test (test_throttle.py).
        env["TOKEND_AUTH_FAILURE_BURST"] = "0"
        env.update(self.extra_env)
        return env

    # -- admin CLI ------------------------------------------------------------------------

    def cli(self, *args, check=True):
        """Runs `tokend ARGS...` against this server's database; returns stdout stripped.
        Raises CliError on a non-zero exit (if check) and on any sanitizer report."""
        argv = [self.bin] + [a.encode("utf-8") if isinstance(a, str) else a for a in args]
        p = subprocess.run(argv, env=self.env(), capture_output=True, timeout=300)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        reports = _sanitizer_lines(err)
        if reports:
            SANITIZER_REPORTS.append(f"tokend {' '.join(map(str, args))}:\n{err[-6000:]}")
            raise CliError(f"sanitizer report from `tokend {' '.join(map(str, args))}`:\n{err}")
        if check and p.returncode != 0:
            raise CliError(f"`tokend {' '.join(map(str, args))}` exited {p.returncode}:\n"
                           f"stdout: {out}\nstderr: {err}")
        if p.returncode == 0 and args[:1] == ("token",) and len(args) > 1 and \
                args[1] in ("create", "view-key", "rotate"):
            note_key(out.strip().splitlines()[-1] if out.strip() else "")
            note_keys_in_body(out)
        for i, a in enumerate(args[:-1]):
            if a == "--key":
                note_key(args[i + 1])
        return out.strip()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self):
        last_error = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.n_starts += 1
            self.port = _free_port()
            self.log_path = os.path.join(self.workdir, f"serve-{self.n_starts}.log")
            LOG_PATHS.append(self.log_path)
            self._log = open(self.log_path, "wb")
            env = self.env()
            env["TOKEND_LISTEN"] = f"127.0.0.1:{self.port}"
            # servers run side by side: each its own metrics port (authentik's 9300 is default)
            if "TOKEND_METRICS_LISTEN" not in self.extra_env:
                self.metrics_port = _free_port()
                env["TOKEND_METRICS_LISTEN"] = f"127.0.0.1:{self.metrics_port}"
            if env.get("TOKEND_LOG_FILE"):
                LOG_PATHS.append(env["TOKEND_LOG_FILE"])
            self.proc = subprocess.Popen([self.bin, "serve"], env=env, stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return
                except OSError:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                pytest.fail(f"tokend serve did not accept connections on port {self.port} within "
                            f"{START_TIMEOUT_S} s; log:\n{self.log_tail()}")
            self._log.close()
            last_error = (f"tokend serve exited with {self.proc.returncode} before accepting "
                          f"connections; log:\n{self.log_tail()}")
            self._check_sanitizers()
        pytest.fail(last_error)

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=6000):
        return self.log_text()[-n:]

    def _check_sanitizers(self):
        text = self.log_text()
        if _sanitizer_lines(text):
            SANITIZER_REPORTS.append(f"tokend serve ({self.log_path}):\n{text[-6000:]}")
            return True
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM; the server must exit 0 within STOP_TIMEOUT_S with a clean log."""
        if self.proc is None:
            return
        problems = []
        if self.proc.poll() is not None:
            problems.append(f"tokend serve died during the tests (exit status {self.proc.returncode})")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
                if rc != 0:
                    problems.append(f"tokend serve exited {rc} after SIGTERM (expected 0)")
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append(f"tokend serve did not exit within {STOP_TIMEOUT_S} s of SIGTERM")
        self._log.close()
        self.proc = None
        if self._check_sanitizers():
            problems.append("sanitizer report in the server's stderr")
        if problems:
            raise AssertionError("; ".join(problems) + f"\nlog ({self.log_path}):\n{self.log_tail()}")

    def restart(self):
        self.stop()
        self.start()


@contextlib.contextmanager
def served(workdir, pre_start=None, **kwargs):
    """A running server for the duration of the block; pre_start(server) runs CLI commands
    against the fresh database before the first start."""
    backend = make_backend(workdir)
    server = Server(workdir, backend, **kwargs)
    try:
        if pre_start:
            pre_start(server)
        server.start()
        yield server
        server.stop()
    finally:
        if server.proc is not None:
            server.proc.kill()
            server.proc.wait()
        backend.cleanup()


# --------------------------------------------------------------------------------------------
# HTTP.


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _strict_object(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r} in JSON object")
        obj[k] = v
    return obj


def parse_json(body):
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity. Key order is kept (dict)."""
    return json.loads(body.decode("utf-8"), object_pairs_hook=_strict_object,
                      parse_constant=_reject_constant)


class Response:
    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.reason = reason
        self.headers = list(headers)  # [(name, value)] in wire order
        self.body = body

    def header(self, name):
        values = self.header_all(name)
        return values[-1] if values else None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def media_type(self):
        ct = self.header("Content-Type")
        return ct.split(";")[0].strip().lower() if ct is not None else None

    def json(self):
        return parse_json(self.body)

    def shown(self):
        try:
            return self.json()
        except Exception:
            return self.body[:2000]

    def __repr__(self):
        return f"<Response {self.status} {self.shown()!r}>"


def encode_query(query):
    """None -> no '?'; str -> used verbatim (already encoded); mapping/pairs -> %-encoded."""
    if query is None:
        return ""
    if isinstance(query, str):
        return "?" + query
    items = query.items() if hasattr(query, "items") else query
    return "?" + urllib.parse.urlencode(list(items), quote_via=urllib.parse.quote, safe="")


_DEFAULT = object()


class Client:
    """One request per connection (keep-alive is tested with RawConnection). Sends
    `Authorization: Bearer <token>` when the client has a token and the call does not override
    the header."""

    def __init__(self, server, token=None):
        self.server = server
        self.token = token

    def as_token(self, token):
        return Client(self.server, token)

    def request(self, method, path, query=None, headers=None, body=None, token=_DEFAULT,
                timeout=15):
        token = self.token if token is _DEFAULT else token
        hdrs = {}
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        for k, v in (headers or {}).items():
            if v is None:
                hdrs.pop(k, None)
            else:
                hdrs[k] = v
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        try:
            conn.request(method, path + encode_query(query), body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            if token is not None and r.status not in (400, 403, 429):
                note_key(token)  # a key the server accepted
            if 200 <= r.status < 300:
                note_keys_in_body(body)  # set_key, create with a key
                note_keys_in_body(data)  # view_key, service_account
            # Every response must fit the OpenAPI document (issue 6, schema_check.py).
            schema_check.instance().check(method, path, r.status, r.getheaders(), data)
            return Response(r.status, r.getheaders(), data, r.reason)
        finally:
            conn.close()

    def get(self, path, query=None, **kw):
        return self.request("GET", path, query, **kw)

    def list(self, query=None, **kw):
        return self.get(LIST, query, **kw)


def request_bytes(method, target, headers=(), body=b"", host="127.0.0.1"):
    """A request as raw bytes; header values may be bytes (sent verbatim) or str (UTF-8)."""
    lines = [f"{method} {target} HTTP/1.1".encode("ascii")]
    if host is not None:
        lines.append(b"Host: " + host.encode("ascii"))
    for k, v in headers:
        lines.append(k.encode("ascii") + b": " + (v if isinstance(v, bytes) else v.encode("utf-8")))
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class RawConnection:
    """A plain TCP connection: send any bytes, parse responses one at a time (Content-Length,
    chunked, or until close). Used for keep-alive, pipelining and malformed requests."""

    def __init__(self, port, timeout=10, source=None):
        """source: the local address to connect from (any of 127.0.0.0/8 on Linux), so that a
        test can be another client address than 127.0.0.1."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def _until(self, sep):
        while sep not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(sep)
        return head

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, method="GET"):
        while True:
            head = self._until(b"\r\n\r\n").decode("latin-1")
            status_line, *header_lines = head.split("\r\n")
            proto, status, *reason = status_line.split(" ", 2)
            assert proto.startswith("HTTP/1."), f"bad status line {status_line!r}"
            status = int(status)
            headers = []
            for line in header_lines:
                k, _, v = line.partition(":")
                headers.append((k.strip(), v.strip()))
            if 100 <= status < 200:
                continue
            resp = Response(status, headers, b"", reason[0] if reason else "")
            break
        if method == "HEAD" or status in (204, 304):
            return resp
        if (resp.header("Transfer-Encoding") or "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._until(b"\r\n")  # trailers end (assumes none)
                    break
                body += self._exact(size)
                self._exact(2)
            resp.body = body
        elif resp.header("Content-Length") is not None:
            resp.body = self._exact(int(resp.header("Content-Length")))
        else:
            while True:
                try:
                    self._fill()
                except EOFError:
                    break
            resp.body, self.buf = self.buf, b""
        return resp

    def pending(self, wait=0.3):
        """Bytes the server sent beyond the responses read so far (waits briefly); b"" if none.
        Returns None if the server closed the connection."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(10)
        return self.buf


# --------------------------------------------------------------------------------------------
# Expected values.

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$")


class Unordered:
    """Equal to a list holding the same items in any order (database order is unspecified)."""

    def __init__(self, items):
        self.items = list(items)

    def __eq__(self, other):
        if not isinstance(other, list) or len(other) != len(self.items):
            return False
        left = list(other)
        for want in self.items:
            for i, got in enumerate(left):
                if want == got:
                    del left[i]
                    break
            else:
                return False
        return True

    def __repr__(self):
        return f"Unordered({self.items!r})"


class InitialsAvatar:
    """Equal to a data:image/svg+xml;base64 URI whose SVG shows exactly these initials as a
    text node (docs/api.md §10.3, initials mode; colours are not compared)."""

    PREFIX = "data:image/svg+xml;base64,"

    def __init__(self, initials):
        self.initials = initials

    def problem(self, other):
        if not isinstance(other, str) or not other.startswith(self.PREFIX):
            return "not a data:image/svg+xml;base64 URI"
        try:
            svg = base64.b64decode(other[len(self.PREFIX):], validate=True).decode("utf-8")
        except Exception as e:  # noqa: BLE001 - any decoding failure is a mismatch
            return f"payload does not decode: {e}"
        if "<svg" not in svg:
            return "payload is not an SVG"
        if not re.search(r">\s*" + re.escape(self.initials) + r"\s*<", html.unescape(svg)):
            return f"SVG text is not {self.initials!r}: {svg!r}"
        return None

    def __eq__(self, other):
        return self.problem(other) is None

    def __repr__(self):
        return f"InitialsAvatar({self.initials!r})"


def initials(name):
    """authentik's generate_avatar_from_name (SEED): first and last word, or the first two
    characters of a single word, upper-cased; a blank name is rendered as "a k"."""
    parts = (name or "a k").split()
    if len(parts) > 2:
        parts = [parts[0], parts[-1]]
    if len(parts) == 1:
        text = parts[0][:2]
    else:
        text = ("".join(p[0] for p in parts[:-1]) + parts[-1][0])[:2]
    return text.upper()


def num_pk(group_uuid):
    return int(str(uuid.UUID(group_uuid).int)[:5])


def pagination(count, page=1, size=100):
    """docs/api.md §9, written out; tests with hand-checked numbers spell the dict literally."""
    total = max(1, math.ceil(count / size))
    return {
        "next": page + 1 if page < total else 0,
        "previous": page - 1 if page > 1 else 0,
        "count": count,
        "current": page,
        "total_pages": total,
        "start_index": 0 if count == 0 else (page - 1) * size + 1,
        "end_index": count if page == total else page * size,
    }


NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Token invalid/expired"}
UNSUPPORTED = {"detail": "Unsupported authentication type"}
NOT_FOUND = {"detail": "Not found."}
INVALID_PAGE = {"detail": "Invalid page."}


def method_not_allowed(method):
    return {"detail": f'Method "{method}" not allowed.'}


def check_invariants(resp):
    """What every response of this API must satisfy: never 401, never a WWW-Authenticate
    challenge (docs/api.md §1.1), never a 5xx."""
    assert resp.status != 401, f"401 is never sent (docs/api.md §1.1): {resp!r}"
    assert resp.header("WWW-Authenticate") is None, f"WWW-Authenticate sent: {resp.headers!r}"
    assert resp.status < 500, f"server error: {resp!r}"


def assert_status(resp, status):
    check_invariants(resp)
    assert resp.status == status, f"status {resp.status}, expected {status}; body {resp.shown()!r}"


def assert_json(resp, status, body):
    """Exact status, application/json, and the parsed body equal to `body` as a whole."""
    assert_status(resp, status)
    assert resp.media_type == "application/json", f"Content-Type {resp.header('Content-Type')!r}"
    got = resp.json()
    assert got == body
