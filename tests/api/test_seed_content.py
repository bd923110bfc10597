"""`tokend seed` writes the same data set however fast it gets (issue 17 item 6): the same --seed
gives the same users, groups, memberships, tokens, identifiers, descriptions, expiries and search
folds as the row-at-a-time seed of main at cb2f77b did, on both stores.

What is compared is a canonical dump of every table (dump() below), minus what is random by
design: uuids (tk_uuid4, the CSPRNG; a user's uuid is also part of its search fold, where it is
replaced by a marker), key hashes and sealed keys (only their lengths are kept), the values of
the settings (secret check, KDF salt, installation id), and absolute times: `created` is
"seed" when it is the seed's clock reading (that of tok-0000000) and "other" otherwise
(bootstrap's rows), and a token's `expires` is kept as expires - created.

EXPECTED was produced once with the release binary of main before the change (cb2f77b, built
in a worktree of its own), on both stores (they agree), by calling seeded_digest(DIR) with
TOKEND_BIN set to that binary (and TOKEND_TEST_BACKEND=postgres, TOKEND_TEST_POSTGRES_URL for
PostgreSQL):
    TOKEND_BIN=<main's tokend> python3 -c 'import sys; sys.path.insert(0, "tests/api");
        import test_seed_content as t; print(t.seeded_digest(sys.argv[1]))' <empty directory>
"""

import hashlib
import os

import pytest

from harness import Server, make_backend
from startup import sql

SEED_ARGS = ("seed", "--users", "40", "--groups", "12", "--tokens", "3000", "--seed", "7",
             "--admin-token", "seed-content-admin-key")
EXPECTED = "ba90cf0a4bb463bb425a4c8ebec09d8255af8cfe65a962367808c223aa11d312"

NULL = "~"


def col(expr):
    return f"COALESCE(CAST({expr} AS TEXT), '{NULL}')"


def select(table, columns, order):
    return f"SELECT {', '.join(col(c) for c in columns)} FROM {table} ORDER BY {order}"


USER_COLUMNS = ["id", "uuid", "username", "username_fold", "name", "email", "is_active",
                "last_login", "path", "type", "attributes", "password", "search_fold", "created"]
GROUP_COLUMNS = ["id", "uuid", "name", "is_superuser", "parent_id", "attributes", "search_fold",
                 "created"]
TOKEN_COLUMNS = ["id", "uuid", "identifier", "intent", "user_id", "description", "expires",
                 "expiring", "managed", "length(key_hash)", "length(key_sealed)", "search_fold",
                 "created", "scopes", "allowed_networks", "rate_limit", "uses_remaining",
                 "view_key", "revoke_on_reuse", "key_viewed", "last_used", "last_used_ip",
                 "use_count", "reuse_alerted"]


def dump(backend):
    """The canonical dump of a seeded database: lines of tab-separated text."""
    lines = []
    tokens = sql(backend, select("tokens", TOKEN_COLUMNS, "id"))
    t0 = next(r[12] for r in tokens if r[2] == "tok-0000000")

    def when(v):
        return "seed" if v == t0 else "other"

    for r in sql(backend, select("users", USER_COLUMNS, "id")):
        r = list(r)
        r[12] = r[12].replace(r[1], "<uuid>")
        r[1] = "<uuid>"
        r[13] = when(r[13])
        lines.append(["users"] + r)
    for r in sql(backend, select("groups", GROUP_COLUMNS, "id")):
        r = list(r)
        r[1] = "<uuid>"
        r[7] = when(r[7])
        lines.append(["groups"] + r)
    for r in sql(backend, select("memberships", ["user_id", "group_id"], "user_id, group_id")):
        lines.append(["memberships"] + list(r))
    for r in tokens:
        r = list(r)
        r[1] = "<uuid>"
        if r[6] != NULL:
            r[6] = str(int(r[6]) - int(r[12]))
        r[12] = when(r[12])
        lines.append(["tokens"] + r)
    for table in ("token_key_viewers", "token_key_setters", "token_old_keys", "token_rate",
                  "events"):
        lines.append([table] + list(sql(backend, f"SELECT COUNT(*) FROM {table}")[0]))
    lines.append(["settings"] + [r[0] for r in sql(backend, "SELECT key FROM settings ORDER BY key")])
    return ["\t".join(x) for x in lines]


def digest(lines):
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def seeded_digest(workdir):
    """Seeds a fresh database in workdir with SEED_ARGS; the digest of its dump."""
    os.makedirs(workdir, exist_ok=True)
    backend = make_backend(workdir)
    try:
        server = Server(workdir, backend)
        server.cli(*SEED_ARGS)
        return digest(dump(backend))
    finally:
        backend.cleanup()


def test_seed_writes_the_same_data_set_as_before(tmp_path):
    assert seeded_digest(str(tmp_path)) == EXPECTED


def schema(backend):
    """SQLite's schema as text (the order of sqlite_master's rows left aside)."""
    return sorted(sql(backend, "SELECT type, name, tbl_name, sql FROM sqlite_master"))


@pytest.mark.skipif(os.environ.get("TOKEND_TEST_BACKEND", "sqlite") != "sqlite",
                    reason="SQLite's triggers, FTS5 index and token counter")
def test_seed_leaves_the_schema_index_and_count_as_the_triggers_would(tmp_path):
    """The seed drops the FTS5 and count triggers while it loads and does their work once at
    the end: afterwards the schema is the migrations' (the triggers back, word for word), the
    index holds every token and the counter is exact."""
    fresh = Server(str(tmp_path / "fresh"), make_backend(str(tmp_path / "fresh")))
    os.makedirs(fresh.workdir, exist_ok=True)
    fresh.cli("migrate")
    seeded = Server(str(tmp_path), make_backend(str(tmp_path)))
    seeded.cli(*SEED_ARGS)
    assert schema(seeded.backend) == schema(fresh.backend)
    sql(seeded.backend, "INSERT INTO tokens_fts(tokens_fts, rank) VALUES ('integrity-check', 1)")
    assert sql(seeded.backend, "SELECT n FROM token_count") == \
        sql(seeded.backend, "SELECT COUNT(*) FROM tokens")
    n = sql(seeded.backend, "SELECT COUNT(*) FROM tokens_fts WHERE tokens_fts MATCH '\"tok-\"'")
    assert n == [("3000",)]
    # the triggers work as before afterwards
    seeded.cli("token", "create", "after-seed", "--user", "akadmin")
    assert sql(seeded.backend, "SELECT n FROM token_count") == \
        sql(seeded.backend, "SELECT COUNT(*) FROM tokens")
    match = "SELECT rowid FROM tokens_fts WHERE tokens_fts MATCH '\"after-seed\"'"
    assert sql(seeded.backend, match) == \
        sql(seeded.backend, "SELECT id FROM tokens WHERE identifier = 'after-seed'")
