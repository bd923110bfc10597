"""Bootstrap runs once per database (issue 13 point 2; docs/api.md §17.18): after the first start, deleting akadmin, renaming authentik Admins or deleting
the bootstrap token and restarting (with TOKEND_BOOTSTRAP_TOKEN still set, or without it) brings
nothing back and prints no key; `tokend bootstrap` creates nothing and says so; a database made
before this rule counts as bootstrapped when it holds anything; a new database is bootstrapped
by its first start as before (the API suites pin the objects it creates). Both stores."""

import json
import re

from harness import INVALID_TOKEN, Client, assert_json, random_key, served
from startup import run, settings, sql

BOOT = "authentik-bootstrap-token"
KEY_LINE = re.compile(r"^[A-Za-z0-9]{60}$", re.M)
# the migration that records existing databases as bootstrapped, per store
MIGRATION = {"sqlite": 4, "postgres": 2}
# What the migrations after it add (token settings, docs/api.md §19; PostgreSQL's sharded token
# count and change counter; SQLite's common search trigrams), undone to leave a database as the
# tokend before the rule left it.
LATER = [
    # the webhooks migration (docs/api.md §21), newest first
    "DROP TABLE webhook_attempts",
    "DROP TABLE webhook_deliveries",
    "DROP TABLE webhook_messages",
    "DROP TABLE webhook_endpoints",
    "DROP TABLE expiry_notices",
    "DROP TABLE IF EXISTS search_common_trigrams",
    "DROP TABLE token_old_keys",
    "DROP TABLE token_rate",
    "DROP INDEX tokens_last_used",
] + [f"ALTER TABLE tokens DROP COLUMN {c}" for c in (
    "scopes", "allowed_networks", "rate_limit", "uses_remaining", "view_key", "revoke_on_reuse",
    "key_viewed", "last_used", "last_used_ip", "use_count", "reuse_alerted")]
LATER_PG = [
    # deep pages' order counter (docs/api.md §20.4)
    "DROP TRIGGER token_order_rows ON tokens",
    "DROP TRIGGER token_order_identifier ON tokens",
    "DROP FUNCTION tokend_token_order_moved",
    "DROP TABLE token_order_shards",
    *(f"DROP TRIGGER {t}_changed ON {t}" for t in (
        "tokens", "token_key_viewers", "token_key_setters", "users", "groups", "memberships")),
    "DROP FUNCTION tokend_changed",
    "DROP TABLE change_count_shards",
    "DROP TRIGGER token_count_insert ON tokens",
    "DROP TRIGGER token_count_delete ON tokens",
    "DROP FUNCTION tokend_token_count_added",
    "DROP FUNCTION tokend_token_count_removed",
    "DROP TABLE token_count_shards",
]


def names(server, noun, field):
    return [o[field] for o in json.loads(server.cli(noun, "list", "--json"))]


def assert_nothing_bootstrapped(server, keys):
    """The latest start created nothing: no bootstrap line, no key of any form in its log."""
    log = server.log_text()
    assert "created user akadmin" not in log, log
    assert not KEY_LINE.search(log), log
    for k in keys:
        assert k not in log


def restart_without_bootstrap_key(server):
    env = server.env

    def without():
        e = env()
        e.pop("TOKEND_BOOTSTRAP_TOKEN", None)
        e.pop("AUTHENTIK_BOOTSTRAP_TOKEN", None)
        return e

    server.env = without
    server.restart()


def test_deleted_akadmin_is_not_recreated(tmp_path):
    with served(tmp_path) as s:
        s.cli("user", "create", "alice")
        s.cli("user", "delete", "akadmin")  # takes the bootstrap token with it
        s.restart()  # TOKEND_BOOTSTRAP_TOKEN is still set
        assert names(s, "user", "username") == ["alice"]
        assert BOOT not in names(s, "token", "identifier")
        assert_json(Client(s, s.bootstrap_key).list(), 403, INVALID_TOKEN)
        assert_nothing_bootstrapped(s, [s.bootstrap_key])
        restart_without_bootstrap_key(s)  # a first start would invent and print a key
        assert names(s, "user", "username") == ["alice"]
        assert names(s, "token", "identifier") == []
        assert_nothing_bootstrapped(s, [])


