"""Writes on /api/v3/core/groups/ (docs/api.md §1, §14.2, §17): superusers only (403 for everyone else
on every route and method), the 405s with their Allow headers, create (201, defaults, every field
message in field order, nothing written on a refusal), PUT/PATCH (name uniqueness excluding the
group itself, parent cycles at any depth, users replaced, attributes replaced whole), DELETE
(204, children lose their parent, members lose the group), add_user/ and remove_user/ (204,
404 for unknown users), used_by/.

Runs on its own server; each test makes the groups it changes.
"""

import itertools

import pytest

from harness import (INVALID_TOKEN, NOT_FOUND, NOT_PROVIDED, Unordered, assert_json,
                     assert_status, method_not_allowed, num_pk, random_key, served)
from world import (GROUP_FIELDS, GROUPS, Group, World, assert_body, directory_state,
                   group_full_json, group_url, learn_users, members_of, send_json, user_url)

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NOT_NULL = "This field may not be null."
NOT_BOOL = "Must be a valid boolean."
NAME_TAKEN = "Group with this name already exists."
NOT_DICT = "Value must be a dictionary, and not have any duplicate keys."
SELF_PARENT = {"parent": ["Cannot set group as parent of itself."]}
DESCENDANT = {"parent": ["Cannot set group as parent of one of its descendants."]}
UNKNOWN = "00000000-0000-4000-8000-000000000000"
LIST_ALLOW = "GET, POST, HEAD, OPTIONS"
DETAIL_ALLOW = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
POST_ALLOW = "POST, OPTIONS"
USED_BY_ALLOW = "GET, HEAD, OPTIONS"
FAR = "2099-01-01T00:00:00Z"
_n = itertools.count(1)


def bad_pk(value):
    return f'Invalid pk "{value}" - object does not exist.'


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("groups-write")) as server:
        world = World(server)
        world.add_group("base", attributes={"a": 1})
        world.add_user("pat", "Pat Plain", "pat@example.com", groups=["base"])
        world.add_user("quinn", "Quinn Other", "quinn@example.com")
        world.add_user("rita", "Rita Third", "rita@example.com", inactive=True)
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        admin = world.client()
        world.learn(admin)
        learn_users(world, admin)
        yield world


def gname(stem="g"):
    return f"{stem}-{next(_n)}"


def cli_group(w, stem="g", superuser=False, parent=None, attributes=None, members=()):
    name = gname(stem)
    w.add_group(name, superuser=superuser, parent=parent, attributes=attributes)
    for m in members:
        w.join(name, m)
    return name


def uuid_of(w, name):
    return w.groups[name].uuid


def call(client, method, path, body=None, **kw):
    if method in ("POST", "PUT", "PATCH") and body is not None:
        return send_json(client, method, path, body, **kw)
    return send_json(client, method, path, **kw)


def same(w, name):
    assert_body(w.client().get(group_url(uuid_of(w, name))), 200, group_full_json(w, name))


def same_user(w, username):
    assert_body(w.client().get(user_url(w.users[username].pk)), 200, w.user_json(username))


def refused(w, resp, status, body, before):
    assert_body(resp, status, body)
    assert directory_state(w.client()) == before, "a refused request changed the directory"


def adopt_group(w, resp, name, superuser=False, parent=None, attributes=None, members=()):
    got = resp.json()
    pk = got.get("pk")
    assert isinstance(pk, str) and len(pk) == 36 and pk == pk.lower(), f"pk {pk!r}"
    assert pk not in {g.uuid for g in w.groups.values()}, f"pk {pk} reused"
    w.groups[name] = Group(name, pk, superuser, parent, attributes or {})
    for m in members:
        w.users[m].groups.append(name)
    return pk


# -- who may call --------------------------------------------------------------------------------

def routes(w):
    base = uuid_of(w, "base")
    return [GROUPS, group_url(base), group_url(UNKNOWN), group_url("abc"),
            group_url(base, "add_user"), group_url(base, "remove_user"),
            group_url(UNKNOWN, "add_user"), group_url(base, "used_by"),
            group_url("abc", "used_by")]


