"""GET /api/v3/core/tokens/ search and ordering (docs/api.md §8, §17.4, §17.6) on the standard world.

search: terms split on whitespace and commas; each term a case-insensitive substring of one of
identifier, intent, owner username, description; LIKE metacharacters are literal.
ordering: pk, managed, identifier, intent, user, description, expires, expiring, '-' prefix,
several fields, unknown names dropped, default identifier,expires; nulls last ascending and
first descending; text byte-wise.
"""

from urllib.parse import quote

import pytest

from harness import assert_status
from world import BOOTSTRAP, Page, check_list

ALL = ["Zeta", "a-1", "a1", "aB", "aZ", "a_1", "ab", BOOTSTRAP, "bob-api", "bob-app",
       "carol-api", "dave-api", "elodie-api", "erin-3", "erin-api", "frank-api", "gina-api",
       "henry-api"]
ALICE = ["a-1", "a1", "aB", "aZ", "a_1", "ab"]


def search(text):
    return "search=" + quote(text, safe="")


def cases(table):
    return pytest.mark.parametrize("query,expected", table, ids=[repr(c[0]) for c in table])


@cases([
    ("search=alice", ALICE),                               # owner username
    ("search=ALICE", ALICE),
    ("search=aLiCe", ALICE),
    ("search=bob", ["bob-api", "bob-app", "frank-api"]),   # frank-api: description "for bob"
    ("search=akadmin", ["Zeta", BOOTSTRAP]),
    ("search=token", [BOOTSTRAP]),                         # identifier substring
    ("search=a-1", ["a-1"]),
    ("search=app_pass", ["a1", "bob-app"]),                # intent
    ("search=verif", ["a_1"]),
    ("search=RECOVERY", ["aB"]),
    ("search=deep", ["gina-api"]),                         # description
    ("search=alpha%20beta", ["carol-api"]),
    ("search=beta%20alpha", ["carol-api"]),                # terms, not a phrase
    # every term must match (any field each)
    ("search=bob,api", ["bob-api", "frank-api"]),
    ("search=bob%2Capi", ["bob-api", "frank-api"]),
    ("search=bob%20api", ["bob-api", "frank-api"]),
    ("search=bob+api", ["bob-api", "frank-api"]),
    ("search=bob%09api", ["bob-api", "frank-api"]),
    ("search=bob%0Aapi", ["bob-api", "frank-api"]),
    ("search=%20bob,,%20api,", ["bob-api", "frank-api"]),
    ("search=bob%C2%A0api", ["bob-api", "frank-api"]),     # Unicode whitespace splits too
    ("search=alice,api", ["a-1", "aZ", "ab"]),
    ("search=alice%20zzz", []),
    # no terms: no search filtering
    ("search=", ALL),
    ("search=%20", ALL),
    ("search=,", ALL),
    ("search=%20,%20,%09", ALL),
    # LIKE metacharacters are literal
    ("search=%25", ["a_1"]),
    ("search=100%25", ["a_1"]),
    ("search=_", ["a1", "a_1", "bob-app", "henry-api"]),
    ("search=x_y", ["henry-api"]),
    ("search=x%25y", []),
    ("search=%5C", ["ab"]),
    ("search=C:%5Ct", ["ab"]),
    ("search=%5C%25", []),
    ("search=%5C_", []),
    # quotes are ordinary characters (SEED: no phrase search)
    ("search=%22hi%22", ["bob-api"]),
    ("search=%22alpha%20beta%22", []),
    # case-insensitive beyond ASCII
    ("search=caf%C3%89", ["aB"]),
    ("search=CR%C3%88ME", ["aB"]),
    ("search=%C3%A9lan", ["aZ"]),
    ("search=%C3%A9", ["a1", "aB", "aZ"]),
    (search("ωμέγα"), ["gina-api"]),                       # gina-api: "deep Ωμέγα Москва"
    (search("ΩΜΈΓΑ"), ["gina-api"]),
    (search("моСКВА"), ["gina-api"]),
    ("search=ZETA", ["Zeta"]),
    ("search=BootStrap", [BOOTSTRAP]),
    # each term may match a different field
    ("search=alice,verif", ["a_1"]),
    ("search=henry%20x_y%20api", ["henry-api"]),
    # not searched: user name, email, managed, expires, pk
    ("search=Liddell", []),
    ("search=example.com", []),
    ("search=root%40localhost", []),
    ("search=m-ab", []),
    ("search=goauthentik.io", []),
    ("search=2030", []),
    ("search=.", []),
    # nothing is a pattern or SQL
    ("search=*", []),
    ("search=%3F", []),
    ("search=%5B", []),
    ("search=%27", []),
    ("search=%27%20OR%201=1--", []),
    ("search=%22%20OR%20%22%22=%22", []),
    # search combines with filters (AND)
    ("search=alice&intent=api", ["a-1", "aZ", "ab"]),
    ("search=bob&user__username=frank", ["frank-api"]),
])
def test_search(std, admin, query, expected):
    check_list(admin, std, query, expected)


