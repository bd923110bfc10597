"""Writes on /api/v3/core/users/ (docs/api.md §1, §14.1, §17): who may call which route (superusers
only; 403 for everyone else on every route and method, before 405/404), the 405s with their
Allow headers, create (201, defaults, every field message in field order, nothing written on a
refusal), PUT/PATCH (absent fields kept, attributes replaced whole, uniqueness excluding the user
itself, the internal service account type rules), DELETE (204, the user's tokens disappear and stop
authenticating, memberships go), used_by/ and recovery/.

Runs on its own server; fixture users and tokens come from the CLI, each test makes what it changes.
"""

import itertools
import time

import pytest

from harness import (INVALID_TOKEN, NOT_FOUND, NOT_PROVIDED, Client, InitialsAvatar, Unordered,
                     assert_json, assert_status, method_not_allowed, random_key, served)
from world import (GROUPS, USERS, World, adopt_user, assert_body, directory_state, group_full_json,
                   group_url, learn_users, send_json, user_url)

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NOT_NULL = "This field may not be null."
NOT_BOOL = "Must be a valid boolean."
UNIQUE = "This field must be unique."
TOO_LONG = "Ensure this field has no more than 150 characters."
EMAIL = "Enter a valid email address."
NOT_DICT = "Value must be a dictionary, and not have any duplicate keys."
SLASHES = "No leading or trailing slashes allowed."
EMPTY_SEGMENT = "No empty segments in user path allowed."
NO_ISA = "Setting a user to internal service account is not allowed."
ISA_FIXED = "Can't change internal service account to other user type."
DT_FORMAT = ("Datetime has wrong format. Use one of these formats instead: "
             "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
NO_RECOVERY = {"non_field_errors": "No recovery flow set."}
UNKNOWN_GROUP = "00000000-0000-4000-8000-000000000000"

LIST_ALLOW = "GET, POST, HEAD, OPTIONS"
DETAIL_ALLOW = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
ME_ALLOW = "GET, HEAD, OPTIONS"
POST_ALLOW = "POST, OPTIONS"
USED_BY_ALLOW = "GET, HEAD, OPTIONS"
FAR = "2099-01-01T00:00:00Z"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("users-write")) as server:
        world = World(server)
        world.add_group("eng", attributes={"dept": "eng"})
        world.add_group("eng-sub", parent="eng")
        world.add_group("ops", superuser=True)
        world.add_user("pat", "Pat Plain", "pat@example.com", groups=["eng"])
        world.add_user("quinn", "Quinn Other", "quinn@example.com")
        world.add_user("isa", "Internal SA", type="internal_service_account",
                       path="goauthentik.io/internal")
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        world.add_token("quinn-app", "quinn", "app_password", expires=FAR, key=random_key())
        admin = world.client()
        world.learn(admin)
        learn_users(world, admin)
        yield world


def uname(stem="u"):
    return f"{stem}{next(_n)}"


def cli_user(w, stem="u", **kw):
    name = uname(stem)
    w.add_user(name, f"Name {name}", f"{name}@example.com", **kw)
    learn_users(w, w.client())
    return name


def same(w, username, client=None):
    assert_body((client or w.client()).get(user_url(w.users[username].pk)), 200,
                w.user_json(username))


def call(client, method, path, body, **kw):
    """A request with a JSON body only for the methods that carry one."""
    if method in ("POST", "PUT", "PATCH"):
        return send_json(client, method, path, body, **kw)
    return send_json(client, method, path, **kw)


def refused(w, resp, status, body, before):
    assert_body(resp, status, body)
    assert directory_state(w.client()) == before, "a refused request changed the directory"


# -- who may call --------------------------------------------------------------------------------

def routes(w):
    pat, quinn = w.users["pat"].pk, w.users["quinn"].pk
    return [USERS, user_url(pat), user_url(quinn), user_url(999999), user_url("abc"),
            USERS + "service_account/", user_url(quinn, "recovery"), user_url(999999, "recovery"),
            user_url(pat, "used_by"), user_url(quinn, "used_by"), user_url("abc", "used_by")]


METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
ALLOW_OF = {"users/": LIST_ALLOW, "service_account/": POST_ALLOW, "recovery/": POST_ALLOW,
            "used_by/": USED_BY_ALLOW}


def allow_of(path):
    for suffix, allow in ALLOW_OF.items():
        if path.endswith(suffix):
            return allow
    return DETAIL_ALLOW


@pytest.mark.parametrize("method", METHODS)
def test_a_non_superuser_is_refused_on_every_users_route_and_method(w, method):
    before = directory_state(w.client())
    pat = w.client("pat")
    for path in routes(w):
        resp = call(pat, method, path, {"username": "x", "name": "x", "pk": 1})
        assert_status(resp, 403)
        if method == "HEAD":
            assert resp.body == b""
        else:
            assert_json(resp, 403, FORBIDDEN)
        assert resp.header("Allow") == allow_of(path), path
    assert directory_state(w.client()) == before


@pytest.mark.parametrize("method", METHODS)
def test_unauthenticated_and_invalid_tokens_come_first(w, method):
    before = directory_state(w.client())
    for path in routes(w) + [USERS + "me/"]:
        for token, body in ((None, NOT_PROVIDED), ("wrong", INVALID_TOKEN),
                            (w.tokens["quinn-app"].key, INVALID_TOKEN)):
            resp = call(w.client(), method, path, {"name": "x"}, token=token)
            assert_status(resp, 403)
            if method != "HEAD":
                assert_json(resp, 403, body)
    assert directory_state(w.client()) == before


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_me_is_open_to_plain_users_but_only_for_reading(w, method):
    """me/ has its own permission (any authenticated user): its wrong methods are 405."""
    resp = call(w.client("pat"), method, USERS + "me/", {"name": "x"})
    assert_body(resp, 405, method_not_allowed(method))
    assert resp.header("Allow") == ME_ALLOW


@pytest.mark.parametrize("path_of,methods,allow", [
    (lambda w: USERS, ["PUT", "PATCH", "DELETE"], LIST_ALLOW),
    (lambda w: user_url(w.users["quinn"].pk), ["POST"], DETAIL_ALLOW),
    (lambda w: user_url(999999), ["POST"], DETAIL_ALLOW),           # 405 before the lookup
    (lambda w: USERS + "me/", ["POST", "PUT", "PATCH", "DELETE"], ME_ALLOW),
    (lambda w: USERS + "service_account/", ["GET", "PUT", "PATCH", "DELETE"], POST_ALLOW),
    (lambda w: user_url(w.users["quinn"].pk, "recovery"), ["GET", "PUT", "PATCH", "DELETE"],
     POST_ALLOW),
    (lambda w: user_url(999999, "recovery"), ["GET"], POST_ALLOW),
    (lambda w: user_url(w.users["quinn"].pk, "used_by"), ["POST", "PUT", "PATCH", "DELETE"],
     USED_BY_ALLOW),
], ids=["list", "detail", "detail-unknown", "me", "service_account", "recovery",
        "recovery-unknown", "used_by"])
def test_wrong_methods_for_the_superuser_are_405_with_allow(w, path_of, methods, allow):
    before = directory_state(w.client())
    path = path_of(w)
    for method in methods:
        resp = call(w.client(), method, path, {"username": "x", "name": "x"})
        assert_body(resp, 405, method_not_allowed(method))
        assert resp.header("Allow") == allow
    if "GET" not in allow:
        resp = w.client().request("HEAD", path)
        assert_status(resp, 405)
        assert resp.body == b""
        assert resp.header("Allow") == allow
    assert directory_state(w.client()) == before


