"""The token viewset's extra actions (docs/api.md §4.2, §7.7-§7.9, §13, §7.8, §2.3):
view_key (superusers on every token; a plain user only on tokens they created through the API),
set_key (superusers only; falsy keys are a bare 400, other non-strings a field error; keys are
stored verbatim and work at once) and used_by (superusers: [] or 404; everyone else: 403).

Runs on its own server.
"""

import itertools

import pytest

from harness import (INVALID_TOKEN, NOT_FOUND, NOT_PROVIDED, assert_json, assert_status,
                     method_not_allowed, random_key, served)
from tokenapi import (FORBIDDEN, NOT_STRING, SET_KEY_ALLOW, USED_BY_ALLOW, VIEW_KEY_ALLOW, Clock,
                      assert_no_secrets, assert_unchanged, create, detail, expect_token, forget,
                      is_generated_key, remember, rename, retrieve, send, snapshot, update,
                      view_key)
from world import BOOTSTRAP, World

FAR = "2099-01-01T00:00:00Z"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("actions")) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("quinn", "Quinn Other", "quinn@example.com")
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        world.add_token("quinn-login", "quinn", "api", expires=FAR, key=random_key(), login=True)
        world.learn(world.client())
        yield world


def fresh(w, owner, intent="api", expires=FAR, expiring=False, key=None):
    ident = f"cli-{owner}-{next(_n)}"
    w.add_token(ident, owner, intent, expires=expires, expiring=expiring, key=key or random_key())
    w.learn(w.client())
    return ident


def api_made(w, requester, owner=None):
    """A token created through POST by `requester` (for `owner` when the requester is akadmin)."""
    ident = f"api-{requester}-{next(_n)}"
    body = {"identifier": ident}
    if owner is not None:
        body["user"] = w.users[owner].pk
    with Clock() as c:
        resp = create(w.client(requester), body)
    expect_token(w, resp, 201, ident, owner or requester, "api", expiring=True,
                 window=c.window())
    return ident


def get_action(client, ident, action, **kw):
    return client.request("GET", detail(ident, action), **kw)


def set_key(client, ident, body=None, raw=None, **kw):
    if raw is not None:
        return send(client, "POST", detail(ident, "set_key"), raw=raw, **kw)
    return send(client, "POST", detail(ident, "set_key"), body, **kw)


def authenticates(w, key):
    return w.client().list(token=key).status == 200


# -- view_key --------------------------------------------------------------------------------------

@pytest.mark.parametrize("owner,intent,expires,expiring", [
    ("quinn", "api", FAR, False),
    ("pat", "app_password", FAR, True),
    ("pat", "recovery", FAR, True),
    ("quinn", "verification", None, False),
    ("quinn", "api", "2020-01-01T00:00:00Z", False),   # expired tokens too
], ids=["api", "app_password", "recovery", "verification", "expired"])
def test_superuser_views_any_key(w, owner, intent, expires, expiring):
    ident = fresh(w, owner, intent, expires or "none", expiring)
    resp = get_action(w.client(), ident, "view_key")
    assert_json(resp, 200, {"key": w.tokens[ident].key})
    assert resp.header("Allow") == VIEW_KEY_ALLOW


def test_superuser_views_the_bootstrap_key(w):
    assert_json(get_action(w.client(), BOOTSTRAP, "view_key"), 200, {"key": w.server.bootstrap_key})


def test_view_key_matches_the_key_printed_by_the_cli(w):
    printed = w.server.cli("token", "create", "printed", "--user", "pat", "--expires", FAR,
                           "--expiring", "false")
    remember(w, printed)
    assert is_generated_key(printed)
    assert_json(get_action(w.client(), "printed", "view_key"), 200, {"key": printed})
    assert_status(w.client().request("DELETE", detail("printed")), 204)


def test_plain_user_views_the_key_of_a_token_they_created(w):
    ident = api_made(w, "pat")
    resp = get_action(w.client("pat"), ident, "view_key")
    assert_status(resp, 200)
    key = resp.json()["key"]
    remember(w, key)
    assert resp.json() == {"key": key} and is_generated_key(key)
    assert key == view_key(w, ident)
    assert_json(w.client().list({"identifier": ident}, token=key), 200, w.page([ident]))


def test_grant_survives_a_rename(w):
    ident = api_made(w, "pat")
    new = f"renamed-{next(_n)}"
    resp = update(w.client("pat"), ident, {"identifier": new})
    assert_status(resp, 200)
    rename(w, ident, new)
    assert_status(get_action(w.client("pat"), new, "view_key"), 200)


