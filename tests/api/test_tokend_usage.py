"""Usage is written in batches, never per request (docs/api.md §19.3; issue 15 item 3), and
survives a crash but for the last interval. Counted through the store-statement metric of the
metrics listener: a write per use would add at least one statement per request; uses on a
principal-cache hit (SQLite) add none. SIGKILL while uses are pending loses at most what was not
yet flushed and leaves a database the next start serves from."""

import re
import time
import urllib.request

import pytest

pytest.register_assert_rewrite("tokendapi")

from harness import Client, random_key, served  # noqa: E402
from startup import sql  # noqa: E402
from tokendapi import ME, current, poll, use  # noqa: E402

FAR = "2099-01-01T00:00:00Z"


def statements(server):
    """The store statements run so far (tokend_store_query_duration_seconds_count)."""
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    m = re.search(r"^tokend_store_query_duration_seconds_count (\d+)$", text, re.M)
    assert m, text[:2000]
    return int(m.group(1))


def make_token(server, ident):
    key = random_key()
    server.cli("token", "create", ident, "--user", "akadmin", "--expires", FAR, "--key", key)
    return key


def row_version(s, ident):
    """Something that changes with every write of the token's row: PostgreSQL's xmin (a new row
    version per UPDATE); on SQLite the stored use_count (the only column a use writes)."""
    col = "xmin::text" if s.backend.name == "postgres" else "use_count"
    return sql(s.backend, f"SELECT {col} FROM tokens WHERE identifier = '{ident}'")


def test_uses_are_written_in_batches_not_per_request(tmp_path):
    with served(tmp_path, extra_env={"TOKEND_USAGE_FLUSH": "hours=1",
                                     "TOKEND_THREADS": "1"}) as s:
        key = make_token(s, "batched")
        use(s, key, 3)  # warm: principal cache, user cache, statement caches
        version = row_version(s, "batched")
        before = statements(s)
        n = 200
        client = Client(s, key)
        for _ in range(n):
            assert client.get(ME).status == 200
        during = statements(s) - before
        # no use wrote the token's row: the usage waits for the flush
        assert row_version(s, "batched") == version
        if s.backend.name == "sqlite":
            # and on a principal-cache hit a use costs no statement at all
            assert during < n // 4, f"{during} statements for {n} requests"
        s.restart()  # a clean stop writes what is pending
        got = current(Client(s, s.bootstrap_key), "batched")
        assert got["use_count"] == 3 + n
        assert got["last_used_ip"] == "127.0.0.1" and got["last_used"] is not None


def test_sigkill_loses_at_most_the_last_interval(tmp_path):
    with served(tmp_path, extra_env={"TOKEND_USAGE_FLUSH": "seconds=1"}) as s:
        key = make_token(s, "killed")
        admin = Client(s, s.bootstrap_key)
        use(s, key, 10)
        poll(lambda: current(admin, "killed")["use_count"] == 10, what="the first flush")
        use(s, key, 25)  # most likely still in memory
        s.proc.kill()
        s.proc.wait()
        s.proc = None
        s.start()
        if s.backend.name == "sqlite":
            assert sql(s.backend, "PRAGMA integrity_check") == [("ok",)]
        got = current(admin, "killed")["use_count"]
        assert 10 <= got <= 35, got
        use(s, key, 1)  # the token still works, and counting goes on from what was kept
        poll(lambda: current(admin, "killed")["use_count"] == got + 1, what="counting again")


def test_a_failed_flush_loses_nothing(tmp_path):
    """While another process holds SQLite's write lock for longer than a writer waits for it
    (5 s), flushes fail; the uses they carried are kept and written by a later flush."""
    with served(tmp_path, extra_env={"TOKEND_USAGE_FLUSH": "seconds=1"}) as s:
        if s.backend.name != "sqlite":
            pytest.skip("the write lock is held from outside through SQLite's file lock")
        import sqlite3
        key = make_token(s, "retried")
        admin = Client(s, s.bootstrap_key)
        con = sqlite3.connect(s.backend.path, timeout=30, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")  # holds the write lock: flushes fail meanwhile
            use(s, key, 7)
            time.sleep(7)  # past the 5 s a flush waits: at least one fails
        finally:
            con.execute("ROLLBACK")
            con.close()
        assert "usage flush failed" in s.log_text()
        poll(lambda: current(admin, "retried")["use_count"] == 7, timeout=15,
             what="the uses written by a later flush")