def test_search_length_limit(std, admin):
    """§17.4: up to 1024 characters (not bytes) is served; longer is 400."""
    check_list(admin, std, "search=" + "%C3%A9" * 1024, [])
    check_list(admin, std, "search=" + "a" * 1024, [])
    assert_status(admin.list("search=" + "a" * 1025), 400)
    assert_status(admin.list("search=" + "%C3%A9" * 1025), 400)


def test_many_search_terms(std, admin):
    """Only the length is limited (§17.4), not the number of terms (§8)."""
    check_list(admin, std, "search=" + ",".join(["bob"] * 100),
               ["bob-api", "bob-app", "frank-api"])
    check_list(admin, std, "search=" + "%20".join(["b"] * 300 + ["bob"]),
               ["bob-api", "bob-app", "frank-api"])


def test_many_ordering_fields(std, admin):
    """Every name counts, however many there are (§8): the 17th decides here."""
    check_list(admin, std, "ordering=" + ",".join(["intent"] * 16 + ["-identifier"]),
               ["henry-api", "gina-api", "frank-api", "erin-api", "erin-3", "elodie-api",
                "dave-api", "carol-api", "bob-api", BOOTSTRAP, "ab", "aZ", "a-1", "Zeta",
                "bob-app", "a1", "aB", "a_1"])


