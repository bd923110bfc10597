"""GET /api/v3/core/users/me/ and POST /api/v3/core/users/service_account/ (docs/api.md §4.1, §10,
§14.1, §17).

me/: open to every authenticated user; the token's user as UserSelf with the effective groups
(direct + ancestors, by name, pk as a string), the merged "settings" attribute, and
system_permissions ([] for plain users). service_account/: the user, the optional group and the
app-password token made together (200, the key returned once and equal to view_key), the
NEW-style validation messages, and identifier collisions that leave nothing behind.

Runs on its own server.
"""

import datetime
import itertools
import re

import pytest

from harness import (INVALID_TOKEN, NOT_PROVIDED, assert_json, assert_status, random_key, served)
from world import (GROUPS, ME_FIELDS, USERS, Group, World, adopt_user, assert_body,
                   directory_state, group_full_json, group_url, learn_users, me_json, send_json,
                   user_url)

ME = USERS + "me/"
SA = USERS + "service_account/"
TOKENS = "/api/v3/core/tokens/"
FAR = "2099-01-01T00:00:00Z"
EXPIRES_ATTR = "goauthentik.io/user/token-expires"
SA_PATH = "goauthentik.io/service-accounts"
DT_FORMAT = ("Datetime has wrong format. Use one of these formats instead: "
             "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
UTC = datetime.timezone.utc
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("users-me")) as server:
        world = World(server)
        # settings merge order is by group name: "a-parent" before "b-child"
        world.add_group("a-parent", attributes={"settings": {"theme": "light", "lang": "en",
                                                             "list": [0]}})
        world.add_group("b-child", parent="a-parent",
                        attributes={"settings": {"theme": "dark", "list": [1]}, "other": 1})
        world.add_group("root-su", superuser=True)
        world.add_group("mid", parent="root-su")
        world.add_group("leaf", parent="mid", attributes={"settings": "not an object"})
        world.add_user("pat", "Pat Plain", "pat@example.com", groups=["b-child"],
                       attributes={"settings": {"lang": "de", "nested": {"x": 1}}})
        world.add_user("plain", "", None)
        world.add_user("deep", "Deep Admin Person", "deep@example.com", groups=["leaf"])
        world.add_user("off", "Off Line", "off@example.com", inactive=True)
        world.add_user("ext", "Ext Ernal", "ext@example.org", type="external", path="outside")
        for u in ("pat", "plain", "deep", "off", "ext"):
            world.add_token(f"{u}-login", u, "api", expires=FAR, key=random_key(), login=True)
        admin = world.client()
        world.learn(admin)
        learn_users(world, admin)
        yield world


# -- me/ -----------------------------------------------------------------------------------------

def check_me(w, username, client=None):
    resp = (client or w.client(username)).get(ME)
    assert_body(resp, 200, me_json(w, username))
    assert list(resp.json()) == ["user"]
    assert list(resp.json()["user"]) == ME_FIELDS
    assert resp.header("Allow") == "GET, HEAD, OPTIONS"
    return resp.json()["user"]


def test_me_for_the_bootstrap_admin(w):
    me = check_me(w, "akadmin")
    assert me["is_superuser"] is True
    assert me["groups"] == [{"name": "authentik Admins", "pk": w.groups["authentik Admins"].uuid}]
    assert me["settings"] == {}
    assert me["system_permissions"] and all(isinstance(p, str) for p in me["system_permissions"])


def test_me_for_a_plain_user_with_inherited_settings(w):
    me = check_me(w, "pat")
    assert me["is_superuser"] is False
    assert me["system_permissions"] == []
    assert [g["name"] for g in me["groups"]] == ["a-parent", "b-child"]
    assert me["settings"] == {"theme": "dark", "lang": "de", "list": [0, 1], "nested": {"x": 1}}


def test_me_for_a_user_without_groups_or_settings(w):
    me = check_me(w, "plain")
    assert (me["groups"], me["settings"], me["system_permissions"]) == ([], {}, [])


