"""Webhooks (issue 19; docs/api.md §21): the receivers' API for superusers, every message type
arriving at a local receiver on loopback with a signature that the Standard Webhooks reference
library (npm `standardwebhooks`, tests/api/webhooks/) verifies, retries with the same
webhook-id, delivery after a SIGKILL, one delivery per message with two processes on one
PostgreSQL, a hanging receiver that slows neither the API nor other receivers, non-public
addresses refused by default, no key in any message, the settings and the command line.
Both stores."""

import http.server
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from harness import Client, Server, assert_json, random_key, served
from startup import sql
from world import World

HERE = os.path.dirname(os.path.abspath(__file__))
VERIFIER = os.path.join(HERE, "webhooks")
WEBHOOKS = "/api/v3/tokend/webhooks/"
CORE = "/api/v3/core/tokens/"
TOKEND = "/api/v3/tokend/tokens/"
ME = "/api/v3/core/users/me/"
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "Not found."}
TYPES = {"token.created", "token.updated", "token.deleted", "token.rotated", "token.expiring",
         "token.reuse_detected", "token.key_viewed"}
OBJECT_KEYS = ["pk", "url", "event_types", "enabled", "description", "created"]
JSON = {"Content-Type": "application/json"}
KEYISH = re.compile(r"[A-Za-z0-9]{40,}")


# ---- the receiver ------------------------------------------------------------------------------


class Receiver:
    """An HTTP receiver on 127.0.0.1: records every POST (path, headers, body) and answers with
    the next status planned for its path (200 when none), or hangs while `hang` is set."""

    def __init__(self):
        self.got = []
        self.plan = {}
        self.hang = threading.Event()
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8")
                with outer.lock:
                    outer.got.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                                      body))
                    statuses = outer.plan.get(self.path) or []
                    status = statuses.pop(0) if statuses else 200
                if self.path.startswith("/hang"):
                    deadline = time.monotonic() + 30
                    while outer.hang.is_set() and time.monotonic() < deadline:
                        time.sleep(0.05)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path):
        with self.lock:
            return [g for g in self.got if g[0] == path]

    def close(self):
        self.hang.clear()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


# ---- the reference verifier -----------------------------------------------------------------------


def _verifier_ready():
    lock = os.path.join(VERIFIER, "package-lock.json")
    stamp = os.path.join(VERIFIER, "node_modules", ".package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(lock) > os.path.getmtime(stamp):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=VERIFIER,
                       check=True, capture_output=True, timeout=300)


def verify(secret, deliveries):
    """The verdict of the standardwebhooks library on each (path, headers, body)."""
    _verifier_ready()
    batch = [{"secret": secret, "headers": {k: h[k] for k in
                                             ("webhook-id", "webhook-timestamp",
                                              "webhook-signature")},
              "body": body} for _p, h, body in deliveries]
    p = subprocess.run(["node", "verify.mjs"], cwd=VERIFIER, input=json.dumps(batch), text=True,
                       capture_output=True, timeout=60, check=True)
    return json.loads(p.stdout)


# ---- API helpers ---------------------------------------------------------------------------------


def send(client, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    return client.request(method, path, body=data, headers=JSON if body is not None else None)


def add_webhook(client, url, **fields):
    r = send(client, "POST", WEBHOOKS, {"url": url, **fields})
    assert r.status == 201, r
    return r.json()


def deliveries(client, pk):
    r = client.get(WEBHOOKS + pk + "/deliveries/")
    assert r.status == 200, r
    return r.json()["results"]


def types_at(receiver, path):
    return [json.loads(b)["type"] for _p, _h, b in receiver.at(path)]


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("tokend-webhooks"),
                extra_env={"TOKEND_WEBHOOK_ALLOW_PRIVATE": "true",
                           "TOKEND_SWEEP_INTERVAL": "seconds=1"}) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_token("pat-login", "pat", "api", expires="2099-01-01T00:00:00Z",
                        key=random_key(), login=True)
        world.add_token("admin-scoped", "akadmin", "api", expires="2099-01-01T00:00:00Z",
                        key=random_key())
        server.cli("token", "set", "admin-scoped", "--scopes", "tokens:read,tokens:write")
        world.learn(world.client())
        yield world


