"""GET /api/v3/core/users/ and GET /api/v3/core/users/{id}/ (docs/api.md §9, §10.1, §14.1, §17.6):
the User object, default ordering by username (byte-wise), the filters (exact text filters
stripped, booleans, uuid, path and prefix with literal LIKE metacharacters, repeatable type and
group filters, JSON attributes), include_groups, search, ordering, pagination, retrieve.

Runs on its own server with a read-only world made through the CLI (plus two last_login values
written once through the API). One case = raw query -> usernames of a whole 200 page, Page(...)
or Err(status, body); `{uuid[alice]}`-style fields are filled in with server-made values.
"""

import urllib.parse

import pytest

from harness import (INVALID_PAGE, NOT_FOUND, assert_json, assert_status, pagination, served)
from world import (ADMIN_GROUP, USER_FIELDS, USERS, Err, World, assert_body, learn_users,
                   send_json, user_page, user_url)

GROUPS = [
    # name        superuser parent  attributes
    ("Zebra",     False,    None,   {}),
    ("eng",       False,    None,   {"dept": "eng"}),
    ("eng-sub",   False,    "eng",  {}),
    ("ops",       True,     None,   {}),
    ("ops-child", False,    "ops",  {}),
    ("empty",     False,    None,   {}),
]

# pks 2..11 in this order (akadmin is 1): "Zed" is the last pk but the first username.
USERS_TABLE = [
    ("alice", "Alice Liddell", "alice@example.com",
     dict(attributes={"settings": {"theme": "dark"}, "level": 3, "tags": ["a"]},
          groups=["eng", "ops-child"])),
    ("bob", "Bob Stone", "bob@example.org",
     dict(type="external", path="external/partners", groups=["eng-sub"])),
    ("carol", "Carol Danvers", "carol@example.com",
     dict(attributes={"settings": {"theme": "light"}}, groups=["ops"])),
    ("dave", "Dave Null", "dave@example.com", dict(inactive=True, path="users/archived")),
    ("erin", "", None, dict(type="service_account", path="goauthentik.io/service-accounts")),
    ("frank", "Frank Percent", "frank@example.com", dict(path="p%c_t/x")),
    ("gina", "Gina Deep", "gina@example.com", dict(path="pXcYt/x")),
    ("henry", "henry james", "HENRY@Example.COM",
     dict(attributes={"settings": {"theme": "dark"}, "level": 3})),
    ("ivan", "Ivan \u00dcnal", "ivan@example.com", dict(groups=["eng"])),
    ("Zed", "Zed Zulu", "zed@example.net", dict()),
]

LAST_LOGIN = {"alice": ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"),
              "carol": ("2023-01-01T00:00:00.25Z", "2023-01-01T00:00:00.250000Z")}

ALL = ["Zed", "akadmin", "alice", "bob", "carol", "dave", "erin", "frank", "gina", "henry", "ivan"]
ACTIVE = [u for u in ALL if u != "dave"]
BY_PK = ["akadmin", "alice", "bob", "carol", "dave", "erin", "frank", "gina", "henry", "ivan",
         "Zed"]
PATH_USERS = ["Zed", "akadmin", "alice", "carol", "henry", "ivan"]


def but(*names):
    return [u for u in ALL if u not in names]


def choice(field, value):
    return {field: [f"Select a valid choice. {value} is not one of the available choices."]}


class Page:
    def __init__(self, usernames, groups=True, paging=None):
        self.usernames, self.groups, self.paging = list(usernames), groups, paging

    def __repr__(self):
        return f"Page({self.usernames!r}, groups={self.groups}, paging={self.paging!r})"


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("users-list")) as server:
        world = World(server)
        for name, su, parent, attrs in GROUPS:
            world.add_group(name, superuser=su, parent=parent, attributes=attrs)
        for username, name, email, extra in USERS_TABLE:
            world.add_user(username, name, email, **extra)
        admin = world.client()
        world.learn(admin)
        learn_users(world, admin)
        for username, (given, shown) in LAST_LOGIN.items():
            r = send_json(admin, "PATCH", user_url(world.users[username].pk),
                          {"last_login": given})
            assert_status(r, 200)
            world.users[username].last_login = shown
        yield world


@pytest.fixture(scope="module")
def admin(w):
    return w.client()


def fill(w, query):
    if query is None:
        return None
    uuids = {n: u.uuid for n, u in w.users.items()}
    return query.format(uuid=uuids, UUID={n: v.upper() for n, v in uuids.items()},
                        gid={n: g.uuid for n, g in w.groups.items()})


