"""GET/PUT/PATCH/DELETE /api/v3/core/tokens/{identifier}/ (docs/api.md §4.2, §6, §7.3-§7.6, §17.1,
§6.2, §2.3): visibility (plain users see only their own tokens, 404 otherwise, on every
method), renames, the owner that never changes, absent fields that keep their stored values,
flow tokens that cannot be updated, the api expiry reset on every update, the app-password
lifetime on update, deletion, paths and methods. Refused requests leave the store unchanged.

Runs on its own server. Fixture tokens are made through the CLI inside each test.
"""

import datetime
import itertools

import pytest

from harness import (INVALID_TOKEN, LIST, NOT_FOUND, NOT_PROVIDED, assert_json, assert_status,
                     method_not_allowed, pagination, random_key, served)
from tokenapi import (BLANK, DETAIL_ALLOW, IDENT_TAKEN, MANAGED_TAKEN, MAX_LIFETIME_ATTR,
                      NOT_BOOL, NOT_NULL, REQUIRED, SLUG, USER_FIXED, Clock, bad_choice, bad_pk,
                      assert_no_secrets, assert_unchanged, create, detail, expect_token, forget,
                      invalid_intent, iso_in, max_lifetime_instant, parse_rfc3339, rename,
                      retrieve, send, snapshot, update, view_key)
from world import World

FAR = "2099-01-01T00:00:00Z"
M = datetime.timedelta(minutes=1)
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("detail")) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("quinn", "Quinn Other", "quinn@example.com")
        world.add_user("hana", "Hana Hour", "hana@example.com",
                       attributes={MAX_LIFETIME_ATTR: "hours=1"})
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        world.add_token("quinn-login", "quinn", "api", expires=FAR, key=random_key(), login=True)
        world.learn(world.client())
        yield world


def fresh(w, owner, intent="api", expires=FAR, expiring=False, description="", managed=None,
          stem="t"):
    """A new CLI-made token, learned by the world."""
    ident = f"{stem}-{owner}-{next(_n)}"
    w.add_token(ident, owner, intent, description=description, expires=expires,
                expiring=expiring, managed=managed, key=random_key())
    w.learn(w.client())
    return ident


def same(w, ident, client=None):
    """The stored token equals the world's mirror."""
    assert_json(retrieve(client or w.client(), ident), 200, w.token_json(ident))


def tok(w, ident):
    return w.tokens[ident]


def refused(w, resp, status, body, before):
    assert_json(resp, status, body)
    assert list(resp.json()) == list(body), "key order"
    assert_unchanged(w, before)


# -- retrieve and visibility -----------------------------------------------------------------------

def test_owner_and_superuser_retrieve(w):
    ident = fresh(w, "pat", "app_password", description="mine", expiring=True)
    for client in (w.client("pat"), w.client()):
        resp = retrieve(client, ident)
        assert_json(resp, 200, w.token_json(ident))
        assert resp.header("Allow") == DETAIL_ALLOW


def test_superuser_sees_every_token(w):
    for ident in ("pat-login", "quinn-login", "authentik-bootstrap-token"):
        same(w, ident)


def test_retrieve_with_include_groups_false(w):
    ident = fresh(w, "quinn")
    assert_json(retrieve(w.client(), ident, "include_groups=false"), 200,
                w.token_json(ident, groups=False))


@pytest.mark.parametrize("method,body", [
    ("GET", None), ("HEAD", None), ("PUT", {"identifier": "stolen"}), ("PATCH", {}),
    ("PATCH", {"description": "x", "user": 2}), ("DELETE", None),
])
def test_other_users_token_is_404_on_every_method(w, method, body):
    ident = fresh(w, "quinn", "app_password", expiring=True, description="quinn's")
    before = snapshot(w)
    resp = send(w.client("pat"), method, detail(ident), body) if body is not None else \
        w.client("pat").request(method, detail(ident))
    if method == "HEAD":
        assert_status(resp, 404)
        assert resp.body == b""
    else:
        assert_json(resp, 404, NOT_FOUND)
    assert resp.header("Allow") == DETAIL_ALLOW
    assert_unchanged(w, before)
    same(w, ident)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_unknown_identifier_is_404_for_the_superuser(w, method):
    before = snapshot(w)
    resp = send(w.client(), method, detail("no-such-token"), {"identifier": "x"}) \
        if method in ("PUT", "PATCH") else w.client().request(method, detail("no-such-token"))
    assert_json(resp, 404, NOT_FOUND)
    assert_unchanged(w, before)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("ident", ["pat-login", "no-such-token"])
