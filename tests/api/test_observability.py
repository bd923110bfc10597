"""Issue 9: health probes, Prometheus metrics, the JSON request log and its settings.

Health answers as authentik's probes do (200, empty body; ready 503 when the store does not
answer). Metrics are scraped from their own listener and every line is parsed strictly. The log
is read back from the server's stderr (or TOKEND_LOG_FILE) and every line must be JSON.
"""

import json
import math
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse

import pytest

import harness
from harness import Client, RawConnection, random_key, served

LIVE = "/-/health/live/"
READY = "/-/health/ready/"
LIST = harness.LIST
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
MASK = "********************"
REQUEST_FIELDS = ("timestamp", "level", "logger", "event", "method", "path", "status", "runtime",
                  "remote", "user", "request_id", "user_agent")


# ---- helpers ---------------------------------------------------------------------------------

def raw_get(port, method, target, headers=()):
    with RawConnection(port) as c:
        c.send(harness.request_bytes(method, target, headers))
        return c.read_response(method)


def log_lines(text):
    """Every line of a JSON-format log, parsed; a line that is not one JSON object fails."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError(f"log line {n} is not JSON: {line!r}")
        assert isinstance(obj, dict), f"log line {n} is not an object: {line!r}"
        out.append(obj)
    return out


def wait_for(predicate, timeout=5.0):
    """The log line is written once the response is sent: poll briefly."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def request_lines(server, rid):
    return [o for o in log_lines(server.log_text()) if o.get("request_id") == rid]


def one_line(server, rid):
    lines = wait_for(lambda: request_lines(server, rid))
    time.sleep(0.05)
    lines = request_lines(server, rid)
    assert len(lines) == 1, f"{len(lines)} log lines for request {rid}: {lines!r}"
    return lines[0]


def start_fails(env_extra, args=()):
    """Runs `tokend serve` with env_extra on a fresh database; (exit status, stderr)."""
    env = dict(os.environ)
    env.update({"TOKEND_DATABASE": "sqlite::memory:", "TOKEND_SECRET_KEY": "s" * 20,
                "TOKEND_LISTEN": "127.0.0.1:0", "TOKEND_METRICS_LISTEN": "off"})
    env.update(env_extra)
    p = subprocess.run([harness.tokend_bin(), "serve", *args], env=env, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr.decode("utf-8", "replace")


# ---- a strict parser of the Prometheus text format 0.0.4 -------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)(?: (-?\d+))?$")
LABEL_RE = re.compile(LABEL)
HELP_RE = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE_RE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")


def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v)


def parse_value(s):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    assert re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", s), f"bad sample value {s!r}"
    return float(s)


def parse_exposition(text):
    """{(name, frozenset(labels)): value}; checks every line and every histogram."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    types, helps, samples, order = {}, {}, {}, []
    for n, line in enumerate(text[:-1].split("\n"), 1):
        assert line, f"line {n} is empty"
        if line.startswith("#"):
            m = HELP_RE.match(line) or TYPE_RE.match(line)
            assert m, f"line {n}: a comment that is not HELP or TYPE: {line!r}"
            table = helps if line.startswith("# HELP") else types
            assert m.group(1) not in table, f"line {n}: second HELP/TYPE for {m.group(1)}"
            if table is types:
                assert not any(f == m.group(1) for f, _ in order), \
                    f"line {n}: TYPE of {m.group(1)} after its samples"
            table[m.group(1)] = m.group(2)
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"line {n}: not a sample: {line!r}"
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(7)
        labels = {}
        for lm in LABEL_RE.finditer(labels_text):
            assert lm.group(1) not in labels, f"line {n}: label {lm.group(1)} twice"
            labels[lm.group(1)] = unescape(lm.group(2))
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                family = name[:-len(suffix)]
        assert family in types, f"line {n}: sample of {name} without a TYPE line"
        assert family in helps, f"line {n}: sample of {name} without a HELP line"
        if types[family] == "histogram":
            assert name != family, f"line {n}: bare sample of histogram {family}"
            assert ("le" in labels) == name.endswith("_bucket"), f"line {n}: le label misplaced"
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"line {n}: series {key} twice"
        samples[key] = parse_value(value)
        order.append((family, key))
    # histograms: cumulative buckets ending with +Inf == _count, and a _sum
    series = {}
    for (name, labels), v in samples.items():
        if name.endswith("_bucket"):
            rest = frozenset((k, x) for k, x in labels if k != "le")
            series.setdefault((name[:-7], rest), []).append((dict(labels)["le"], v))
    for (family, rest), buckets in series.items():
        les = [parse_value(le) for le, _ in buckets]
        assert les == sorted(les) and les[-1] == math.inf, f"{family}{dict(rest)}: le order {les}"
        counts = [v for _, v in buckets]
        assert all(a <= b for a, b in zip(counts, counts[1:])), f"{family}: not cumulative {counts}"
        assert (family + "_count", rest) in samples, f"{family}{dict(rest)}: no _count"
        assert (family + "_sum", rest) in samples, f"{family}{dict(rest)}: no _sum"
        assert samples[(family + "_count", rest)] == counts[-1], f"{family}: +Inf != _count"
    return samples


def scrape(server):
    conn = __import__("http.client").client.HTTPConnection("127.0.0.1", server.metrics_port,
                                                           timeout=10)
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        assert r.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
        return parse_exposition(body.decode("utf-8"))
    finally:
        conn.close()


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


# ---- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with served(tmp_path_factory.mktemp("obs")) as server:
        yield server


# ---- health ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [LIVE, READY])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_health_is_200_with_an_empty_body(srv, path, method):
    """authentik's probes: 200, no body, no authentication asked for."""
    r = raw_get(srv.port, method, path)
    assert r.status == 200, r
    assert r.body == b""
    assert r.header("Content-Length") in ("0", None)