def check(w, admin, query, expected):
    query = fill(w, query)
    resp = admin.get(USERS, query)
    if isinstance(expected, Err):
        assert_json(resp, expected.status, expected.body)
        return resp
    if not isinstance(expected, Page):
        expected = Page(expected)
    assert_status(resp, 200)
    got = resp.json()
    want = user_page(w, expected.usernames, expected.groups, expected.paging)
    if isinstance(got, dict) and isinstance(got.get("results"), list):
        got_names = [u.get("username") if isinstance(u, dict) else u for u in got["results"]]
        assert (got_names, got.get("pagination")) == (expected.usernames, want["pagination"])
    assert_body(resp, 200, want)
    return resp


def cases(table):
    return pytest.mark.parametrize("query,expected", table, ids=[repr(c[0]) for c in table])


def q(**params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="")


# -- the object and the default listing ----------------------------------------------------------

def test_default_listing_is_every_user_by_username_bytewise(w, admin):
    resp = check(w, admin, None, ALL)
    assert resp.header("Allow") == "GET, POST, HEAD, OPTIONS"


def test_user_object_shape(w, admin):
    body = admin.get(USERS, "username=alice").json()
    user = body["results"][0]
    assert list(body) == ["pagination", "results"]
    assert list(user) == USER_FIELDS
    assert user["is_superuser"] is True          # through ops-child -> ops (§4.1)
    assert user["groups_obj"] is not None and len(user["groups_obj"]) == 2
    assert user["last_login"] == "2024-05-01T10:00:00Z"


def test_users_list_object_equals_the_token_lists_user_obj(w, admin):
    """The same User serializer serves /core/users/ and the token's user_obj (§10.1)."""
    token = admin.get("/api/v3/core/tokens/", "identifier=authentik-bootstrap-token").json()
    user = admin.get(USERS, "username=akadmin").json()["results"][0]
    assert token["results"][0]["user_obj"] == user


def test_effective_superuser_and_group_objects(w, admin):
    resp = admin.get(USERS, "page_size=1000")
    got = {u["username"]: u for u in resp.json()["results"]}
    assert {n for n, u in got.items() if u["is_superuser"]} == {"akadmin", "alice", "carol"}
    assert got["bob"]["groups_obj"] == [w.group_json("eng-sub")]
    assert got["bob"]["groups_obj"][0]["parent"] == w.groups["eng"].uuid
    assert got["bob"]["groups_obj"][0]["parent_name"] == "eng"
    assert got["akadmin"]["groups_obj"][0]["name"] == ADMIN_GROUP


# -- exact filters -------------------------------------------------------------------------------

@cases([
    ("username=alice", ["alice"]),
    ("username=%20alice%09", ["alice"]),          # stripped
    ("username=ALICE", []),                        # case-sensitive
    ("username=ali", []),                          # exact, not a prefix
    ("username=Zed", ["Zed"]),
    ("username=", ALL),                            # empty: ignored
    ("username=alice&username=bob", ["bob"]),      # the last one wins
    ("email=bob%40example.org", ["bob"]),
    ("email=%20bob%40example.org%20", ["bob"]),
    ("email=HENRY%40Example.COM", ["henry"]),
    ("email=henry%40example.com", []),
    ("email=root%40localhost", ["akadmin"]),
    ("email=", ALL),
    ("name=Alice%20Liddell", ["alice"]),
    ("name=%20Alice%20Liddell%20", ["alice"]),
    ("name=alice%20liddell", []),
    ("name=Alice", []),
    ("name=Ivan%20%C3%9Cnal", ["ivan"]),
    ("name=", ALL),
    ("username=alice&name=Bob%20Stone", []),       # filters are ANDed
])
def test_text_filters(w, admin, query, expected):
    check(w, admin, query, expected)


@cases([
    ("is_active=true", ACTIVE),
    ("is_active=True", ACTIVE),
    ("is_active=1", ACTIVE),
    ("is_active=false", ["dave"]),
    ("is_active=FALSE", ["dave"]),
    ("is_active=0", ["dave"]),
    ("is_active=yes", ALL),                        # not a boolean: ignored
    ("is_active=", ALL),
    # direct groups only: alice is a superuser through ops-child -> ops, but not a direct member
    ("is_superuser=true", ["akadmin", "carol"]),
    ("is_superuser=false", but("akadmin", "carol")),
    ("is_superuser=0", but("akadmin", "carol")),
    ("is_superuser=x", ALL),
    ("is_superuser=true&is_active=true", ["akadmin", "carol"]),
])
def test_boolean_filters(w, admin, query, expected):
    check(w, admin, query, expected)


