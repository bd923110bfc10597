"""Search with the trigram statistics in use (docs/api.md §8.2; issue 17).

After `tokend seed` the statistics name the trigrams most tokens hold ("use", "ser", "tok",
...: every seeded token has its owner "user0NNNN" and "token N of user0NNNN" in its search
text); a search then asks the trigram index only for the parts of its terms between those
trigrams and checks the whole terms on the rows it gives. Its answers must be those of every
term checked on every token: here they are compared, count, order and pages, with that brute
force over every token read back through the API. tests/unit/store/test_search_plan.c checks
the statements themselves."""

import json

import pytest

from harness import Client, assert_json, assert_status, served
from startup import sql

N = 3000
PAGE = 25


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    def seed(server):
        server.cli("seed", "--users", "60", "--groups", "5", "--tokens", str(N), "--seed", "17",
                   "--admin-token", server.bootstrap_key)

    with served(tmp_path_factory.mktemp("trigrams"), pre_start=seed) as server:
        client = Client(server, token=server.bootstrap_key)
        # the pieces of a term apart, and whole: only the check of the whole term tells them
        # apart ("use" and "ser" are common, so the index is asked for "abus" and "erxy")
        for ident, desc in (("mix-apart", "abus and erxy"), ("mix-whole", "abuserxy"),
                            ("mix-pct", "100% of_it"), ("mix-case", "ÉLAN user00042x")):
            body = json.dumps({"identifier": ident, "description": desc, "expiring": False})
            assert_status(client.request("POST", "/api/v3/core/tokens/", body=body.encode(),
                                         headers={"Content-Type": "application/json"}), 201)
        yield server, client


def common_trigrams(server):
    if server.backend.name == "sqlite":
        return {r[0] for r in sql(server.backend, "SELECT trigram FROM search_common_trigrams")}
    rows = sql(server.backend,
               "SELECT e.t FROM pg_stats_ext_exprs s, "
               "unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), "
               "s.most_common_elem_freqs) AS e(t, f) "
               "WHERE s.statistics_name = 'tokens_search_trgm_freq' AND e.f > 0.5")
    return {r[0] for r in rows}


def every_token(client):
    out, page = [], 1
    while True:
        r = client.list({"page_size": "1000", "page": str(page)})
        assert_status(r, 200)
        body = r.json()
        out += body["results"]
        if not body["pagination"]["next"]:
            return out
        page += 1


def fold(t):
    # every text here is ASCII but "ÉLAN" (Latin-1: folds to "élan", docs/api.md §17.6)
    text = "\x1f".join([t["identifier"], t["intent"], t["user_obj"]["username"],
                        t["description"]])
    return text.lower().replace("É", "é")


def test_the_statistics_name_the_trigrams_every_token_holds(world):
    server, _ = world
    common = common_trigrams(server)
    assert {"use", "ser", "er0", "r00", "tok"} <= common, common
    assert "042" not in common and "alp" not in common


SEARCHES = ["user00042", "user00042 alpha", "abuserxy", "tok-00012", "tok-0001 kilo", "api",
            "user0", "ser0 of", "0042", "r0004", "user00007 recovery", "100%", "of_it",
            "élan", "ÉLAN user00042", "er00042x", "okilo", "00 of", "tok- 0 1 2"]


@pytest.mark.parametrize("search", SEARCHES)
def test_answers_are_every_term_checked_on_every_token(world, search):
    _, client = world
    terms = [t.lower().replace("É", "é") for t in search.replace(",", " ").split()]
    want = sorted((t["identifier"] for t in every_token(client)
                   if all(term in fold(t) for term in terms)), key=lambda s: s.encode())
    last = max(1, (len(want) + PAGE - 1) // PAGE)
    for page in sorted({1, min(2, last), last // 2 + 1, last}):
        r = client.list({"search": search, "page_size": str(PAGE), "page": str(page)})
        assert_status(r, 200)
        body = r.json()
        assert body["pagination"]["count"] == len(want), search
        got = [t["identifier"] for t in body["results"]]
        assert got == want[(page - 1) * PAGE:page * PAGE], (search, page)
    r = client.list({"search": search, "page_size": str(PAGE), "page": "last"})
    assert [t["identifier"] for t in r.json()["results"]] == want[(last - 1) * PAGE:]
    assert_json(client.list({"search": search, "page_size": str(PAGE), "page": str(last + 1)}),
                404, {"detail": "Invalid page."})