def test_me_for_a_superuser_through_two_levels_of_ancestry(w):
    me = check_me(w, "deep")
    assert me["is_superuser"] is True
    assert [g["name"] for g in me["groups"]] == ["leaf", "mid", "root-su"]
    assert all(isinstance(g["pk"], str) for g in me["groups"])
    assert me["settings"] == {}                      # "settings" is not an object
    assert me["system_permissions"] != []


def test_me_for_an_external_user(w):
    check_me(w, "ext")


def test_me_head_and_query_parameters(w):
    resp = w.client("pat").request("HEAD", ME)
    assert_status(resp, 200)
    assert resp.body == b""
    assert_body(w.client("pat").get(ME, "include_groups=false&page=9"), 200, me_json(w, "pat"))


def test_me_needs_a_valid_token_of_an_active_user(w):
    assert_json(w.client().get(ME, token=None), 403, NOT_PROVIDED)
    assert_json(w.client().get(ME, token="nope"), 403, INVALID_TOKEN)
    assert_json(w.client("off").get(ME), 403, INVALID_TOKEN)


# -- service_account/ ----------------------------------------------------------------------------

def token_row(w, identifier):
    resp = w.client().list({"identifier": identifier})
    assert_status(resp, 200)
    rows = resp.json()["results"]
    assert len(rows) == 1, f"{identifier}: {rows}"
    return rows[0]


def view_key(w, identifier):
    resp = w.client().get(f"{TOKENS}{identifier}/view_key/")
    assert_status(resp, 200)
    return resp.json()["key"]


def parse(text):
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z", text), text
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def create_sa(w, body, group=False):
    """POSTs service_account/, checks the response and records user (and group) in the world."""
    lo = datetime.datetime.now(UTC)
    resp = send_json(w.client(), "POST", SA, body)
    hi = datetime.datetime.now(UTC)
    assert_status(resp, 200)
    got = resp.json()
    keys = ["username", "user_uid", "user_pk"] + (["group_pk"] if group else []) + ["token"]
    assert list(got) == keys
    name = body["name"].strip()
    assert got["username"] == name
    key = got["token"]
    assert isinstance(key, str) and len(key) == 60 and key.isascii() and key.isalnum(), key
    expiring = body.get("expiring", True)
    adopt_user(w, got, name, name, "", True, {EXPIRES_ATTR: expiring}, SA_PATH,
               "service_account")
    learn_users(w, w.client())
    if group:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                            got["group_pk"]), got["group_pk"]
        w.groups[name] = Group(name, got["group_pk"], False, None, {})
        w.users[name].groups.append(name)
    assert resp.header("Allow") == "POST, OPTIONS"
    return got, (lo, hi)


def test_service_account_defaults(w):
    got, (lo, hi) = create_sa(w, {"name": "Svc One"})
    assert_body(w.client().get(user_url(got["user_pk"])), 200, w.user_json("Svc One"))
    row = token_row(w, "service-account-svc-one-password")
    expires = parse(row["expires"])
    assert lo + datetime.timedelta(days=360) - datetime.timedelta(seconds=3) <= expires <= \
        hi + datetime.timedelta(days=360) + datetime.timedelta(seconds=3)
    assert {k: row[k] for k in ("managed", "intent", "user", "description", "expiring")} == {
        "managed": None, "intent": "app_password", "user": got["user_pk"], "description": "",
        "expiring": True}
    assert row["user_obj"] == w.user_json("Svc One")
    assert view_key(w, "service-account-svc-one-password") == got["token"]
    # an app password does not authenticate the API
    assert_json(w.client().get(ME, token=got["token"]), 403, INVALID_TOKEN)
    # no group unless asked for
    assert w.client().get(GROUPS, {"name": "Svc One"}).json()["results"] == []