@cases([
    ("uuid={uuid[alice]}", ["alice"]),
    ("uuid=%20{uuid[alice]}%20", ["alice"]),
    ("uuid={UUID[alice]}", ["alice"]),             # Django's UUIDField accepts any case
    ("uuid=00000000-0000-0000-0000-000000000000", []),
    ("uuid=abc", Err(400, {"uuid": ["Enter a valid UUID."]})),
    ("uuid={uuid[alice]}x", Err(400, {"uuid": ["Enter a valid UUID."]})),
    ("uuid=", ALL),
    ("uuid=abc&type=bogus", Err(400, {"uuid": ["Enter a valid UUID."],
                                      "type": choice("type", "bogus")["type"]})),
])
def test_uuid_filter(w, admin, query, expected):
    check(w, admin, query, expected)


@cases([
    ("path=users", PATH_USERS),
    ("path=external/partners", ["bob"]),
    ("path=external%2Fpartners", ["bob"]),
    ("path=external", []),
    ("path=%20users%20", PATH_USERS),
    ("path=", ALL),
    ("path_startswith=users", ["Zed", "akadmin", "alice", "carol", "dave", "henry", "ivan"]),
    ("path_startswith=users/", ["dave"]),
    ("path_startswith=external", ["bob"]),
    ("path_startswith=goauthentik.io/", ["erin"]),
    ("path_startswith=p%25c_t", ["frank"]),         # '%' and '_' are literal
    ("path_startswith=p%25", ["frank"]),
    ("path_startswith=p_", []),
    ("path_startswith=p", ["frank", "gina"]),
    ("path_startswith=pXc", ["gina"]),
    ("path_startswith=P", []),                      # case-sensitive
    ("path_startswith=", ALL),
    ("path_startswith=users&path=users", PATH_USERS),
])
def test_path_filters(w, admin, query, expected):
    check(w, admin, query, expected)


@cases([
    ("type=external", ["bob"]),
    ("type=service_account", ["erin"]),
    ("type=internal", but("bob", "erin")),
    ("type=internal_service_account", []),
    ("type=external&type=service_account", ["bob", "erin"]),     # repeatable: OR
    ("type=external&type=external", ["bob"]),
    ("type=bogus", Err(400, choice("type", "bogus"))),
    ("type=External", Err(400, choice("type", "External"))),
    ("type=external&type=bogus", Err(400, choice("type", "bogus"))),
    # Django's MultipleChoiceField stops at the first invalid value
    ("type=x&type=y", Err(400, choice("type", "x"))),
    ("type=", ALL),
])
def test_type_filter(w, admin, query, expected):
    check(w, admin, query, expected)


@cases([
    ("groups_by_name=eng", ["alice", "ivan"]),                          # direct members only
    ("groups_by_name=ops", ["carol"]),
    ("groups_by_name=eng&groups_by_name=ops", ["alice", "carol", "ivan"]),
    ("groups_by_name=eng&groups_by_name=ops-child", ["alice", "ivan"]),  # no duplicates
    ("groups_by_name=authentik%20Admins", ["akadmin"]),
    ("groups_by_name=empty", []),
    ("groups_by_name=nope", Err(400, choice("groups_by_name", "nope"))),
    ("groups_by_name=ENG", Err(400, choice("groups_by_name", "ENG"))),
    ("groups_by_name=eng&groups_by_name=nope", Err(400, choice("groups_by_name", "nope"))),
    ("groups_by_name=n1&groups_by_name=n2", Err(400, choice("groups_by_name", "n1"))),
    ("groups_by_name=", ALL),
    ("groups_by_pk={gid[ops]}", ["carol"]),
    ("groups_by_pk={gid[eng]}&groups_by_pk={gid[eng-sub]}", ["alice", "bob", "ivan"]),
    ("groups_by_pk={gid[Zebra]}", []),
    ("groups_by_pk=xyz", Err(400, {"groups_by_pk": ["\u201cxyz\u201d is not a valid UUID."]})),
    ("groups_by_pk=00000000-0000-4000-8000-000000000000",
     Err(400, choice("groups_by_pk", "00000000-0000-4000-8000-000000000000"))),
    ("groups_by_pk=", ALL),
    # two filters: ANDed like every other pair of filters (eng AND ops-child)
    ("groups_by_name=eng&groups_by_pk={gid[ops-child]}", ["alice"]),
    ("groups_by_name=eng&is_active=true&type=internal", ["alice", "ivan"]),
])
def test_group_filters(w, admin, query, expected):
    check(w, admin, query, expected)


