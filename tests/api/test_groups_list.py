"""GET /api/v3/core/groups/ and GET /api/v3/core/groups/{group_uuid}/ (docs/api.md §9, §14.2, §17.6):
the Group object (num_pk, parent and parent_name, users and users_obj as GroupMember, roles),
default ordering by name (byte-wise), the filters (name, is_superuser, repeatable members_by_pk /
members_by_username, JSON attributes), include_users, search, ordering, pagination, retrieve.

Runs on its own server with a read-only world made through the CLI. One case = raw query ->
group names of a whole 200 page, Page(...) or Err(status, body).
"""

import urllib.parse

import pytest

from harness import INVALID_PAGE, NOT_FOUND, assert_json, assert_status, num_pk, pagination, served
from world import (ADMIN_GROUP, GROUP_FIELDS, GROUPS, MEMBER_FIELDS, Err, World, assert_body,
                   group_full_json, group_page, group_url, learn_users)

GROUP_TABLE = [
    # name        superuser parent  attributes
    ("Zebra",     False,    None,   {}),
    ("eng",       False,    None,   {"dept": "eng", "settings": {"theme": "dark"}}),
    ("eng-sub",   False,    "eng",  {"tags": [1, 2]}),
    ("ops",       True,     None,   {"level": 3}),
    ("ops-child", False,    "ops",  {}),
]
USER_TABLE = [
    # username  name            email               extra          (pks 2..5)
    ("alice", "Alice Liddell", "alice@example.com", dict(groups=["eng", "ops-child"],
                                                         attributes={"x": {"y": [1]}})),
    ("bob",   "Bob Stone",     "bob@example.org",   dict(groups=["eng-sub"], type="external")),
    ("carol", "Carol Danvers", "carol@example.com", dict(groups=["ops"], inactive=True)),
    ("dave",  "Dave Null",     "dave@example.com",  dict()),
]

ALL = ["Zebra", ADMIN_GROUP, "eng", "eng-sub", "ops", "ops-child"]
SU = [ADMIN_GROUP, "ops"]
NOT_SU = ["Zebra", "eng", "eng-sub", "ops-child"]


class Page:
    def __init__(self, names, users=True, paging=None):
        self.names, self.users, self.paging = list(names), users, paging

    def __repr__(self):
        return f"Page({self.names!r}, users={self.users}, paging={self.paging!r})"


def choice(field, value):
    return {field: [f"Select a valid choice. {value} is not one of the available choices."]}


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("groups-list")) as server:
        world = World(server)
        for name, su, parent, attrs in GROUP_TABLE:
            world.add_group(name, superuser=su, parent=parent, attributes=attrs)
        for username, name, email, extra in USER_TABLE:
            world.add_user(username, name, email, **extra)
        admin = world.client()
        world.learn(admin)
        learn_users(world, admin)
        yield world


@pytest.fixture(scope="module")
def admin(w):
    return w.client()


def check(w, admin, query, expected):
    resp = admin.get(GROUPS, query)
    if isinstance(expected, Err):
        assert_json(resp, expected.status, expected.body)
        return resp
    if not isinstance(expected, Page):
        expected = Page(expected)
    assert_status(resp, 200)
    got = resp.json()
    want = group_page(w, expected.names, expected.users, expected.paging)
    if isinstance(got, dict) and isinstance(got.get("results"), list):
        got_names = [g.get("name") if isinstance(g, dict) else g for g in got["results"]]
        assert (got_names, got.get("pagination")) == (expected.names, want["pagination"])
    assert_body(resp, 200, want)
    return resp


def cases(table):
    return pytest.mark.parametrize("query,expected", table, ids=[repr(c[0]) for c in table])


def q(**params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="")


# -- the object ----------------------------------------------------------------------------------

def test_default_listing_is_every_group_by_name_bytewise(w, admin):
    resp = check(w, admin, None, ALL)
    assert resp.header("Allow") == "GET, POST, HEAD, OPTIONS"