@pytest.mark.parametrize("path_of,allow", [
    (lambda w: USERS, LIST_ALLOW),
    (lambda w: user_url(w.users["quinn"].pk), DETAIL_ALLOW),
    (lambda w: USERS + "me/", ME_ALLOW),
    (lambda w: USERS + "service_account/", POST_ALLOW),
    (lambda w: user_url(w.users["quinn"].pk, "used_by"), USED_BY_ALLOW),
], ids=["list", "detail", "me", "service_account", "used_by"])
def test_options_for_the_superuser(w, path_of, allow):
    resp = w.client().request("OPTIONS", path_of(w))
    assert_status(resp, 200)
    assert resp.header("Allow") == allow


# -- create --------------------------------------------------------------------------------------

def test_create_minimal(w):
    name = uname("min")
    resp = send_json(w.client(), "POST", USERS, {"username": name, "name": ""})
    assert_status(resp, 201)
    adopt_user(w, resp.json(), name, "")
    assert_body(resp, 201, w.user_json(name))
    assert resp.json()["avatar"] == InitialsAvatar("AK")        # blank name (§10.3)
    assert resp.header("Location") is None
    same(w, name)
    listed = w.client().get(USERS, {"username": name}).json()["results"]
    assert listed == [resp.json()]


def test_create_with_every_field(w):
    name = uname("full")
    body = {"username": name, "name": "Full Name", "is_active": False,
            "last_login": "2024-01-02T03:04:05.5+02:00",
            "groups": [w.groups["eng"].uuid, w.groups["ops"].uuid], "email": "f@example.com",
            "attributes": {"a": 1, "nested": {"b": [1, None, "x"]}}, "path": "x/y/z",
            "type": "external"}
    resp = send_json(w.client(), "POST", USERS, body)
    assert_status(resp, 201)
    adopt_user(w, resp.json(), name, "Full Name", "f@example.com", False, body["attributes"],
               "x/y/z", "external", ["eng", "ops"], "2024-01-02T01:04:05.500000Z")
    assert_body(resp, 201, w.user_json(name))
    assert resp.json()["is_superuser"] is True                  # ops
    same(w, name)


def test_create_strips_text_and_ignores_read_only_and_unknown_fields(w):
    name = uname("strip")
    resp = send_json(w.client(), "POST", USERS, {
        "username": f"  {name}\t", "name": " Spaced Out ", "email": " s@example.com ",
        "pk": 424242, "uuid": "00000000-0000-4000-8000-000000000001", "uid": "x",
        "is_superuser": True, "avatar": "http://x", "groups_obj": [], "bogus": 1})
    assert_status(resp, 201)
    adopt_user(w, resp.json(), name, "Spaced Out", "s@example.com")
    assert_body(resp, 201, w.user_json(name))
    assert resp.json()["pk"] != 424242


def test_create_accepts_any_characters_in_the_username(w):
    name = "we ird/\u00fc@+ " + uname("")
    resp = send_json(w.client(), "POST", USERS, {"username": name, "name": "W"})
    assert_status(resp, 201)
    adopt_user(w, resp.json(), name.strip(), "W")
    assert_body(resp, 201, w.user_json(name.strip()))
    same(w, name.strip())


def test_create_with_150_character_username_and_empty_email(w):
    name = uname("l").ljust(150, "x")
    resp = send_json(w.client(), "POST", USERS, {"username": name, "name": "L", "email": ""})
    assert_status(resp, 201)
    adopt_user(w, resp.json(), name, "L")
    assert_body(resp, 201, w.user_json(name))


def test_create_with_include_groups_false(w):
    name = uname("ig")
    resp = send_json(w.client(), "POST", USERS,
                     {"username": name, "name": "I", "groups": [w.groups["eng"].uuid]},
                     query="include_groups=false")
    assert_status(resp, 201)
    adopt_user(w, resp.json(), name, "I", groups=["eng"])
    assert_body(resp, 201, w.user_json(name, groups=False))


