"""RFC 7662 introspection at POST /api/v3/tokend/introspect/ (extensions contract X4, with X1-X2
for the settings it honours), black-box.

Checked: who may call (a superuser's or a service account's token, `introspect` needed by a
scoped caller token, 403 for anyone else and for missing or bad credentials, as the API answers
them); the body as application/x-www-form-urlencoded or JSON, `token_type_hint` ignored, a
missing or empty token 400; the active object exactly (keys in order, exp integer unix seconds,
jti the core token's pk, sub the owner's uid, scope "" for [] and absent for null); exactly
{"active": false} for every token that does not qualify (unknown, expired, recovery and
verification intents, inactive owner, no uses left, over its rate limit, `client_ip` outside
allowed_networks); an active introspection is a use of the introspected token, an inactive one
is not; the caller's request is a use of the caller's token.

The module's server writes usage every second.
"""

import itertools
import json
import time
import urllib.parse

import pytest

pytest.register_assert_rewrite("tokendapi", "verifyapi")

from harness import (Client, assert_json, assert_status, note_key, random_key,  # noqa: E402
                     served)
from tokenapi import detail, send  # noqa: E402
from tokendapi import current, rotate, tpatch, usage_reaches  # noqa: E402
from verifyapi import (FORBIDDEN, INACTIVE, INTROSPECT, INVALID_TOKEN, NOT_PROVIDED,  # noqa: E402
                       UNSUPPORTED, active, assert_exact_json, basic, form, introspect, verify)
from world import ADMIN_GROUP, World, learn_users  # noqa: E402

FAR = "2099-01-01T00:00:00Z"
FAR_UNIX = 4070908800
PAST = "2020-01-01T00:00:00Z"
FLUSH_S = 1
REQUIRED = {"token": ["This field is required."]}
FORM = "application/x-www-form-urlencoded"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    env = {"TOKEND_USAGE_FLUSH": f"seconds={FLUSH_S}"}
    with served(tmp_path_factory.mktemp("tokend-introspect"), extra_env=env) as server:
        world = World(server)
        world.add_user("sue", "Sue Super", "sue@example.com", groups=[ADMIN_GROUP])
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("ina", "Ina Active", "ina@example.com", inactive=True)
        world.add_user("svc", "svc", path="goauthentik.io/service-accounts",
                       type="service_account")
        world.add_user("isvc", "isvc", path="goauthentik.io/service-accounts",
                       type="internal_service_account")
        world.add_user("ext", "Ext Ernal", "ext@example.com", type="external")
        world.add_user("svc-off", "svc-off", path="goauthentik.io/service-accounts",
                       type="service_account", inactive=True)
        learn_users(world, world.client())
        yield world


def fresh(w, owner="pat", intent="api", expires=FAR, expiring=False, **settings):
    """A new CLI-made token with a known key; `settings` PATCHed through tokend/tokens/."""
    ident = f"i-{owner}-{next(_n)}"
    w.add_token(ident, owner, intent, expires=expires, expiring=expiring, key=random_key())
    if settings:
        assert_status(tpatch(w.client(), ident, settings), 200)
    return ident


def key(w, ident):
    return w.tokens[ident].key


def caller(w, owner, intent="api", **settings):
    ident = fresh(w, owner, intent, **settings)
    return ident, Client(w.server, key(w, ident))


def body_of(resp):
    assert resp.status == 200, resp
    assert resp.media_type == "application/json", resp.header("Content-Type")
    return resp.json()


def assert_active(resp, want):
    assert_exact_json(body_of(resp), dict(want))


def assert_inactive(resp):
    assert_exact_json(body_of(resp), INACTIVE)


@pytest.fixture(scope="module")
def target(w):
    """A token to introspect: pat's, scoped, expiring, unlimited."""
    ident = fresh(w, "pat", expiring=True, scopes=["orders:write", "billing:read"])
    return ident, active(w, ident, scopes=["billing:read", "orders:write"], exp=FAR_UNIX,
                         superuser=False)


# -- who may call -----------------------------------------------------------------------------------

@pytest.mark.parametrize("owner,scopes", [
    ("sue", None),                       # a superuser
    ("svc", None),                       # user type service_account
    ("isvc", None),                      # user type internal_service_account
    ("sue", ["introspect"]),             # a scoped caller with `introspect`
    ("svc", ["introspect", "billing:read"]),
    ("isvc", ["introspect"]),
], ids=lambda v: ",".join(v) if isinstance(v, list) else str(v))
def test_allowed_callers(w, target, owner, scopes):
    ident, want = target
    _, client = caller(w, owner, **({} if scopes is None else {"scopes": scopes}))
    assert_active(introspect(client, key(w, ident)), want)