def test_group_object_shape(w, admin):
    body = admin.get(GROUPS, "name=eng-sub").json()
    g = body["results"][0]
    assert list(body) == ["pagination", "results"]
    assert list(g) == GROUP_FIELDS
    assert (g["parent"], g["parent_name"]) == (w.groups["eng"].uuid, "eng")
    assert g["num_pk"] == num_pk(g["pk"]) and isinstance(g["num_pk"], int)
    assert g["users"] == [w.users["bob"].pk]
    assert list(g["users_obj"][0]) == MEMBER_FIELDS
    assert g["users_obj"][0]["uid"] == w.users["bob"].uid
    assert (g["roles"], g["roles_obj"]) == ([], [])


def test_admin_group_holds_akadmin(w, admin):
    g = admin.get(GROUPS, q(name=ADMIN_GROUP)).json()["results"][0]
    assert (g["pk"], g["is_superuser"], g["users"]) == (w.groups[ADMIN_GROUP].uuid, True, [1])


# -- filters -------------------------------------------------------------------------------------

@cases([
    ("name=eng", ["eng"]),
    ("name=%20eng%09", ["eng"]),
    ("name=ENG", []),
    ("name=en", []),
    ("name=authentik%20Admins", [ADMIN_GROUP]),
    ("name=", ALL),
    ("name=eng&name=ops", ["ops"]),
    ("is_superuser=true", SU),
    ("is_superuser=True", SU),
    ("is_superuser=1", SU),
    ("is_superuser=false", NOT_SU),
    ("is_superuser=0", NOT_SU),
    ("is_superuser=maybe", ALL),
    ("is_superuser=true&name=eng", []),
])
def test_name_and_superuser_filters(w, admin, query, expected):
    check(w, admin, query, expected)


@cases([
    ("members_by_pk=2", ["eng", "ops-child"]),
    ("members_by_pk=2&members_by_pk=4", ["eng", "ops", "ops-child"]),
    ("members_by_pk=2&members_by_pk=2", ["eng", "ops-child"]),
    ("members_by_pk=1", [ADMIN_GROUP]),
    ("members_by_pk=5", []),                                   # a user in no group
    ("members_by_pk=999", Err(400, choice("members_by_pk", "999"))),
    ("members_by_pk=2&members_by_pk=999", Err(400, choice("members_by_pk", "999"))),
    ("members_by_pk=x", Err(400, {"members_by_pk": ["\u201cx\u201d is not a valid value."]})),
    ("members_by_pk=", ALL),
    ("members_by_username=alice", ["eng", "ops-child"]),
    ("members_by_username=alice&members_by_username=bob", ["eng", "eng-sub", "ops-child"]),
    ("members_by_username=carol", ["ops"]),                   # inactive members count
    ("members_by_username=dave", []),
    ("members_by_username=nobody", Err(400, choice("members_by_username", "nobody"))),
    ("members_by_username=ALICE", Err(400, choice("members_by_username", "ALICE"))),
    ("members_by_username=", ALL),
    ("members_by_username=alice&is_superuser=false", ["eng", "ops-child"]),
    ("members_by_username=alice&members_by_pk=3", []),        # two filters: ANDed
])
def test_member_filters(w, admin, query, expected):
    check(w, admin, query, expected)


@cases([
    (q(attributes='{"dept": "eng"}'), ["eng"]),
    (q(attributes='{"settings__theme": "dark"}'), ["eng"]),
    (q(attributes='{"settings": {"theme": "dark"}}'), ["eng"]),
    (q(attributes='{"level": 3}'), ["ops"]),
    (q(attributes='{"level": 3.0}'), ["ops"]),
    (q(attributes='{"tags": [1, 2]}'), ["eng-sub"]),
    (q(attributes='{"tags": [2, 1]}'), []),
    (q(attributes='{"level": "3"}'), []),
    (q(attributes="{}"), ALL),
    (q(attributes="nope"), Err(400, ["filter: failed to parse JSON"])),
    (q(attributes="[]"), Err(400, ["filter: value must be key:value mapping"])),
    (q(attributes="null"), Err(400, ["filter: value must be key:value mapping"])),
])
def test_attributes_filter(w, admin, query, expected):
    check(w, admin, query, expected)