@pytest.mark.parametrize("body,expected", [
    ({}, {"username": [REQUIRED], "name": [REQUIRED]}),
    ({"name": "x"}, {"username": [REQUIRED]}),
    ({"username": "fresh-x"}, {"name": [REQUIRED]}),
    ({"username": "", "name": "x"}, {"username": [BLANK]}),
    ({"username": "   ", "name": "x"}, {"username": [BLANK]}),
    ({"username": None, "name": None}, {"username": [NOT_NULL], "name": [NOT_NULL]}),
    ({"username": "y" * 151, "name": "x"}, {"username": [TOO_LONG]}),
    ({"username": "pat", "name": "x"}, {"username": [UNIQUE]}),
    ({"username": " pat ", "name": "x"}, {"username": [UNIQUE]}),
    ({"username": "fresh-x", "name": "x", "is_active": "maybe"}, {"is_active": [NOT_BOOL]}),
    ({"username": "fresh-x", "name": "x", "last_login": "yesterday"}, {"last_login": [DT_FORMAT]}),
    ({"username": "fresh-x", "name": "x", "groups": "abc"},
     {"groups": ['Expected a list of items but got type "str".']}),
    ({"username": "fresh-x", "name": "x", "groups": ["x"]},
     {"groups": ["\u201cx\u201d is not a valid UUID."]}),
    ({"username": "fresh-x", "name": "x", "groups": [UNKNOWN_GROUP]},
     {"groups": [f'Invalid pk "{UNKNOWN_GROUP}" - object does not exist.']}),
    ({"username": "fresh-x", "name": "x", "email": "not-an-email"}, {"email": [EMAIL]}),
    ({"username": "fresh-x", "name": "x", "email": "a@b"}, {"email": [EMAIL]}),
    ({"username": "fresh-x", "name": "x", "attributes": []}, {"attributes": [NOT_DICT]}),
    ({"username": "fresh-x", "name": "x", "attributes": "x"}, {"attributes": [NOT_DICT]}),
    ({"username": "fresh-x", "name": "x", "path": ""}, {"path": [BLANK]}),
    ({"username": "fresh-x", "name": "x", "path": "/a"}, {"path": [SLASHES]}),
    ({"username": "fresh-x", "name": "x", "path": "a/"}, {"path": [SLASHES]}),
    ({"username": "fresh-x", "name": "x", "path": "a//b"}, {"path": [EMPTY_SEGMENT]}),
    ({"username": "fresh-x", "name": "x", "type": "x"}, {"type": ['"x" is not a valid choice.']}),
    ({"username": "fresh-x", "name": "x", "type": "internal_service_account"}, {"type": [NO_ISA]}),
    # every field at once, in field order
    ({"type": "bogus", "path": "/x", "attributes": [], "email": "bad", "groups": "x",
      "last_login": "no", "is_active": "no-no", "name": None, "username": ""},
     {"username": [BLANK], "name": [NOT_NULL], "is_active": [NOT_BOOL],
      "last_login": [DT_FORMAT], "groups": ['Expected a list of items but got type "str".'],
      "email": [EMAIL], "attributes": [NOT_DICT], "path": [SLASHES],
      "type": ['"bogus" is not a valid choice.']}),
], ids=["empty", "no-username", "no-name", "blank", "blank-stripped", "nulls", "too-long",
        "duplicate", "duplicate-stripped", "is_active", "last_login", "groups-str", "groups-uuid",
        "groups-unknown", "email", "email-no-tld", "attributes-list", "attributes-str",
        "path-blank", "path-leading", "path-trailing", "path-empty-segment", "type",
        "type-isa", "all"])
def test_create_field_errors(w, body, expected):
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "POST", USERS, body), 400, expected, before)