def allow_of(path):
    if path == GROUPS:
        return LIST_ALLOW
    if path.endswith(("add_user/", "remove_user/")):
        return POST_ALLOW
    if path.endswith("used_by/"):
        return USED_BY_ALLOW
    return DETAIL_ALLOW


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def test_a_non_superuser_is_refused_on_every_groups_route_and_method(w, method):
    before = directory_state(w.client())
    for path in routes(w):
        resp = call(w.client("pat"), method, path, {"name": "x", "pk": w.users["pat"].pk})
        assert_status(resp, 403)
        if method != "HEAD":
            assert_json(resp, 403, FORBIDDEN)
        else:
            assert resp.body == b""
        assert resp.header("Allow") == allow_of(path), path
    assert directory_state(w.client()) == before


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_authentication_comes_first(w, method):
    before = directory_state(w.client())
    for path in routes(w):
        resp = call(w.client(), method, path, {"name": "x"}, token=None)
        assert_json(resp, 403, NOT_PROVIDED)
        resp = call(w.client(), method, path, {"name": "x"}, token="wrong")
        assert_json(resp, 403, INVALID_TOKEN)
    assert directory_state(w.client()) == before


@pytest.mark.parametrize("path_of,methods,allow", [
    (lambda w: GROUPS, ["PUT", "PATCH", "DELETE"], LIST_ALLOW),
    (lambda w: group_url(uuid_of(w, "base")), ["POST"], DETAIL_ALLOW),
    (lambda w: group_url(UNKNOWN), ["POST"], DETAIL_ALLOW),
    (lambda w: group_url(uuid_of(w, "base"), "add_user"), ["GET", "PUT", "PATCH", "DELETE"],
     POST_ALLOW),
    (lambda w: group_url(uuid_of(w, "base"), "remove_user"), ["GET", "PUT", "PATCH", "DELETE"],
     POST_ALLOW),
    (lambda w: group_url(uuid_of(w, "base"), "used_by"), ["POST", "PUT", "PATCH", "DELETE"],
     USED_BY_ALLOW),
], ids=["list", "detail", "detail-unknown", "add_user", "remove_user", "used_by"])
def test_wrong_methods_for_the_superuser_are_405_with_allow(w, path_of, methods, allow):
    before = directory_state(w.client())
    path = path_of(w)
    for method in methods:
        resp = call(w.client(), method, path, {"name": "x", "pk": w.users["quinn"].pk})
        assert_body(resp, 405, method_not_allowed(method))
        assert resp.header("Allow") == allow
    if "GET" not in allow:
        resp = w.client().request("HEAD", path)
        assert_status(resp, 405)
        assert resp.body == b""
        assert resp.header("Allow") == allow
    else:
        resp = w.client().request("OPTIONS", path)
        assert_status(resp, 200)
        assert resp.header("Allow") == allow
    assert directory_state(w.client()) == before


# -- create --------------------------------------------------------------------------------------

def test_create_minimal(w):
    name = gname("min")
    resp = send_json(w.client(), "POST", GROUPS, {"name": name})
    assert_status(resp, 201)
    adopt_group(w, resp, name)
    assert_body(resp, 201, group_full_json(w, name))
    assert resp.json()["num_pk"] == num_pk(resp.json()["pk"])
    assert resp.header("Location") is None
    same(w, name)


def test_create_with_every_field(w):
    parent = cli_group(w, "parent")
    name = gname("full")
    body = {"name": name, "is_superuser": True, "parent": uuid_of(w, parent),
            "users": [w.users["quinn"].pk, w.users["rita"].pk],
            "attributes": {"x": {"y": [1, "z", None]}}, "roles": []}
    resp = send_json(w.client(), "POST", GROUPS, body)
    assert_status(resp, 201)
    adopt_group(w, resp, name, True, parent, body["attributes"], ["quinn", "rita"])
    assert_body(resp, 201, group_full_json(w, name))
    assert list(resp.json()) == GROUP_FIELDS
    same(w, name)
    same_user(w, "quinn")                      # the membership shows from the user's side too
    assert w.client().get(user_url(w.users["quinn"].pk)).json()["is_superuser"] is True


def test_create_with_null_parent_and_include_users_false(w):
    name = gname("np")
    resp = send_json(w.client(), "POST", GROUPS,
                     {"name": f" {name} ", "parent": None, "users": [w.users["quinn"].pk]},
                     query="include_users=false")
    assert_status(resp, 201)
    adopt_group(w, resp, name, members=["quinn"])
    assert_body(resp, 201, group_full_json(w, name, users=False))


