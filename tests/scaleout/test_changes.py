"""Caches on PostgreSQL with several processes (issue 17 item 1, docs/api.md §20.1): a key
changed, a token deleted or a user deactivated through A fails through B on B's very next
request, many times over with B's caches warm, and also while B's notification connection is
being killed over and over (B then trusts no cache until it listens again and has re-read the
change counter). That B's caches do answer is proven by the round-trip counts
(tests/api/test_round_trips.py)."""

import json
import os
import subprocess
import threading

import pytest

from harness import Client, Server, random_key
from test_scaleout import SharedDb

ME = "/api/v3/core/users/me/"
TOKENS = "/api/v3/core/tokens/"
USERS = "/api/v3/core/users/"
INVALID = {"detail": "Token invalid/expired"}
KILL_LISTENERS = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE application_name = 'tokend-changes'")


@pytest.fixture
def pair(cluster, tmp_path):
    db = SharedDb(cluster)
    key, secret = random_key(), "scaleout-secret-" + random_key(20)
    env = {"TOKEND_THREADS": "4", "TOKEND_AUTH_FAILURE_BURST": "0"}
    a = Server(tmp_path / "a", db, bootstrap_key=key, secret_key=secret, extra_env=env)
    b = Server(tmp_path / "b", db, bootstrap_key=key, secret_key=secret, extra_env=env)
    os.makedirs(a.workdir)
    os.makedirs(b.workdir)
    a.start()
    b.start()
    yield a, b, key, db
    try:
        a.stop()
        b.stop()
    finally:
        db.cleanup()


def post(client, path, body):
    return client.request("POST", path, body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})


def patch(client, path, body):
    return client.request("PATCH", path, body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})


def new_token(admin, ident, user_pk):
    """A token of intent api for user_pk, created through admin's process; its key."""
    r = post(admin, TOKENS, {"identifier": ident, "intent": "api", "user": user_pk,
                             "expiring": False})
    assert r.status == 201, r
    r = admin.get(TOKENS + ident + "/view_key/")
    assert r.status == 200, r
    return r.json()["key"]


def warm(server, key):
    """Two answers through server with key: the second from its caches when they work."""
    for _ in range(2):
        r = Client(server, token=key).get(ME)
        assert r.status == 200, r


def rounds(a, b, key, n):
    """n rounds of: a token's key warm in B's caches, then ended through A, then refused through
    B at once; by deletion, by a new key and by the owner's deactivation in turn."""
    admin_a = Client(a, token=key)
    for i in range(n):
        r = post(admin_a, USERS, {"username": f"u{i}", "name": f"U {i}"})
        assert r.status == 201, r
        pk = r.json()["pk"]
        ident = f"t{i}"
        k = new_token(admin_a, ident, pk)
        warm(b, k)
        how = i % 3
        if how == 0:
            assert admin_a.request("DELETE", TOKENS + ident + "/").status == 204
        elif how == 1:
            r = post(admin_a, TOKENS + ident + "/set_key/", {"key": random_key()})
            assert r.status == 204, r
        else:
            assert patch(admin_a, USERS + f"{pk}/", {"is_active": False}).status == 200
        r = Client(b, token=k).get(ME)
        assert (r.status, r.json()) == (403, INVALID), f"round {i} ({how}): B answered {r}"


def test_ended_through_a_fails_through_b_at_once(pair):
    a, b, key, _ = pair
    rounds(a, b, key, 60)


def test_with_the_notification_connection_killed(pair):
    """A thread keeps killing every process's listening connection; every round still holds,
    and B logged losing the link (so the rounds did run without it)."""
    a, b, key, db = pair
    stop = threading.Event()
    kills = []

    def killer():
        while not stop.is_set():
            p = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-d", db.database_url(), "-c",
                                KILL_LISTENERS], capture_output=True, text=True, timeout=30)
            kills.append(p.stdout.count("t"))
            stop.wait(0.005)

    t = threading.Thread(target=killer)
    t.start()
    try:
        rounds(a, b, key, 30)
    finally:
        stop.set()
        t.join()
    assert sum(kills) > 0
    assert "change watch lost" in b.log_text()
    # and once left alone, the watch is back and B answers as before
    k = new_token(Client(a, token=key), "after", 1)
    warm(b, k)
