"""Pagination of GET /api/v3/core/tokens/ (docs/api.md §9, §17.4, §9).

Small, exact cases run as user "pager", who owns exactly seven tokens p-01..p-07. The page-size
default and the clamp need more than 1000 rows: before the server's first start the database is
filled by `tokend seed` with 1100 tokens tok-0000000..tok-0001099, which the admin selects with
?search=tok- (no other row contains "tok-").
"""

import pytest

from harness import assert_json, assert_status, served
from world import Err, Page, World, check_list

P = [f"p-{i:02d}" for i in range(1, 8)]
N_SEEDED = 1100
INVALID_PAGE = Err(404, {"detail": "Invalid page."})


def pg(next, previous, count, current, total_pages, start_index, end_index):
    return {"next": next, "previous": previous, "count": count, "current": current,
            "total_pages": total_pages, "start_index": start_index, "end_index": end_index}


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    def seed(server):
        server.cli("seed", "--users", "5", "--groups", "3", "--tokens", str(N_SEEDED),
                   "--seed", "7", "--admin-token", server.bootstrap_key)

    with served(tmp_path_factory.mktemp("pagination"), pre_start=seed) as server:
        world = World(server)
        world.add_user("pager", "Pa Ger", "pager@example.com")
        for i, ident in enumerate(P, 1):
            world.add_token(ident, "pager", "api", description=f"page {i}",
                            expires=f"2040-01-{i:02d}T00:00:00Z", login=(i == 1))
        world.learn(world.client())
        yield world


