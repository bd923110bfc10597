"""Deep pages of the whole token list in identifier order (issue 17, docs/api.md §20.4). On
PostgreSQL a process keeps the identifier of every 1,000th row and reads a page at least 10,000
rows deep from the kept one before it, as long as the database's order counter says no token
moved; the positions are read once the OFFSET reads since they were last read have stepped over
as many rows as the table holds. Whatever moves tokens (created, deleted, renamed, through the
API or by another writer straight in the database), every page must hold exactly the rows the
database's own ORDER BY puts there, in both directions and at every page size; a change that
moves nothing (a description) keeps the positions. The reference is the database's ORDER BY
identifier. The exactness checks run on both stores (SQLite reads deep pages by OFFSET); what
the positions cost and save is PostgreSQL's."""

import itertools
import json
import os

import pytest

from harness import Client, served
from startup import sql

N = 23000  # seeded, besides the bootstrap's tokens
PG = os.environ.get("TOKEND_TEST_BACKEND", "sqlite") == "postgres"
DEEP = 10000  # tokend reads pages this deep from positions (pg_positions.c)
STRIDE = 1000


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    def seed(server):
        server.cli("seed", "--users", "5", "--groups", "2", "--tokens", str(N), "--seed", "17",
                   "--admin-token", server.bootstrap_key)

    with served(tmp_path_factory.mktemp("positions"), pre_start=seed) as server:
        if PG:
            sql(server.backend, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        yield server


def reference(server):
    return [r[0] for r in sql(server.backend, "SELECT identifier FROM tokens ORDER BY identifier")]


ASKED = itertools.count()


def page(client, offset, size, desc):
    """The page, read by the store: every query string is a new one (a parameter the list
    ignores), which no thread's cache of list pages holds."""
    assert offset % size == 0
    r = client.get("/api/v3/core/tokens/", {"ordering": "-identifier" if desc else "identifier",
                                            "page_size": str(size),
                                            "page": str(offset // size + 1),
                                            "unread": str(next(ASKED))})
    assert r.status == 200, r.body
    body = r.json()
    return body["pagination"]["count"], [t["identifier"] for t in body["results"]]


def offsets(total):
    """Deep offsets by page size: either side of the kept rows, the middle, the last pages."""
    out = []
    for size in (1, 20, 100):
        want = {DEEP, DEEP + STRIDE - size, DEEP + STRIDE, DEEP + STRIDE + size, total // 2,
                2 * DEEP - size, total - size, total - 1}
        out += [(o - o % size, size) for o in sorted(want) if DEEP <= o - o % size < total]
    return out


def check_pages(server, client, rounds=1):
    want = reference(server)
    total = len(want)
    for _ in range(rounds):
        for offset, size in offsets(total):
            for desc in (False, True):
                order = want[::-1] if desc else want
                count, got = page(client, offset, size, desc)
                assert count == total
                assert got == order[offset:offset + size], (offset, size, desc)
    return total


def statement_calls(server, like):
    """How often the database ran statements whose text is like `like` (pg_stat_statements,
    loaded by scripts/pg-cluster)."""
    rows = sql(server.backend,
               "SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements WHERE dbid = "
               "(SELECT oid FROM pg_database WHERE datname = current_database()) "
               f"AND query LIKE '{like}' AND query NOT LIKE '%pg_stat_statements%'")
    return int(rows[0][0])


READS = "%row_number() OVER (ORDER BY identifier)%"  # the positions read
POSITIONED = "%(SELECT SUM(n) FROM token_order_shards) =%"  # a page read from them


def post(client, path, obj, method="POST"):
    r = client.request(method, path, body=json.dumps(obj).encode(),
                       headers={"Content-Type": "application/json"})
    assert r.status in (200, 201), (r.status, r.body)
    return r.json()


@pytest.mark.skipif(not PG, reason="positions are kept on PostgreSQL only")
def test_positions_read_when_offset_reads_paid_for_them(seeded):
    server = seeded
    client = Client(server, token=server.bootstrap_key)
    sql(server.backend, "SELECT pg_stat_statements_reset()")
    total = len(reference(server))
    assert total > N
    middle = (total // 2) - (total // 2) % 20  # OFFSET steps over about half the list
    want = reference(server)[middle:middle + 20]
    # two pages by OFFSET step over less than the table: no positions read yet
    for _ in range(2):
        assert page(client, middle, 20, False) == (total, want)
    assert statement_calls(server, READS) == 0
    assert statement_calls(server, POSITIONED) == 0
    # the third pays the rest: the positions are read once, and serve every page after
    for _ in range(10):
        assert page(client, middle, 20, False) == (total, want)
    assert statement_calls(server, READS) == 1
    assert statement_calls(server, POSITIONED) == 10
    # shallower than 10,000 rows: OFFSET, as ever
    assert page(client, DEEP - 20, 20, False)[1] == reference(server)[DEEP - 20:DEEP]
    assert statement_calls(server, POSITIONED) == 10


def test_every_deep_page_exact_through_changes(seeded):
    server = seeded
    client = Client(server, token=server.bootstrap_key)
    start = check_pages(server, client, rounds=2)
    if PG:
        reads = statement_calls(server, READS)
        positioned = statement_calls(server, POSITIONED)
        assert reads >= 1 and positioned > 0

    # a change that moves no token keeps the positions
    some = reference(server)[15000]
    post(client, f"/api/v3/core/tokens/{some}/", {"description": "moved nowhere"}, "PATCH")
    check_pages(server, client)
    if PG:
        assert statement_calls(server, READS) == reads
        assert statement_calls(server, POSITIONED) > positioned

    # created before every seeded token, through the API
    users = client.get("/api/v3/core/users/", {"username": "akadmin"}).json()["results"]
    owner = users[0]["pk"] if users else None
    new = {"identifier": "aaa-first", "expiring": False}
    if owner is not None:
        new["user"] = owner
    post(client, "/api/v3/core/tokens/", new)
    check_pages(server, client, rounds=2)
    # deleted, deep in the list
    gone = reference(server)[12345]
    assert client.request("DELETE", f"/api/v3/core/tokens/{gone}/").status == 204
    check_pages(server, client, rounds=2)
    # renamed from the front to the back
    first_seeded = reference(server)[1]
    post(client, f"/api/v3/core/tokens/{first_seeded}/", {"identifier": "zzz-last"}, "PATCH")
    check_pages(server, client, rounds=2)
    # another writer, straight in the database: a rename and deletions
    ids = reference(server)
    sql(server.backend, f"UPDATE tokens SET identifier = 'aab-renamed' "
                        f"WHERE identifier = '{ids[20000]}'")
    check_pages(server, client, rounds=2)
    doomed = ", ".join(f"'{i}'" for i in ids[11000:11007])
    sql(server.backend, f"DELETE FROM tokens WHERE identifier IN ({doomed})")
    total = check_pages(server, client, rounds=2)
    assert total == start + 1 - 1 - 7
    if PG:  # the moves were noticed and the positions read again
        assert statement_calls(server, READS) > reads
