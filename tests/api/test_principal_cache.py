"""The per-thread principal cache (src/api/principal_cache.c, issue 8): a key that
authenticated once is answered without a store lookup while nothing in the database changes.
Every change must still take effect at once on every worker thread: a deactivated user, a
revoked token (from this process or another), a lost superuser group, and expiry (which no
commit announces: checked against the clock on every use)."""

import datetime
import json
import time

from harness import Client, served

REPEAT = 8  # enough requests to reach every worker thread


def statuses(client, path="/api/v3/core/users/me/"):
    return {client.get(path).status for _ in range(REPEAT)}


def send(client, method, path, obj):
    r = client.request(method, path, body=json.dumps(obj).encode(),
                       headers={"Content-Type": "application/json"})
    assert r.status in (200, 201, 204), (r.status, r.body)
    return r.json() if r.body else None


def test_every_change_reaches_the_cached_principals(tmp_path):
    with served(tmp_path) as server:
        admin = Client(server, token=server.bootstrap_key)
        user = send(admin, "POST", "/api/v3/core/users/", {"username": "pc", "name": "P C"})
        send(admin, "POST", "/api/v3/core/tokens/",
             {"identifier": "pc-tok", "user": user["pk"], "expiring": False})
        key = admin.get("/api/v3/core/tokens/pc-tok/view_key/").json()["key"]
        pc = Client(server, token=key)
        assert statuses(pc) == {200}

        # deactivated, then active again (through the API)
        send(admin, "PATCH", f"/api/v3/core/users/{user['pk']}/", {"is_active": False})
        assert statuses(pc) == {403}
        send(admin, "PATCH", f"/api/v3/core/users/{user['pk']}/", {"is_active": True})
        assert statuses(pc) == {200}

        # superuser through a group, then not
        groups = admin.get("/api/v3/core/groups/", {"is_superuser": "true"}).json()["results"]
        su = groups[0]["pk"]
        assert statuses(pc, "/api/v3/core/users/") == {403}
        send(admin, "POST", f"/api/v3/core/groups/{su}/add_user/", {"pk": user["pk"]})
        assert statuses(pc, "/api/v3/core/users/") == {200}
        send(admin, "POST", f"/api/v3/core/groups/{su}/remove_user/", {"pk": user["pk"]})
        assert statuses(pc, "/api/v3/core/users/") == {403}

        # revoked by another process
        server.cli("token", "revoke", "pc-tok")
        assert statuses(pc) == {403}

        # expiry: nothing commits when a token expires; the clock decides on every use
        soon = (datetime.datetime.now(datetime.timezone.utc)
                + datetime.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        # (the API gives API tokens its default duration; the CLI takes any expiry)
        key = server.cli("token", "create", "pc-soon", "--user", "pc", "--expires", soon)
        soon_client = Client(server, token=key)
        assert statuses(soon_client) == {200}
        time.sleep(2.5)
        assert statuses(soon_client) == {403}