@cases([
    (q(attributes='{"level": 3}'), ["alice", "henry"]),
    (q(attributes='{"settings__theme": "dark"}'), ["alice", "henry"]),
    (q(attributes='{"settings__theme": "light"}'), ["carol"]),
    (q(attributes='{"settings": {"theme": "dark"}}'), ["alice", "henry"]),
    (q(attributes='{"tags": ["a"]}'), ["alice"]),
    (q(attributes='{"level": "3"}'), []),                 # JSON types matter
    (q(attributes='{"level": 3, "settings__theme": "light"}'), []),
    (q(attributes='{"level": 3, "tags": ["a"]}'), ["alice"]),
    (q(attributes='{"nope": 1}'), []),
    (q(attributes="{}"), ALL),
    (q(attributes="{not json"), Err(400, ["filter: failed to parse JSON"])),
    (q(attributes="[1]"), Err(400, ["filter: value must be key:value mapping"])),
    (q(attributes='"x"'), Err(400, ["filter: value must be key:value mapping"])),
    (q(attributes="3"), Err(400, ["filter: value must be key:value mapping"])),
    ("attributes=", ALL),
])
def test_attributes_filter(w, admin, query, expected):
    check(w, admin, query, expected)


# -- include_groups ------------------------------------------------------------------------------

@pytest.mark.parametrize("query,groups", [
    ("", True),
    ("include_groups=true", True),
    ("include_groups=TRUE", True),
    ("include_groups=false", False),
    ("include_groups=0", False),
    ("include_groups=", False),
    ("include_groups=yes", False),
    ("include_groups=false&include_groups=true", True),
])
def test_include_groups(w, admin, query, groups):
    check(w, admin, "username=alice&" + query, Page(["alice"], groups=groups))
    check(w, admin, "username=bob&" + query, Page(["bob"], groups=groups))


# -- search --------------------------------------------------------------------------------------

@cases([
    ("search=alice", ["alice"]),
    ("search=ALICE", ["alice"]),
    ("search=LIDDELL", ["alice"]),                     # name
    ("search=example.org", ["bob"]),                   # email
    ("search=example.NET", ["Zed"]),
    ("search=henry%40example", ["henry"]),
    ("search=%C3%BCNAL", ["ivan"]),                    # case-insensitive beyond ASCII
    ("search=%C3%9Cnal", ["ivan"]),
    ("search={uuid[gina]}", ["gina"]),                 # uuid
    ("search=als", ["dave"]),                          # is_active as text: "false"
    ("search=FALSE", ["dave"]),
    ("search=rue", ACTIVE),                            # ... and "true"
    ("search=e", ALL),
    ("search=alice%20example", ["alice"]),             # every term must match
    ("search=alice,example", ["alice"]),
    ("search=alice%20zzz", []),
    ("search=ali%20carol", []),
    ("search=", ALL),
    ("search=%20", ALL),
    # not searched: path, type, attributes; LIKE metacharacters are literal
    ("search=external", []),
    ("search=service_account", []),
    ("search=p%25c", []),
    ("search=%25", []),
    ("search=_", []),
    ("search=dark", []),
    ("search=Liddell&is_active=false", []),
    ("search=a&type=external", ["bob"]),
])
def test_search(w, admin, query, expected):
    check(w, admin, query, expected)


# -- ordering ------------------------------------------------------------------------------------

def test_ordering_by_uuid(w, admin):
    by_uuid = sorted(ALL, key=lambda u: w.users[u].uuid)
    check(w, admin, "ordering=uuid", by_uuid)
    check(w, admin, "ordering=-uuid", by_uuid[::-1])