@pytest.mark.parametrize("made_by", ["cli", "admin-api"])
def test_plain_user_cannot_view_the_key_of_an_admin_made_token(w, made_by):
    ident = fresh(w, "pat") if made_by == "cli" else api_made(w, "akadmin", owner="pat")
    before = snapshot(w)
    resp = get_action(w.client("pat"), ident, "view_key")
    assert_json(resp, 403, FORBIDDEN)
    assert resp.header("Allow") == VIEW_KEY_ALLOW
    assert_unchanged(w, before)  # no secret_view event either


def test_plain_user_cannot_view_the_key_of_their_login_token(w):
    assert_json(get_action(w.client("pat"), "pat-login", "view_key"), 403, FORBIDDEN)


def test_grant_is_deleted_with_the_token(w):
    ident = api_made(w, "pat")
    assert_status(get_action(w.client("pat"), ident, "view_key"), 200)
    assert_status(w.client().request("DELETE", detail(ident)), 204)
    forget(w, ident)
    with Clock() as c:
        resp = create(w.client(), {"identifier": ident, "user": w.users["pat"].pk})
    expect_token(w, resp, 201, ident, "pat", "api", expiring=True, window=c.window())
    assert_json(get_action(w.client("pat"), ident, "view_key"), 403, FORBIDDEN)


@pytest.mark.parametrize("target", ["cli", "api", "unknown"])
def test_plain_user_gets_404_for_other_tokens(w, target):
    ident = {"cli": lambda: fresh(w, "quinn"), "api": lambda: api_made(w, "quinn"),
             "unknown": lambda: "no-such-token"}[target]()
    before = snapshot(w)
    assert_json(get_action(w.client("pat"), ident, "view_key"), 404, NOT_FOUND)
    assert_unchanged(w, before)


def test_superuser_unknown_identifier(w):
    assert_json(get_action(w.client(), "no-such-token", "view_key"), 404, NOT_FOUND)


def test_view_key_ignores_query_parameters(w):
    ident = fresh(w, "quinn")
    resp = get_action(w.client(), ident, "view_key",
                      query="page=99&page_size=x&identifier=zzz&ordering=bogus&search=q")
    assert_json(resp, 200, {"key": w.tokens[ident].key})


def test_view_key_needs_authentication(w):
    before = snapshot(w)
    assert_json(get_action(w.client(), "pat-login", "view_key", token=None), 403, NOT_PROVIDED)
    assert_json(get_action(w.client(), "pat-login", "view_key", token="nope"), 403, INVALID_TOKEN)
    assert_unchanged(w, before)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_view_key_methods(w, method):
    resp = send(w.client(), method, detail("pat-login", "view_key"), {})
    assert_json(resp, 405, method_not_allowed(method))
    assert resp.header("Allow") == VIEW_KEY_ALLOW


# -- set_key ---------------------------------------------------------------------------------------

def test_set_key(w):
    ident = fresh(w, "quinn")
    old = w.tokens[ident].key
    before = retrieve(w.client(), ident)
    assert_status(before, 200)
    new = "new-" + random_key(50)
    remember(w, new)
    resp = set_key(w.client(), ident, {"key": new})
    assert_status(resp, 204)
    assert resp.body == b""
    assert resp.header("Allow") == SET_KEY_ALLOW
    w.tokens[ident].key = new
    assert_json(w.client().list({"identifier": ident}, token=new), 200, w.page([ident]))
    assert_json(w.client().list(token=old), 403, INVALID_TOKEN)
    assert_json(get_action(w.client(), ident, "view_key"), 200, {"key": new})
    # expiry and everything else untouched
    assert_json(retrieve(w.client(), ident), 200, before.json())


@pytest.mark.parametrize("key", [
    "key with spaces inside " + random_key(20),
    "ключ-" + random_key(20),
    "a+b%20c/=" + random_key(20),
    random_key(1024),
], ids=["spaces", "non-ascii", "punctuation", "1024"])
def test_keys_are_stored_verbatim_and_work(w, key):
    ident = fresh(w, "quinn")
    remember(w, key)
    assert_status(set_key(w.client(), ident, {"key": key}), 204)
    w.tokens[ident].key = key
    assert_json(get_action(w.client(), ident, "view_key"), 200, {"key": key})
    resp = w.client().request("GET", "/api/v3/core/tokens/", {"identifier": ident}, token=None,
                              headers={"Authorization": ("Bearer " + key).encode("utf-8")})
    assert_json(resp, 200, w.page([ident]))