def test_service_account_with_group_and_fixed_expiry(w):
    got, _ = create_sa(w, {"name": "Svc Group", "create_group": True, "expiring": False,
                           "expires": "2031-05-06T07:08:09.123+02:00"}, group=True)
    assert_body(w.client().get(user_url(got["user_pk"])), 200, w.user_json("Svc Group"))
    assert_body(w.client().get(group_url(got["group_pk"])), 200,
                group_full_json(w, "Svc Group"))
    row = token_row(w, "service-account-svc-group-password")
    assert (row["expires"], row["expiring"], row["intent"]) == \
        ("2031-05-06T05:08:09.123000Z", False, "app_password")
    assert view_key(w, "service-account-svc-group-password") == got["token"]


def test_service_account_expiry_is_not_limited(w):
    """No lifetime validation applies to the service account's token (§14.1)."""
    create_sa(w, {"name": "svc-far", "expires": "9999-12-31T23:59:59Z"})
    assert token_row(w, "service-account-svc-far-password")["expires"] == "9999-12-31T23:59:59Z"


@pytest.mark.parametrize("name,identifier", [
    ("Caf\u00e9 Cr\u00e8me!", "service-account-cafe-creme-password"),
    ("  spaced   out  ", "service-account-spaced-out-password"),
    ("under_score.dot", "service-account-under_scoredot-password"),
    ("MiXeD--Case", "service-account-mixed-case-password"),
])
def test_service_account_identifier_is_slugified(w, name, identifier):
    got, _ = create_sa(w, {"name": name})
    row = token_row(w, identifier)
    assert row["user"] == got["user_pk"]
    assert view_key(w, identifier) == got["token"]


@pytest.mark.parametrize("body,expected", [
    ({}, {"name": ["This field is required."]}),
    ({"name": ""}, {"name": ["This field may not be blank."]}),
    ({"name": "   "}, {"name": ["This field may not be blank."]}),
    ({"name": "pat"}, {"name": ["This field must be unique."]}),
    ({"name": "fresh-sa", "create_group": "maybe"}, {"create_group": ["Must be a valid boolean."]}),
    ({"name": "fresh-sa", "expiring": "maybe"}, {"expiring": ["Must be a valid boolean."]}),
    ({"name": "fresh-sa", "expires": "soon"}, {"expires": [DT_FORMAT]}),
], ids=["missing", "blank", "blank-stripped", "taken", "create_group", "expiring", "expires"])
def test_service_account_validation(w, body, expected):
    before = directory_state(w.client())
    resp = send_json(w.client(), "POST", SA, body)
    assert_body(resp, 400, expected)
    assert directory_state(w.client()) == before


def collision(w, body):
    before = directory_state(w.client())
    resp = send_json(w.client(), "POST", SA, body)
    assert_status(resp, 400)
    got = resp.json()
    assert list(got) == ["non_field_errors"]
    assert isinstance(got["non_field_errors"], list) and len(got["non_field_errors"]) == 1
    assert isinstance(got["non_field_errors"][0], str) and got["non_field_errors"][0]
    assert directory_state(w.client()) == before, "a refused service account left something"
    assert w.client().get(USERS, {"username": body["name"]}).json()["results"] == []


def test_names_that_slugify_alike_collide_and_nothing_is_created(w):
    create_sa(w, {"name": "Dup Name"})
    collision(w, {"name": "dup name", "create_group": True})
    collision(w, {"name": "DUP-NAME"})
    assert w.client().get(GROUPS, {"name": "dup name"}).json()["results"] == []


def test_a_group_name_collision_creates_nothing(w):
    collision(w, {"name": "root-su", "create_group": True})


def test_service_account_by_a_plain_user_is_refused(w):
    before = directory_state(w.client())
    resp = send_json(w.client("pat"), "POST", SA, {"name": "sneaky"})
    assert_json(resp, 403, {"detail": "You do not have permission to perform this action."})
    assert directory_state(w.client()) == before


def test_service_account_user_can_log_in_with_an_api_token_and_sees_itself(w):
    create_sa(w, {"name": "svc-me"})
    w.add_token("svc-me-api", "svc-me", "api", expires=FAR, key=random_key(), login=True)
    check_me(w, "svc-me")
    assert_json(w.client("svc-me").get(USERS), 403,
                {"detail": "You do not have permission to perform this action."})
