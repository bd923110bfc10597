"""Scale-out tests (issue 5): several tokend processes on one PostgreSQL, a streaming replica,
and database outages. Each module gets its own throwaway clusters (scripts/pg-cluster), so a
test may stop and restart them. Reuses the API harness."""

import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
pytest.register_assert_rewrite("harness")

PG_CLUSTER = os.path.join(ROOT, "scripts", "pg-cluster")


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tokend-scaleout-")
        self.url = self._run("start", self.dir)

    @staticmethod
    def _run(*args):
        p = subprocess.run([PG_CLUSTER, *args], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            pytest.fail(f"pg-cluster {' '.join(args)} failed: {p.stderr}")
        return p.stdout.strip()

    def replica(self):
        r = Cluster.__new__(Cluster)
        r.dir = tempfile.mkdtemp(prefix="tokend-replica-")
        r.url = self._run("replica", self.dir, r.dir)
        return r

    def halt(self):
        self._run("halt", self.dir)

    def resume(self):
        self._run("resume", self.dir)

    def stop(self):
        self._run("stop", self.dir)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.stop()