@pytest.mark.parametrize("body,expected", [
    ({}, {"name": [REQUIRED]}),
    ({"name": ""}, {"name": [BLANK]}),
    ({"name": "  "}, {"name": [BLANK]}),
    ({"name": None}, {"name": [NOT_NULL]}),
    ({"name": "base"}, {"name": [NAME_TAKEN]}),
    ({"name": "fresh", "is_superuser": "maybe"}, {"is_superuser": [NOT_BOOL]}),
    ({"name": "fresh", "parent": "x"}, {"parent": ["\u201cx\u201d is not a valid UUID."]}),
    ({"name": "fresh", "parent": UNKNOWN}, {"parent": [bad_pk(UNKNOWN)]}),
    ({"name": "fresh", "users": [999]}, {"users": [bad_pk(999)]}),
    ({"name": "fresh", "users": "x"}, {"users": ['Expected a list of items but got type "str".']}),
    ({"name": "fresh", "attributes": []}, {"attributes": [NOT_DICT]}),
    ({"name": "fresh", "roles": [UNKNOWN]}, {"roles": [bad_pk(UNKNOWN)]}),
    ({"roles": [UNKNOWN], "attributes": 1, "users": [999], "parent": UNKNOWN,
      "is_superuser": "x", "name": "base"},
     {"name": [NAME_TAKEN], "is_superuser": [NOT_BOOL], "parent": [bad_pk(UNKNOWN)],
      "users": [bad_pk(999)], "attributes": [NOT_DICT], "roles": [bad_pk(UNKNOWN)]}),
], ids=["empty", "blank", "blank-stripped", "null", "duplicate", "is_superuser", "parent-uuid",
        "parent-unknown", "users-unknown", "users-str", "attributes", "roles", "all"])
def test_create_field_errors(w, body, expected):
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "POST", GROUPS, body), 400, expected, before)


def test_create_bodies_that_are_not_objects(w):
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "POST", GROUPS, raw=b"[]"), 400,
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}, before)
    refused(w, send_json(w.client(), "POST", GROUPS, raw=b'{"name": "x"}', content_type=None),
            415, {"detail": 'Unsupported media type "" in request.'}, before)
    refused(w, send_json(w.client(), "POST", GROUPS, raw=b""), 400, {"name": [REQUIRED]}, before)


# -- update --------------------------------------------------------------------------------------

def test_patch_changes_only_what_is_sent(w):
    parent = cli_group(w, "p")
    name = cli_group(w, parent=parent, attributes={"keep": 1, "n": {"a": 1}}, members=["quinn"])
    url = group_url(uuid_of(w, name))
    resp = send_json(w.client(), "PATCH", url, {"attributes": {"n": {"b": 2}}})
    w.groups[name].attributes = {"n": {"b": 2}}
    assert_body(resp, 200, group_full_json(w, name))
    resp = send_json(w.client(), "PATCH", url, {})
    assert_body(resp, 200, group_full_json(w, name))
    new = gname("renamed")
    resp = send_json(w.client(), "PATCH", url, {"name": new, "is_superuser": True})
    g = w.groups.pop(name)
    g.name, g.is_superuser = new, True
    w.groups[new] = g
    w.users["quinn"].groups = [new if x == name else x for x in w.users["quinn"].groups]
    assert_body(resp, 200, group_full_json(w, new))
    same(w, new)
    same_user(w, "quinn")


def test_patch_users_replaces_the_members(w):
    name = cli_group(w, members=["quinn"])
    url = group_url(uuid_of(w, name))
    resp = send_json(w.client(), "PATCH", url, {"users": [w.users["rita"].pk, 1]})
    w.users["quinn"].groups.remove(name)
    w.users["rita"].groups.append(name)
    w.users["akadmin"].groups.append(name)
    assert_body(resp, 200, group_full_json(w, name))
    for u in ("quinn", "rita", "akadmin"):
        same_user(w, u)
    resp = send_json(w.client(), "PATCH", url, {"users": []})
    w.users["rita"].groups.remove(name)
    w.users["akadmin"].groups.remove(name)
    assert_body(resp, 200, group_full_json(w, name))


