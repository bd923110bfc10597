"""GET /api/v3/core/tokens/ on the standard world: the Token object and its embedded user and
groups (docs/api.md §5, §10), derived fields, include_groups (§7.1), datetimes (§1), owner isolation
and superusers through group ancestry (§4.1, §4.2), and that keys never leak.
"""

import base64
import json
import uuid

import pytest

from harness import (HEX64_RE, RFC3339_RE, UUID_RE, InitialsAvatar, assert_json, check_invariants,
                     num_pk)
from world import ADMIN_GROUP, BOOTSTRAP, Err, Page, check_list

ALL = ["Zeta", "a-1", "a1", "aB", "aZ", "a_1", "ab", BOOTSTRAP, "bob-api", "bob-app",
       "carol-api", "dave-api", "elodie-api", "erin-3", "erin-api", "frank-api", "gina-api",
       "henry-api"]
ALICE = ["a-1", "a1", "aB", "aZ", "a_1", "ab"]

TOKEN_KEYS = ["pk", "managed", "identifier", "intent", "user", "user_obj", "description",
              "expires", "expiring"]
USER_KEYS = ["pk", "username", "name", "is_active", "last_login", "is_superuser", "groups",
             "groups_obj", "email", "avatar", "attributes", "uid", "path", "type", "uuid"]
GROUP_KEYS = ["pk", "num_pk", "name", "is_superuser", "parent", "parent_name", "attributes"]
PAGINATION_KEYS = ["next", "previous", "count", "current", "total_pages", "start_index",
                   "end_index"]


def results(resp):
    check_invariants(resp)
    assert resp.status == 200, resp
    return resp.json()["results"]


def one(admin, identifier, query=""):
    res = results(admin.list(f"identifier={identifier}{query}"))
    assert [t["identifier"] for t in res] == [identifier]
    return res[0]


# -- whole objects -------------------------------------------------------------------------------

def test_admin_lists_every_token_exactly(std, admin):
    check_list(admin, std, None, ALL)


@pytest.mark.parametrize("identifier", ALL)
def test_token_object(std, admin, identifier):
    """Each token alone, compared whole: every field of the token, its owner and the owner's
    direct groups."""
    check_list(admin, std, f"identifier={identifier}", [identifier])


def test_key_order(std, admin):
    resp = admin.list("ordering=identifier")
    body = resp.json()
    assert list(body) == ["pagination", "results"]
    assert list(body["pagination"]) == PAGINATION_KEYS
    for token in body["results"]:
        assert list(token) == TOKEN_KEYS, token["identifier"]
        assert list(token["user_obj"]) == USER_KEYS, token["identifier"]
        for group in token["user_obj"]["groups_obj"]:
            assert list(group) == GROUP_KEYS, token["identifier"]
    # groups_obj present but null keeps its place
    for token in admin.list("include_groups=false").json()["results"]:
        assert list(token["user_obj"]) == USER_KEYS


def test_pagination_values_are_integers(admin):
    pag = admin.list().json()["pagination"]
    assert all(type(v) is int for v in pag.values()), pag


# -- derived and server-assigned values ------------------------------------------------------------

def test_token_pk_is_a_random_uuid4_unique_per_token(std, admin):
    pks = [t["pk"] for t in results(admin.list())]
    for pk in pks:
        assert UUID_RE.match(pk), pk
        u = uuid.UUID(pk)
        assert (u.version, u.variant) == (4, uuid.RFC_4122), pk
    assert len(set(pks)) == len(pks)


def test_user_uuid_and_uid(std, admin):
    """uuid: canonical lowercase UUID; uid: sha256 hex of "<pk>-<installation id>" — 64
    lowercase hex digits, different for every user."""
    users = {t["user_obj"]["username"]: t["user_obj"] for t in results(admin.list())}
    assert sorted(users) == sorted(std.users)
    for name, u in users.items():
        assert UUID_RE.match(u["uuid"] or ""), (name, u["uuid"])
        assert HEX64_RE.match(u["uid"] or ""), (name, u["uid"])
    assert len({u["uuid"] for u in users.values()}) == len(users)
    assert len({u["uid"] for u in users.values()}) == len(users)
    assert all(u["uid"] != u["uuid"].replace("-", "") for u in users.values())