@cases([
    ("ordering=pk", BY_PK),
    ("ordering=-pk", BY_PK[::-1]),
    ("ordering=%20-pk%20", BY_PK[::-1]),
    ("ordering=username", ALL),
    ("ordering=-username", ALL[::-1]),
    ("ordering=name", ["erin", "alice", "bob", "carol", "dave", "frank", "gina", "ivan", "Zed",
                       "akadmin", "henry"]),
    ("ordering=email", ["erin", "henry", "alice", "bob", "carol", "dave", "frank", "gina", "ivan",
                        "akadmin", "Zed"]),
    ("ordering=is_active,username", ["dave"] + ACTIVE),
    ("ordering=-is_active,-username", ACTIVE[::-1] + ["dave"]),
    ("ordering=type,username", ["bob"] + but("bob", "erin") + ["erin"]),
    ("ordering=path,username", ["bob", "erin", "frank", "gina"] + PATH_USERS + ["dave"]),
    ("ordering=-path,username", ["dave"] + PATH_USERS + ["gina", "frank", "erin", "bob"]),
    # nulls last ascending, first descending
    ("ordering=last_login,username", ["carol", "alice"] + but("alice", "carol")),
    ("ordering=-last_login,username", but("alice", "carol") + ["alice", "carol"]),
    # unknown names are dropped
    ("ordering=bogus", ALL),
    ("ordering=-bogus,-pk", BY_PK[::-1]),
    ("ordering=is_superuser", ALL),
    ("ordering=groups", ALL),
    ("ordering=", ALL),
    ("ordering=name&ordering=-pk", BY_PK[::-1]),       # the last one wins
])
def test_ordering(w, admin, query, expected):
    check(w, admin, query, expected)


def test_ordering_by_attributes_is_accepted(w, admin):
    resp = admin.get(USERS, "ordering=attributes,username&include_groups=false")
    assert_status(resp, 200)
    assert sorted(u["username"] for u in resp.json()["results"]) == sorted(ALL)


# -- pagination ----------------------------------------------------------------------------------

@cases([
    ("page_size=4", Page(ALL[:4], paging=pagination(11, 1, 4))),
    ("page_size=4&page=2", Page(ALL[4:8], paging=pagination(11, 2, 4))),
    ("page_size=4&page=3", Page(ALL[8:], paging=pagination(11, 3, 4))),
    ("page_size=4&page=last", Page(ALL[8:], paging=pagination(11, 3, 4))),
    ("page_size=4&page=4", Err(404, INVALID_PAGE)),
    ("page=0", Err(404, INVALID_PAGE)),
    ("page=abc", Err(404, INVALID_PAGE)),
    ("page=2", Err(404, INVALID_PAGE)),
    ("page_size=0", ALL),
    ("page_size=x", ALL),
    ("page_size=5000", ALL),
    ("page_size=2&page=2&type=internal", Page(["alice", "carol"], paging=pagination(9, 2, 2))),
    ("username=nobody", Page([], paging={"next": 0, "previous": 0, "count": 0, "current": 1,
                                         "total_pages": 1, "start_index": 0, "end_index": 0})),
])
def test_pagination(w, admin, query, expected):
    check(w, admin, query, expected)


def test_head_is_get_without_body(w, admin):
    resp = admin.request("HEAD", USERS)
    assert_status(resp, 200)
    assert resp.body == b""
    assert resp.header("Allow") == "GET, POST, HEAD, OPTIONS"


# -- retrieve ------------------------------------------------------------------------------------

@pytest.mark.parametrize("username", ALL)
def test_retrieve_every_user(w, admin, username):
    resp = admin.get(user_url(w.users[username].pk))
    assert_body(resp, 200, w.user_json(username))
    assert resp.header("Allow") == "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"


@pytest.mark.parametrize("query,groups", [
    ("include_groups=false", False), ("include_groups=true", True), ("include_groups=", False),
])
def test_retrieve_with_include_groups(w, admin, query, groups):
    assert_body(admin.get(user_url(w.users["alice"].pk), query), 200,
                w.user_json("alice", groups))


def test_retrieve_ignores_list_parameters(w, admin):
    assert_body(admin.get(user_url(w.users["alice"].pk), "username=bob&page=7&type=bogus"), 200,
                w.user_json("alice"))


def test_retrieve_with_leading_zeros_is_the_same_user(w, admin):
    """Django looks integer ids up with int(): "01" is user 1."""
    assert_body(admin.get(user_url("01")), 200, w.user_json("akadmin"))


@pytest.mark.parametrize("ident", ["0", "12", "999999", "abc", "-1", "1x",
                                   "99999999999999999999999", "alice"])
def test_retrieve_unknown_or_non_integer_id_is_404(w, admin, ident):
    resp = admin.get(user_url(ident))
    assert_json(resp, 404, NOT_FOUND)
    resp = admin.request("HEAD", user_url(ident))
    assert_status(resp, 404)
    assert resp.body == b""


def test_slashless_and_nested_unknown_paths_are_404(w, admin):
    for path in ("/api/v3/core/users", user_url(w.users["alice"].pk).rstrip("/"),
                 user_url(w.users["alice"].pk, "nope"), USERS + "me/x/"):
        assert_json(admin.get(path), 404, NOT_FOUND)