def test_put_requires_the_name_and_keeps_absent_fields(w):
    name = cli_group(w, attributes={"k": 1}, members=["quinn"])
    url = group_url(uuid_of(w, name))
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "PUT", url, {}), 400, {"name": [REQUIRED]}, before)
    refused(w, send_json(w.client(), "PUT", url, {"is_superuser": True}), 400,
            {"name": [REQUIRED]}, before)
    resp = send_json(w.client(), "PUT", url, {"name": name})
    assert_body(resp, 200, group_full_json(w, name))
    same(w, name)


def test_name_uniqueness_excludes_the_group_itself(w):
    name = cli_group(w)
    url = group_url(uuid_of(w, name))
    assert_body(send_json(w.client(), "PATCH", url, {"name": name}), 200,
                group_full_json(w, name))
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "PATCH", url, {"name": "base"}), 400,
            {"name": [NAME_TAKEN]}, before)


def test_parent_cannot_be_the_group_itself(w):
    name = cli_group(w)
    url = group_url(uuid_of(w, name))
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "PATCH", url, {"parent": uuid_of(w, name)}), 400,
            SELF_PARENT, before)
    refused(w, send_json(w.client(), "PUT", url, {"name": name, "parent": uuid_of(w, name)}),
            400, SELF_PARENT, before)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_parent_cannot_be_a_descendant(w, depth):
    top = cli_group(w, "top")
    chain = [top]
    for _ in range(depth):
        chain.append(cli_group(w, "d", parent=chain[-1]))
    before = directory_state(w.client())
    url = group_url(uuid_of(w, top))
    for descendant in chain[1:]:
        refused(w, send_json(w.client(), "PATCH", url, {"parent": uuid_of(w, descendant)}), 400,
                DESCENDANT, before)
    # a middle link cannot take its own descendant either, but may move elsewhere
    if depth >= 2:
        mid_url = group_url(uuid_of(w, chain[1]))
        refused(w, send_json(w.client(), "PATCH", mid_url, {"parent": uuid_of(w, chain[-1])}),
                400, DESCENDANT, before)
    resp = send_json(w.client(), "PATCH", url, {"parent": uuid_of(w, "base")})
    w.groups[top].parent = "base"
    assert_body(resp, 200, group_full_json(w, top))
    for name in chain:
        same(w, name)


def test_reparenting_and_clearing_the_parent(w):
    a, b = cli_group(w, "a"), cli_group(w, "b")
    child = cli_group(w, "c", parent=a)
    url = group_url(uuid_of(w, child))
    resp = send_json(w.client(), "PATCH", url, {"parent": uuid_of(w, b)})
    w.groups[child].parent = b
    assert_body(resp, 200, group_full_json(w, child))
    resp = send_json(w.client(), "PATCH", url, {"parent": None})
    w.groups[child].parent = None
    assert_body(resp, 200, group_full_json(w, child))


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("ident", [UNKNOWN, "abc", "00000000-0000-4000-8000-00000000000g"])
def test_unknown_or_malformed_uuid_is_404_before_the_body(w, method, ident):
    before = directory_state(w.client())
    assert_body(call(w.client(), method, group_url(ident), {"name": "zz"}), 404, NOT_FOUND)
    if method in ("PUT", "PATCH"):
        assert_body(send_json(w.client(), method, group_url(ident), raw=b"{"), 404, NOT_FOUND)
    for action in ("add_user", "remove_user"):
        assert_body(send_json(w.client(), "POST", group_url(ident, action),
                              {"pk": w.users["quinn"].pk}), 404, NOT_FOUND)
    assert_body(w.client().get(group_url(ident, "used_by")), 404, NOT_FOUND)
    assert directory_state(w.client()) == before


# -- delete --------------------------------------------------------------------------------------

def test_delete_clears_children_and_memberships(w):
    member = gname("member")
    w.add_user(member, "Member Only", f"{member}@example.com")
    learn_users(w, w.client())
    doomed = cli_group(w, "doomed", superuser=True, members=["quinn"])
    child = cli_group(w, "child", parent=doomed, members=[member])
    grandchild = cli_group(w, "grand", parent=child)
    assert w.client().get(user_url(w.users[member].pk)).json()["is_superuser"] is True
    resp = w.client().request("DELETE", group_url(uuid_of(w, doomed)))
    assert_status(resp, 204)
    assert resp.body == b""
    gone = w.groups.pop(doomed)
    w.users["quinn"].groups.remove(doomed)
    w.groups[child].parent = None
    assert_body(w.client().get(group_url(gone.uuid)), 404, NOT_FOUND)
    same(w, child)
    same(w, grandchild)
    same_user(w, "quinn")
    same_user(w, member)
    assert w.client().get(user_url(w.users[member].pk)).json()["is_superuser"] is False
    assert_body(w.client().request("DELETE", group_url(gone.uuid)), 404, NOT_FOUND)


