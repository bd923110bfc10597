"""The per-thread cache of rendered users (src/api/user_cache.c, issue 8): a token list's
user_obj must show every change to the user, its groups and its superuser status at once,
whether the change came through the API (this process, any worker thread) or through another
process (the CLI) — on SQLite through PRAGMA data_version and the connection's own commits; on
PostgreSQL nothing is cached. Each read is repeated so that every worker thread answers."""

import json

from harness import Client, served

REPEAT = 8  # enough requests to reach every worker thread (TOKEND_THREADS is small in tests)


def owner(client, ident):
    """user_obj of token ident, the same on every repetition (and thread)."""
    seen = set()
    for _ in range(REPEAT):
        r = client.get("/api/v3/core/tokens/", {"identifier": ident})
        assert r.status == 200, r.body
        [tok] = r.json()["results"]
        seen.add(json.dumps(tok["user_obj"], sort_keys=True))
        r = client.get(f"/api/v3/core/tokens/{ident}/")  # retrieve shares the cache
        assert r.status == 200, r.body
        seen.add(json.dumps(r.json()["user_obj"], sort_keys=True))
        for include in ("false",):
            r2 = client.get("/api/v3/core/tokens/", {"identifier": ident,
                                                     "include_groups": include})
            [t2] = r2.json()["results"]
            assert t2["user_obj"]["groups_obj"] is None
            assert t2["user_obj"]["name"] == tok["user_obj"]["name"]
    assert len(seen) == 1, seen
    return json.loads(seen.pop())


def send(client, method, path, obj):
    r = client.request(method, path, body=json.dumps(obj).encode(),
                       headers={"Content-Type": "application/json"})
    assert r.status in (200, 201, 204), (r.status, r.body)
    return r.json() if r.body else None


def test_user_obj_follows_every_change(tmp_path):
    with served(tmp_path) as server:
        admin = Client(server, token=server.bootstrap_key)
        user = send(admin, "POST", "/api/v3/core/users/", {"username": "cached", "name": "Ca Ched"})
        send(admin, "POST", "/api/v3/core/tokens/", {"identifier": "cache-tok", "user": user["pk"]})
        u = owner(admin, "cache-tok")
        assert u["name"] == "Ca Ched" and u["groups_obj"] == [] and not u["is_superuser"]

        # through the API
        send(admin, "PATCH", f"/api/v3/core/users/{user['pk']}/", {"name": "Re Named"})
        u = owner(admin, "cache-tok")
        assert u["name"] == "Re Named"

        parent = send(admin, "POST", "/api/v3/core/groups/", {"name": "cache-parent"})
        child = send(admin, "POST", "/api/v3/core/groups/",
                     {"name": "cache-child", "parent": parent["pk"]})
        send(admin, "POST", f"/api/v3/core/groups/{child['pk']}/add_user/", {"pk": user["pk"]})
        u = owner(admin, "cache-tok")
        assert [g["name"] for g in u["groups_obj"]] == ["cache-child"]
        assert u["groups_obj"][0]["parent_name"] == "cache-parent"
        assert not u["is_superuser"]

        # superuser through the parent, then a rename of the group
        send(admin, "PATCH", f"/api/v3/core/groups/{parent['pk']}/", {"is_superuser": True})
        assert owner(admin, "cache-tok")["is_superuser"]
        send(admin, "PATCH", f"/api/v3/core/groups/{parent['pk']}/", {"name": "cache-top"})
        assert owner(admin, "cache-tok")["groups_obj"][0]["parent_name"] == "cache-top"

        # through another process
        server.cli("group", "create", "cache-cli")
        server.cli("group", "add", "cache-cli", "cached")
        u = owner(admin, "cache-tok")
        assert sorted(g["name"] for g in u["groups_obj"]) == ["cache-child", "cache-cli"]
        server.cli("group", "remove", "cache-child", "cached")
        u = owner(admin, "cache-tok")
        assert [g["name"] for g in u["groups_obj"]] == ["cache-cli"]
        assert not u["is_superuser"]

        # the user's own deletion: its token goes too
        r = admin.request("DELETE", f"/api/v3/core/users/{user['pk']}/")
        assert r.status == 204
        r = admin.get("/api/v3/core/tokens/", {"identifier": "cache-tok"})
        assert r.json()["results"] == []


def me(client):
    bodies = {json.dumps(client.get("/api/v3/core/users/me/").json(), sort_keys=True)
              for _ in range(REPEAT)}
    assert len(bodies) == 1, bodies
    return json.loads(bodies.pop())["user"]


def test_users_me_follows_every_change(tmp_path):
    """users/me/ is kept whole per thread and snapshot: its name, groups, settings (merged from
    the groups' attributes) and superuser permissions follow every change at once."""
    with served(tmp_path) as server:
        admin = Client(server, token=server.bootstrap_key)
        user = send(admin, "POST", "/api/v3/core/users/", {"username": "meme", "name": "Me Me"})
        key = server.cli("token", "create", "meme-key", "--user", "meme", "--expires", "none")
        mine = Client(server, token=key)
        u = me(mine)
        assert u["name"] == "Me Me" and u["groups"] == [] and u["settings"] == {}
        send(admin, "PATCH", f"/api/v3/core/users/{user['pk']}/", {"name": "You"})
        assert me(mine)["name"] == "You"
        g = send(admin, "POST", "/api/v3/core/groups/",
                 {"name": "me-g", "attributes": {"settings": {"theme": "dark"}}})
        send(admin, "POST", f"/api/v3/core/groups/{g['pk']}/add_user/", {"pk": user["pk"]})
        u = me(mine)
        assert [x["name"] for x in u["groups"]] == ["me-g"]
        assert u["settings"] == {"theme": "dark"}
        assert u["system_permissions"] == []
        send(admin, "PATCH", f"/api/v3/core/groups/{g['pk']}/",
             {"attributes": {"settings": {"theme": "light"}}, "is_superuser": True})
        u = me(mine)
        assert u["settings"] == {"theme": "light"} and u["is_superuser"]
        assert u["system_permissions"] != []
        server.cli("group", "remove", "me-g", "meme")  # another process
        u = me(mine)
        assert u["groups"] == [] and not u["is_superuser"] and u["settings"] == {}