@pytest.mark.parametrize("query,users", [
    ("", True),
    ("include_users=true", True),
    ("include_users=True", True),
    ("include_users=false", False),
    ("include_users=", False),
    ("include_users=1", False),
    ("include_users=true&include_users=false", False),
])
def test_include_users(w, admin, query, users):
    check(w, admin, query, Page(ALL, users=users))


# -- search and ordering -------------------------------------------------------------------------

@cases([
    ("search=ENG", ["eng", "eng-sub"]),
    ("search=ops", ["ops", "ops-child"]),
    ("search=admins", [ADMIN_GROUP]),
    ("search=rue", SU),                 # is_superuser as text
    ("search=ALS", NOT_SU),
    ("search=e", ALL),
    ("search=eng%20sub", ["eng-sub"]),
    ("search=eng,true", []),
    ("search=ops,true", ["ops"]),
    ("search=alice", []),               # members are not searched
    ("search=dark", []),                # nor attributes
    ("search=_", []),
    ("search=", ALL),
])
def test_search(w, admin, query, expected):
    check(w, admin, query, expected)


def test_ordering_by_pk_and_parent(w, admin):
    by_pk = sorted(ALL, key=lambda n: w.groups[n].uuid)
    check(w, admin, "ordering=pk", by_pk)
    check(w, admin, "ordering=-pk", by_pk[::-1])
    children = sorted(["eng-sub", "ops-child"], key=lambda n: w.groups[w.groups[n].parent].uuid)
    roots = [n for n in ALL if n not in children]
    check(w, admin, "ordering=parent,name", children + roots)        # nulls last ascending
    check(w, admin, "ordering=-parent,name", roots + children[::-1])  # and first descending


@cases([
    ("ordering=name", ALL),
    ("ordering=-name", ALL[::-1]),
    ("ordering=is_superuser,name", NOT_SU + SU),
    ("ordering=-is_superuser,-name", SU[::-1] + NOT_SU[::-1]),
    ("ordering=bogus", ALL),
    ("ordering=users", ALL),
    ("ordering=-bogus,-name", ALL[::-1]),
])
def test_ordering(w, admin, query, expected):
    check(w, admin, query, expected)


def test_ordering_by_attributes_is_accepted(w, admin):
    resp = admin.get(GROUPS, "ordering=attributes,name")
    assert_status(resp, 200)
    assert sorted(g["name"] for g in resp.json()["results"]) == sorted(ALL)


@cases([
    ("page_size=4", Page(ALL[:4], paging=pagination(6, 1, 4))),
    ("page_size=4&page=2", Page(ALL[4:], paging=pagination(6, 2, 4))),
    ("page_size=4&page=last", Page(ALL[4:], paging=pagination(6, 2, 4))),
    ("page_size=4&page=3", Err(404, INVALID_PAGE)),
    ("page=x", Err(404, INVALID_PAGE)),
    ("page_size=-1", ALL),
    ("page_size=1&page=2&is_superuser=true", Page(["ops"], paging=pagination(2, 2, 1))),
])
def test_pagination(w, admin, query, expected):
    check(w, admin, query, expected)


# -- retrieve ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_retrieve_every_group(w, admin, name):
    resp = admin.get(group_url(w.groups[name].uuid))
    assert_body(resp, 200, group_full_json(w, name))
    assert resp.header("Allow") == "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    head = admin.request("HEAD", group_url(w.groups[name].uuid))
    assert_status(head, 200)
    assert head.body == b""


@pytest.mark.parametrize("query,users", [("include_users=false", False),
                                         ("include_users=TRUE", True)])
def test_retrieve_with_include_users(w, admin, query, users):
    assert_body(admin.get(group_url(w.groups["eng"].uuid), query), 200,
                group_full_json(w, "eng", users))


@pytest.mark.parametrize("ident", ["abc", "1", "00000000-0000-4000-8000-000000000000",
                                   "00000000-0000-4000-8000-00000000000", "eng"])
def test_retrieve_malformed_or_unknown_uuid_is_404(w, admin, ident):
    assert_json(admin.get(group_url(ident)), 404, NOT_FOUND)