def test_surrounding_whitespace_is_kept(w):
    ident = fresh(w, "quinn")
    key = "  padded " + random_key(30) + " \t"
    remember(w, key.strip())
    assert_status(set_key(w.client(), ident, {"key": key}), 204)
    w.tokens[ident].key = key
    assert_json(get_action(w.client(), ident, "view_key"), 200, {"key": key})
    assert_json(w.client().list(token=key.strip()), 403, INVALID_TOKEN)


def test_a_long_key_is_stored_verbatim(w):
    """§7.8: no length check on set_key."""
    ident = fresh(w, "quinn")
    key = random_key(4096)
    remember(w, key)
    assert_status(set_key(w.client(), ident, {"key": key}), 204)
    w.tokens[ident].key = key
    assert_json(get_action(w.client(), ident, "view_key"), 200, {"key": key})
    assert_json(w.client().list({"identifier": ident}, token=key), 200, w.page([ident]))


def test_set_key_on_an_app_password_does_not_make_it_a_credential(w):
    ident = fresh(w, "quinn", "app_password", expiring=True)
    key = "app-" + random_key(40)
    remember(w, key)
    assert_status(set_key(w.client(), ident, {"key": key}), 204)
    w.tokens[ident].key = key
    assert_json(get_action(w.client(), ident, "view_key"), 200, {"key": key})
    assert_json(w.client().list(token=key), 403, INVALID_TOKEN)


def test_set_key_on_an_expired_token_does_not_revive_it(w):
    """Expiry is not touched: an expired api token stays refused with its new key."""
    ident = fresh(w, "quinn", "api", expires="2020-01-01T00:00:00Z", expiring=True)
    key = "exp-" + random_key(40)
    remember(w, key)
    assert_status(set_key(w.client(), ident, {"key": key}), 204)
    w.tokens[ident].key = key
    assert_json(w.client().list(token=key), 403, INVALID_TOKEN)
    assert_json(retrieve(w.client(), ident), 200, w.token_json(ident))


@pytest.mark.parametrize("raw", [
    b"{}", b'{"key": null}', b'{"key": ""}', b'{"key": false}', b'{"key": 0}', b'{"key": 0.0}',
    b'{"other": "x"}', b"",
], ids=["missing", "null", "empty", "false", "zero", "zero-float", "other-field", "no-body"])
def test_falsy_keys_are_a_bare_400(w, raw):
    ident = fresh(w, "quinn")
    before = snapshot(w)
    resp = set_key(w.client(), ident, raw=raw)
    assert_status(resp, 400)
    assert resp.body == b"", resp.body
    assert_unchanged(w, before)
    assert authenticates(w, w.tokens[ident].key)


@pytest.mark.parametrize("value", [123, True, {"a": 1}, [1], 1.5, -1],
                         ids=["int", "true", "object", "list", "float", "negative"])
def test_non_string_keys_are_a_field_error(w, value):
    ident = fresh(w, "quinn")
    before = snapshot(w)
    assert_json(set_key(w.client(), ident, {"key": value}), 400, {"key": [NOT_STRING]})
    assert_unchanged(w, before)
    assert authenticates(w, w.tokens[ident].key)


@pytest.mark.parametrize("raw,ctype,status,body", [
    (b'{"key": "x', "application/json", 400, None),
    (b'{"key": "abc"}', "text/plain", 415,
     {"detail": 'Unsupported media type "text/plain" in request.'}),
    (b'{"key": "abc"}', None, 415, {"detail": 'Unsupported media type "" in request.'}),
    (b'{"key": "\\ud800"}', "application/json", 400, None),
], ids=["malformed", "text-plain", "no-content-type", "lone-surrogate"])
def test_set_key_bad_bodies(w, raw, ctype, status, body):
    ident = fresh(w, "quinn")
    before = snapshot(w)
    resp = set_key(w.client(), ident, raw=raw, content_type=ctype)
    if body is None:
        assert_status(resp, status)
        assert list(resp.json()) == ["detail"]
        assert resp.json()["detail"].startswith("JSON parse error - ")
    else:
        assert_json(resp, status, body)
    assert_unchanged(w, before)


def test_set_key_body_that_is_not_an_object_is_a_400(w):
    ident = fresh(w, "quinn")
    before = snapshot(w)
    for raw in (b'["abc"]', b'"abc"'):
        assert_status(set_key(w.client(), ident, raw=raw), 400)
    assert_unchanged(w, before)


