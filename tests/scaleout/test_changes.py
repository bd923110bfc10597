"""Caches on PostgreSQL with several processes (issue 17 item 1, docs/api.md §20.1). In both modes
(notified, the default: LISTEN/NOTIFY with every commit confirmed by every listening process
before it is answered; strict: the change counter read per request) a key changed, a token deleted
or a user deactivated through A fails through B on B's very next request, many times over with
B's caches warm; in notified mode also while B's notification connection is being killed over
and over (B then trusts no cache until it listens again and has re-read the change counter), and
when B cannot confirm (stopped): A waits a second, ends B's listening connection and answers;
B, continued, refuses at once. That B's caches do answer is proven by the round-trip counts
(tests/api/test_round_trips.py)."""

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from harness import Client, Server, random_key
from test_scaleout import SharedDb

ME = "/api/v3/core/users/me/"
TOKENS = "/api/v3/core/tokens/"
USERS = "/api/v3/core/users/"
INVALID = {"detail": "Token invalid/expired"}
KILL_LISTENERS = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE application_name = 'tokend-changes'")


@pytest.fixture(params=["strict", "notified"])
def pair(request, cluster, tmp_path):
    db = SharedDb(cluster)
    key, secret = random_key(), "scaleout-secret-" + random_key(20)
    env = {"TOKEND_THREADS": "4", "TOKEND_AUTH_FAILURE_BURST": "0",
           "TOKEND_PG_CACHES": request.param}
    a = Server(tmp_path / "a", db, bootstrap_key=key, secret_key=secret, extra_env=env)
    b = Server(tmp_path / "b", db, bootstrap_key=key, secret_key=secret, extra_env=env)
    os.makedirs(a.workdir)
    os.makedirs(b.workdir)
    a.start()
    b.start()
    yield a, b, key, db, request.param
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


def refused_through(b, k):
    """B refuses k on its next request."""
    r = Client(b, token=k).get(ME)
    assert r.status == 403, f"B answered {r} on its next request"
    assert r.json() == INVALID, r


def rounds(a, b, key, n, first=0):
    """n rounds of: a token's key warm in B's caches, then ended through A, then refused through
    B on its next request; by deletion, by a new key and by the owner's deactivation in turn."""
    admin_a = Client(a, token=key)
    for i in range(first, first + n):
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
        refused_through(b, k)


def test_ended_through_a_fails_through_b(pair):
    a, b, key, _, _ = pair
    rounds(a, b, key, 60)


def test_token_rows_cached_through_b_follow_changes_through_a(pair):
    """B keeps token rows per thread (a retrieve and a list filtered by identifier read them
    from its cache, a list page by its query string); a token changed, renamed or deleted
    through A reads changed through B on B's very next request, every way."""
    a, b, key, _, _ = pair
    admin_a, admin_b = Client(a, token=key), Client(b, token=key)
    for i in range(24):
        ident = f"row{i}"
        new_token(admin_a, ident, 1)
        page = {"search": ident, "page_size": "5"}  # a list page, by its query string
        for _ in range(8):  # every one of B's four threads reads it, twice
            assert admin_b.get(TOKENS + ident + "/").json()["description"] == ""
            assert admin_b.get(TOKENS, {"identifier": ident}).json()["pagination"]["count"] == 1
            assert [t["description"] for t in admin_b.get(TOKENS, page).json()["results"]] == [""]
        how = i % 3
        if how == 0:
            assert patch(admin_a, TOKENS + ident + "/", {"description": f"d{i}"}).status == 200
            r = admin_b.get(TOKENS + ident + "/")
            assert r.status == 200 and r.json()["description"] == f"d{i}", r
            r = admin_b.get(TOKENS, {"identifier": ident})
            assert [t["description"] for t in r.json()["results"]] == [f"d{i}"], r
            r = admin_b.get(TOKENS, page)
            assert [t["description"] for t in r.json()["results"]] == [f"d{i}"], r
            continue
        if how == 1:
            assert patch(admin_a, TOKENS + ident + "/", {"identifier": ident + "x"}).status == 200
            r = admin_b.get(TOKENS, page)  # still found by the search, under its new name
            assert [t["identifier"] for t in r.json()["results"]] == [ident + "x"], r
        else:
            assert admin_a.request("DELETE", TOKENS + ident + "/").status == 204
            r = admin_b.get(TOKENS, page)
            assert r.json()["pagination"]["count"] == 0 and r.json()["results"] == [], r
        r = admin_b.get(TOKENS + ident + "/")
        assert r.status == 404, f"B answered {r} on its next request"
        r = admin_b.get(TOKENS, {"identifier": ident})
        assert r.status == 200 and r.json()["pagination"]["count"] == 0, r