def test_authentication_comes_first(w, method, ident):
    before = snapshot(w)
    body = b'{"identifier": "x"}' if method in ("PUT", "PATCH") else None
    hdrs = {"Content-Type": "application/json"} if body else None
    resp = w.client().request(method, detail(ident), token=None, body=body, headers=hdrs)
    assert_json(resp, 403, NOT_PROVIDED)
    resp = w.client().request(method, detail(ident), token="wrong", body=body, headers=hdrs)
    assert_json(resp, 403, INVALID_TOKEN)
    assert_unchanged(w, before)


def test_the_object_is_looked_up_before_the_body_is_read(w):
    """DRF's get_object() comes before request.data: 404 wins over a bad body."""
    ident = fresh(w, "quinn")
    before = snapshot(w)
    for client, target in ((w.client(), "no-such-token"), (w.client("pat"), ident)):
        for method in ("PUT", "PATCH"):
            resp = send(client, method, detail(target), raw=b'{"identifier": ')
            assert_json(resp, 404, NOT_FOUND)
            resp = send(client, method, detail(target), raw=b"{}", content_type="text/plain")
            assert_json(resp, 404, NOT_FOUND)
    assert_unchanged(w, before)


# -- PUT / PATCH validation ------------------------------------------------------------------------

@pytest.mark.parametrize("body,expected", [
    ({}, {"identifier": [REQUIRED]}),
    ({"description": "x", "intent": "api"}, {"identifier": [REQUIRED]}),
    ({"identifier": None}, {"identifier": [NOT_NULL]}),
    ({"identifier": " "}, {"identifier": [BLANK]}),
    ({"identifier": "a b"}, {"identifier": [SLUG]}),
], ids=["empty", "no-identifier", "null", "blank", "slug"])
def test_put_requires_a_valid_identifier(w, body, expected):
    ident = fresh(w, "pat")
    before = snapshot(w)
    refused(w, update(w.client("pat"), ident, body, "PUT"), 400, expected, before)


def test_put_without_a_body_requires_the_identifier(w):
    ident = fresh(w, "pat")
    before = snapshot(w)
    resp = send(w.client(), "PUT", detail(ident), raw=b"")
    refused(w, resp, 400, {"identifier": [REQUIRED]}, before)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("body,expected", [
    ({"intent": "bogus", "expiring": "x"}, {"intent": [bad_choice("bogus")],
                                            "expiring": [NOT_BOOL]}),
    ({"description": None, "user": 999}, {"user": [bad_pk("999")], "description": [NOT_NULL]}),
    ({"managed": ""}, {"managed": [BLANK]}),
    ({"identifier": ""}, {"identifier": [BLANK]}),
], ids=["intent-expiring", "user-description", "managed", "identifier"])
def test_field_errors_on_update(w, method, body, expected):
    ident = fresh(w, "pat")
    if method == "PUT" and "identifier" not in body:
        body = dict(body, identifier=ident)
    before = snapshot(w)
    refused(w, update(w.client("pat"), ident, body, method), 400, expected, before)


