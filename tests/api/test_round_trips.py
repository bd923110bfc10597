"""Round trips to PostgreSQL per request (issue 17 item 2, docs/api.md §20.1), counted by the
server itself (pg_stat_statements, loaded by scripts/pg-cluster): with the caches warm, an
authentication costs none (users/me/, verify: 0 statements), a retrieve one, a page of twenty
tokens two (the count and the page), and no request opens a transaction to read. A change
through the API retires the caches: the next request reads again. PostgreSQL only: SQLite has
no round trips (its caches have their own tests, test_principal_cache.py and others)."""

import json
import os

import pytest

from harness import Client, served
from startup import sql

pytestmark = pytest.mark.skipif(os.environ.get("TOKEND_TEST_BACKEND", "sqlite") != "postgres",
                                reason="round trips exist on PostgreSQL only")

N = 40
WARM = 30  # calls before measuring: the caches are per thread, TOKEND_THREADS is 2 here
SLACK = 3  # statements of the process's own jobs that may fall into a measured interval


def statements(server):
    """Every statement the server ran since the last reset, by text, but the change watch's."""
    rows = sql(server.backend,
               "SELECT calls, query FROM pg_stat_statements WHERE dbid = "
               "(SELECT oid FROM pg_database WHERE datname = current_database()) "
               "AND query NOT LIKE '%change_count_shards%' AND query NOT LIKE '%pg_stat%'")
    return {q: int(c) for c, q in rows}


def reset(server):
    sql(server.backend, "SELECT pg_stat_statements_reset()")


def measure(server, fn):
    """(statements over N calls of fn, the statements' texts), every thread's caches warm (they
    are per thread)."""
    for _ in range(WARM):
        fn()
    reset(server)
    for _ in range(N):
        fn()
    st = statements(server)
    return sum(st.values()), st


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    def seed(server):
        server.cli("seed", "--users", "5", "--groups", "3", "--tokens", "60", "--seed", "7",
                   "--admin-token", server.bootstrap_key)
        sql(server.backend, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    env = {"TOKEND_USAGE_FLUSH": "hours=1", "TOKEND_SWEEP_INTERVAL": "hours=1",
           "TOKEND_THREADS": "2"}
    with served(tmp_path_factory.mktemp("rt"), pre_start=seed, extra_env=env) as server:
        yield server, Client(server, token=server.bootstrap_key)


def ok(r):
    assert r.status == 200, r
    return r


def within(total, per_request):
    return per_request * N <= total <= per_request * N + SLACK


def test_authentication_on_a_cache_hit_costs_nothing(world):
    server, admin = world
    total, st = measure(server, lambda: ok(admin.get("/api/v3/core/users/me/")))
    assert within(total, 0), st


def test_verify_on_a_cache_hit_costs_nothing(world):
    server, admin = world
    key = server.bootstrap_key
    total, st = measure(server, lambda: ok(admin.get(
        "/api/v3/tokend/verify/", headers={"Authorization": "Bearer " + key})))
    assert within(total, 0), st


def test_retrieve_is_one_round_trip(world):
    server, admin = world
    ident = admin.get("/api/v3/core/tokens/", {"page_size": "1"}).json()["results"][0][
        "identifier"]
    total, st = measure(server, lambda: ok(admin.get(f"/api/v3/core/tokens/{ident}/")))
    assert within(total, 1), st


def test_a_page_of_twenty_is_two_round_trips(world):
    server, admin = world
    total, st = measure(server, lambda: ok(admin.get("/api/v3/core/tokens/",
                                                     {"page_size": "20"})))
    assert within(total, 2), st
    assert not any(q.upper().startswith(("BEGIN", "ROLLBACK", "COMMIT")) for q in st), st


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
    total, st = measure(server, lambda: ok(admin.get("/api/v3/core/users/me/")))
    assert within(total, 0), st