def test_uid_and_uuid_are_stable(std, admin):
    for query in ("", "include_groups=false", "ordering=-user", "search=a"):
        for t in results(admin.list(query)):
            u = std.users[t["user_obj"]["username"]]
            assert (t["user_obj"]["uid"], t["user_obj"]["uuid"]) == (u.uid, u.uuid), query


@pytest.mark.parametrize("username,initials", [
    ("akadmin", "AA"),     # "authentik Default Admin": first and last word
    ("alice", "AL"),
    ("bob", "BO"),         # one word: its first two characters
    ("carol", "CD"),
    ("dave", "DN"),
    ("erin", "AK"),        # blank name: rendered as "a k"
    ("frank", "FT"),
    ("gina", "GD"),
    ("elodie", "ÉÜ"),
    ("henry", "HH"),       # three words: first and last
])
def test_avatar_shows_initials(std, admin, username, initials):
    res = results(admin.list(f"user__username={username}"))
    assert res, username
    avatar = res[0]["user_obj"]["avatar"]
    matcher = InitialsAvatar(initials)
    assert matcher.problem(avatar) is None, matcher.problem(avatar)
    svg = base64.b64decode(avatar[len(InitialsAvatar.PREFIX):]).decode()
    assert svg.lstrip().startswith(("<svg", "<?xml")), svg[:80]


def test_avatar_is_the_same_for_the_same_user(admin):
    first = {t["identifier"]: t["user_obj"]["avatar"] for t in results(admin.list())}
    again = {t["identifier"]: t["user_obj"]["avatar"] for t in results(admin.list())}
    assert first == again
    assert first["a-1"] == first["ab"]  # same owner


def test_group_num_pk_parent_and_parent_name(std, admin):
    """num_pk = first five decimal digits of the UUID's integer; parent_name = the parent's name
    or null."""
    seen = {}
    for t in results(admin.list()):
        for g in t["user_obj"]["groups_obj"]:
            seen[g["name"]] = g
    assert sorted(seen) == sorted([ADMIN_GROUP, "team-a", "team-a-sub", "team-b", "lvl3", "top",
                                   "lvl5", "sub-su"])
    for name, g in seen.items():
        assert g["num_pk"] == int(str(uuid.UUID(g["pk"]).int)[:5]) == num_pk(g["pk"]), name
        assert 0 <= g["num_pk"] < 2**31
    assert (seen["team-a-sub"]["parent"], seen["team-a-sub"]["parent_name"]) == (
        std.groups["team-a"].uuid, "team-a")
    assert (seen["sub-su"]["parent"], seen["sub-su"]["parent_name"]) == (
        std.groups["top"].uuid, "top")
    assert (seen["lvl5"]["parent"], seen["lvl5"]["parent_name"]) == (
        std.groups["lvl4"].uuid, "lvl4")
    assert (seen["team-a"]["parent"], seen["team-a"]["parent_name"]) == (None, None)
    assert seen[ADMIN_GROUP]["is_superuser"] is True
    assert seen["sub-su"]["is_superuser"] is True
    # a group's own flag, not inherited from its ancestors
    assert seen["lvl3"]["is_superuser"] is False
    assert seen["lvl5"]["is_superuser"] is False


def test_groups_lists_direct_memberships_only(std, admin):
    """gina is in lvl5 only; its ancestors lvl4..lvl1 are not in `groups`."""
    u = one(admin, "gina-api")["user_obj"]
    assert u["groups"] == [std.groups["lvl5"].uuid]
    assert [g["name"] for g in u["groups_obj"]] == ["lvl5"]
    alice = one(admin, "a-1")["user_obj"]
    assert sorted(alice["groups"]) == sorted([std.groups["team-a"].uuid, std.groups["team-b"].uuid])


@pytest.mark.parametrize("username,superuser", [
    ("akadmin", True),     # member of authentik Admins
    ("alice", False),
    ("bob", False),        # team-a-sub -> team-a: no superuser flag on the way
    ("carol", True),       # lvl3 -> lvl2 -> lvl1 (superuser): grandparent
    ("dave", False),
    ("erin", False),
    ("frank", False),      # member of `top`, whose *child* sub-su is a superuser group
    ("gina", True),        # lvl5 -> ... -> lvl1: four levels up
    ("elodie", True),      # sub-su directly (a superuser group that has a parent)
    ("henry", False),      # no groups
])
def test_user_is_superuser(admin, username, superuser):
    res = results(admin.list(f"user__username={username}"))
    assert res and all(t["user_obj"]["is_superuser"] is superuser for t in res), res


