"""Several tokend processes on one PostgreSQL share one truth (issue 5 point 4): what one
process writes, the other answers from on its very next request."""

import concurrent.futures
import json
import os
import subprocess
import time
import uuid

import pytest

from harness import Client, Server, random_key

TOKENS = "/api/v3/core/tokens/"


class SharedDb:
    """A database on the module's cluster, made fresh for one test."""

    name = "postgres"

    def __init__(self, cluster):
        self.cluster_url = cluster.url
        self.dbname = "scaleout_" + uuid.uuid4().hex[:12]
        subprocess.run(["createdb", "--maintenance-db=" + cluster.url, self.dbname], check=True,
                       capture_output=True, timeout=60)
        self.url = cluster.url.rsplit("/", 1)[0] + "/" + self.dbname

    def database_url(self):
        return self.url

    def cleanup(self):
        subprocess.run(["dropdb", "--if-exists", "--force", "--maintenance-db=" + self.cluster_url,
                        self.dbname], capture_output=True, timeout=60)


@pytest.fixture
def pair(cluster, tmp_path):
    """Two tokend processes, A and B, on one database with one secret and bootstrap key."""
    db = SharedDb(cluster)
    key, secret = random_key(), "scaleout-secret-" + random_key(20)
    env = {"TOKEND_THREADS": "4", "TOKEND_SWEEP_INTERVAL": "seconds=1"}
    a = Server(tmp_path / "a", db, bootstrap_key=key, secret_key=secret, extra_env=env)
    b = Server(tmp_path / "b", db, bootstrap_key=key, secret_key=secret, extra_env=env)
    os.makedirs(a.workdir)
    os.makedirs(b.workdir)
    a.start()
    b.start()  # migrates concurrently-safe: the schema exists once, bootstrap creates nothing
    yield a, b, key
    try:
        a.stop()
        b.stop()
    finally:
        db.cleanup()


def admin(server, key):
    return Client(server, token=key)


def create(client, body):
    return client.request("POST", TOKENS, body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})


def test_two_processes_start_on_one_fresh_database(cluster, tmp_path):
    """Both start at the same moment: migrations run once (advisory lock), one bootstrap."""
    db = SharedDb(cluster)
    key, secret = random_key(), "s-" + random_key(20)
    servers = [Server(tmp_path / n, db, bootstrap_key=key, secret_key=secret) for n in "abc"]
    for s in servers:
        os.makedirs(s.workdir)
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            list(ex.map(lambda s: s.start(), servers))
        for s in servers:
            r = admin(s, key).list({"identifier": "authentik-bootstrap-token"})
            assert r.status == 200 and r.json()["pagination"]["count"] == 1
        out = servers[0].cli("user", "list", "--json")
        assert [u["username"] for u in json.loads(out)] == ["akadmin"]
        for s in servers:
            s.stop()
    finally:
        for s in servers:
            if s.proc is not None:
                s.proc.kill()
        db.cleanup()


def test_create_through_a_is_listed_through_b(pair):
    a, b, key = pair
    r = create(admin(a, key), {"identifier": "made-on-a", "description": "x"})
    assert r.status == 201
    r = admin(b, key).list({"identifier": "made-on-a"})
    assert r.status == 200 and r.json()["pagination"]["count"] == 1
    assert r.json()["results"][0]["description"] == "x"
    r = admin(b, key).get(TOKENS + "made-on-a/")
    assert r.status == 200 and r.json()["identifier"] == "made-on-a"


def test_set_key_and_delete_through_a_end_the_old_key_on_b(pair):
    a, b, key = pair
    a.cli("user", "create", "rita")
    old = a.cli("token", "create", "rita-api", "--user", "rita", "--expiring", "false")
    as_rita_b = Client(b, token=old)
    assert as_rita_b.get("/api/v3/core/users/me/").status == 200
    new = random_key()
    r = admin(a, key).request("POST", TOKENS + "rita-api/set_key/",
                              body=json.dumps({"key": new}).encode(),
                              headers={"Content-Type": "application/json"})
    assert r.status == 204
    r = as_rita_b.get("/api/v3/core/users/me/")
    assert r.status == 403 and r.json() == {"detail": "Token invalid/expired"}
    assert Client(b, token=new).get("/api/v3/core/users/me/").status == 200
    assert admin(a, key).request("DELETE", TOKENS + "rita-api/").status == 204
    r = Client(b, token=new).get("/api/v3/core/users/me/")
    assert r.status == 403 and r.json() == {"detail": "Token invalid/expired"}