@cases([
    ("", ALL),
    ("ordering=identifier", ALL),
    ("ordering=-identifier", ALL[::-1]),
    ("ordering=identifier,expires", ALL),
    ("ordering=identifier,-identifier", ALL),       # the first occurrence decides
    ("ordering=intent,identifier",
     ["Zeta", "a-1", "aZ", "ab", BOOTSTRAP, "bob-api", "carol-api", "dave-api", "elodie-api",
      "erin-3", "erin-api", "frank-api", "gina-api", "henry-api", "a1", "bob-app", "aB", "a_1"]),
    ("ordering=-intent,identifier",
     ["a_1", "aB", "a1", "bob-app", "Zeta", "a-1", "aZ", "ab", BOOTSTRAP, "bob-api", "carol-api",
      "dave-api", "elodie-api", "erin-3", "erin-api", "frank-api", "gina-api", "henry-api"]),
    ("ordering=intent,-identifier",
     ["henry-api", "gina-api", "frank-api", "erin-api", "erin-3", "elodie-api", "dave-api",
      "carol-api", "bob-api", BOOTSTRAP, "ab", "aZ", "a-1", "Zeta", "bob-app", "a1", "aB", "a_1"]),
    # user is the owner's integer id (henry's 10 sorts after 9, not after 1)
    ("ordering=user,identifier",
     ["Zeta", BOOTSTRAP, "a-1", "a1", "aB", "aZ", "a_1", "ab", "bob-api", "bob-app", "carol-api",
      "dave-api", "erin-3", "erin-api", "frank-api", "gina-api", "elodie-api", "henry-api"]),
    ("ordering=-user,identifier",
     ["henry-api", "elodie-api", "gina-api", "frank-api", "erin-3", "erin-api", "dave-api",
      "carol-api", "bob-api", "bob-app", "a-1", "a1", "aB", "aZ", "a_1", "ab", "Zeta", BOOTSTRAP]),
    # byte-wise: "" < "1" < "B" < "C:" < "Ca" < "a" < "x_" < "xz" < "É" < "é"
    ("ordering=description,identifier",
     [BOOTSTRAP, "dave-api", "a_1", "Zeta", "ab", "aB", "a-1", "carol-api", "bob-app", "erin-api",
      "erin-3", "gina-api", "frank-api", "bob-api", "henry-api", "elodie-api", "aZ", "a1"]),
    ("ordering=-description,identifier",
     ["a1", "aZ", "elodie-api", "henry-api", "bob-api", "frank-api", "gina-api", "erin-3",
      "erin-api", "bob-app", "carol-api", "a-1", "aB", "ab", "Zeta", "a_1", BOOTSTRAP, "dave-api"]),
    # nulls last ascending, first descending
    ("ordering=managed,identifier",
     ["aB", "ab", "dave-api", "Zeta", "a-1", "a1", "aZ", "a_1", BOOTSTRAP, "bob-api", "bob-app",
      "carol-api", "elodie-api", "erin-3", "erin-api", "frank-api", "gina-api", "henry-api"]),
    ("ordering=-managed,identifier",
     ["Zeta", "a-1", "a1", "aZ", "a_1", BOOTSTRAP, "bob-api", "bob-app", "carol-api",
      "elodie-api", "erin-3", "erin-api", "frank-api", "gina-api", "henry-api", "dave-api", "ab",
      "aB"]),
    # false < true
    ("ordering=expiring,identifier",
     ["Zeta", "aB", "aZ", "a_1", "ab", BOOTSTRAP, "bob-api", "bob-app", "carol-api", "dave-api",
      "elodie-api", "erin-3", "erin-api", "frank-api", "gina-api", "henry-api", "a-1", "a1"]),
    ("ordering=-expiring,identifier",
     ["a-1", "a1", "Zeta", "aB", "aZ", "a_1", "ab", BOOTSTRAP, "bob-api", "bob-app", "carol-api",
      "dave-api", "elodie-api", "erin-3", "erin-api", "frank-api", "gina-api", "henry-api"]),
    ("ordering=expiring,-user,identifier",
     ["henry-api", "elodie-api", "gina-api", "frank-api", "erin-3", "erin-api", "dave-api",
      "carol-api", "bob-api", "bob-app", "aB", "aZ", "a_1", "ab", "Zeta", BOOTSTRAP, "a-1", "a1"]),
    # whitespace around names is stripped; empty names are skipped
    ("ordering=%20-identifier%20", ALL[::-1]),
    ("ordering=-identifier,", ALL[::-1]),
    ("ordering=,-identifier", ALL[::-1]),
    # unknown names are dropped; with none left the default applies
    ("ordering=bogus", ALL),
    ("ordering=bogus,-identifier", ALL[::-1]),
    ("ordering=-identifier,bogus", ALL[::-1]),
    ("ordering=user__username", ALL),
    ("ordering=-user__username", ALL),
    ("ordering=user_obj", ALL),
    ("ordering=key", ALL),
    ("ordering=-key", ALL),
    ("ordering=%2Bidentifier", ALL),
    ("ordering=%2B-identifier", ALL),
    ("ordering=--identifier", ALL),
    ("ordering=IDENTIFIER", ALL),
    ("ordering=-IDENTIFIER", ALL),
    ("ordering=-", ALL),
    ("ordering=,,,", ALL),
    ("ordering=", ALL),
    ("ordering=identifier%20desc", ALL),
    # ordering applies before paging
    ("ordering=-identifier&page_size=2&page=2",
     Page(["frank-api", "erin-api"],
          paging={"next": 3, "previous": 1, "count": 18, "current": 2, "total_pages": 9,
                  "start_index": 3, "end_index": 4})),
])
def test_ordering_as_admin(std, admin, query, expected):
    check_list(admin, std, query, expected)


@cases([
    # alice's tokens by expiry: a_1 2030-01-02T00:00:00Z < a1 03:04:05Z < a-1 03:04:05.123456Z
    # < ab 2032-06-30; aB and aZ have none
    ("", ALICE),
    ("ordering=expires,identifier", ["a_1", "a1", "a-1", "ab", "aB", "aZ"]),
    ("ordering=expires,-identifier", ["a_1", "a1", "a-1", "ab", "aZ", "aB"]),
    ("ordering=-expires,identifier", ["aB", "aZ", "ab", "a-1", "a1", "a_1"]),
    ("ordering=-expires,-identifier", ["aZ", "aB", "ab", "a-1", "a1", "a_1"]),
    ("ordering=expiring,-expires,identifier", ["aB", "aZ", "ab", "a_1", "a-1", "a1"]),
    ("ordering=intent,expires",  ["a-1", "ab", "aZ", "a1", "aB", "a_1"]),
])
def test_ordering_by_expires(std, query, expected):
    check_list(std.client("alice"), std, query, expected)


@pytest.mark.parametrize("descending", [False, True], ids=["pk", "-pk"])
def test_ordering_by_pk(std, admin, descending):
    """pk is the token's UUID; its order is the canonical string's (byte) order."""
    expected = sorted(ALL, key=lambda i: std.tokens[i].pk or "", reverse=descending)
    check_list(admin, std, "ordering=-pk" if descending else "ordering=pk", expected)