@pytest.mark.parametrize("raw,content_type,status,body", [
    (b"[]", "application/json", 400,
     {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    (b'"x"', "application/json", 400,
     {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
    (b'{"username": "x", "name": "y"}', None, 415,
     {"detail": 'Unsupported media type "" in request.'}),
    (b'{"username": "x", "name": "y"}', "text/plain", 415,
     {"detail": 'Unsupported media type "text/plain" in request.'}),
    (b"", "application/json", 400, {"username": [REQUIRED], "name": [REQUIRED]}),
], ids=["list", "str", "no-content-type", "text-plain", "empty-body"])
def test_create_bodies_that_are_not_user_objects(w, raw, content_type, status, body):
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "POST", USERS, raw=raw, content_type=content_type),
            status, body, before)


def test_create_with_malformed_json(w):
    before = directory_state(w.client())
    resp = send_json(w.client(), "POST", USERS, raw=b'{"username": "x",')
    assert_status(resp, 400)
    assert list(resp.json()) == ["detail"]
    assert resp.json()["detail"].startswith("JSON parse error - ")
    assert directory_state(w.client()) == before


# -- update --------------------------------------------------------------------------------------

def test_patch_changes_only_what_is_sent(w):
    name = cli_user(w, attributes={"keep": 1}, groups=["eng"], path="team/a", type="external")
    pk = w.users[name].pk
    resp = send_json(w.client(), "PATCH", user_url(pk), {"name": "Renamed"})
    w.users[name].name = "Renamed"
    assert_body(resp, 200, w.user_json(name))
    same(w, name)
    resp = send_json(w.client(), "PATCH", user_url(pk), {})
    assert_body(resp, 200, w.user_json(name))
    resp = send_json(w.client(), "PATCH", user_url(pk), raw=b"")
    assert_body(resp, 200, w.user_json(name))


def test_patch_replaces_attributes_whole(w):
    name = cli_user(w, attributes={"a": 1, "nested": {"x": 1, "y": 2}})
    pk = w.users[name].pk
    resp = send_json(w.client(), "PATCH", user_url(pk), {"attributes": {"nested": {"x": 3}}})
    w.users[name].attributes = {"nested": {"x": 3}}
    assert_body(resp, 200, w.user_json(name))
    resp = send_json(w.client(), "PATCH", user_url(pk), {"attributes": {}})
    w.users[name].attributes = {}
    assert_body(resp, 200, w.user_json(name))


def test_patch_every_field(w):
    name = cli_user(w)
    pk = w.users[name].pk
    new = uname("renamed")
    resp = send_json(w.client(), "PATCH", user_url(pk), {
        "username": new, "name": "New Name", "is_active": False,
        "last_login": "2025-06-07T08:09:10Z", "groups": [w.groups["ops"].uuid],
        "email": "new@example.org", "attributes": {"k": "v"}, "path": "a/b", "type": "external"})
    u = w.users.pop(name)
    u.username, u.name, u.is_active, u.last_login = new, "New Name", False, "2025-06-07T08:09:10Z"
    u.groups, u.email, u.attributes, u.path, u.type = ["ops"], "new@example.org", {"k": "v"}, \
        "a/b", "external"
    w.users[new] = u
    assert_body(resp, 200, w.user_json(new))
    assert resp.json()["is_superuser"] is True
    same(w, new)
    resp = send_json(w.client(), "PATCH", user_url(pk), {"last_login": None, "groups": []})
    u.last_login, u.groups = None, []
    assert_body(resp, 200, w.user_json(new))


def test_put_requires_username_and_name_and_keeps_absent_fields(w):
    name = cli_user(w, attributes={"keep": True}, groups=["eng"], path="p/q")
    pk = w.users[name].pk
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "PUT", user_url(pk), {}), 400,
            {"username": [REQUIRED], "name": [REQUIRED]}, before)
    refused(w, send_json(w.client(), "PUT", user_url(pk), {"name": "n"}), 400,
            {"username": [REQUIRED]}, before)
    refused(w, send_json(w.client(), "PUT", user_url(pk), raw=b""), 400,
            {"username": [REQUIRED], "name": [REQUIRED]}, before)
    resp = send_json(w.client(), "PUT", user_url(pk), {"username": name, "name": "Put Name"})
    w.users[name].name = "Put Name"
    assert_body(resp, 200, w.user_json(name))
    same(w, name)


