"""Deep pages (issue 8): a page is read forwards, as a deferred join when it lies at least 1000
rows deep (ids first, in the ordering's index, then the page's rows), or backwards from the end
when it lies past the middle. Every page must hold exactly the rows the ordering puts there. The
reference is computed here: seeded tokens are created in identifier order, so the store's last
tie-break (its row id) is the identifier's order."""

import datetime

import pytest

from harness import Client, served

N = 2600  # forward pages from offset 1000 to 1300 are deferred joins, later ones reversed
SIZE = 50


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    def seed(server):
        server.cli("seed", "--users", "7", "--groups", "3", "--tokens", str(N), "--seed", "11",
                   "--admin-token", server.bootstrap_key)

    with served(tmp_path_factory.mktemp("deep"), pre_start=seed) as server:
        client = Client(server, token=server.bootstrap_key)
        rows, page = [], 1
        while True:
            r = client.get("/api/v3/core/tokens/", {"search": "tok-", "page_size": "1000",
                                                    "page": str(page)})
            body = r.json()
            rows += body["results"]
            if not body["pagination"]["next"]:
                break
            page += 1
        assert len(rows) == N
        yield client, rows


def value(v):
    if isinstance(v, str) and v.endswith("Z"):  # a timestamp: compare instants, not text
        return datetime.datetime.fromisoformat(v[:-1] + "+00:00")
    return v


def reference(rows, ordering):
    out = sorted(rows, key=lambda t: t["identifier"])  # the last tie-break
    for field in reversed(ordering.split(",")):
        desc = field.startswith("-")
        name = field.lstrip("-")
        present = [t for t in out if t[name] is not None]
        absent = [t for t in out if t[name] is None]
        present.sort(key=lambda t: value(t[name]), reverse=desc)  # stable, also reversed
        out = (absent + present) if desc else (present + absent)
    return [t["identifier"] for t in out]


@pytest.mark.parametrize("ordering", ["identifier", "-identifier", "user", "-user", "expires",
                                      "-expires"])
def test_every_page_holds_its_rows(tokens, ordering):
    client, rows = tokens
    want = reference(rows, ordering)
    got = []
    for page in range(1, N // SIZE + 1):
        r = client.get("/api/v3/core/tokens/", {"search": "tok-", "ordering": ordering,
                                                "page_size": str(SIZE), "page": str(page)})
        assert r.status == 200, r.body
        got += [t["identifier"] for t in r.json()["results"]]
    assert got == want