def test_health_ignores_credentials_and_never_counts_as_auth_failure(srv):
    before = scrape(srv)
    for auth in ("Bearer " + random_key(), "Basic Zm9vOmJhcg==", "Bearer"):
        for path in (LIVE, READY):
            r = raw_get(srv.port, "GET", path, [("Authorization", auth)])
            assert r.status == 200, (path, auth, r)
    after = scrape(srv)
    for reason in ("missing", "unsupported_scheme", "malformed", "invalid_token", "throttled"):
        assert value(after, "tokend_auth_failures_total", reason=reason) == \
            value(before, "tokend_auth_failures_total", reason=reason), reason


def test_health_is_not_throttled(tmp_path):
    """Throttling applies to failed authentications; probes from that address still answer."""
    with served(tmp_path, extra_env={"TOKEND_AUTH_FAILURE_BURST": "1",
                                     "TOKEND_AUTH_FAILURE_RATE": "1"}) as server:
        c = Client(server, token=random_key())
        statuses = [c.list().status for _ in range(3)]
        assert 429 in statuses, statuses
        assert raw_get(server.port, "GET", READY).status == 200
        assert raw_get(server.port, "GET", LIVE).status == 200
        after = scrape(server)
        assert value(after, "tokend_auth_failures_total", reason="throttled") >= 1


