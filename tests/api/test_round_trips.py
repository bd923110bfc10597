"""Round trips to PostgreSQL per request (issue 17 item 2, docs/api.md §20.1), counted on both
ends: tokend's own count (tokend_store_round_trips_total) and the statements the server ran
(pg_stat_statements, loaded by scripts/pg-cluster). With the caches warm and
TOKEND_PG_CACHES=notified an authentication costs none (users/me/, verify), a retrieve or a list
filtered by identifier none when the thread read that token before and one otherwise (the
filtered list's count and page pipelined), a page of twenty tokens one round trip carrying two
statements (the count and the page) and none when the thread has answered the same query string
since the last change; strict adds one round trip per request, the change counter's read.
No request opens a transaction to read. A change through the API retires the caches: the next
request reads again. PostgreSQL only: SQLite has no round trips (its caches have their own
tests)."""

import itertools
import json
import os
import time

import pytest

from harness import Client, served
from startup import sql
from test_observability import scrape, value

pytestmark = pytest.mark.skipif(os.environ.get("TOKEND_TEST_BACKEND", "sqlite") != "postgres",
                                reason="round trips exist on PostgreSQL only")

N = 40
WARM = 30  # calls before measuring: the caches are per thread, TOKEND_THREADS is 2 here
SLACK = 3  # statements of the process's own jobs that may fall into a measured interval


def statements(server):
    """Every statement the server ran since the last reset, by text, but the heartbeat of the
    notified mode's listener (strict mode has none: there the counter is read per request)."""
    heartbeat = "AND query NOT LIKE '%change_count_shards%' " if server.extra == 0 else ""
    rows = sql(server.backend,
               "SELECT calls, query FROM pg_stat_statements WHERE dbid = "
               "(SELECT oid FROM pg_database WHERE datname = current_database()) " + heartbeat +
               "AND query NOT LIKE '%pg_stat%'")
    return {q: int(c) for c, q in rows}


def reset(server):
    sql(server.backend, "SELECT pg_stat_statements_reset()")


def trips(server):
    return value(scrape(server), "tokend_store_round_trips_total")


def measure(server, fn):
    """(round trips, statements, the statements' texts) over N calls of fn, every thread's
    caches warm (they are per thread)."""
    for _ in range(WARM):
        fn()
    reset(server)
    t0 = trips(server)
    for _ in range(N):
        fn()
    t = trips(server) - t0
    st = statements(server)
    return t, sum(st.values()), st


MODES = {"notified": 0, "strict": 1}  # the round trips every request adds