def test_with_the_notification_connection_killed(pair):
    """A thread keeps killing every process's listening connection; every round still holds,
    and B logged losing the link (so the rounds did run without it). Notified mode only: strict
    mode has no such connection."""
    a, b, key, db, mode = pair
    if mode == "strict":  # nothing to kill: strict mode holds no listening connection
        p = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-d", db.database_url(), "-c",
                            "SELECT COUNT(*) FROM pg_stat_activity "
                            "WHERE application_name = 'tokend-changes'"],
                           capture_output=True, text=True, timeout=30, check=True)
        assert p.stdout.strip() == "0"
        return
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


def test_changes_through_the_command_line(pair):
    """The command line is a process too: a token revoked or rotated with `tokend token` is
    refused through both servers on their next request, their caches warm."""
    a, b, key, _, _ = pair
    admin_a = Client(a, token=key)
    for i, how in enumerate(["revoke", "rotate"] * 3):
        ident = f"cli{i}"
        k = new_token(admin_a, ident, 1)
        warm(a, k)
        warm(b, k)
        a.cli("token", how, ident)
        refused_through(a, k)
        refused_through(b, k)


def listeners(db):
    p = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-d", db.database_url(), "-c",
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE application_name = 'tokend-changes' ORDER BY pid"],
                       capture_output=True, text=True, timeout=30, check=True)
    return [int(x) for x in p.stdout.split()]


def test_a_process_that_does_not_confirm_loses_its_listener(pair):
    """B stopped (SIGSTOP) cannot confirm A's change: A answers after about a second, having
    ended B's listening connection and said so; B, continued, refuses the old key on its very
    next request and listens again afterwards."""
    a, b, key, db, mode = pair
    if mode == "strict":
        return  # nobody listens, nobody is waited for: test_ended_through_a_fails_through_b
    deadline = time.monotonic() + 10
    while len(listeners(db)) < 2:
        assert time.monotonic() < deadline, "both processes listen"
        time.sleep(0.05)
    before = listeners(db)
    admin_a = Client(a, token=key)
    k = new_token(admin_a, "stopped", 1)
    warm(b, k)
    os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        t = time.monotonic()
        r = post(admin_a, TOKENS + "stopped/set_key/", {"key": random_key()})
        took = time.monotonic() - t
        assert r.status == 204, r
        assert 0.9 < took < 5, took
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)
    refused_through(b, k)
    assert "did not confirm a change" in a.log_text()
    assert "ended their listening connections" in a.log_text()
    deadline = time.monotonic() + 10
    while True:
        now = listeners(db)
        if len(now) == 2 and now != before:
            break
        assert time.monotonic() < deadline, (before, now)
        time.sleep(0.05)
    # and B's caches are back in use, still right
    rounds(a, b, key, 3, first=100)


def test_a_change_with_one_process_waits_for_nobody(pair):
    """With B gone (stopped cleanly: it leaves the listeners at once), A's writes wait for no
    one but A's own listener: they answer at once, nobody's connection is ended."""
    a, b, key, db, mode = pair
    b.stop()
    admin_a = Client(a, token=key)
    k = new_token(admin_a, "alone", 1)
    t = time.monotonic()
    for _ in range(5):
        r = post(admin_a, TOKENS + "alone/set_key/", {"key": random_key()})
        assert r.status == 204, r
    assert time.monotonic() - t < 2.5
    assert "did not confirm" not in a.log_text()
    assert k
