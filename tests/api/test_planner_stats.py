"""The query planner's statistics after bulk changes (issue 17 item 3): `tokend seed`, and a
migration that ran, leave the tables they filled analyzed, so the first requests after them are
planned for the rows there are. On PostgreSQL a table filled since its last ANALYZE is planned
as empty until autovacuum gets to it (right after a seed the authentication query looped over
every user: 4.2 ms instead of 0.26 ms). Both stores: what the planner believes is read from
PostgreSQL's pg_class.reltuples and SQLite's sqlite_stat1, and compared with the rows there are."""

import contextlib

from harness import Server, make_backend, random_key
from startup import sql
from test_bootstrap_once import LATER, LATER_PG

FILLED = ("tokens", "users", "groups", "memberships")
# the migration that adds the token settings (LATER and LATER_PG undo it and those after it),
# per store
TOKEN_SETTINGS = {"sqlite": 5, "postgres": 3}


@contextlib.contextmanager
def database(tmp_path):
    """A server's database and command line; the server itself is never started."""
    backend = make_backend(tmp_path)
    try:
        yield Server(tmp_path, backend)
    finally:
        backend.cleanup()


def rows(backend, table):
    return int(sql(backend, f"SELECT count(*) FROM {table}")[0][0])


def planned_rows(backend, table):
    """The rows the planner believes the table holds; None when it has no statistics."""
    if backend.name == "postgres":
        v = float(sql(backend, f"SELECT reltuples FROM pg_class WHERE relname = '{table}' "
                               "AND relkind = 'r'")[0][0])
        return None if v < 0 else round(v)  # -1: never analyzed (PostgreSQL 14+)
    if not sql(backend, "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"):
        return None
    # one line per index, each starting with the rows of the table; none for an empty table
    stats = sql(backend, f"SELECT stat FROM sqlite_stat1 WHERE tbl = '{table}'")
    return int(stats[0][0].split()[0]) if stats else None


def seed(server):
    server.cli("seed", "--users", "20", "--groups", "4", "--tokens", "200", "--admin-token",
               random_key())


def assert_current(backend, tables):
    believed = {t: planned_rows(backend, t) for t in tables}
    actual = {t: rows(backend, t) for t in tables}
    assert believed == actual


def test_seed_leaves_current_statistics(tmp_path):
    with database(tmp_path) as s:
        seed(s)
        assert_current(s.backend, FILLED)


def test_a_migration_that_ran_leaves_current_statistics(tmp_path):
    """A seeded database whose statistics are stale (users deleted since the seed analyzed it)
    and whose last migration is undone, as an older tokend left it: `tokend migrate` applies
    the migration and analyzes. users and memberships are checked on both stores (on PostgreSQL
    the migration's CREATE INDEX on tokens refreshes that table's row count anyway)."""
    with database(tmp_path) as s:
        seed(s)
        for n in range(11, 20):
            s.cli("user", "delete", f"user{n:05d}")
        assert planned_rows(s.backend, "users") == 20  # stale: nothing analyzed since the seed
        for stmt in LATER + (LATER_PG if s.backend.name == "postgres" else []):
            sql(s.backend, stmt)
        sql(s.backend, "DELETE FROM schema_migrations WHERE version >= "
                       f"{TOKEN_SETTINGS[s.backend.name]}")
        s.cli("migrate")
        assert_current(s.backend, ("users", "memberships", "tokens"))


def test_no_migration_no_analyze(tmp_path):
    """A start with nothing to migrate does not analyze (ANALYZE on every start would cost a
    sample of every table for nothing): the stale count stays stale."""
    with database(tmp_path) as s:
        seed(s)
        s.cli("user", "delete", "user00019")
        s.cli("migrate")
        assert planned_rows(s.backend, "users") == 20


def test_a_sweep_refreshes_statistics_after_bulk_deletions(tmp_path):
    """Most tokens gone at once (their owners deleted, cascading): the next sweep (the
    sweeper's pass, here `tokend sweep`) analyzes the tables the planner now misjudges by a
    fifth or more (docs/api.md §20.3), and only those; a sweep with nothing off analyzes
    nothing."""
    with database(tmp_path) as s:
        s.cli("seed", "--users", "20", "--groups", "4", "--tokens", "600", "--admin-token",
              random_key())
        assert_current(s.backend, FILLED)
        for n in range(1, 17):
            s.cli("user", "delete", f"user{n:05d}")
        assert planned_rows(s.backend, "tokens") != rows(s.backend, "tokens")  # stale
        s.cli("sweep")
        assert_current(s.backend, ("tokens",))
        # users 20 -> 4 and memberships: off by fewer than 100 rows, not worth an analyze
        assert (planned_rows(s.backend, "users"), rows(s.backend, "users")) == (20, 4)
        assert planned_rows(s.backend, "memberships") > rows(s.backend, "memberships")
        before = {t: planned_rows(s.backend, t) for t in FILLED}
        s.cli("sweep")
        assert {t: planned_rows(s.backend, t) for t in FILLED} == before