def test_username_uniqueness_excludes_the_user_itself(w):
    name = cli_user(w)
    pk = w.users[name].pk
    resp = send_json(w.client(), "PATCH", user_url(pk), {"username": name})
    assert_body(resp, 200, w.user_json(name))
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "PATCH", user_url(pk), {"username": "quinn"}), 400,
            {"username": [UNIQUE]}, before)
    refused(w, send_json(w.client(), "PUT", user_url(pk), {"username": "quinn", "name": "x"}),
            400, {"username": [UNIQUE]}, before)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("body,expected", [
    ({"username": ""}, {"username": [BLANK]}),
    ({"name": None}, {"name": [NOT_NULL]}),
    ({"groups": [UNKNOWN_GROUP], "email": "x@"},
     {"groups": [f'Invalid pk "{UNKNOWN_GROUP}" - object does not exist.'], "email": [EMAIL]}),
    ({"path": "a//b", "attributes": [1]}, {"attributes": [NOT_DICT], "path": [EMPTY_SEGMENT]}),
    ({"type": "nope"}, {"type": ['"nope" is not a valid choice.']}),
], ids=["username", "name", "groups-email", "path-attributes", "type"])
def test_update_field_errors(w, method, body, expected):
    name = cli_user(w)
    pk = w.users[name].pk
    if method == "PUT":
        body = dict({"username": name, "name": "x"}, **body)
    before = directory_state(w.client())
    refused(w, send_json(w.client(), method, user_url(pk), body), 400, expected, before)


def test_internal_service_account_type_rules(w):
    """authentik: creating one is refused; an existing one cannot change type; an existing
    user may be made one on update (the create-only check)."""
    pk = w.users["isa"].pk
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "PATCH", user_url(pk), {"type": "internal"}), 400,
            {"type": [ISA_FIXED]}, before)
    resp = send_json(w.client(), "PATCH", user_url(pk), {"type": "internal_service_account",
                                                         "name": "Still ISA"})
    w.users["isa"].name = "Still ISA"
    assert_body(resp, 200, w.user_json("isa"))
    name = cli_user(w)
    resp = send_json(w.client(), "PATCH", user_url(w.users[name].pk),
                     {"type": "internal_service_account"})
    w.users[name].type = "internal_service_account"
    assert_body(resp, 200, w.user_json(name))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "GET"])
@pytest.mark.parametrize("ident", ["999999", "abc", "0"])
def test_unknown_or_non_integer_id_is_404_before_the_body(w, method, ident):
    before = directory_state(w.client())
    resp = send_json(w.client(), method, user_url(ident), raw=b'{"username": ')
    assert_body(resp, 404, NOT_FOUND)
    resp = call(w.client(), method, user_url(ident), {"username": "x", "name": "y"})
    assert_body(resp, 404, NOT_FOUND)
    assert directory_state(w.client()) == before


def test_update_with_include_groups_false(w):
    name = cli_user(w, groups=["eng"])
    resp = send_json(w.client(), "PATCH", user_url(w.users[name].pk), {"email": "z@example.com"},
                     query="include_groups=false")
    w.users[name].email = "z@example.com"
    assert_body(resp, 200, w.user_json(name, groups=False))


def test_update_bodies_that_are_not_objects(w):
    name = cli_user(w)
    pk = w.users[name].pk
    before = directory_state(w.client())
    refused(w, send_json(w.client(), "PATCH", user_url(pk), raw=b"[1]"), 400,
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}, before)
    refused(w, send_json(w.client(), "PATCH", user_url(pk), raw=b"{}", content_type=None), 415,
            {"detail": 'Unsupported media type "" in request.'}, before)