def test_ready_is_503_while_the_database_refuses_connections(tmp_path):
    """Only PostgreSQL can be taken away from under a running server."""
    if os.environ.get("TOKEND_TEST_BACKEND", "sqlite") != "postgres":
        pytest.skip("needs TOKEND_TEST_BACKEND=postgres")
    with served(tmp_path) as server:
        base = server.backend.base
        db = server.backend.dbname

        def psql(sql):
            subprocess.run(["psql", base, "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                           capture_output=True, timeout=60)

        assert raw_get(server.port, "GET", READY).status == 200
        psql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        try:
            psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")
            statuses = [raw_get(server.port, "GET", READY).status for _ in range(3)]
            assert statuses[-1] == 503, statuses
            assert raw_get(server.port, "GET", LIVE).status == 200
        finally:
            psql(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        assert wait_for(lambda: raw_get(server.port, "GET", READY).status == 200, 10)


# ---- metrics -----------------------------------------------------------------------------------

def test_metrics_parse_strictly_and_count_what_happened(srv):
    admin = Client(srv, token=srv.bootstrap_key)
    before = scrape(srv)
    n = 7
    for _ in range(n):
        assert admin.list().status == 200
    for _ in range(3):
        assert admin.list(token=random_key()).status == 403
    for _ in range(2):
        assert admin.list(token=None).status == 403
    assert admin.list(headers={"Authorization": "Basic Zm9vOmJhcg=="}, token=None).status == 403
    assert admin.get("/api/v3/core/tokens/no-such-token/").status == 404
    assert admin.get("/nowhere").status == 404
    time.sleep(0.2)  # metrics are recorded once each response is sent
    after = scrape(srv)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    route = LIST
    assert delta("tokend_http_requests_total", route=route, method="GET", status="200") == n
    assert delta("tokend_http_requests_total", route=route, method="GET", status="403") == 6
    assert delta("tokend_http_requests_total", route="/api/v3/core/tokens/{}/", method="GET",
                 status="404") == 1
    assert delta("tokend_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("tokend_http_request_duration_seconds_count", route=route, status="200") == n
    assert delta("tokend_http_request_duration_seconds_sum", route=route, status="200") > 0
    assert delta("tokend_auth_failures_total", reason="invalid_token") == 3
    assert delta("tokend_auth_failures_total", reason="missing") == 2
    assert delta("tokend_auth_failures_total", reason="unsupported_scheme") == 1
    assert delta("tokend_http_connections_accepted_total") >= n + 8
    assert delta("tokend_store_query_duration_seconds_count") >= n
    assert value(after, "tokend_http_requests_in_flight") == 0
    assert value(after, "tokend_http_connections_open") >= 0
    version = [dict(k[1]) for k in after if k[0] == "tokend_build_info"]
    assert len(version) == 1 and version[0]["version"], version
    assert value(after, "tokend_build_info", **version[0]) == 1
    # route labels are patterns, never raw paths (bounded cardinality)
    routes = {dict(k[1]).get("route") for k in after if "route" in dict(k[1])}
    assert "/api/v3/core/tokens/no-such-token/" not in routes
    assert "/nowhere" not in routes
    # every family the documentation promises is there
    families = {k[0] for k in after}
    for name in ("tokend_sweeper_runs_total", "tokend_sweeper_tokens_rotated_total",
                 "tokend_sweeper_tokens_deleted_total", "tokend_http_connections_refused_total"):
        assert name in families, name


def test_malformed_authorization_and_label_escaping(srv):
    before = scrape(srv)
    r = raw_get(srv.port, "GET", LIST, [("Authorization", b"Bearer \xff\xfe")])
    assert r.status == 400
    time.sleep(0.1)
    after = scrape(srv)
    assert value(after, "tokend_auth_failures_total", reason="malformed") - \
        value(before, "tokend_auth_failures_total", reason="malformed") == 1
    assert parse_exposition('# HELP a_b x\n# TYPE a_b counter\na_b{l="q\\"\\\\\\n"} 1\n') == \
        {("a_b", frozenset({("l", 'q"\\\n')})): 1.0}


@pytest.mark.parametrize("bad", [
    "x 1\n",                                                        # no TYPE
    "# TYPE x counter\n# HELP x h\nx{a=b} 1\n",                     # unquoted label value
    "# TYPE x counter\n# HELP x h\nx 1",                            # no final newline
    "# TYPE h histogram\n# HELP h h\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
    "h_sum 1\nh_count 1\n",                                         # not cumulative
    "# TYPE h histogram\n# HELP h h\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",  # != count
    "# TYPE h histogram\n# HELP h h\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",           # no _sum
])
def test_the_parser_is_strict(bad):
    with pytest.raises(AssertionError):
        parse_exposition(bad)


def test_connection_metrics(tmp_path):
    """Open connections, accepted and refused at the cap (the metrics listener's own are not
    counted). Past the cap an address still gets 4 health-only connections (issue 13): those
    are open connections too; the next one is refused."""
    with served(tmp_path, extra_env={"TOKEND_MAX_CONNECTIONS": "3"}) as server:
        before = scrape(server)
        held = []
        try:
            while len(held) < 3:  # the harness's readiness probe may still hold a slot
                conn = RawConnection(server.port, timeout=3)
                try:
                    conn.send(harness.request_bytes("GET", LIVE))
                    assert conn.read_response().status == 200
                    held.append(conn)
                except (OSError, EOFError):
                    conn.close()
                    time.sleep(0.05)
            # idle, so within their first 100 ms nothing can take their places (README)
            reserve = [socket.create_connection(("127.0.0.1", server.port), timeout=3)
                       for _ in range(4)]
            held.extend(reserve)  # closed below; they would be cut 2 s after accept anyway
            for _ in range(10):
                extra = socket.create_connection(("127.0.0.1", server.port), timeout=3)
                try:
                    extra.sendall(harness.request_bytes("GET", LIVE))
                    extra.recv(100)
                except (ConnectionResetError, BrokenPipeError):
                    pass
                finally:
                    extra.close()
            during = scrape(server)
            # the 3 held, and the health-only ones not yet cut
            assert 3 <= value(during, "tokend_http_connections_open") <= 7
            assert value(during, "tokend_http_connections_refused_total") - \
                value(before, "tokend_http_connections_refused_total") >= 1
            assert value(during, "tokend_http_connections_accepted_total") - \
                value(before, "tokend_http_connections_accepted_total") >= 7
        finally:
            for conn in held:
                conn.close()
        assert wait_for(lambda: value(scrape(server), "tokend_http_connections_open") == 0)


def test_metrics_listener_answers_only_metrics(srv):
    assert raw_get(srv.metrics_port, "HEAD", "/metrics").status == 200
    assert raw_get(srv.metrics_port, "POST", "/metrics").status == 405
    assert raw_get(srv.metrics_port, "GET", LIST).status == 404
    assert raw_get(srv.metrics_port, "GET", LIVE).status == 404


def listening_ports(pid):
    """TCP ports the process listens on (its socket inodes in /proc/net/tcp, state LISTEN)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in inodes:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def test_metrics_can_be_switched_off(tmp_path, srv):
    assert listening_ports(srv.proc.pid) == {srv.port, srv.metrics_port}
    for off in ("off", ""):
        (tmp_path / (off or "empty")).mkdir()
        with served(tmp_path / (off or "empty"), extra_env={"TOKEND_METRICS_LISTEN": off}) as server:
            assert listening_ports(server.proc.pid) == {server.port}
            assert "\"metrics_listen\":null" in server.log_text()


def test_sweeper_metrics_and_log(tmp_path):
    def expired_tokens(server):
        server.cli("migrate")
        server.cli("user", "create", "sweepy")
        server.cli("token", "create", "sw-api", "--user", "sweepy", "--intent", "api",
                   "--expires", "2001-01-01T00:00:00Z", "--expiring", "true")
        server.cli("token", "create", "sw-rec", "--user", "sweepy", "--intent", "recovery",
                   "--expires", "2001-01-01T00:00:00Z", "--expiring", "true")

    with served(tmp_path, pre_start=expired_tokens,
                extra_env={"TOKEND_SWEEP_INTERVAL": "seconds=1"}) as server:
        samples = wait_for(lambda: (lambda s: s if value(
            s, "tokend_sweeper_runs_total", result="ok") >= 1 else None)(scrape(server)), 10)
        assert samples, "no sweeper run within 10 s"
        assert value(samples, "tokend_sweeper_tokens_rotated_total") == 1
        assert value(samples, "tokend_sweeper_tokens_deleted_total") == 1
        assert value(samples, "tokend_sweeper_runs_total", result="failed") == 0
        sweeps = [o for o in log_lines(server.log_text()) if o["event"] == "expiry sweep"]
        assert sweeps and sweeps[0]["rotated"] == 1 and sweeps[0]["deleted"] == 1, sweeps
        assert sweeps[0]["logger"] == "tokend.sweeper" and sweeps[0]["level"] == "info"


# ---- the request log ---------------------------------------------------------------------------

def test_every_line_is_json_and_each_request_has_exactly_one(srv):
    admin = Client(srv, token=srv.bootstrap_key)
    rids = []
    for i in range(5):
        rid = f"obs-one-line-{i}-{random_key(8)}"
        rids.append(rid)
        r = admin.list(headers={"X-Request-Id": rid, "User-Agent": 'obs "test"'})
        assert r.status == 200
        assert r.header("X-Request-Id") == rid
    pk = admin.get("/api/v3/core/users/me/").json()["user"]["pk"]
    for rid in rids:
        line = one_line(srv, rid)
        for field in REQUEST_FIELDS:
            assert field in line, (field, line)
        assert RFC3339.match(line["timestamp"]), line
        assert line["level"] == "info" and line["logger"] == "tokend.http"
        assert line["event"] == "request"
        assert line["method"] == "GET" and line["path"] == LIST and line["status"] == 200
        assert isinstance(line["runtime"], (int, float)) and line["runtime"] >= 0
        assert line["remote"] == "127.0.0.1"
        assert line["user"] == pk
        assert line["user_agent"] == 'obs "test"'
    log_lines(srv.log_text())  # every line of the whole log, not just these


def test_request_log_of_an_anonymous_failure(srv):
    rid = "anon-" + random_key(10)
    r = Client(srv).list(headers={"X-Request-Id": rid}, token=None)
    assert r.status == 403
    line = one_line(srv, rid)
    assert line["user"] is None and line["status"] == 403


def test_request_id_is_generated_when_absent_or_unsafe(srv):
    for given in (None, "", "x" * 129, "has space", "semi;colon", "quote\"d", "ünï"):
        headers = {} if given is None else {"X-Request-Id": given}
        conn = __import__("http.client").client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            conn.putrequest("GET", LIVE)
            for k, v in headers.items():
                conn.putheader(k, v.encode("utf-8"))
            conn.endheaders()
            r = conn.getresponse()
            r.read()
            rid = r.getheader("X-Request-Id")
        finally:
            conn.close()
        assert rid is not None and re.fullmatch(r"[0-9a-f]{32}", rid), (given, rid)
    ok = "a" * 128
    assert raw_get(srv.port, "GET", LIVE, [("X-Request-Id", ok)]).header("X-Request-Id") == ok
    odd = "A-z_0.9:+=@/"
    assert raw_get(srv.port, "GET", LIVE, [("X-Request-Id", odd)]).header("X-Request-Id") == odd


def test_request_id_reaches_the_audit_event(srv):
    admin = Client(srv, token=srv.bootstrap_key)
    rid = "audit-" + random_key(12)
    ident = "obs-audit-" + random_key(6)
    r = admin.request("POST", LIST, body=json.dumps({"identifier": ident}),
                      headers={"Content-Type": "application/json", "X-Request-Id": rid})
    assert r.status == 201, r
    events = admin.get("/api/v3/events/events/", {"page_size": "1000"})
    ctx = [e["context"] for e in events.json()["results"] if e["action"] == "model_created" and
           e["context"].get("model", {}).get("name", "").startswith(ident)]
    assert ctx and ctx[0]["http_request"]["request_id"] == rid, ctx


def test_sensitive_query_values_are_masked(srv):
    secret = "SECRETVALUE" + random_key(20)
    rid = "mask-" + random_key(8)
    q = (f"key={secret}&page_size=5&Api_Token={secret}&pass%77ord={secret}&client_secret={secret}"
         f"&x={urllib.parse.quote('ok value')}&search=plain&search")
    r = Client(srv, token=srv.bootstrap_key).list(q, headers={"X-Request-Id": rid})
    assert r.status == 200
    line = one_line(srv, rid)
    assert line["path"] == (f"{LIST}?key={MASK}&page_size=5&Api_Token={MASK}&pass%77ord={MASK}"
                            f"&client_secret={MASK}&x=ok%20value&search=plain&search")
    assert secret not in srv.log_text()


def test_authorization_header_is_never_logged(srv):
    bogus = "NOTAKEY" + random_key(30)
    Client(srv, token=bogus).list()
    time.sleep(0.1)
    assert bogus not in srv.log_text()
    assert srv.bootstrap_key not in srv.log_text()


def test_health_probes_log_at_debug_only(tmp_path, srv):
    rid = "probe-" + random_key(8)
    raw_get(srv.port, "GET", LIVE, [("X-Request-Id", rid)])
    time.sleep(0.2)
    assert request_lines(srv, rid) == []
    with served(tmp_path, extra_env={"TOKEND_LOG_LEVEL": "debug"}) as server:
        raw_get(server.port, "GET", LIVE, [("X-Request-Id", rid)])
        line = one_line(server, rid)
        assert line["level"] == "debug" and line["path"] == LIVE and line["status"] == 200


def test_log_level_warning_hides_info(tmp_path):
    with served(tmp_path, extra_env={"TOKEND_LOG_LEVEL": "warning"}) as server:
        rid = "quiet-" + random_key(8)
        Client(server, token=server.bootstrap_key).list(headers={"X-Request-Id": rid})
        time.sleep(0.2)
        text = server.log_text()
        assert rid not in text
        assert all(o["level"] in ("warning", "error") for o in log_lines(text)), text


def test_text_format(tmp_path):
    with served(tmp_path, extra_env={"TOKEND_LOG_FORMAT": "text"}) as server:
        rid = "text-" + random_key(8)
        Client(server, token=server.bootstrap_key).list({"token": "hidden-value"},
                                                        headers={"X-Request-Id": rid})
        line = wait_for(lambda: [l for l in server.log_text().splitlines() if rid in l])
        assert len(line) == 1, line
        assert re.fullmatch(
            r"\S+Z info tokend\.http: request method=GET path=/api/v3/core/tokens/\?token=\*{20} "
            r"status=200 runtime=\d+\.\d{3} remote=127\.0\.0\.1 user=\d+ request_id=" + rid +
            r" user_agent=\S+", line[0]), line[0]
        assert RFC3339.match(line[0].split(" ")[0])
        with pytest.raises(ValueError):
            json.loads(line[0])


@pytest.mark.parametrize("env,args,setting", [
    ({"TOKEND_LOG_FORMAT": "xml"}, (), "TOKEND_LOG_FORMAT"),
    ({"TOKEND_LOG_FORMAT": "JSON "}, (), "TOKEND_LOG_FORMAT"),
    ({}, ("--log-format=yaml",), "TOKEND_LOG_FORMAT"),
    ({"TOKEND_LOG_LEVEL": "verbose"}, (), "TOKEND_LOG_LEVEL"),
    ({}, ("--log-level", "trace"), "TOKEND_LOG_LEVEL"),
    ({"TOKEND_METRICS_LISTEN": "9300"}, (), "TOKEND_METRICS_LISTEN"),
    ({"TOKEND_METRICS_LISTEN": "127.0.0.1:99999"}, (), "TOKEND_METRICS_LISTEN"),
    ({"TOKEND_METRICS_LISTEN": "example.com:9300"}, (), "TOKEND_METRICS_LISTEN"),
    ({}, ("--metrics-listen=nope",), "TOKEND_METRICS_LISTEN"),
    ({"TOKEND_LOG_FILE": "/nonexistent-dir/tokend.log"}, (), "TOKEND_LOG_FILE"),
])
def test_invalid_settings_refuse_to_start(env, args, setting):
    rc, err = start_fails(env, args)
    assert rc != 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0], err


def test_busy_metrics_port_refuses_to_start():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc, err = start_fails({"TOKEND_METRICS_LISTEN": f"127.0.0.1:{port}"})
    assert rc != 0
    assert "TOKEND_METRICS_LISTEN" in err, err


def test_sighup_reopens_the_log_file(tmp_path):
    path = str(tmp_path / "tokend.log")
    with served(tmp_path, extra_env={"TOKEND_LOG_FILE": path}) as server:
        admin = Client(server, token=server.bootstrap_key)

        def logged(p, rid):
            with open(p, encoding="utf-8") as f:
                return [o for o in log_lines(f.read()) if o.get("request_id") == rid]

        admin.list(headers={"X-Request-Id": "before-rotate"})
        assert wait_for(lambda: logged(path, "before-rotate"))
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o640 & ~_umask())
        os.rename(path, path + ".1")
        admin.list(headers={"X-Request-Id": "after-rename"})
        assert wait_for(lambda: logged(path + ".1", "after-rename"))  # still the old file
        server.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: os.path.exists(path))
        admin.list(headers={"X-Request-Id": "after-hup"})
        assert wait_for(lambda: logged(path, "after-hup"))
        assert not logged(path + ".1", "after-hup")
        with open(path, encoding="utf-8") as f:
            assert any(o["event"] == "SIGHUP received, log reopened" for o in log_lines(f.read()))
        # stderr keeps only what is not a log line (nothing, without sanitizer reports)
        assert "after-hup" not in server.log_text()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_sighup_with_stderr_is_harmless(srv):
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    assert srv.alive()
    assert raw_get(srv.port, "GET", LIVE).status == 200


def test_the_key_check_finds_every_form():
    """The session-end check (conftest) must be able to fail: it finds a key in any form."""
    import base64
    key = random_key()
    for form in (key.encode(), key.encode().hex().encode(), key.encode().hex().upper().encode(),
                 base64.b64encode(key.encode()).rstrip(b"="),
                 base64.urlsafe_b64encode(key.encode()).rstrip(b"=")):
        text = b'{"event":"x","v":"pre' + form + b'post"}\n'
        assert harness.find_keys({key, random_key()}, {"log": text}) == [(key[:4] + "...", "log")]
    assert harness.find_keys({key}, {"log": key[:-1].encode()}) == []