def test_the_bootstrap_superuser_may_call(w, target):
    ident, want = target
    assert_active(introspect(w.client(), key(w, ident)), want)


@pytest.mark.parametrize("owner,scopes", [
    ("pat", None),                       # a plain user
    ("ext", None),                       # an external user
    ("pat", ["introspect"]),             # a scope never widens the owner's rights (X2)
    ("sue", ["tokens:read"]),            # a scoped caller without `introspect`
    ("sue", []),
    ("svc", ["users:read", "tokens:read"]),
    ("isvc", ["billing:read"]),
], ids=lambda v: ",".join(v) if isinstance(v, list) else str(v))
def test_refused_callers(w, target, owner, scopes):
    """403 {"detail": "You do not have permission to perform this action."}; decided before the
    body is looked at (a missing token is 403 too, not 400: authentication and permission come
    first, as everywhere in the API), and nothing about the token is revealed."""
    ident, _ = target
    _, client = caller(w, owner, **({} if scopes is None else {"scopes": scopes}))
    for resp in (introspect(client, key(w, ident)),
                 introspect(client, "no-such-key-" + random_key(20)),
                 introspect(client),
                 introspect(client, body=form([("token", key(w, ident))]), content_type=FORM)):
        assert_json(resp, 403, FORBIDDEN)


def test_caller_credentials_as_the_api_checks_them(w, target):
    """No credentials, a bad key, another scheme: the API's 403 bodies (docs/api.md §1.1, §3), never
    401 and never a challenge (assert_json checks both). app_password tokens and tokens of
    inactive users do not authenticate the API."""
    ident, _ = target
    k = key(w, ident)
    anon = Client(w.server)
    assert_json(introspect(anon, k), 403, NOT_PROVIDED)
    assert_json(introspect(anon.as_token("no-such-key-" + random_key(20)), k), 403, INVALID_TOKEN)
    bootstrap = w.server.bootstrap_key
    for auth in (basic("akadmin", bootstrap), "Token " + bootstrap):
        resp = anon.request("POST", INTROSPECT, headers={"Authorization": auth,
                                                          "Content-Type": "application/json"},
                            body=json.dumps({"token": k}).encode())
        assert_json(resp, 403, UNSUPPORTED)
    _, app = caller(w, "sue", "app_password")
    assert_json(introspect(app, k), 403, INVALID_TOKEN)
    _, off = caller(w, "svc-off")
    assert_json(introspect(off, k), 403, INVALID_TOKEN)
    _, expired = caller(w, "sue", expires=PAST, expiring=True)
    assert_json(introspect(expired, k), 403, INVALID_TOKEN)


# -- the body ---------------------------------------------------------------------------------------

def test_form_and_json_bodies(w, target):
    ident, want = target
    k = key(w, ident)
    cases = [
        (FORM, form([("token", k)])),
        (FORM, form([("token", k), ("token_type_hint", "access_token")])),
        (FORM, form([("token_type_hint", "refresh_token"), ("token", k)])),  # hint ignored
        (FORM, form([("token", k), ("token_type_hint", "bogus"), ("other", "x")])),
        (FORM + "; charset=utf-8", form([("token", k)])),
        ("application/json", json.dumps({"token": k}).encode()),
        ("application/json", json.dumps({"token": k, "token_type_hint": "bogus"}).encode()),
        ("application/json; charset=utf-8", json.dumps({"token": k, "x": [1]}).encode()),
    ]
    for ctype, body in cases:
        assert_active(introspect(w.client(), k, body=body, content_type=ctype), want)


def test_form_values_are_percent_decoded(w):
    """A key any string can be (set_key, docs/api.md §13): `+` is a space in a form, `%2B` a plus."""
    special = "Sp3cial key+/=&%?;#" + random_key(16)
    ident = fresh(w, "pat")
    assert_status(send(w.client(), "POST", detail(ident, "set_key"), {"key": special}), 204)
    note_key(special)
    want = active(w, ident, superuser=False)
    assert_active(introspect(w.client(), special, body=form([("token", special)]),
                             content_type=FORM), want)
    assert_active(introspect(w.client(), special), want)
    # the key's own "+" sent unencoded is a space: another key
    raw_plus = ("token=" + urllib.parse.quote(special, safe="+")).encode()
    assert_inactive(introspect(w.client(), None, body=raw_plus, content_type=FORM))


