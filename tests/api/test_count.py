"""The unfiltered token count (issue 8): SQLite answers it from a counter kept by triggers
(migration 0003) instead of COUNT(*). Whatever removes or adds tokens (the API, the CLI, a
user's deletion cascading to its tokens, the expiry sweeper, a seeded database), the count of
the unfiltered list must equal the number of tokens the list actually walks."""

import json

from harness import Client, served


def walk(client):
    """(pagination.count, identifiers seen walking every page)."""
    seen, page, count = [], 1, None
    while True:
        r = client.get("/api/v3/core/tokens/", {"page_size": "100", "page": str(page)})
        assert r.status == 200, r.body
        body = r.json()
        count = body["pagination"]["count"]
        seen += [t["identifier"] for t in body["results"]]
        if not body["pagination"]["next"]:
            return count, seen
        page += 1


def post(client, path, obj):
    r = client.request("POST", path, body=json.dumps(obj).encode(),
                       headers={"Content-Type": "application/json"})
    assert r.status in (200, 201), (r.status, r.body)
    return r.json()


def check(client, want=None):
    count, seen = walk(client)
    assert count == len(seen) == len(set(seen))
    if want is not None:
        assert count == want
    # filtered counts (COUNT(*), no counter) add up to the counter's
    parts = [client.get("/api/v3/core/tokens/", {"page_size": "1", "expiring": v})
             .json()["pagination"]["count"] for v in ("true", "false")]
    assert sum(parts) == count
    return count


def test_count_follows_every_kind_of_change(tmp_path):
    def seed(server):
        server.cli("seed", "--users", "3", "--groups", "2", "--tokens", "150", "--seed", "3",
                   "--admin-token", server.bootstrap_key)

    with served(tmp_path, pre_start=seed) as server:
        admin = Client(server, token=server.bootstrap_key)
        start = check(admin)
        assert start >= 151  # seeded tokens, the bootstrap token
        user = post(admin, "/api/v3/core/users/", {"username": "counted", "name": "C"})
        for i in range(5):
            post(admin, "/api/v3/core/tokens/", {"identifier": f"cnt-{i}", "user": user["pk"],
                                                 "expiring": False})
        check(admin, start + 5)
        assert admin.request("DELETE", "/api/v3/core/tokens/cnt-0/").status == 204
        check(admin, start + 4)
        server.cli("token", "create", "cnt-cli", "--user", "counted")
        check(admin, start + 5)
        server.cli("token", "revoke", "cnt-cli")
        check(admin, start + 4)
        # a user's deletion takes its tokens with it (foreign-key cascade)
        assert admin.request("DELETE", f"/api/v3/core/users/{user['pk']}/").status == 204
        check(admin, start)
        # the sweeper deletes expired non-API tokens
        post(admin, "/api/v3/core/tokens/", {"identifier": "cnt-expired", "intent": "app_password",
                                             "expires": "2001-01-01T00:00:00Z"})
        check(admin, start + 1)
        server.cli("sweep")
        after = check(admin)
        r = admin.get("/api/v3/core/tokens/", {"identifier": "cnt-expired"})
        assert r.json()["pagination"]["count"] == 0
        assert after == start
        # and across a restart
        server.stop()
        server.start()
        check(admin, start)


def test_the_unfiltered_count_is_read_from_the_counter(tmp_path):
    """The unfiltered count comes from the counter the triggers keep (SQLite: one row; PostgreSQL:
    sixteen rows summed, so writers do not wait for each other), not from COUNT(*): a counter
    changed behind tokend's back shows in the answer, and a filtered count is still counted."""
    from startup import sql
    with served(tmp_path) as s:
        c = Client(s, s.bootstrap_key)
        assert c.list().json()["pagination"]["count"] == 1
        if s.backend.name == "postgres":
            rows = sql(s.backend, "SELECT COUNT(*) FROM token_count_shards")
            assert rows == [("16",)]
            sql(s.backend, "UPDATE token_count_shards SET n = n + 1000 WHERE shard = 5")
        else:
            sql(s.backend, "UPDATE token_count SET n = n + 1000 WHERE id = 1")
        assert c.list().json()["pagination"]["count"] == 1001
        # a filter counts the rows it matches
        r = c.list({"identifier": "authentik-bootstrap-token"}).json()
        assert r["pagination"]["count"] == 1