def test_renamed_admin_group_is_not_recreated(tmp_path):
    with served(tmp_path) as s:
        admin = Client(s, s.bootstrap_key)
        r = admin.get("/api/v3/core/groups/", {"name": "authentik Admins"})
        assert r.status == 200 and r.json()["pagination"]["count"] == 1
        pk = r.json()["results"][0]["pk"]
        r = admin.request("PATCH", f"/api/v3/core/groups/{pk}/", body=b'{"name": "Ops Admins"}',
                          headers={"Content-Type": "application/json"})
        assert r.status == 200
        s.restart()
        assert names(s, "group", "name") == ["Ops Admins"]
        me = Client(s, s.bootstrap_key).get("/api/v3/core/users/me/").json()["user"]
        assert me["is_superuser"] is True  # through the renamed group
        assert [g["name"] for g in me["groups"]] == ["Ops Admins"]
        assert_nothing_bootstrapped(s, [s.bootstrap_key])


def test_deleted_bootstrap_token_is_not_recreated_while_its_key_is_set(tmp_path):
    """A leaked bootstrap key, deleted: it must not come back on the next start although
    TOKEND_BOOTSTRAP_TOKEN still holds it."""
    with served(tmp_path) as s:
        other = "second-" + random_key(40)
        s.cli("token", "create", "second-admin", "--user", "akadmin", "--expiring", "false",
              "--key", other)
        r = Client(s, s.bootstrap_key).request("DELETE", f"/api/v3/core/tokens/{BOOT}/")
        assert r.status == 204
        for _ in range(2):
            s.restart()
            assert_json(Client(s, s.bootstrap_key).list(), 403, INVALID_TOKEN)
            got = Client(s, other).list()
            assert got.status == 200
            assert [t["identifier"] for t in got.json()["results"]] == ["second-admin"]
            assert_nothing_bootstrapped(s, [s.bootstrap_key])


def test_bootstrap_command_after_the_first_start_creates_nothing(tmp_path):
    with served(tmp_path) as s:
        s.cli("user", "delete", "akadmin")
        rc, out, err = run(s, "bootstrap")
        assert rc == 0 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "bootstrapped before" in lines[0], err
        assert "nothing was created" in lines[0]
        assert "akadmin" not in names(s, "user", "username")
        assert BOOT not in names(s, "token", "identifier")


def test_processes_that_ran_before_the_first_start_do_not_count(tmp_path):
    """A new database with users made by the command line before its first start is still
    bootstrapped by that start (only a database from before the rule counts as done)."""
    def before(s):
        s.cli("migrate")
        s.cli("user", "create", "early")

    with served(tmp_path, pre_start=before) as s:
        assert names(s, "user", "username") == ["akadmin", "early"]
        assert Client(s, s.bootstrap_key).list().status == 200
        assert settings(s.backend)["bootstrapped"] != ""


def test_a_database_from_before_the_rule_counts_as_bootstrapped(tmp_path):
    """An upgrade: a database an older tokend bootstrapped (no record of it) whose akadmin,
    group and token were removed since. The migration records it as bootstrapped because it
    holds a user, so the first start of the new version creates nothing."""
    with served(tmp_path) as s:
        admin = Client(s, s.bootstrap_key)
        s.cli("user", "create", "alice")
        pk = admin.get("/api/v3/core/groups/").json()["results"][0]["pk"]
        assert admin.request("DELETE", f"/api/v3/core/groups/{pk}/").status == 204
        s.cli("user", "delete", "akadmin")
        s.stop()
        # as an older tokend left it: no record, the migration that adds it not yet applied
        version = MIGRATION[s.backend.name]
        sql(s.backend, "DELETE FROM settings WHERE key = 'bootstrapped'")
        for stmt in LATER + (LATER_PG if s.backend.name == "postgres" else []):
            sql(s.backend, stmt)
        sql(s.backend, f"DELETE FROM schema_migrations WHERE version >= {version}")
        s.start()
        assert names(s, "user", "username") == ["alice"]
        assert names(s, "group", "name") == []
        assert names(s, "token", "identifier") == []
        assert_nothing_bootstrapped(s, [s.bootstrap_key])
        assert settings(s.backend)["bootstrapped"].startswith("before schema version")