def test_bootstrap_objects(std, admin):
    """First start: akadmin (pk 1) in "authentik Admins" and the bootstrap token."""
    t = one(admin, BOOTSTRAP)
    assert {k: t[k] for k in ("managed", "intent", "user", "description", "expiring")} == {
        "managed": None, "intent": "api", "user": 1, "description": "", "expiring": False}
    assert t["expires"] is None or RFC3339_RE.match(t["expires"]), t["expires"]
    u = t["user_obj"]
    assert {k: u[k] for k in ("pk", "username", "name", "email", "is_active", "is_superuser",
                              "last_login", "attributes", "path", "type")} == {
        "pk": 1, "username": "akadmin", "name": "authentik Default Admin",
        "email": "root@localhost", "is_active": True, "is_superuser": True, "last_login": None,
        "attributes": {}, "path": "users", "type": "internal"}
    assert [(g["name"], g["is_superuser"], g["parent"], g["parent_name"], g["attributes"])
            for g in u["groups_obj"]] == [(ADMIN_GROUP, True, None, None, {})]
    assert u["groups"] == [u["groups_obj"][0]["pk"]]


# -- include_groups ----------------------------------------------------------------------------

@pytest.mark.parametrize("query,groups", [
    ("", True),
    ("include_groups=true", True),
    ("include_groups=True", True),
    ("include_groups=TRUE", True),
    ("include_groups=tRuE", True),
    ("include_groups=false", False),
    ("include_groups=False", False),
    ("include_groups=0", False),
    ("include_groups=1", False),
    ("include_groups=yes", False),
    ("include_groups=", False),          # present and not "true"
    ("include_groups", False),
    ("include_groups=%20true", False),
    ("include_groups=true%20", False),
    ("include_groups=true&include_groups=false", False),
    ("include_groups=false&include_groups=true", True),
    ("Include_Groups=false", True),      # parameter names are case-sensitive
])
def test_include_groups(std, admin, query, groups):
    check_list(admin, std, "user__username=alice&" + query, Page(ALICE, groups=groups))


def test_include_groups_false_for_a_non_superuser(std):
    check_list(std.client("bob"), std, "include_groups=false",
               Page(["bob-api", "bob-app"], groups=False))


# -- datetimes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("identifier,expires", [
    ("a-1", "2030-01-02T03:04:05.123456Z"),
    ("a1", "2030-01-02T03:04:05Z"),                 # no fraction when microseconds are 0
    ("a_1", "2030-01-02T00:00:00Z"),
    ("Zeta", "2031-01-01T00:00:00Z"),               # created as 2031-01-01T02:00:00+02:00
    ("frank-api", "2035-01-01T00:00:00.500000Z"),   # created as ...00.5Z: six digits
    ("aB", None),
])
def test_expires_is_rfc3339_utc(admin, identifier, expires):
    assert one(admin, identifier)["expires"] == expires


def test_every_datetime_is_rfc3339(admin):
    for t in results(admin.list()):
        for value in (t["expires"], t["user_obj"]["last_login"]):
            if value is not None:
                assert RFC3339_RE.match(value), value
                assert not value.endswith(".000000Z"), value
        assert t["user_obj"]["last_login"] is None


# -- who sees what -----------------------------------------------------------------------------

