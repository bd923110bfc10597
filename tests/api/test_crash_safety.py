"""Crash safety (issue 7 point 3): a create/update/delete load runs against tokend, which is
killed with SIGKILL at random moments and restarted each time. Every request that got a 2xx
is in the database afterwards, nothing that got an error is, and (on SQLite) the database
passes PRAGMA integrity_check. TOKEND_CRASH_CYCLES sets the number of kills (`make soak`: 50;
`make test`: 8)."""

import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time

from harness import Client, served

CYCLES = int(os.environ.get("TOKEND_CRASH_CYCLES", "8"))
TOKENS = "/api/v3/core/tokens/"


class Worker(threading.Thread):
    """Owns its identifiers and issues their operations one after the other, so each has a
    known acknowledged state plus at most one request whose outcome the kill hid."""

    def __init__(self, port, key, wid, stop):
        super().__init__(daemon=True)
        self.port, self.key, self.wid, self.stop = port, key, wid, stop
        self.state = {}    # identifier -> acknowledged description, or None when deleted
        self.unknown = {}  # identifier -> (before, after) of the request without an answer
        self.refused = set()  # identifiers of creates answered with an error
        self.n = 0

    def call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request(method, path, body=json.dumps(body).encode() if body else None,
                      headers={"Authorization": "Bearer " + self.key,
                               "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def run(self):
        rnd = random.Random(self.wid)
        while not self.stop.is_set():
            live = [i for i, d in self.state.items() if d is not None]
            op = rnd.choice(["create", "create", "update", "delete", "bad"]) if live else "create"
            try:
                if op == "create":
                    ident = f"crash-{self.wid}-{self.n}"
                    self.n += 1
                    self.unknown[ident] = (None, "created")
                    s = self.call("POST", TOKENS, {"identifier": ident, "description": "created"})
                    del self.unknown[ident]
                    assert s == 201, s
                    self.state[ident] = "created"
                elif op == "bad":
                    ident = f"crash-bad-{self.wid}-{self.n}"
                    self.n += 1
                    s = self.call("POST", TOKENS, {"identifier": ident, "intent": "recovery"})
                    assert s == 400, s
                    self.refused.add(ident)
                elif op == "update":
                    ident = rnd.choice(live)
                    new = f"d{self.n}"
                    self.n += 1
                    self.unknown[ident] = (self.state[ident], new)
                    s = self.call("PATCH", TOKENS + ident + "/", {"description": new})
                    del self.unknown[ident]
                    assert s == 200, s
                    self.state[ident] = new
                else:
                    ident = rnd.choice(live)
                    self.unknown[ident] = (self.state[ident], None)
                    s = self.call("DELETE", TOKENS + ident + "/")
                    del self.unknown[ident]
                    assert s == 204, s
                    self.state[ident] = None
            except (OSError, http.client.HTTPException):
                return  # the server died under this request: its outcome stays unknown


def snapshot(server):
    c = Client(server, token=server.bootstrap_key)
    out, page = {}, 1
    while True:
        r = c.get(TOKENS, {"search": "crash-", "page": page, "page_size": 1000})
        assert r.status == 200, r.shown()
        body = r.json()
        for t in body["results"]:
            out[t["identifier"]] = t["description"]
        if not body["pagination"]["next"]:
            return out
        page += 1


def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path):
    rnd = random.Random(7)
    with served(tmp_path, extra_env={"TOKEND_THREADS": "4"}) as server:
        workers_all = []
        for cycle in range(CYCLES):
            stop = threading.Event()
            workers = [Worker(server.port, server.bootstrap_key, f"{cycle}x{w}", stop)
                       for w in range(3)]
            for w in workers:
                w.start()
            time.sleep(rnd.uniform(0.1, 0.6))
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait()
            stop.set()
            for w in workers:
                w.join(10)
                assert not w.is_alive()
            workers_all.extend(workers)
            server._log.close()
            server.start()  # restart on the same database
            got = snapshot(server)
            for w in workers_all:
                for ident, desc in w.state.items():
                    if ident in w.unknown:
                        before, after = w.unknown[ident]
                        assert got.get(ident) in (before, after), (ident, got.get(ident), before, after)
                    else:
                        assert got.get(ident) == desc, (ident, got.get(ident), desc)
                for ident, (before, after) in w.unknown.items():
                    if ident not in w.state:
                        assert got.get(ident) in (before, after), ident
                for ident in w.refused:
                    assert ident not in got, ident
        assert sum(len(w.state) for w in workers_all) > CYCLES  # real load ran
        if server.backend.name == "sqlite":
            p = subprocess.run(["sqlite3", server.backend.path, "PRAGMA integrity_check"],
                               capture_output=True, text=True, timeout=60)
            assert p.stdout.strip() == "ok", p.stdout + p.stderr