@pytest.mark.parametrize("query,expected", [
    ("", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page=1", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page=", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),           # empty: page 1
    ("page=last", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=3", Page(P[0:3], paging=pg(2, 0, 7, 1, 3, 1, 3))),
    ("page_size=3&page=1", Page(P[0:3], paging=pg(2, 0, 7, 1, 3, 1, 3))),
    ("page_size=3&page=2", Page(P[3:6], paging=pg(3, 1, 7, 2, 3, 4, 6))),
    ("page_size=3&page=3", Page(P[6:], paging=pg(0, 2, 7, 3, 3, 7, 7))),
    ("page_size=3&page=last", Page(P[6:], paging=pg(0, 2, 7, 3, 3, 7, 7))),
    ("page_size=3&page=02", Page(P[3:6], paging=pg(3, 1, 7, 2, 3, 4, 6))),
    ("page_size=3&page=%202%20", Page(P[3:6], paging=pg(3, 1, 7, 2, 3, 4, 6))),
    ("page_size=3&page=%092%0A", Page(P[3:6], paging=pg(3, 1, 7, 2, 3, 4, 6))),
    ("page_size=3&page=%2B2", Page(P[3:6], paging=pg(3, 1, 7, 2, 3, 4, 6))),
    ("page_size=3&page=4", INVALID_PAGE),
    ("page_size=3&page=0", INVALID_PAGE),
    ("page_size=3&page=-1", INVALID_PAGE),
    ("page_size=3&page=-0", INVALID_PAGE),
    ("page=abc", INVALID_PAGE),
    ("page=1.5", INVALID_PAGE),
    ("page=2.0", INVALID_PAGE),
    ("page=1.0", INVALID_PAGE),
    ("page=1e0", INVALID_PAGE),
    ("page=0x1", INVALID_PAGE),
    ("page=1%202", INVALID_PAGE),
    ("page=LAST", INVALID_PAGE),
    ("page=Last", INVALID_PAGE),
    ("page=%20last", INVALID_PAGE),
    ("page=first", INVALID_PAGE),
    ("page=%20", INVALID_PAGE),                                     # whitespace only: 404
    ("page=%20%20%09", INVALID_PAGE),
    ("page=2", INVALID_PAGE),
    ("page=99999999999999999999999", INVALID_PAGE),
    ("page=-99999999999999999999999", INVALID_PAGE),
    ("page_size=7", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=6", Page(P[:6], paging=pg(2, 0, 7, 1, 2, 1, 6))),
    ("page_size=6&page=2", Page(P[6:], paging=pg(0, 1, 7, 2, 2, 7, 7))),
    ("page_size=1", Page(P[:1], paging=pg(2, 0, 7, 1, 7, 1, 1))),
    ("page_size=1&page=4", Page(["p-04"], paging=pg(5, 3, 7, 4, 7, 4, 4))),
    ("page_size=1&page=7", Page(["p-07"], paging=pg(0, 6, 7, 7, 7, 7, 7))),
    ("page_size=1&page=last", Page(["p-07"], paging=pg(0, 6, 7, 7, 7, 7, 7))),
    ("page_size=1&page=8", INVALID_PAGE),
    # invalid page_size: the default (100)
    ("page_size=0", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=-3", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=abc", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=2.5", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=3.0", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=%20", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=0&page=2", INVALID_PAGE),
    # large page_size: clamped, never an error
    ("page_size=1000", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=1001", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    ("page_size=99999999999999999999999", Page(P, paging=pg(0, 0, 7, 1, 1, 1, 7))),
    # a repeated parameter: the last one wins
    ("page_size=3&page_size=2", Page(P[:2], paging=pg(2, 0, 7, 1, 4, 1, 2))),
    ("page_size=2&page_size=3&page=3", Page(P[6:], paging=pg(0, 2, 7, 3, 3, 7, 7))),
    ("page=3&page=2&page_size=3", Page(P[3:6], paging=pg(3, 1, 7, 2, 3, 4, 6))),
    # paging applies after filtering, searching and ordering
    ("page_size=2&ordering=-identifier&page=2", Page(["p-05", "p-04"], paging=pg(3, 1, 7, 2, 4, 3, 4))),
    ("page_size=2&search=page&page=4", Page(["p-07"], paging=pg(0, 3, 7, 4, 4, 7, 7))),
    ("page_size=2&search=page%205", Page(["p-05"], paging=pg(0, 0, 1, 1, 1, 1, 1))),
    ("page_size=2&identifier=p-03", Page(["p-03"], paging=pg(0, 0, 1, 1, 1, 1, 1))),
    # an empty result still has one page
    ("identifier=nope", Page([], paging=pg(0, 0, 0, 1, 1, 0, 0))),
    ("identifier=nope&page=1", Page([], paging=pg(0, 0, 0, 1, 1, 0, 0))),
    ("identifier=nope&page=last", Page([], paging=pg(0, 0, 0, 1, 1, 0, 0))),
    ("identifier=nope&page=", Page([], paging=pg(0, 0, 0, 1, 1, 0, 0))),
    ("identifier=nope&page=2", INVALID_PAGE),
    ("identifier=nope&page=0", INVALID_PAGE),
], ids=repr)
def test_pages(w, query, expected):
    check_list(w.client("pager"), w, query, expected)


def tok(a, b):
    return [f"tok-{i:07d}" for i in range(a, b)]


@pytest.mark.parametrize("query,identifiers,paging", [
    ("", tok(0, 100), pg(2, 0, 1100, 1, 11, 1, 100)),                 # default page size 100
    ("page=2", tok(100, 200), pg(3, 1, 1100, 2, 11, 101, 200)),
    ("page=last", tok(1000, 1100), pg(0, 10, 1100, 11, 11, 1001, 1100)),
    ("page=11", tok(1000, 1100), pg(0, 10, 1100, 11, 11, 1001, 1100)),
    ("page=12", None, None),
    ("page_size=0", tok(0, 100), pg(2, 0, 1100, 1, 11, 1, 100)),
    ("page_size=x&page=last", tok(1000, 1100), pg(0, 10, 1100, 11, 11, 1001, 1100)),
    ("page_size=999", tok(0, 999), pg(2, 0, 1100, 1, 2, 1, 999)),
    ("page_size=999&page=2", tok(999, 1100), pg(0, 1, 1100, 2, 2, 1000, 1100)),
    ("page_size=1000", tok(0, 1000), pg(2, 0, 1100, 1, 2, 1, 1000)),
    ("page_size=1000&page=2", tok(1000, 1100), pg(0, 1, 1100, 2, 2, 1001, 1100)),
    ("page_size=1000&page=3", None, None),
    # clamped to 1000, and the arithmetic uses 1000
    ("page_size=1001", tok(0, 1000), pg(2, 0, 1100, 1, 2, 1, 1000)),
    ("page_size=1100", tok(0, 1000), pg(2, 0, 1100, 1, 2, 1, 1000)),
    ("page_size=5000&page=2", tok(1000, 1100), pg(0, 1, 1100, 2, 2, 1001, 1100)),
    ("page_size=5000&page=3", None, None),
    ("page_size=99999999999999999999&page=last", tok(1000, 1100), pg(0, 1, 1100, 2, 2, 1001, 1100)),
    ("page_size=250&page=5", tok(1000, 1100), pg(0, 4, 1100, 5, 5, 1001, 1100)),
    ("page_size=250&page=4", tok(750, 1000), pg(5, 3, 1100, 4, 5, 751, 1000)),
], ids=repr)
def test_large_pages(w, query, identifiers, paging):
    resp = w.client().list("search=tok-" + ("&" + query if query else ""))
    if identifiers is None:
        assert_json(resp, 404, {"detail": "Invalid page."})
        return
    assert_status(resp, 200)
    body = resp.json()
    assert body["pagination"] == paging
    assert [t["identifier"] for t in body["results"]] == identifiers
    assert all(list(t) == ["pk", "managed", "identifier", "intent", "user", "user_obj",
                           "description", "expires", "expiring"] for t in body["results"])


def _walk(client, query, size):
    out, page = [], 1
    while True:
        r = client.get("/api/v3/core/tokens/", dict(query, page_size=str(size), page=str(page)))
        assert r.status == 200, r.body
        body = r.json()
        out += [t["identifier"] for t in body["results"]]
        if not body["pagination"]["next"]:
            return out, body["pagination"]["count"]
        page += 1


@pytest.mark.parametrize("ordering", ["identifier", "-identifier", "expires", "-expires",
                                      "user", "-user", "description", "-expiring,identifier",
                                      "intent,-expires"])
def test_pages_past_the_middle_read_from_the_end(w, ordering):
    """Pages past the middle are read backwards from the end and turned around (issue 8): every
    page must hold exactly the rows the forward order puts there, for orderings with ties and
    NULLs (expires), at page sizes that split the rows differently."""
    c = w.client()
    query = {"search": "tok-", "ordering": ordering}
    small, count = _walk(c, query, 7)
    assert count == N_SEEDED and len(small) == N_SEEDED == len(set(small))
    big, _ = _walk(c, query, 1000)
    assert small == big
    odd, _ = _walk(c, query, 333)
    assert small == odd
    if ordering == "identifier":
        assert small == sorted(small)
    if ordering == "-identifier":
        assert small == sorted(small, reverse=True)