def test_fifty_concurrent_creates_of_one_identifier(pair):
    a, b, key = pair
    clients = [admin(a, key), admin(b, key)]

    def one(i):
        r = create(clients[i % 2], {"identifier": "contended", "description": f"from {i}"})
        return r.status, r.json()

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        results = list(ex.map(one, range(50)))
    statuses = sorted(s for s, _ in results)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(400) == 49, statuses
    for status, body in results:
        if status == 400:
            assert body == {"identifier": ["Token with this identifier already exists."]}
    r = admin(b, key).list({"identifier": "contended"})
    assert r.json()["pagination"]["count"] == 1


def test_concurrent_patches_leave_one_of_them(pair):
    a, b, key = pair
    assert create(admin(a, key), {"identifier": "patched"}).status == 201
    clients = [admin(a, key), admin(b, key)]

    def one(i):
        body = {"description": f"d{i}", "managed": f"m{i}", "expiring": i % 2 == 0}
        return clients[i % 2].request("PATCH", TOKENS + "patched/",
                                      body=json.dumps(body).encode(),
                                      headers={"Content-Type": "application/json"}).status

    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        statuses = list(ex.map(one, range(30)))
    assert statuses == [200] * 30
    t = admin(b, key).get(TOKENS + "patched/").json()
    i = int(t["description"][1:])
    assert t["managed"] == f"m{i}" and t["expiring"] == (i % 2 == 0), t


def test_membership_change_through_a_is_seen_by_b(pair):
    a, b, key = pair
    a.cli("user", "create", "sam")
    sam = a.cli("token", "create", "sam-api", "--user", "sam", "--expiring", "false")
    me_b = Client(b, token=sam)
    assert me_b.get("/api/v3/core/users/me/").json()["user"]["is_superuser"] is False
    assert me_b.list().json()["pagination"]["count"] == 1  # only his own token
    r = admin(a, key).list()
    admins = [g for g in admin(a, key).get("/api/v3/core/groups/").json()["results"]
              if g["name"] == "authentik Admins"][0]
    sam_pk = admin(a, key).get("/api/v3/core/users/", {"username": "sam"}).json()["results"][0]["pk"]
    r = admin(a, key).request("POST", f"/api/v3/core/groups/{admins['pk']}/add_user/",
                              body=json.dumps({"pk": sam_pk}).encode(),
                              headers={"Content-Type": "application/json"})
    assert r.status == 204
    assert me_b.get("/api/v3/core/users/me/").json()["user"]["is_superuser"] is True
    assert me_b.list().json()["pagination"]["count"] >= 2  # now every token


def test_one_sweeper_at_a_time(pair):
    """Both processes sweep every second; an expired api token is rotated exactly once."""
    a, b, key = pair
    a.cli("user", "create", "tom")
    a.cli("token", "create", "tom-old", "--user", "tom", "--expires", "2020-01-01T00:00:00Z")
    deadline = time.monotonic() + 10
    events = []
    while time.monotonic() < deadline:
        events = admin(b, key).get("/api/v3/events/events/", {"action": "secret_rotate"}).json()
        if events["pagination"]["count"] >= 1:
            break
        time.sleep(0.2)
    time.sleep(2.5)  # a second (wrong) rotation would show by now
    events = admin(b, key).get("/api/v3/events/events/", {"action": "secret_rotate"}).json()
    assert events["pagination"]["count"] == 1, events
    assert events["results"][0]["context"]["message"] == "Token tom-old's secret was rotated."