@pytest.mark.parametrize("username,query,expected", [
    ("alice", "", ALICE),
    ("alice", "user__username=bob", []),
    ("alice", "user__username=alice", ALICE),
    ("alice", "identifier=bob-api", []),
    ("alice", "identifier=a-1", ["a-1"]),
    ("alice", "search=bob", []),
    ("alice", "search=a", ALICE),
    ("alice", "search=api", ["a-1", "aZ", "ab"]),
    ("alice", "managed=m-dave", []),
    ("alice", "managed=m-ab", ["ab"]),
    ("alice", "intent=app_password", ["a1"]),
    ("alice", "intent=recovery", ["aB"]),       # own flow tokens are listed
    ("alice", "expires=2030-06-01T00:00:00Z", []),
    ("alice", "expiring=false", ["aB", "aZ", "a_1", "ab"]),
    ("alice", "description=for%20bob", []),
    ("alice", "ordering=-user,identifier", ALICE),
    ("alice", "ordering=user,-identifier", ALICE[::-1]),
    ("alice", "page_size=1000", ALICE),
    ("alice", "page=2", Err(404, {"detail": "Invalid page."})),
    ("alice", "page=last", ALICE),
    ("alice", "page_size=2&page=3",
     Page(["a_1", "ab"], paging={"next": 0, "previous": 2, "count": 6, "current": 3,
                                 "total_pages": 3, "start_index": 5, "end_index": 6})),
    ("alice", "search=&identifier=&user__username=&intent=&managed=", ALICE),
    ("alice", "include_groups=false", Page(ALICE, groups=False)),
    ("bob", "", ["bob-api", "bob-app"]),
    ("bob", "user__username=alice", []),
    ("bob", "search=alice", []),
    ("bob", "search=bob", ["bob-api", "bob-app"]),   # frank-api's "for bob" is not bob's
    ("bob", "intent=app_password", ["bob-app"]),
    ("frank", "", ["frank-api"]),
    ("frank", "search=bob", ["frank-api"]),
    ("frank", "user__username=akadmin", []),
    ("erin", "", ["erin-3", "erin-api"]),     # expiring=false: a past expiry does not matter
    ("henry", "ordering=-pk&page_size=1", ["henry-api"]),
    ("henry", "identifier=authentik-bootstrap-token", []),
])
def test_non_superusers_see_only_their_own_tokens(std, username, query, expected):
    check_list(std.client(username), std, query, expected)


@pytest.mark.parametrize("query", ["", "page_size=2", "search=bob", "identifier=bob-api",
                                   "ordering=-pk&page_size=1", "include_groups=false"])
def test_one_callers_page_is_never_anothers(std, query):
    """Each worker thread keeps the pages it answered by query string and caller (docs/api.md
    §20.1). The same query string asked in turn by a superuser and by users who see only their
    own tokens, over and over (so every thread has answered each of them), gives each caller
    its own page: the one the store gives that caller for a query string never asked before."""
    def body(username, q):
        r = std.client(username).request("GET", "/api/v3/core/tokens/?" + q)
        assert r.status == 200, r
        return r.json()

    callers = ("carol", "alice", "bob", "frank")
    own = {u: body(u, "&".join(filter(None, [query, "unread=" + uuid.uuid4().hex])))
           for u in callers}
    assert len({json.dumps(v, sort_keys=True) for v in own.values()}) >= 2
    for _ in range(8):
        for u in callers:
            assert body(u, query) == own[u], (u, query)


@pytest.mark.parametrize("username", ["carol", "gina", "elodie"])
def test_superuser_through_group_ancestry_sees_everything(std, username):
    client = std.client(username)
    check_list(client, std, None, ALL)
    check_list(client, std, "user__username=alice", ALICE)
    check_list(client, std, "user__username=dave", ["dave-api"])


# -- secrets -----------------------------------------------------------------------------------

def test_keys_and_the_secret_key_never_appear(std, admin):
    secrets = [t.key for t in std.tokens.values()] + [std.server.secret_key]
    for client in (admin, std.client("alice"), std.client("carol")):
        for query in ("", "include_groups=true&page_size=1000", "search=a", "ordering=-pk",
                      "include_groups=false"):
            resp = client.list(query)
            assert resp.status == 200
            wire = resp.body.decode() + json.dumps(resp.headers)
            leaked = [s for s in secrets if s in wire]
            assert not leaked, f"{query!r} leaks {leaked}"
            for t in resp.json()["results"]:
                assert "key" not in t and "key" not in t["user_obj"]


def test_key_is_not_searchable(std, admin):
    """search covers identifier, intent, username and description — never the key."""
    key = std.tokens["gina-api"].key
    assert_json(admin.list({"search": key[:20]}), 200, std.page([]))


def test_keys_and_secret_never_logged(std, admin):
    """§17.5: no key (each of these was presented by some test) and no secret in the log."""
    for username in ("alice", "bob", "carol", "erin", "frank", "gina", "elodie", "henry"):
        assert std.client(username).list().status == 200
    log = std.server.log_text()
    leaked = [t.identifier for t in std.tokens.values() if t.key in log]
    assert not leaked, f"keys of {leaked} in the server log"
    assert std.server.secret_key not in log