# ---- the receivers' API ---------------------------------------------------------------------------


def test_create_shows_the_secret_once_and_answers_the_object(w, receiver):
    admin = w.client()
    made = add_webhook(admin, receiver.url("/obj"), event_types=["token.deleted", "token.created",
                                                                 "token.created"],
                       description="ops")
    assert list(made) == OBJECT_KEYS + ["secret"]
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", made["secret"])
    assert made["event_types"] == ["token.created", "token.deleted"]
    assert made["enabled"] is True and made["description"] == "ops"
    pk = made["pk"]
    got = admin.get(WEBHOOKS + pk + "/").json()
    assert list(got) == OBJECT_KEYS and "secret" not in json.dumps(got)
    listed = [x for x in admin.get(WEBHOOKS, {"page_size": "1000"}).json()["results"]
              if x["pk"] == pk]
    assert listed == [got]
    r = send(admin, "PATCH", WEBHOOKS + pk + "/", {"enabled": False, "event_types": None})
    assert r.status == 200 and r.json()["enabled"] is False and r.json()["event_types"] is None
    assert "secret" not in r.json()
    assert admin.request("PUT", WEBHOOKS + pk + "/").status == 405
    assert admin.request("DELETE", WEBHOOKS + pk + "/").status == 204
    assert_json(admin.get(WEBHOOKS + pk + "/"), 404, NOT_FOUND)
    assert_json(admin.get(WEBHOOKS + "not-a-uuid/"), 404, NOT_FOUND)


@pytest.mark.parametrize("body,fields", [
    ({}, ["url"]),
    ({"url": "ftp://example.com/"}, ["url"]),
    ({"url": "http://"}, ["url"]),
    ({"url": "https://example.com/" + "a" * 2100}, ["url"]),
    ({"url": "http://exa mple.com/"}, ["url"]),
    ({"url": 5}, ["url"]),
    ({"url": "http://example.com/", "event_types": ["token.nope"]}, ["event_types"]),
    ({"url": "http://example.com/", "event_types": "token.created"}, ["event_types"]),
    ({"url": "http://example.com/", "enabled": "yes"}, ["enabled"]),
    ({"url": "http://example.com/", "description": "d" * 1025}, ["description"]),
    ({"url": None, "event_types": [1], "enabled": 1}, ["url", "event_types", "enabled"]),
])
def test_invalid_fields_are_reported_together(w, body, fields):
    r = send(w.client(), "POST", WEBHOOKS, body)
    assert r.status == 400, r
    assert sorted(r.json()) == sorted(fields)
    assert all(isinstance(m, list) and m and isinstance(m[0], str) for m in r.json().values())


def test_only_superusers_and_no_scoped_token(w, receiver):
    admin = w.client()
    pk = add_webhook(admin, receiver.url("/perm"))["pk"]
    plain = w.client("pat")
    scoped = Client(w.server, w.tokens["admin-scoped"].key)
    for c in (plain, scoped):
        assert_json(c.get(WEBHOOKS), 403, FORBIDDEN)
        assert_json(send(c, "POST", WEBHOOKS, {"url": "http://example.com/"}), 403, FORBIDDEN)
        assert_json(c.get(WEBHOOKS + pk + "/"), 403, FORBIDDEN)
        assert_json(send(c, "PATCH", WEBHOOKS + pk + "/", {"enabled": False}), 403, FORBIDDEN)
        assert_json(c.request("DELETE", WEBHOOKS + pk + "/"), 403, FORBIDDEN)
        assert_json(c.get(WEBHOOKS + pk + "/deliveries/"), 403, FORBIDDEN)
    assert_json(Client(w.server).get(WEBHOOKS), 403,
                {"detail": "Authentication credentials were not provided."})
    assert admin.get(WEBHOOKS + pk + "/").json()["enabled"] is True
    assert admin.request("DELETE", WEBHOOKS + pk + "/").status == 204


# ---- messages -------------------------------------------------------------------------------------