@pytest.mark.parametrize("raw,expected", [
    (b"[]", {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    (b"null", {"non_field_errors": ["No data provided"]}),
    (b'"x"', {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
], ids=["list", "null", "str"])
def test_bodies_that_are_not_objects_on_update(w, raw, expected):
    ident = fresh(w, "pat")
    before = snapshot(w)
    refused(w, send(w.client("pat"), "PATCH", detail(ident), raw=raw), 400, expected, before)


def test_malformed_json_on_update(w):
    ident = fresh(w, "pat")
    before = snapshot(w)
    resp = send(w.client("pat"), "PATCH", detail(ident), raw=b'{"description": "x",')
    assert_status(resp, 400)
    assert list(resp.json()) == ["detail"]
    assert resp.json()["detail"].startswith("JSON parse error - ")
    resp = send(w.client("pat"), "PATCH", detail(ident), raw=b'{"description": "x"}',
                content_type=None)
    assert_json(resp, 415, {"detail": 'Unsupported media type "" in request.'})
    assert_unchanged(w, before)


# -- renames ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_rename(w, method):
    ident = fresh(w, "pat", "app_password", expiring=True, description="keep me")
    new = f"renamed-{next(_n)}"
    old = tok(w, ident)
    resp = update(w.client("pat"), ident, {"identifier": new}, method)
    rename(w, ident, new)
    expect_token(w, resp, 200, new, "pat", "app_password", "keep me", expires=old.expires,
                 expiring=True)
    assert_json(retrieve(w.client("pat"), ident), 404, NOT_FOUND)
    assert_json(retrieve(w.client(), ident), 404, NOT_FOUND)
    same(w, new, w.client("pat"))
    assert_json(w.client("pat").list({"identifier": new}), 200, w.page([new]))
    assert_json(w.client("pat").list({"identifier": ident}), 200, w.page([]))


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_rename_onto_an_existing_identifier(w, method):
    ident = fresh(w, "pat")
    other = fresh(w, "quinn")  # another user's: uniqueness is global
    before = snapshot(w)
    for target in (other, "pat-login", "  " + other + " "):
        refused(w, update(w.client("pat"), ident, {"identifier": target}, method), 400,
                {"identifier": [IDENT_TAKEN]}, before)


def test_keeping_the_own_identifier_and_managed_value_is_no_conflict(w):
    ident = fresh(w, "pat", "app_password", managed=f"m-own-{next(_n)}")
    t = tok(w, ident)
    resp = update(w.client("pat"), ident, {"identifier": ident, "managed": t.managed}, "PUT")
    expect_token(w, resp, 200, ident, "pat", "app_password", expires=t.expires, expiring=False,
                 managed=t.managed)


def test_managed_taken_by_another_token(w):
    ident = fresh(w, "pat")
    other = fresh(w, "quinn", managed=f"m-other-{next(_n)}")
    before = snapshot(w)
    refused(w, update(w.client(), ident, {"managed": tok(w, other).managed}), 400,
            {"managed": [MANAGED_TAKEN]}, before)


def test_managed_can_be_cleared(w):
    ident = fresh(w, "quinn", "app_password", managed=f"m-clear-{next(_n)}")
    resp = update(w.client(), ident, {"managed": None})
    expect_token(w, resp, 200, ident, "quinn", "app_password", expires=FAR, expiring=False,
                 managed=None)


# -- the owner never changes -----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("requester", ["pat", "akadmin"])
def test_user_cannot_be_changed(w, method, requester):
    ident = fresh(w, "pat")
    before = snapshot(w)
    for other in ("quinn", "akadmin"):
        if other == requester:
            continue
        body = {"identifier": ident, "user": w.users[other].pk}
        refused(w, update(w.client(requester), ident, body, method), 400,
                {"user": [USER_FIXED]}, before)


def test_user_error_with_other_field_errors(w):
    ident = fresh(w, "pat")
    before = snapshot(w)
    refused(w, update(w.client(), ident, {"user": w.users["quinn"].pk, "identifier": "a b",
                                          "expiring": None}), 400,
            {"identifier": [SLUG], "user": [USER_FIXED], "expiring": [NOT_NULL]}, before)


@pytest.mark.parametrize("value", ["pk", "str"])
def test_sending_the_same_user_is_fine(w, value):
    ident = fresh(w, "pat", "app_password")
    user = w.users["pat"].pk if value == "pk" else str(w.users["pat"].pk)
    resp = update(w.client(), ident, {"user": user, "description": "same user"})
    expect_token(w, resp, 200, ident, "pat", "app_password", "same user", expires=FAR,
                 expiring=False)


def test_superuser_update_keeps_the_owner(w):
    """§17.1: an absent user keeps the stored owner (authentik would make akadmin the owner)."""
    ident = fresh(w, "quinn", "app_password")
    for method, body in (("PATCH", {"description": "by admin"}),
                         ("PUT", {"identifier": ident, "description": "by admin again"})):
        resp = update(w.client(), ident, body, method)
        expect_token(w, resp, 200, ident, "quinn", "app_password", body["description"],
                     expires=FAR, expiring=False)
    same(w, ident, w.client("quinn"))


# -- absent intent keeps the stored one (§17.1) ----------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_app_password_stays_app_password(w, method):
    ident = fresh(w, "pat", "app_password", expires="2030-05-05T05:05:05.5Z", expiring=True,
                  description="before")
    body = {"description": "after"}
    if method == "PUT":
        body["identifier"] = ident
    resp = update(w.client("pat"), ident, body, method)
    expect_token(w, resp, 200, ident, "pat", "app_password", "after",
                 expires="2030-05-05T05:05:05.500000Z", expiring=True)


def test_patch_with_an_empty_body_keeps_an_app_password_as_is(w):
    ident = fresh(w, "pat", "app_password", expires="2031-01-01T00:00:00Z", expiring=True,
                  description="untouched")
    resp = update(w.client("pat"), ident, raw=b"")
    expect_token(w, resp, 200, ident, "pat", "app_password", "untouched",
                 expires="2031-01-01T00:00:00Z", expiring=True)
    resp = update(w.client("pat"), ident, {})
    expect_token(w, resp, 200, ident, "pat", "app_password", "untouched",
                 expires="2031-01-01T00:00:00Z", expiring=True)


@pytest.mark.parametrize("intent", ["recovery", "verification"])
@pytest.mark.parametrize("body", [{}, {"description": "x"}, {"expiring": False}, "put",
                                  "intent"], ids=["empty", "description", "expiring", "put",
                                                  "same-intent"])
def test_flow_tokens_cannot_be_updated(w, intent, body):
    ident = fresh(w, "pat", intent, expires=FAR, expiring=True)
    if body == "put":
        body = {"identifier": ident}
    elif body == "intent":
        body = {"intent": intent}
    before = snapshot(w)
    for client in (w.client(), w.client("pat")):
        refused(w, update(client, ident, body, "PUT" if "identifier" in body else "PATCH"), 400,
                invalid_intent(intent), before)


@pytest.mark.parametrize("intent", ["recovery", "verification"])
def test_flow_token_sent_intent_api_becomes_an_api_token(w, intent):
    ident = fresh(w, "pat", intent, expires=FAR, expiring=True)
    with Clock() as c:
        resp = update(w.client(), ident, {"intent": "api"})
    expect_token(w, resp, 200, ident, "pat", "api", expiring=True, window=c.window())


def test_api_token_sent_intent_app_password_keeps_its_expiry(w):
    """Rule 4 checks only a submitted expires; rule 5 no longer applies."""
    ident = fresh(w, "pat", "api", expires=FAR, expiring=False)
    resp = update(w.client(), ident, {"intent": "app_password"})
    expect_token(w, resp, 200, ident, "pat", "app_password", expires=FAR, expiring=False)


def test_app_password_sent_intent_api_gets_the_api_expiry(w):
    ident = fresh(w, "pat", "app_password", expires=FAR, expiring=False)
    with Clock() as c:
        resp = update(w.client("pat"), ident, {"intent": "api"})
    expect_token(w, resp, 200, ident, "pat", "api", expiring=False, window=c.window())


# -- the api expiry is reset on every update (§6.2 rule 5) ----------------------------------

@pytest.mark.parametrize("method,body", [
    ("PATCH", {}),
    ("PATCH", {"description": "d"}),
    ("PATCH", {"expires": FAR}),
    ("PATCH", {"expires": None}),
    ("PATCH", {"expires": "2020-01-01T00:00:00Z", "expiring": True}),
    ("PUT", {}),
    ("PUT", {"expires": FAR, "description": "d"}),
], ids=["patch-empty", "patch-description", "patch-expires", "patch-null", "patch-past",
        "put", "put-expires"])
def test_api_expiry_is_reset_on_every_update(w, method, body):
    ident = fresh(w, "pat", "api", expires=FAR, expiring=False)
    if method == "PUT":
        body = dict(body, identifier=ident)
    with Clock() as c:
        resp = update(w.client("pat"), ident, body, method)
    expect_token(w, resp, 200, ident, "pat", "api", body.get("description", ""),
                 expiring=body.get("expiring", False), window=c.window())
    # and again: each update moves it
    first = parse_rfc3339(tok(w, ident).expires)
    with Clock() as c:
        resp = update(w.client(), ident, {})
    t = expect_token(w, resp, 200, ident, "pat", "api", body.get("description", ""),
                     expiring=body.get("expiring", False), window=c.window())
    assert parse_rfc3339(t.expires) >= first


# -- app-password lifetime on update ---------------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_app_password_lifetime_on_update(w, method):
    """The owner's maximum lifetime (hana: hours=1) bounds a submitted expires."""
    ident = fresh(w, "hana", "app_password", expires="2030-01-01T00:00:00Z", expiring=True)
    extra = {"identifier": ident} if method == "PUT" else {}
    before = snapshot(w)
    with Clock() as c:
        resp = update(w.client(), ident, dict(extra, expires=iso_in(70 * M)), method)
    maximum = max_lifetime_instant(resp)
    lo, hi = c.window(datetime.timedelta(hours=1), slack=datetime.timedelta(seconds=2))
    assert lo <= maximum <= hi
    assert_unchanged(w, before)
    for expires in (iso_in(50 * M), "2001-02-03T04:05:06Z", None):
        resp = update(w.client(), ident, dict(extra, expires=expires), method)
        expect_token(w, resp, 200, ident, "hana", "app_password", expires=expires,
                     expiring=True)


# -- expiring on update ----------------------------------------------------------------------------

def test_owner_can_patch_expiring_false(w):
    with Clock() as c:
        resp = create(w.client("pat"), {"identifier": f"own-exp-{next(_n)}"})
    ident = resp.json()["identifier"]
    expect_token(w, resp, 201, ident, "pat", "api", expiring=True, window=c.window())
    with Clock() as c:
        resp = update(w.client("pat"), ident, {"expiring": False})
    expect_token(w, resp, 200, ident, "pat", "api", expiring=False, window=c.window())
    with Clock() as c:
        resp = update(w.client("pat"), ident, {"expiring": "on"})
    expect_token(w, resp, 200, ident, "pat", "api", expiring=True, window=c.window())


def test_update_with_include_groups_false(w):
    ident = fresh(w, "quinn", "app_password")
    resp = update(w.client(), ident, {"description": "ng"}, query="include_groups=false")
    expect_token(w, resp, 200, ident, "quinn", "app_password", "ng", expires=FAR,
                 expiring=False, groups=False)


# -- delete ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("requester", ["pat", "akadmin"])
def test_delete(w, requester):
    ident = fresh(w, "pat", "api", expires=FAR, expiring=False)
    key = tok(w, ident).key
    assert w.client().list(token=key).status == 200
    resp = w.client(requester).request("DELETE", detail(ident))
    assert_status(resp, 204)
    assert resp.body == b""
    assert resp.header("Allow") == DETAIL_ALLOW
    forget(w, ident)
    assert_json(retrieve(w.client(requester), ident), 404, NOT_FOUND)
    assert_json(w.client(requester).request("DELETE", detail(ident)), 404, NOT_FOUND)
    assert_json(w.client().list(token=key), 403, INVALID_TOKEN)
    assert_json(w.client().list({"user__username": "pat"}), 200, w.page(w.owned_by("pat")))


def test_identifier_is_free_again_after_delete(w):
    ident = fresh(w, "quinn")
    assert_status(w.client().request("DELETE", detail(ident)), 204)
    forget(w, ident)
    with Clock() as c:
        resp = create(w.client("pat"), {"identifier": ident})
    expect_token(w, resp, 201, ident, "pat", "api", expiring=True, window=c.window())


# -- paths and methods -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    LIST + "pat-login",
    LIST + "pat-login.json",
    LIST + "pat-login.json/",
    LIST + "pat.login/",
    LIST + "pat-login/x/",
    LIST + "pat-login//",
    LIST + "pat-login/view_key",
    "/api/v3/core/tokens.json",
], ids=lambda p: p[len(LIST) - 1:] if p.startswith(LIST) else p)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_paths_that_are_not_the_detail_route(w, path, method):
    before = snapshot(w)
    resp = send(w.client(), method, path, {"description": "x"}) if method == "PATCH" else \
        w.client().request(method, path)
    assert_json(resp, 404, NOT_FOUND)
    assert_unchanged(w, before)


@pytest.mark.parametrize("ident", ["pat-login", "no-such-token"])
def test_post_on_the_detail_route_is_405(w, ident):
    before = snapshot(w)
    resp = send(w.client(), "POST", detail(ident), {"identifier": "x"})
    assert_json(resp, 405, method_not_allowed("POST"))
    assert resp.header("Allow") == DETAIL_ALLOW
    assert_unchanged(w, before)


def test_head_and_options_on_the_detail_route(w):
    get = retrieve(w.client(), "pat-login")
    head = w.client().request("HEAD", detail("pat-login"))
    assert_status(head, 200)
    assert head.body == b""
    assert head.header("Allow") == DETAIL_ALLOW
    if head.header("Content-Length") is not None:
        assert head.header("Content-Length") == str(len(get.body))
    opts = w.client().request("OPTIONS", detail("pat-login"))
    assert_status(opts, 200)
    assert opts.header("Allow") == DETAIL_ALLOW


def test_allow_header_on_error_responses(w):
    ident = fresh(w, "pat")
    for resp in (update(w.client(), ident, {"identifier": ""}, "PUT"),
                 retrieve(w.client("quinn"), ident),
                 w.client().request("GET", detail(ident), token=None)):
        assert resp.status in (400, 403, 404), resp
        assert resp.header("Allow") == DETAIL_ALLOW, resp


def test_world_matches_the_store(w):
    w.learn(w.client())
    ids = w.all_identifiers()
    assert_json(w.client().list("page_size=1000"), 200,
                w.page(ids, paging=pagination(len(ids), size=1000)))


def test_no_key_in_events_or_log(w):
    for ident in list(w.tokens):
        if w.tokens[ident].key is None:
            view_key(w, ident)
    assert_no_secrets(w)