# -- delete --------------------------------------------------------------------------------------

def test_delete_removes_the_user_its_tokens_and_memberships(w):
    name = cli_user(w, groups=["eng"])
    w.add_token(f"{name}-api", name, "api", expires=FAR, key=random_key(), login=True)
    w.add_token(f"{name}-app", name, "app_password", expires=FAR, key=random_key())
    w.learn(w.client())
    key = w.tokens[f"{name}-api"].key
    pk = w.users[name].pk
    assert_status(w.client(name).get(USERS + "me/"), 200)

    resp = w.client().request("DELETE", user_url(pk))
    assert_status(resp, 204)
    assert resp.body == b""
    del w.users[name]
    del w.tokens[f"{name}-api"], w.tokens[f"{name}-app"]

    assert_body(w.client().get(user_url(pk)), 404, NOT_FOUND)
    tokens = w.client().get("/api/v3/core/tokens/", {"page_size": "1000"}).json()["results"]
    assert [t["identifier"] for t in tokens if t["user"] == pk] == []
    assert sorted(t["identifier"] for t in tokens) == w.all_identifiers()
    assert_json(w.client().get(USERS + "me/", token=key), 403, INVALID_TOKEN)
    assert_json(w.client().list(token=key), 403, INVALID_TOKEN)
    assert_body(w.client().get(group_url(w.groups["eng"].uuid)), 200, group_full_json(w, "eng"))
    assert w.client().get(USERS, {"username": name}).json()["results"] == []
    assert_body(w.client().request("DELETE", user_url(pk)), 404, NOT_FOUND)
    assert_body(w.client().get(user_url(pk, "used_by")), 404, NOT_FOUND)


def test_deleted_pk_is_not_reused(w):
    name = cli_user(w)
    pk = w.users[name].pk
    assert_status(w.client().request("DELETE", user_url(pk)), 204)
    del w.users[name]
    fresh = uname("after")
    resp = send_json(w.client(), "POST", USERS, {"username": fresh, "name": "A"})
    assert_status(resp, 201)
    assert resp.json()["pk"] > pk
    adopt_user(w, resp.json(), fresh, "A")


# 60,000 tokens: the count at which the whole set (and one audit entry per token, built in the
# request's 64 MiB arena) made this a permanent 503 (issue 13.7).
N_MANY = 60000


def test_delete_a_user_with_60000_tokens(tmp_path):
    """The tokens go a batch per statement, their events a batch per insert, each batch in memory
    of its own (README "Users with many tokens"): 204, every token gone, one model_deleted each."""
    root_key = random_key()

    def seed(server):
        server.cli("seed", "--users", "1", "--groups", "1", "--tokens", str(N_MANY))  # akadmin's
        server.cli("user", "create", "root", "--name", "Root")
        server.cli("group", "add", "authentik Admins", "root")
        server.cli("token", "create", "root-api", "--user", "root", "--expires", "none",
                   "--expiring", "false", "--key", root_key)

    with served(tmp_path, pre_start=seed) as server:
        root = Client(server, token=root_key)
        tokens = "/api/v3/core/tokens/"
        akadmin = root.get(USERS, {"username": "akadmin"}).json()["results"][0]["pk"]
        owned = root.get(tokens, {"user__username": "akadmin", "page_size": "1"})
        n = owned.json()["pagination"]["count"]
        assert n >= N_MANY, owned.json()["pagination"]
        t0 = time.monotonic()
        resp = root.request("DELETE", user_url(akadmin), timeout=300)
        took = time.monotonic() - t0
        assert_status(resp, 204)
        assert took < 120, f"{took:.1f} s (a generous bound: the debug build, sanitizers on)"
        assert_body(root.get(user_url(akadmin)), 404, NOT_FOUND)
        left = root.get(tokens, {"page_size": "1000"}).json()["results"]
        assert [t["identifier"] for t in left] == ["root-api"]
        deleted = root.get("/api/v3/events/events/", {"action": "model_deleted", "page_size": "1"})
        assert_status(deleted, 200)
        assert deleted.json()["pagination"]["count"] == n
        assert deleted.json()["results"][0]["user"]["username"] == "root"
        assert_json(root.get(USERS + "me/", token=server.bootstrap_key), 403, INVALID_TOKEN)
        assert_status(root.get(USERS + "me/"), 200)