@pytest.mark.parametrize("ctype,body", [
    (FORM, b""),
    (FORM, b"token="),
    (FORM, b"token_type_hint=access_token"),
    (FORM, b"token_type_hint=access_token&token="),
    ("application/json", b"{}"),
    ("application/json", b'{"token": ""}'),
    ("application/json", b'{"token_type_hint": "access_token"}'),
    (None, b""),                       # no body at all: {} (docs/api.md §1.2)
], ids=repr)
def test_missing_or_empty_token_is_400(w, ctype, body):
    resp = introspect(w.client(), None, body=body, content_type=ctype)
    assert_json(resp, 400, REQUIRED)


def test_other_media_types_are_415(w, target):
    """The API's wire conventions (docs/api.md §1.2), which X4 does not override."""
    k = key(w, target[0])
    resp = introspect(w.client(), None, body=b"token=" + k.encode(), content_type="text/plain")
    assert_json(resp, 415, {"detail": 'Unsupported media type "text/plain" in request.'})


def test_only_post(w):
    resp = w.client().request("GET", INTROSPECT)
    assert_json(resp, 405, {"detail": 'Method "GET" not allowed.'})
    allow = [m.strip() for m in (resp.header("Allow") or "").split(",")]
    assert "POST" in allow and "GET" not in allow, allow
    assert_json(w.client().request("POST", INTROSPECT[:-1]), 404, {"detail": "Not found."})


# -- the active object ------------------------------------------------------------------------------

@pytest.mark.parametrize("owner,intent,scopes,expiring,superuser", [
    ("pat", "api", None, False, False),            # scope and exp absent
    ("pat", "api", [], True, False),               # scope ""
    ("sue", "api", ["z", "a:b", "m/n"], False, True),
    ("sue", "app_password", ["x"], True, True),
    ("svc", "api", None, True, False),
    ("pat", "app_password", None, False, False),
])
def test_the_active_object(w, owner, intent, scopes, expiring, superuser):
    ident = fresh(w, owner, intent, expiring=expiring,
                  **({} if scopes is None else {"scopes": scopes}))
    want = active(w, ident, scopes=scopes, exp=FAR_UNIX if expiring else None,
                  superuser=superuser)
    got = body_of(introspect(w.client(), key(w, ident)))
    assert_exact_json(got, dict(want))
    # types as RFC 7662 has them
    assert got["active"] is True and type(got["is_superuser"]) is bool
    if expiring:
        assert type(got["exp"]) is int
    # the same object from verify (X4: "as introspection below")
    assert_exact_json(verify(w.server, key(w, ident)).json(), got)


# -- {"active": false} -------------------------------------------------------------------------------

def test_tokens_that_do_not_qualify_are_inactive(w):
    cases = {
        "unknown": ("no-such-key-" + random_key(20), None),
        "expired api": (None, fresh(w, "pat", "api", expires=PAST, expiring=True)),
        "expired app_password": (None, fresh(w, "pat", "app_password", expires=PAST,
                                             expiring=True)),
        "recovery": (None, fresh(w, "pat", "recovery")),
        "verification": (None, fresh(w, "pat", "verification")),
        "inactive owner": (None, fresh(w, "ina", "api")),
        "no uses left": (None, fresh(w, "pat", "api", uses_remaining=0)),
    }
    live = fresh(w, "pat")
    cases["another key's prefix"] = (key(w, live)[:-1], None)
    cases["with a space before"] = (" " + key(w, live), None)
    for what, (k, ident) in cases.items():
        k = k or key(w, ident)
        for resp in (introspect(w.client(), k),
                     introspect(w.client(), k, body=form([("token", k)]), content_type=FORM)):
            assert (what, resp.status) == (what, 200), resp
            assert_inactive(resp)
    time.sleep(FLUSH_S + 0.5)
    for what, (_, ident) in cases.items():
        if ident:
            got = current(w.client(), ident)
            assert (what, got["use_count"]) == (what, 0)
    assert current(w.client(), live)["use_count"] == 0
    assert current(w.client(), cases["no uses left"][1])["uses_remaining"] == 0


def test_deleted_and_rotated_out_keys_are_inactive_at_once(w):
    gone = fresh(w, "pat")
    turned = fresh(w, "pat")
    for ident in (gone, turned):
        for _ in range(2):
            assert body_of(introspect(w.client(), key(w, ident)))["active"] is True
    assert_status(w.client().request("DELETE", detail(gone)), 204)
    assert_inactive(introspect(w.client(), key(w, gone)))
    resp = rotate(w.client(), turned, {})
    assert_status(resp, 200)
    new = resp.json()["key"]
    assert_inactive(introspect(w.client(), key(w, turned)))
    w.tokens[turned].key = new
    assert_active(introspect(w.client(), new), active(w, turned, superuser=False))


