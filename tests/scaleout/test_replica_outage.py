"""Reads from a streaming replica, and database outages (issue 5 points 3 and 5): list and
retrieve go to TOKEND_DATABASE_REPLICA, writes and authentication to the primary; a replica
that goes away falls back to the primary; a primary that goes away makes requests fail fast
with 503 and the first request after it comes back succeeds."""

import json
import os
import subprocess
import time

import pytest

from harness import Client, Server, random_key

TOKENS = "/api/v3/core/tokens/"


class Db:
    name = "postgres"

    def __init__(self, url):
        self.url = url

    def database_url(self):
        return self.url

    def cleanup(self):
        pass


def psql(url, sql):
    p = subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def create(client, ident):
    return client.request("POST", TOKENS, body=json.dumps({"identifier": ident}).encode(),
                          headers={"Content-Type": "application/json"})


def test_reads_go_to_the_replica_and_fall_back_to_the_primary(cluster, tmp_path):
    replica = cluster.replica()
    key = random_key()
    server = Server(tmp_path, Db(cluster.url), bootstrap_key=key, secret_key="r-" + random_key(),
                    extra_env={"TOKEND_DATABASE_REPLICA": replica.url})
    try:
        server.start()
        c = Client(server, token=key)
        assert create(c, "before-pause").status == 201
        deadline = time.monotonic() + 10  # let the replica catch up (tokend may fall back meanwhile)
        while True:
            try:
                if psql(replica.url, "SELECT count(*) FROM tokens WHERE identifier = 'before-pause'") == "1":
                    break
            except AssertionError:
                pass  # the schema itself is not replayed yet
            assert time.monotonic() < deadline, "the replica never caught up"
            time.sleep(0.1)
        assert c.list({"identifier": "before-pause"}).json()["pagination"]["count"] == 1
        # Freeze the replica: what is written now exists only on the primary.
        psql(replica.url, "SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + 10
        while psql(replica.url, "SELECT pg_get_wal_replay_pause_state()") != "paused":
            assert time.monotonic() < deadline, "the replica did not pause"
            time.sleep(0.05)
        assert create(c, "after-pause").status == 201
        # a write and its read-back in the same request come from the primary
        server.cli("user", "create", "una")
        fresh = server.cli("token", "create", "una-api", "--user", "una", "--expiring", "false")
        # lists and retrieves are served by the replica, which has not seen the new tokens
        assert c.list({"identifier": "after-pause"}).json()["pagination"]["count"] == 0
        assert c.get(TOKENS + "after-pause/").status == 404
        # authentication of a just-created key is answered by the primary
        assert Client(server, token=fresh).get("/api/v3/core/users/me/").status == 200
        # the replica goes away: the primary answers, with everything
        replica.halt()
        r = c.list({"identifier": "after-pause"})
        assert r.status == 200 and r.json()["pagination"]["count"] == 1
        assert c.get(TOKENS + "after-pause/").status == 200
    finally:
        server.stop()
        replica.stop()


def test_primary_outage_is_a_fast_503_and_recovers(cluster, tmp_path):
    key = random_key()
    dbname = "outage_" + random_key(8).lower()
    subprocess.run(["createdb", "--maintenance-db=" + cluster.url, dbname], check=True,
                   capture_output=True, timeout=60)
    url = cluster.url.rsplit("/", 1)[0] + "/" + dbname
    server = Server(tmp_path, Db(url), bootstrap_key=key, secret_key="o-" + random_key())
    try:
        server.start()
        c = Client(server, token=key)
        assert c.list().status == 200
        cluster.halt()
        for _ in range(5):
            t0 = time.monotonic()
            r = c.list()
            elapsed = time.monotonic() - t0
            assert r.status == 503, (r.status, r.shown())
            assert set(r.json()) == {"detail"}
            assert elapsed < 4.0, elapsed  # fails fast, never hangs
        cluster.resume()  # returns once PostgreSQL accepts connections again
        # The very next requests, on every worker thread, succeed: dropped connections are
        # re-established on first use, not after a backoff.
        for i in range(8):
            r = c.list()
            assert r.status == 200, (i, r.status, r.shown())
        assert create(c, "after-outage").status == 201
    finally:
        server.stop()