@pytest.mark.parametrize("made_by", ["cli", "self-api"])
def test_plain_user_cannot_set_the_key_of_their_own_token(w, made_by):
    ident = fresh(w, "pat") if made_by == "cli" else api_made(w, "pat")
    if w.tokens[ident].key is None:
        view_key(w, ident)
    before = snapshot(w)
    new = "pat-" + random_key(40)
    remember(w, new)
    resp = set_key(w.client("pat"), ident, {"key": new})
    assert_json(resp, 403, FORBIDDEN)
    assert resp.header("Allow") == SET_KEY_ALLOW
    assert_unchanged(w, before)
    assert authenticates(w, w.tokens[ident].key)
    assert not authenticates(w, new)


@pytest.mark.parametrize("target", ["other", "unknown"])
def test_plain_user_gets_404_on_set_key_of_other_tokens(w, target):
    ident = fresh(w, "quinn") if target == "other" else "no-such-token"
    before = snapshot(w)
    assert_json(set_key(w.client("pat"), ident, {"key": "x" * 30}), 404, NOT_FOUND)
    assert_unchanged(w, before)


def test_superuser_set_key_unknown_identifier(w):
    assert_json(set_key(w.client(), "no-such-token", {"key": "x" * 30}), 404, NOT_FOUND)


def test_set_key_needs_authentication(w):
    before = snapshot(w)
    resp = w.client().request("POST", detail("pat-login", "set_key"), token=None,
                              body=b'{"key": "xxxxxxxxxxxxxxxxxxxx"}',
                              headers={"Content-Type": "application/json"})
    assert_json(resp, 403, NOT_PROVIDED)
    assert_unchanged(w, before)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_set_key_methods(w, method):
    resp = w.client().request(method, detail("pat-login", "set_key"))
    assert_json(resp, 405, method_not_allowed(method))
    assert resp.header("Allow") == SET_KEY_ALLOW


# -- used_by ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("ident", ["pat-login", "quinn-login", BOOTSTRAP])
def test_used_by_for_the_superuser(w, ident):
    resp = get_action(w.client(), ident, "used_by")
    assert_json(resp, 200, [])
    assert resp.header("Allow") == USED_BY_ALLOW
    assert_json(get_action(w.client(), ident, "used_by", query="page=7&page_size=1"), 200, [])


def test_used_by_unknown_identifier(w):
    assert_json(get_action(w.client(), "no-such-token", "used_by"), 404, NOT_FOUND)


@pytest.mark.parametrize("ident", ["pat-login", "quinn-login", "no-such-token", "self-api"])
def test_used_by_is_403_for_plain_users(w, ident):
    if ident == "self-api":
        ident = api_made(w, "pat")
    resp = get_action(w.client("pat"), ident, "used_by")
    assert_json(resp, 403, FORBIDDEN)
    assert resp.header("Allow") == USED_BY_ALLOW


def test_used_by_needs_authentication(w):
    assert_json(get_action(w.client(), "pat-login", "used_by", token=None), 403, NOT_PROVIDED)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_used_by_methods(w, method):
    resp = send(w.client(), method, detail("pat-login", "used_by"), {})
    assert_json(resp, 405, method_not_allowed(method))
    assert resp.header("Allow") == USED_BY_ALLOW


def test_head_and_options_on_actions(w):
    for action, allow in (("view_key", VIEW_KEY_ALLOW), ("used_by", USED_BY_ALLOW)):
        resp = w.client().request("HEAD", detail("pat-login", action))
        assert_status(resp, 200)
        assert resp.body == b"" and resp.header("Allow") == allow
    for action, allow in (("view_key", VIEW_KEY_ALLOW), ("set_key", SET_KEY_ALLOW),
                          ("used_by", USED_BY_ALLOW)):
        resp = w.client().request("OPTIONS", detail("pat-login", action))
        assert_status(resp, 200)
        assert resp.header("Allow") == allow


@pytest.mark.parametrize("path", [
    detail("pat-login")[:-1] + "/view_key",
    detail("pat-login") + "set_key",
    detail("pat-login") + "view_key/x/",
    detail("pat-login") + "rotate/",
    detail("pat-login") + "View_Key/",
])
def test_action_paths_that_do_not_exist(w, path):
    assert_json(w.client().request("GET", path), 404, NOT_FOUND)


def test_no_key_in_events_or_log(w):
    for ident in list(w.tokens):
        if w.tokens[ident].key is None:
            view_key(w, ident)
    assert_no_secrets(w)