def test_an_inactive_owner_is_inactive_at_once(w):
    owner = f"own{next(_n)}"
    w.add_user(owner, "Own Er", f"{owner}@example.com")
    ident = fresh(w, owner)
    assert_active(introspect(w.client(), key(w, ident)), active(w, ident, superuser=False))
    resp = send(w.client(), "PATCH", f"/api/v3/core/users/{w.users[owner].pk}/",
                {"is_active": False})
    assert_status(resp, 200)
    assert_inactive(introspect(w.client(), key(w, ident)))


def test_over_the_rate_limit_is_inactive(w):
    ident = fresh(w, "pat", rate_limit="2/minute", uses_remaining=10)
    want = active(w, ident, superuser=False)
    now = time.gmtime()
    if now.tm_sec >= 56:  # rate windows are aligned to the minute (docs/api.md §19.3)
        time.sleep(61 - now.tm_sec)
    assert_active(introspect(w.client(), key(w, ident)), want)
    assert_active(introspect(w.client(), key(w, ident)), want)
    for _ in range(3):
        assert_inactive(introspect(w.client(), key(w, ident)))
    # the limit is shared with the token's other uses: verify is refused too
    assert verify(w.server, key(w, ident)).status == 429
    assert current(w.client(), ident)["uses_remaining"] == 8
    usage_reaches(w.client(), ident, 2)


# -- client_ip against allowed_networks ------------------------------------------------------------

def test_client_ip(w):
    """X4: allowed_networks is checked against the body field client_ip "when given". Reading:
    without client_ip the networks are not checked (the caller's own address is not the
    token's client), so the answer is active even though the caller, 127.0.0.1, is outside."""
    ident = fresh(w, "pat", allowed_networks=["10.0.0.0/8", "2001:db8::/32"], uses_remaining=20)
    k = key(w, ident)
    want = active(w, ident, superuser=False)
    ok = ["10.1.2.3", "10.255.255.255", "::ffff:10.1.2.3", "2001:db8::1", "2001:db8:ffff::"]
    bad = ["192.0.2.1", "11.0.0.1", "127.0.0.1", "::1", "2001:db9::1", "::ffff:192.0.2.1"]
    assert_active(introspect(w.client(), k), want)
    for ip in ok:
        assert_active(introspect(w.client(), k, extra={"client_ip": ip}), want)
    assert_active(introspect(w.client(), None, body=form([("token", k), ("client_ip", "10.9.8.7")]),
                             content_type=FORM), want)
    for ip in bad:
        assert_inactive(introspect(w.client(), k, extra={"client_ip": ip}))
    assert_inactive(introspect(w.client(), None, body=form([("token", k), ("client_ip", "192.0.2.1")]),
                               content_type=FORM))
    # inactive answers took no use
    n = 2 + len(ok)
    assert current(w.client(), ident)["uses_remaining"] == 20 - n
    # a token without networks is active from anywhere
    free = fresh(w, "pat")
    assert_active(introspect(w.client(), key(w, free), extra={"client_ip": "192.0.2.1"}),
                  active(w, free, superuser=False))


# -- uses --------------------------------------------------------------------------------------------

def test_an_active_introspection_is_a_use(w):
    ident = fresh(w, "pat", uses_remaining=2)
    want = active(w, ident, superuser=False)
    assert_active(introspect(w.client(), key(w, ident)), want)
    assert current(w.client(), ident)["uses_remaining"] == 1
    assert_active(introspect(w.client(), key(w, ident), body=form([("token", key(w, ident))]),
                             content_type=FORM), want)
    assert current(w.client(), ident)["uses_remaining"] == 0
    assert_inactive(introspect(w.client(), key(w, ident)))
    got = usage_reaches(w.client(), ident, 2)
    assert got["last_used"] is not None
    time.sleep(FLUSH_S + 0.5)
    got = current(w.client(), ident)
    assert (got["uses_remaining"], got["use_count"]) == (0, 2)


def test_the_callers_request_is_a_use_of_the_callers_token(w, target):
    ident, want = target
    cid, client = caller(w, "svc")
    for _ in range(3):
        assert_active(introspect(client, key(w, ident)), want)
    assert_inactive(introspect(client, "no-such-key-" + random_key(20)))
    got = usage_reaches(w.client(), cid, 4)
    assert got["last_used_ip"] == "127.0.0.1"
    # a caller with uses_remaining runs out like any other use of its token
    cid2, client2 = caller(w, "svc", uses_remaining=2)
    assert_active(introspect(client2, key(w, ident)), want)
    assert_inactive(introspect(client2, "no-such-key-" + random_key(20)))
    assert_json(introspect(client2, key(w, ident)), 403, INVALID_TOKEN)
    assert current(w.client(), cid2)["uses_remaining"] == 0