@pytest.fixture(scope="module", params=list(MODES))
def world(request, tmp_path_factory):
    def seed(server):
        server.cli("seed", "--users", "5", "--groups", "3", "--tokens", "150", "--seed", "7",
                   "--admin-token", server.bootstrap_key)
        sql(server.backend, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    env = {"TOKEND_USAGE_FLUSH": "hours=1", "TOKEND_SWEEP_INTERVAL": "hours=1",
           "TOKEND_THREADS": "2", "TOKEND_PG_CACHES": request.param}
    with served(tmp_path_factory.mktemp("rt"), pre_start=seed, extra_env=env) as server:
        server.extra = MODES[request.param]
        yield server, Client(server, token=server.bootstrap_key)


def ok(r):
    assert r.status == 200, r
    return r


def within(total, per_request):
    return per_request * N <= total <= per_request * N + SLACK


def statements_per(server, n):
    """n statements of the route itself, plus the change counter's read in strict mode."""
    return n + server.extra


def test_authentication_on_a_cache_hit_costs_nothing(world):
    server, admin = world
    t, total, st = measure(server, lambda: ok(admin.get("/api/v3/core/users/me/")))
    assert within(t, server.extra) and within(total, statements_per(server, 0)), (t, st)


def test_verify_on_a_cache_hit_costs_nothing(world):
    server, admin = world
    key = server.bootstrap_key
    t, total, st = measure(server, lambda: ok(admin.get(
        "/api/v3/tokend/verify/", headers={"Authorization": "Bearer " + key})))
    assert within(t, server.extra) and within(total, statements_per(server, 0)), (t, st)


def identifiers(admin):
    """The identifiers of the list's first 200 tokens."""
    out = []
    for page in ("1", "2"):
        r = ok(admin.get("/api/v3/core/tokens/", {"page_size": "100", "page": page}))
        out += [t["identifier"] for t in r.json()["results"]]
    return out


def measure_each(server, fn, args):
    """(round trips, statements, texts) over one call of fn per arg (args not used before, so
    every call misses the caches that hold rows by identifier); the principals' caches warm."""
    for a in args[:WARM]:
        fn(a)
    reset(server)
    t0 = trips(server)
    for a in args[WARM:WARM + N]:
        fn(a)
    st = statements(server)
    return trips(server) - t0, sum(st.values()), st


def test_retrieve_is_one_round_trip_then_none(world):
    """A token not yet read by the thread costs one round trip; read again (this thread's
    cache of token rows), none."""
    server, admin = world
    idents = identifiers(admin)[:WARM + N]  # the filtered page's test takes the next ones
    t, total, st = measure_each(server, lambda i: ok(admin.get(f"/api/v3/core/tokens/{i}/")),
                                idents)
    assert within(t, 1 + server.extra) and within(total, statements_per(server, 1)), (t, st)
    ident = idents[0]
    t, total, st = measure(server, lambda: ok(admin.get(f"/api/v3/core/tokens/{ident}/")))
    assert within(t, server.extra) and within(total, statements_per(server, 0)), (t, st)


def unread(query):
    """A function giving query with a parameter the list ignores, another value each call: a
    query string no thread has read, which its cache of list pages cannot answer."""
    n = itertools.count()
    return lambda: dict(query, unread=str(next(n)))


def test_a_page_of_twenty_is_one_round_trip_of_two_statements_then_none(world):
    """A page of twenty that no thread has read: one round trip; the same query again: none
    (the thread's cache of list pages)."""
    server, admin = world
    fresh = unread({"page_size": "20"})
    t, total, st = measure(server, lambda: ok(admin.get("/api/v3/core/tokens/", fresh())))
    assert within(t, 1 + server.extra) and within(total, statements_per(server, 2)), (t, st)
    assert not any(q.upper().startswith(("BEGIN", "ROLLBACK", "COMMIT")) for q in st), st
    t, total, st = measure(server, lambda: ok(admin.get("/api/v3/core/tokens/",
                                                        {"page_size": "20"})))
    assert within(t, server.extra) and within(total, statements_per(server, 0)), (t, st)


def test_a_change_retires_the_caches(world):
    """After a PATCH through the API the next users/me/ reads the store again (and answers
    the change), then is cached again."""
    server, admin = world
    ok(admin.get("/api/v3/core/users/me/"))
    r = admin.request("PATCH", "/api/v3/core/users/1/", body=json.dumps(
        {"name": "Renamed Admin"}).encode(), headers={"Content-Type": "application/json"})
    assert r.status == 200, r
    reset(server)
    assert ok(admin.get("/api/v3/core/users/me/")).json()["user"]["name"] == "Renamed Admin"
    assert sum(statements(server).values()) >= 1
    # notified mode: the change's own notification (and the heartbeat that sees the counter
    # moved) may arrive later on a busy box and retire the caches once more; let them
    time.sleep(1.5)
    t, total, st = measure(server, lambda: ok(admin.get("/api/v3/core/users/me/")))
    assert within(t, server.extra) and within(total, statements_per(server, 0)), (t, st)


def test_a_page_past_the_end_and_a_filtered_page(world):
    """The page sent with the count is dropped when the count says the page does not exist
    (404, and the connection stays usable); a filtered page is one round trip too."""
    server, admin = world
    r = admin.get("/api/v3/core/tokens/", {"page_size": "20", "page": "999"})
    assert r.status == 404, r
    r = ok(admin.get("/api/v3/core/tokens/", {"page_size": "20", "page": "2"}))
    assert len(r.json()["results"]) == 20
    ident = r.json()["results"][3]["identifier"]
    # a token not yet read by the thread: its count and page in one round trip
    t, total, st = measure_each(server, lambda i: ok(admin.get("/api/v3/core/tokens/",
                                                               {"identifier": i})),
                                identifiers(admin)[WARM + N:])
    assert within(t, 1 + server.extra) and within(total, statements_per(server, 2)), (t, st)
    # read again: count and page from the thread's cache of token rows
    t, total, st = measure(server, lambda: ok(admin.get("/api/v3/core/tokens/",
                                                        {"identifier": ident})))
    assert within(t, server.extra) and within(total, statements_per(server, 0)), (t, st)
    assert ok(admin.get("/api/v3/core/tokens/", {"identifier": ident})).json()["pagination"][
        "count"] == 1
    r = ok(admin.get("/api/v3/core/tokens/", {"identifier": "no-such-token"}))
    assert r.json()["pagination"]["count"] == 0 and r.json()["results"] == []
    for page in ("2", "999", "1"):  # the connections stay in step after every kind of page
        for _ in range(8):
            r = admin.get("/api/v3/core/tokens/", {"page_size": "20", "page": page})
            assert r.status == (404 if page == "999" else 200), r



def plans(server):
    """{statement text: (calls, planner runs)} since the last reset, tokend's pages only."""
    rows = sql(server.backend,
               "SELECT calls, plans, query FROM pg_stat_statements WHERE dbid = "
               "(SELECT oid FROM pg_database WHERE datname = current_database()) "
               "AND query LIKE 'SELECT t.id, t.uuid%'")
    return {q: (int(c), int(p)) for c, p, q in rows}


@pytest.fixture(scope="module")
def thousand(tmp_path_factory):
    """A thousand tokens: enough that PostgreSQL's plan for a page with a LIMIT parameter
    (which assumes a tenth of the rows) looks costlier than one for the value, as on any real
    table; the planner's runs counted."""
    def seed(server):
        server.cli("seed", "--users", "20", "--groups", "3", "--tokens", "1000", "--seed", "7",
                   "--admin-token", server.bootstrap_key)
        sql(server.backend, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        sql(server.backend, "DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET "
            "pg_stat_statements.track_planning = on', current_database()); END$$")

    env = {"TOKEND_USAGE_FLUSH": "hours=1", "TOKEND_SWEEP_INTERVAL": "hours=1",
           "TOKEND_THREADS": "2"}
    with served(tmp_path_factory.mktemp("plans"), pre_start=seed, extra_env=env) as server:
        server.extra = 0
        yield server, Client(server, token=server.bootstrap_key)


@pytest.mark.parametrize("query", [{"page_size": "20"}, {"identifier": "tok-"},
                                   {"intent": "api", "ordering": "-expires"}])
def test_a_first_page_is_planned_once(thousand, query):
    """A first page without search is planned once per connection, not at every request: its
    limit is in the statement's text, so the server keeps one plan for any values (with LIMIT and
    OFFSET parameters PostgreSQL planned it again at every execution, twice the server's time
    for a filtered page)."""
    server, admin = thousand
    if query.get("identifier") == "tok-":
        # token identifiers, as a client filters, each once (a token read before is answered
        # from the thread's cache of token rows, without a statement)
        queries = [{"identifier": i} for i in identifiers(admin)]
        next_query = queries.pop
    else:
        next_query = unread(query)
    reset(server)
    sql(server.backend, "SELECT t.id, t.uuid FROM tokens t WHERE t.id = 1")
    # the planner's runs are counted in this database (psql's query was planned)
    assert sum(p for _, p in plans(server).values()) >= 1, plans(server)
    measure(server, lambda: ok(admin.get("/api/v3/core/tokens/", next_query())))
    pages = plans(server)
    assert pages and sum(c for c, _ in pages.values()) >= N, pages
    # PostgreSQL plans a connection's first five executions of a statement for their values;
    # a connection the warm-up did not reach may still be in those five
    assert sum(p for _, p in pages.values()) <= 5 + SLACK, pages


def test_a_deeper_page_is_planned_for_its_offset(thousand):
    """A page further in keeps its offset a parameter (one statement for every page): planned
    for the values at each request, as PostgreSQL decides."""
    server, admin = thousand
    fresh = unread({"page_size": "20", "page": "3"})
    measure(server, lambda: ok(admin.get("/api/v3/core/tokens/", fresh())))
    pages = plans(server)
    assert any("OFFSET $" in q for q in pages), pages
    assert sum(p for _, p in pages.values()) >= N, pages