def test_every_type_arrives_signed_and_holds_no_key(w, receiver):
    admin = w.client()
    made = add_webhook(admin, receiver.url("/all"))
    secret = made["secret"]
    keys = [w.server.bootstrap_key] + [t.key for t in w.tokens.values()]

    # created, updated (core and tokend), key viewed, rotated, reuse detected, deleted: the API
    r = send(admin, "POST", CORE, {"identifier": "wh-api", "intent": "api"})
    assert r.status == 201, r
    assert send(admin, "PATCH", CORE + "wh-api/", {"description": "changed"}).status == 200
    assert send(admin, "PATCH", TOKEND + "wh-api/", {"rate_limit": "5/second"}).status == 200
    r = admin.get(CORE + "wh-api/view_key/")
    assert r.status == 200
    old = r.json()["key"]
    r = send(admin, "POST", TOKEND + "wh-api/rotate/", {})
    assert r.status == 200
    keys += [old, r.json()["key"]]
    assert Client(w.server, old).get(ME).status == 403  # a rotated-out key: reuse detected
    assert admin.request("DELETE", CORE + "wh-api/").status == 204
    # the sweeper: an expiring app password within a day (notice), one that expires (deleted),
    # an api token that expires (rotated)
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 3600))
    gone = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    keys.append(w.server.cli("token", "create", "wh-notice", "--user", "pat", "--intent",
                             "app_password", "--expires", soon, "--expiring", "true"))
    keys.append(w.server.cli("token", "create", "wh-gone", "--user", "pat", "--intent",
                             "app_password", "--expires", gone, "--expiring", "true"))
    keys.append(w.server.cli("token", "create", "wh-rot", "--user", "pat", "--intent", "api",
                             "--expires", gone, "--expiring", "true"))

    def all_types():
        seen = {(m["type"], m["data"]["identifier"]) for m in
                (json.loads(b) for _p, _h, b in receiver.at("/all"))}
        return {t for t, _i in seen} >= TYPES and \
            {("token.rotated", "wh-rot"), ("token.deleted", "wh-gone"),
             ("token.expiring", "wh-notice")} <= seen
    wait_for(all_types, 30, "every message type")
    got = receiver.at("/all")
    verdicts = verify(secret, got)
    assert all(v["ok"] for v in verdicts), verdicts
    # the verified payloads are the bodies sent
    assert [v["payload"] for v in verdicts] == [json.loads(b) for _p, _h, b in got]
    ids = [h["webhook-id"] for _p, h, _b in got]
    assert len(set(ids)) == len(ids) and all(i.startswith("msg_") for i in ids)
    by_type = {}
    for _p, h, body in got:
        m = json.loads(body)
        assert h["content-type"] == "application/json"
        assert list(m) == ["type", "timestamp", "data"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", m["timestamp"])
        by_type.setdefault(m["type"], []).append(m["data"])
        for k in keys:
            assert k not in body
        assert secret not in body and not KEYISH.search(body)
    created = by_type["token.created"][0]
    assert created["identifier"] == "wh-api" and created["intent"] == "api"
    assert created["owner"] == {"pk": 1, "username": "akadmin", "email": "root@localhost"}
    assert created["acting_user"] == created["owner"]
    assert {d["identifier"] for d in by_type["token.updated"]} >= {"wh-api"}
    assert len([d for d in by_type["token.updated"] if d["identifier"] == "wh-api"]) == 2
    assert [d["identifier"] for d in by_type["token.key_viewed"]] == ["wh-api"]
    assert [d["acting_user"] for d in by_type["token.reuse_detected"]] == [None]
    rotated = {d["identifier"]: d for d in by_type["token.rotated"]}
    assert rotated["wh-api"]["acting_user"]["username"] == "akadmin"
    assert rotated["wh-rot"]["acting_user"] is None
    assert rotated["wh-rot"]["owner"] == {"pk": w.users["pat"].pk, "username": "pat",
                                          "email": "pat@example.com"}
    assert {d["identifier"] for d in by_type["token.deleted"]} == {"wh-api", "wh-gone"}
    notice = [d for d in by_type["token.expiring"] if d["identifier"] == "wh-notice"]
    assert len(notice) == 1 and notice[0]["notice"] == "days=1"
    assert notice[0]["expires"] == soon
    # the notice is sent once: more sweeps pass
    time.sleep(2.5)
    assert len([1 for t, d in [(json.loads(b)["type"], json.loads(b)["data"])
                               for _p, _h, b in receiver.at("/all")]
                if t == "token.expiring" and d["identifier"] == "wh-notice"]) == 1
    assert admin.request("DELETE", WEBHOOKS + made["pk"] + "/").status == 204
    w.server.cli("token", "revoke", "wh-notice")


def test_event_types_filter_and_a_failed_change_sends_nothing(w, receiver):
    admin = w.client()
    pk = add_webhook(admin, receiver.url("/only-deleted"), event_types=["token.deleted"])["pk"]
    assert send(admin, "POST", CORE, {"identifier": "wh-filter", "intent": "api"}).status == 201
    # refused changes write nothing: a taken identifier, an invalid PATCH
    assert send(admin, "POST", CORE, {"identifier": "wh-filter", "intent": "api"}).status == 400
    assert send(admin, "PATCH", TOKEND + "wh-filter/", {"scopes": "x"}).status == 400
    assert admin.request("DELETE", CORE + "wh-filter/").status == 204
    wait_for(lambda: receiver.at("/only-deleted"), 15, "the deletion's message")
    time.sleep(1.5)
    assert types_at(receiver, "/only-deleted") == ["token.deleted"]
    assert admin.request("DELETE", WEBHOOKS + pk + "/").status == 204


def test_a_failed_attempt_is_retried_with_the_same_id(w, receiver):
    admin = w.client()
    made = add_webhook(admin, receiver.url("/retry"), event_types=["token.created"])
    receiver.plan["/retry"] = [500]
    t0 = time.monotonic()
    assert send(admin, "POST", CORE, {"identifier": "wh-retry", "intent": "api"}).status == 201
    wait_for(lambda: len(receiver.at("/retry")) >= 2, 20, "the retry")
    assert time.monotonic() - t0 < 12  # the first retry within 10 s of the failure
    first, second = receiver.at("/retry")[:2]
    assert first[1]["webhook-id"] == second[1]["webhook-id"]
    assert first[2] == second[2]
    assert all(v["ok"] for v in verify(made["secret"], [first, second]))
    attempts = wait_for(lambda: (lambda d: d if len(d) >= 2 else None)(
        deliveries(admin, made["pk"])), 10, "two recorded attempts")
    assert [(a["attempt"], a["status"], a["error"]) for a in attempts] == \
        [(2, 200, None), (1, 500, None)]
    assert {a["message_id"] for a in attempts} == {first[1]["webhook-id"]}
    assert {a["type"] for a in attempts} == {"token.created"}
    log = w.server.log_text()
    assert first[1]["webhook-id"] in log and "webhook delivery attempt failed" in log
    metrics = metrics_text(w.server)
    assert re.search(r'tokend_webhook_deliveries_total\{outcome="retried"\} [1-9]', metrics)
    assert re.search(r'tokend_webhook_deliveries_total\{outcome="delivered"\} [1-9]', metrics)
    assert "tokend_webhook_pending " in metrics
    assert "tokend_webhook_oldest_pending_seconds " in metrics
    assert admin.request("DELETE", CORE + "wh-retry/").status == 204
    assert admin.request("DELETE", WEBHOOKS + made["pk"] + "/").status == 204


def metrics_text(server):
    conn = socket.create_connection(("127.0.0.1", server.metrics_port), timeout=5)
    conn.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    return data.decode()


def p99(client, n=200):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        assert client.get(ME).status == 200
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[int(len(times) * 0.99) - 1]


def test_a_hanging_receiver_slows_neither_the_api_nor_other_receivers(w, receiver):
    admin = w.client()
    baseline = p99(admin)
    receiver.hang.set()
    hung = add_webhook(admin, receiver.url("/hang"), event_types=["token.created"])
    healthy = add_webhook(admin, receiver.url("/healthy"), event_types=["token.created"])
    for i in range(12):
        assert send(admin, "POST", CORE, {"identifier": f"wh-hang-{i}", "intent": "api"}) \
            .status == 201
    wait_for(lambda: len(receiver.at("/hang")) >= 4, 10, "the hanging receiver's attempts")
    while_hanging = p99(admin)
    # the healthy receiver gets every message while the other one hangs (at most 4 of its
    # attempts are in flight at once)
    wait_for(lambda: len(receiver.at("/healthy")) >= 12, 10, "the healthy receiver's messages")
    assert len(receiver.at("/hang")) <= 4
    assert while_hanging < max(5 * baseline, baseline + 0.25), (baseline, while_hanging)
    receiver.hang.clear()
    for i in range(12):
        assert admin.request("DELETE", CORE + f"wh-hang-{i}/").status == 204
    for pk in (hung["pk"], healthy["pk"]):
        assert admin.request("DELETE", WEBHOOKS + pk + "/").status == 204


# ---- addresses, restarts and processes ----------------------------------------------------------


def test_private_addresses_are_refused_by_default(tmp_path, receiver):
    with served(tmp_path) as s:
        admin = Client(s, s.bootstrap_key)
        made = add_webhook(admin, receiver.url("/private"))
        local = add_webhook(admin, f"http://localhost:{receiver.port}/private")
        assert send(admin, "POST", CORE, {"identifier": "wh-private", "intent": "api"}) \
            .status == 201
        for pk in (made["pk"], local["pk"]):
            attempts = wait_for(lambda: deliveries(admin, pk), 15, "a refused attempt")
            assert attempts[0]["status"] is None
            assert attempts[0]["error"] == "address not allowed"
        assert receiver.at("/private") == []


def test_pending_messages_are_delivered_after_a_sigkill(tmp_path, receiver):
    env = {"TOKEND_WEBHOOK_ALLOW_PRIVATE": "true"}
    with served(tmp_path, extra_env=env) as s:
        admin = Client(s, s.bootstrap_key)
        made = add_webhook(admin, receiver.url("/kill"), event_types=["token.created"])
        receiver.plan["/kill"] = [503] * 3
        for i in range(3):
            assert send(admin, "POST", CORE, {"identifier": f"wh-kill-{i}", "intent": "api"}) \
                .status == 201
        wait_for(lambda: len(receiver.at("/kill")) >= 3, 15, "the failed first attempts")
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        s.proc = None
        s.start()
        wait_for(lambda: len({h["webhook-id"] for p, h, b in receiver.at("/kill")}) == 3 and
                 len(receiver.at("/kill")) >= 6, 45, "the messages after the restart")
        assert all(v["ok"] for v in verify(made["secret"], receiver.at("/kill")))


def test_two_processes_deliver_each_message_once(tmp_path, receiver):
    if os.environ.get("TOKEND_TEST_BACKEND", "sqlite") != "postgres":
        pytest.skip("several processes share a database on PostgreSQL only")
    env = {"TOKEND_WEBHOOK_ALLOW_PRIVATE": "true"}
    os.makedirs(tmp_path / "a")
    os.makedirs(tmp_path / "b")
    with served(tmp_path / "a", extra_env=env) as a:
        b = Server(tmp_path / "b", a.backend, bootstrap_key=a.bootstrap_key,
                   secret_key=a.secret_key, extra_env=env)
        b.start()
        try:
            admin_a, admin_b = Client(a, a.bootstrap_key), Client(b, b.bootstrap_key)
            add_webhook(admin_a, receiver.url("/pair"), event_types=["token.created"])
            n = 40
            for i in range(n):
                c = admin_a if i % 2 else admin_b
                assert send(c, "POST", CORE, {"identifier": f"wh-pair-{i}", "intent": "api"}) \
                    .status == 201
            wait_for(lambda: len(receiver.at("/pair")) >= n, 30, "every message")
            time.sleep(2)
            ids = [h["webhook-id"] for _p, h, _b in receiver.at("/pair")]
            assert len(ids) == n and len(set(ids)) == n
        finally:
            b.stop()


# ---- settings and the command line ----------------------------------------------------------------


@pytest.mark.parametrize("name,value", [
    ("TOKEND_EXPIRY_NOTICES", "days=7,often"),
    ("TOKEND_EXPIRY_NOTICES", "days=-1"),
    ("TOKEND_EXPIRY_NOTICES", ",".join(f"hours={i}" for i in range(1, 10))),
    ("TOKEND_WEBHOOK_ALLOW_PRIVATE", "yes"),
])
def test_invalid_settings_stop_the_start(tmp_path, name, value):
    s = Server(tmp_path, None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKEND_")}
    env.update({"TOKEND_DATABASE": "sqlite:" + str(tmp_path / "t.db"),
                "TOKEND_SECRET_KEY": "x" * 20, name: value})
    p = subprocess.run([s.bin, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], p.stderr


def test_settings_are_shown_by_tokend_config(tmp_path):
    s = Server(tmp_path, None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKEND_")}
    env.update({"TOKEND_DATABASE": "sqlite:" + str(tmp_path / "t.db"),
                "TOKEND_EXPIRY_NOTICES": "hours=12, days=3"})
    p = subprocess.run([s.bin, "config", "--webhook-allow-private", "true"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert 'TOKEND_EXPIRY_NOTICES="hours=12, days=3"' in p.stdout.splitlines(), p.stdout
    assert "TOKEND_WEBHOOK_ALLOW_PRIVATE=true" in p.stdout.splitlines(), p.stdout


def test_command_line(w, receiver):
    s = w.server
    out = s.cli("webhook", "add", receiver.url("/cli"), "--events",
                "token.deleted, token.created", "--description", "from the shell")
    pk, secret = out.splitlines()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    listed = [x for x in json.loads(s.cli("webhook", "list", "--json")) if x["pk"] == pk]
    assert listed == [{"pk": pk, "url": receiver.url("/cli"),
                       "event_types": ["token.created", "token.deleted"], "enabled": True,
                       "description": "from the shell", "created": listed[0]["created"]}]
    assert secret not in s.cli("webhook", "list") and pk in s.cli("webhook", "list")
    got = w.client().get(WEBHOOKS + pk + "/").json()
    assert got["event_types"] == ["token.created", "token.deleted"]
    # the secret printed signs what is sent
    assert send(w.client(), "POST", CORE, {"identifier": "wh-cli", "intent": "api"}).status == 201
    wait_for(lambda: receiver.at("/cli"), 15, "the CLI receiver's message")
    assert verify(secret, receiver.at("/cli"))[0]["ok"]
    assert w.client().request("DELETE", CORE + "wh-cli/").status == 204
    for args in (["webhook", "add", "ftp://x"], ["webhook", "add", "http://x", "--events", "no"],
                 ["webhook", "remove", "nope"], ["webhook", "frobnicate"], ["webhook"]):
        p = subprocess.run([s.bin, *args], env=s.env(), capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 2, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) in (1, 3), p.stderr  # one line, or usage
    p = subprocess.run([s.bin, "webhook", "remove", "00000000-0000-4000-8000-000000000000"],
                       env=s.env(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1
    s.cli("webhook", "remove", pk)
    assert_json(w.client().get(WEBHOOKS + pk + "/"), 404, NOT_FOUND)


def test_command_line_changes_and_a_users_deletion_send_messages(w, receiver):
    s, admin = w.server, w.client()
    made = add_webhook(admin, receiver.url("/changes"))
    far = "2099-01-01T00:00:00Z"
    s.cli("token", "create", "wh-c1", "--user", "pat", "--intent", "api", "--expires", far,
          "--expiring", "false")
    s.cli("token", "set", "wh-c1", "--rate-limit", "5/second")
    s.cli("token", "view-key", "wh-c1")
    s.cli("token", "rotate", "wh-c1")
    s.cli("token", "revoke", "wh-c1")
    pk = int(s.cli("user", "create", "wh-leaver", "--email", "leaver@example.com"))
    for ident in ("wh-l1", "wh-l2"):
        s.cli("token", "create", ident, "--user", "wh-leaver", "--expires", far, "--expiring",
              "false")
    assert admin.request("DELETE", f"/api/v3/core/users/{pk}/").status == 204
    expected = [("token.created", "wh-c1"), ("token.updated", "wh-c1"),
                ("token.key_viewed", "wh-c1"), ("token.rotated", "wh-c1"),
                ("token.deleted", "wh-c1"), ("token.created", "wh-l1"),
                ("token.created", "wh-l2"), ("token.deleted", "wh-l1"), ("token.deleted", "wh-l2")]

    def seen():
        return sorted((m["type"], m["data"]["identifier"]) for m in
                      (json.loads(b) for _p, _h, b in receiver.at("/changes")))
    wait_for(lambda: len(seen()) >= len(expected), 20, "the command line's messages")
    time.sleep(1)
    assert seen() == sorted(expected)
    got = receiver.at("/changes")
    assert all(v["ok"] for v in verify(made["secret"], got))
    for _p, _h, body in got:
        m = json.loads(body)
        if m["data"]["identifier"] == "wh-c1":
            assert m["data"]["acting_user"] is None  # the command line acts as nobody
            assert m["data"]["owner"]["username"] == "pat"
        elif m["type"] == "token.deleted":
            assert m["data"]["owner"] == {"pk": pk, "username": "wh-leaver",
                                          "email": "leaver@example.com"}
            assert m["data"]["acting_user"]["username"] == "akadmin"
        assert not KEYISH.search(body)
    assert admin.request("DELETE", WEBHOOKS + made["pk"] + "/").status == 204


def test_https_certificates_are_verified(w, tmp_path):
    """A receiver whose certificate no system authority signed is not sent anything: the TLS
    handshake fails and the attempt records why."""
    import ssl
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    r = Receiver()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    r.server.socket = ctx.wrap_socket(r.server.socket, server_side=True)
    try:
        admin = w.client()
        made = add_webhook(admin, f"https://127.0.0.1:{r.port}/tls",
                           event_types=["token.created"])
        assert send(admin, "POST", CORE, {"identifier": "wh-tls", "intent": "api"}).status == 201
        attempts = wait_for(lambda: deliveries(admin, made["pk"]), 15, "the refused attempt")
        assert attempts[0]["status"] is None
        assert "certificate" in attempts[0]["error"].lower(), attempts[0]
        assert r.at("/tls") == []
        assert admin.request("DELETE", CORE + "wh-tls/").status == 204
        assert admin.request("DELETE", WEBHOOKS + made["pk"] + "/").status == 204
    finally:
        r.close()


def test_a_message_is_given_up_after_a_day(w, receiver):
    """A delivery whose message is more than 24 hours old is recorded as failed at its next
    failed attempt, and not tried again (the message's age is set back in the database)."""
    admin = w.client()
    made = add_webhook(admin, receiver.url("/dead"), event_types=["token.created"])
    receiver.plan["/dead"] = [500] * 50
    assert send(admin, "POST", CORE, {"identifier": "wh-dead", "intent": "api"}).status == 201
    wait_for(lambda: receiver.at("/dead"), 15, "the first attempt")
    msg_id = receiver.at("/dead")[0][1]["webhook-id"]
    day = 25 * 3600 * 1000000
    sql(w.server.backend, f"UPDATE webhook_messages SET created = created - {day} "
                          f"WHERE msg_id = '{msg_id}'")
    sql(w.server.backend, "UPDATE webhook_deliveries SET next_attempt = 0 WHERE state = 'pending'"
                          " AND message_id = (SELECT id FROM webhook_messages WHERE msg_id = "
                          f"'{msg_id}')")
    wait_for(lambda: sql(w.server.backend,
                         "SELECT d.state FROM webhook_deliveries d JOIN webhook_messages m ON "
                         f"m.id = d.message_id WHERE m.msg_id = '{msg_id}'") == [("failed",)],
             20, "the delivery given up")
    n = len(receiver.at("/dead"))
    time.sleep(3)
    assert len(receiver.at("/dead")) == n
    assert deliveries(admin, made["pk"])[0]["status"] == 500
    assert re.search(r'tokend_webhook_deliveries_total\{outcome="failed"\} [1-9]',
                     metrics_text(w.server))
    assert "none, given up" in w.server.log_text()
    assert admin.request("DELETE", CORE + "wh-dead/").status == 204
    assert admin.request("DELETE", WEBHOOKS + made["pk"] + "/").status == 204