# -- add_user / remove_user ----------------------------------------------------------------------

def test_add_and_remove_user(w):
    name = cli_group(w)
    url = group_url(uuid_of(w, name))
    quinn = w.users["quinn"].pk
    for _ in range(2):                                   # adding twice: still one membership
        resp = send_json(w.client(), "POST", group_url(uuid_of(w, name), "add_user"),
                         {"pk": quinn})
        assert_status(resp, 204)
        assert resp.body == b""
        assert resp.header("Allow") == POST_ALLOW
    w.users["quinn"].groups.append(name)
    assert_body(w.client().get(url), 200, group_full_json(w, name))
    same_user(w, "quinn")
    resp = send_json(w.client(), "POST", group_url(uuid_of(w, name), "add_user"),
                     {"pk": w.users["rita"].pk})               # inactive users can be added
    assert_status(resp, 204)
    w.users["rita"].groups.append(name)
    same(w, name)
    for _ in range(2):                                   # removing a non-member is fine too
        resp = send_json(w.client(), "POST", group_url(uuid_of(w, name), "remove_user"),
                         {"pk": quinn})
        assert_status(resp, 204)
        assert resp.body == b""
    w.users["quinn"].groups.remove(name)
    same(w, name)
    same_user(w, "quinn")


@pytest.mark.parametrize("action", ["add_user", "remove_user"])
@pytest.mark.parametrize("body", [{"pk": 999999}, {}, {"pk": None}],
                         ids=["unknown", "missing", "null"])
def test_add_or_remove_an_unknown_user_is_404(w, action, body):
    name = cli_group(w, members=["quinn"])
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "POST", group_url(uuid_of(w, name), action), body), 404,
            NOT_FOUND, before)


@pytest.mark.parametrize("action", ["add_user", "remove_user"])
def test_add_or_remove_with_a_non_integer_pk_writes_nothing(w, action):
    name = cli_group(w, members=["quinn"])
    before = directory_state(w.client())
    resp = send_json(w.client(), "POST", group_url(uuid_of(w, name), action), {"pk": "abc"})
    assert resp.status in (400, 404), resp
    assert directory_state(w.client()) == before


# -- used_by -------------------------------------------------------------------------------------

def test_used_by_lists_children_then_members(w):
    name = cli_group(w, "used", members=["quinn", "rita"])
    kids = [cli_group(w, "kid", parent=name) for _ in range(2)]
    cli_group(w, "grandkid", parent=kids[0])            # not a direct child: not listed
    resp = w.client().get(group_url(uuid_of(w, name), "used_by"), "page_size=1")
    assert_status(resp, 200)
    got = resp.json()
    children = [{"app": "authentik_core", "model_name": "group", "pk": uuid_of(w, k), "name": k,
                 "action": "set_null"} for k in kids]
    members = [{"app": "authentik_core", "model_name": "user", "pk": str(w.users[u].pk),
                "name": u, "action": "cascade_many"} for u in ("quinn", "rita")]
    assert isinstance(got, list) and len(got) == 4, got
    assert got[:2] == Unordered(children)
    assert got[2:] == Unordered(members)
    for item in got:
        assert list(item) == ["app", "model_name", "pk", "name", "action"]
    assert resp.header("Allow") == USED_BY_ALLOW


def test_used_by_of_an_unused_group_is_empty(w):
    name = cli_group(w)
    assert_body(w.client().get(group_url(uuid_of(w, name), "used_by")), 200, [])


def test_every_group_matches_the_world_at_the_end(w):
    """Every group in the world equals the server's (a sweep over whatever the tests built)."""
    for name in list(w.groups):
        if w.groups[name].uuid is not None:
            same(w, name)
    assert sorted(members_of(w, "base")) == ["pat"]
