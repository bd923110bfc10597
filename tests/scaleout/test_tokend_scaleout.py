"""tokend's token settings with two processes on one PostgreSQL (docs/api.md §19.3, §19.5):
remaining uses exact across processes, a rotation's grace window and reuse detection seen by
the other process on its next request, usage from both processes added up, and rate limits
shared through the database (the total admitted in a window stays below twice the limit)."""

import concurrent.futures
import json
import os
import time

import pytest

from harness import Client, Server, random_key
from test_scaleout import SharedDb

ME = "/api/v3/core/users/me/"
TOKEND = "/api/v3/tokend/tokens/"
INVALID = {"detail": "Token invalid/expired"}


@pytest.fixture
def pair(cluster, tmp_path):
    """Two processes A and B on one database; usage written every second."""
    db = SharedDb(cluster)
    key, secret = random_key(), "scaleout-secret-" + random_key(20)
    env = {"TOKEND_THREADS": "4", "TOKEND_USAGE_FLUSH": "seconds=1",
           "TOKEND_AUTH_FAILURE_BURST": "0"}
    a = Server(tmp_path / "a", db, bootstrap_key=key, secret_key=secret, extra_env=env)
    b = Server(tmp_path / "b", db, bootstrap_key=key, secret_key=secret, extra_env=env)
    os.makedirs(a.workdir)
    os.makedirs(b.workdir)
    a.start()
    b.start()
    yield a, b, key
    try:
        a.stop()
        b.stop()
    finally:
        db.cleanup()


def patch(client, ident, body):
    r = client.request("PATCH", TOKEND + ident + "/", body=json.dumps(body).encode(),
                       headers={"Content-Type": "application/json"})
    assert r.status == 200, r
    return r.json()


def rotate(client, ident, body=None):
    r = client.request("POST", TOKEND + ident + "/rotate/", body=json.dumps(body or {}).encode(),
                       headers={"Content-Type": "application/json"})
    assert r.status == 200, r
    return r.json()


def new_token(server, ident):
    server.cli("user", "create", ident + "-owner")
    key = random_key()
    server.cli("token", "create", ident, "--user", ident + "-owner", "--expiring", "false",
               "--key", key)
    return key


def poll(fn, timeout=8.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


def test_one_remaining_use_admits_exactly_one_of_twenty_across_processes(pair):
    a, b, key = pair
    tok = new_token(a, "once-only")
    patch(Client(a, key), "once-only", {"uses_remaining": 1})
    clients = [Client(a, tok), Client(b, tok)]

    def one(i):
        return clients[i % 2].get(ME).status

    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        statuses = list(ex.map(one, range(20)))
    assert sorted(statuses) == [200] + [403] * 19, statuses
    got = Client(b, key).get(TOKEND + "once-only/").json()
    assert got["uses_remaining"] == 0


def test_usage_from_both_processes_adds_up(pair):
    a, b, key = pair
    tok = new_token(a, "counted")
    for server, n in ((a, 7), (b, 5)):
        c = Client(server, tok)
        for _ in range(n):
            assert c.get(ME).status == 200
    got = poll(lambda: (t := Client(a, key).get(TOKEND + "counted/").json())["use_count"] == 12
               and t)
    assert got, Client(a, key).get(TOKEND + "counted/").json()
    assert got["last_used_ip"] == "127.0.0.1"


def test_grace_and_reuse_across_processes(pair):
    a, b, key = pair
    old = new_token(a, "rotated")
    admin_a, admin_b = Client(a, key), Client(b, key)
    assert Client(b, old).get(ME).status == 200  # B has the old key in its caches
    first = rotate(admin_a, "rotated", {"grace": "minutes=5"})
    assert first["previous_key_valid_until"] is not None
    # during the grace window both keys work through B
    assert Client(b, old).get(ME).status == 200
    assert Client(b, first["key"]).get(ME).status == 200
    # a second rotation through A ends the window at once, for B too
    second = rotate(admin_a, "rotated")
    r = Client(b, old).get(ME)
    assert r.status == 403 and r.json() == INVALID
    assert Client(b, second["key"]).get(ME).status == 200
    # the reuse was noticed once (rate-limited per token), whichever process saw it
    r = Client(a, old).get(ME)
    assert r.status == 403 and r.json() == INVALID
    evs = admin_a.get("/api/v3/events/events/", {"action": "suspicious_request"}).json()
    msgs = [e["context"]["message"] for e in evs["results"]]
    assert msgs == ["Superseded key of token rotated was used."], msgs
    # revoke_on_reuse set through B: the next reuse through A deletes the token
    patch(admin_b, "rotated", {"revoke_on_reuse": True})
    r = Client(a, first["key"]).get(ME)
    assert r.status == 403 and r.json() == INVALID
    assert admin_b.get(TOKEND + "rotated/").status == 404
    assert Client(b, second["key"]).get(ME).status == 403


def test_rate_limit_is_shared_through_the_database(pair):
    """5 per minute, 40 requests spread over both processes within one window: at least 5 are
    admitted and fewer than 10 (twice the limit)."""
    a, b, key = pair
    tok = new_token(a, "limited")
    patch(Client(a, key), "limited", {"rate_limit": "5/minute"})
    # start right after a minute boundary would be ideal; the windows are aligned to the
    # period, so wait while the current minute has less than 20 s left
    while time.time() % 60 > 40:
        time.sleep(0.5)
    clients = [Client(a, tok), Client(b, tok)]
    admitted = 0
    for i in range(40):
        r = clients[i % 2].get(ME)
        assert r.status in (200, 429), r
        if r.status == 429:
            assert r.header("Retry-After") is not None
        admitted += r.status == 200
        time.sleep(0.25)  # 10 s in all: the processes share their counts meanwhile
    assert 5 <= admitted < 10, admitted