# -- used_by / recovery --------------------------------------------------------------------------

def test_used_by_lists_the_users_tokens(w):
    name = cli_user(w)
    w.add_token(f"{name}-plain", name, "api", expires=FAR, key=random_key())
    w.add_token(f"{name}-exp", name, "app_password", expires="2030-01-02T03:04:05.5Z",
                expiring=True, key=random_key())
    w.add_token(f"{name}-whole", name, "api", expires="2031-02-03T04:05:06Z", expiring=True,
                key=random_key())
    w.learn(w.client())
    resp = w.client().get(user_url(w.users[name].pk, "used_by"), "page_size=1&search=zzz")
    ref = [
        (f"{name}-plain", f"{name}-plain"),
        (f"{name}-exp", f"{name}-exp (expires=2030-01-02 03:04:05.500000+00:00)"),
        (f"{name}-whole", f"{name}-whole (expires=2031-02-03 04:05:06+00:00)"),
    ]
    assert_body(resp, 200, Unordered(
        {"app": "authentik_core", "model_name": "token", "pk": w.tokens[i].pk, "name": shown,
         "action": "cascade"} for i, shown in ref))
    for item in resp.json():
        assert list(item) == ["app", "model_name", "pk", "name", "action"]
    assert resp.header("Allow") == USED_BY_ALLOW


def test_used_by_of_a_user_without_tokens_is_empty(w):
    name = cli_user(w)
    assert_body(w.client().get(user_url(w.users[name].pk, "used_by")), 200, [])
    resp = w.client().request("HEAD", user_url(w.users[name].pk, "used_by"))
    assert_status(resp, 200)
    assert resp.body == b""


@pytest.mark.parametrize("ident", ["999999", "abc"])
def test_used_by_and_recovery_of_unknown_users_are_404(w, ident):
    assert_body(w.client().get(user_url(ident, "used_by")), 404, NOT_FOUND)
    assert_body(send_json(w.client(), "POST", user_url(ident, "recovery")), 404, NOT_FOUND)


def test_recovery_without_a_flow_is_400_and_creates_nothing(w):
    before = directory_state(w.client())
    pk = w.users["quinn"].pk
    resp = send_json(w.client(), "POST", user_url(pk, "recovery"))
    assert_body(resp, 400, NO_RECOVERY)
    assert resp.header("Allow") == POST_ALLOW
    resp = send_json(w.client(), "POST", user_url(pk, "recovery"), {"x": 1})
    assert_body(resp, 400, NO_RECOVERY)
    assert directory_state(w.client()) == before


def test_a_superuser_through_a_group_may_call_every_route(w):
    """Superuser through group ancestry (§4.1) is enough for the users API."""
    name = cli_user(w)
    child = uname("su-child")
    w.add_group(child, parent="ops")
    w.join(child, name)
    w.add_token(f"{name}-login", name, "api", expires=FAR, key=random_key(), login=True)
    w.learn(w.client())
    client = w.client(name)
    assert_status(client.get(USERS), 200)
    assert_body(client.get(user_url(w.users["quinn"].pk)), 200, w.user_json("quinn"))
    resp = send_json(client, "PATCH", user_url(w.users["quinn"].pk), {"name": "Quinn Q"})
    w.users["quinn"].name = "Quinn Q"
    assert_body(resp, 200, w.user_json("quinn"))
    assert_status(client.get(GROUPS), 200)
