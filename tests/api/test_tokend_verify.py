"""Forward auth at /api/v3/tokend/verify/ (extensions contract X4, with X1-X2 for the settings it
honours and X5 for the client address), black-box.

Checked: every method answered alike, a request body ignored; the credential is the request's
Authorization header parsed as docs/api.md §3.1; api and app_password tokens qualify, recovery and
verification tokens never; the 200 body (the introspection active object, keys in order) and the
X-Tokend-* headers; 401 with `WWW-Authenticate: Bearer realm="tokend"` (plus
`error="invalid_token"` when a credential was sent) and the docs/api.md §1.1 detail body; `scope`
(repeatable, all required) and `intent` (repeatable) parameters; 403 insufficient_scope for a
missing scope or a client outside allowed_networks; 429 for rate_limit; a 200 is one use
(use_count, last_used, last_used_ip, uses_remaining, rate_limit shared with API uses), a refusal
is none; the client address behind a trusted proxy; changes made through the API (or the CLI)
seen by the next verify; the failed-attempt throttle shared with API authentication.

The module's server writes usage every second and trusts 127.0.0.1/32 as a proxy (X5), so a
request from 127.0.0.1 with X-Forwarded-For comes from the forwarded address and one from
127.0.0.2 is an untrusted peer. The failed-attempt throttle runs on a server of its own.
"""

import datetime
import itertools
import math
import time

import pytest

pytest.register_assert_rewrite("tokendapi", "verifyapi")

from harness import Client, assert_status, random_key, served  # noqa: E402
from tokenapi import Clock, detail, out, parse_rfc3339, retrieve, send  # noqa: E402
from tokendapi import current, poll, rotate, tpatch, usage_reaches  # noqa: E402
from verifyapi import (CHALLENGE_INVALID, FORBIDDEN, INVALID_TOKEN, METHODS, ME,  # noqa: E402
                       NOT_PROVIDED, UNSUPPORTED, VERIFY, active, assert_exact_json,
                       assert_failures_throttled, assert_insufficient, assert_invalid,
                       assert_rate_limited, assert_unauthenticated, basic, check_verified,
                       raw, unix, verify)
from world import ADMIN_GROUP, World, learn_users  # noqa: E402

FAR = "2099-01-01T00:00:00Z"
FAR_UNIX = 4070908800
PAST = "2020-01-01T00:00:00Z"
FLUSH_S = 1
SLACK = datetime.timedelta(seconds=2)
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    env = {"TOKEND_USAGE_FLUSH": f"seconds={FLUSH_S}", "TOKEND_TRUSTED_PROXIES": "127.0.0.1/32"}
    with served(tmp_path_factory.mktemp("tokend-verify"), extra_env=env) as server:
        world = World(server)
        world.add_user("sue", "Sue Super", "sue@example.com", groups=[ADMIN_GROUP])
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("ina", "Ina Active", "ina@example.com", inactive=True)
        learn_users(world, world.client())
        yield world


def fresh(w, owner="pat", intent="api", expires=FAR, expiring=False, **settings):
    """A new CLI-made token with a known key; `settings` PATCHed through tokend/tokens/."""
    ident = f"v-{owner}-{next(_n)}"
    w.add_token(ident, owner, intent, expires=expires, expiring=expiring, key=random_key())
    if settings:
        assert_status(tpatch(w.client(), ident, settings), 200)
    return ident


def key(w, ident):
    return w.tokens[ident].key


def usage(w, ident):
    got = current(w.client(), ident)
    return got["uses_remaining"], got["use_count"]


# -- the 200 answer -------------------------------------------------------------------------------

def test_every_method_is_answered_alike_and_each_is_one_use(w):
    ident = fresh(w, "pat", expiring=True, scopes=["orders:write", "billing:read"],
                  uses_remaining=100)
    want = active(w, ident, scopes=["billing:read", "orders:write"], exp=FAR_UNIX,
                  superuser=False)
    assert dict(want) == {"active": True, "scope": "billing:read orders:write",
                          "client_id": ident, "username": "pat", "sub": want["sub"],
                          "token_type": "api", "exp": FAR_UNIX, "jti": want["jti"],
                          "is_superuser": False}
    with Clock() as c:
        for method in METHODS:
            check_verified(verify(w.server, key(w, ident), method=method), want, method)
    # seven 200s: seven uses, uses_remaining exact at once, the rest after a flush
    assert usage(w, ident)[0] == 93
    got = usage_reaches(w.client(), ident, 7)
    assert got["last_used_ip"] == "127.0.0.1"
    last = parse_rfc3339(got["last_used"])
    assert c.lo - SLACK <= last <= c.hi + SLACK, (got["last_used"], out(c.lo), out(c.hi))
    time.sleep(FLUSH_S + 0.5)
    assert usage(w, ident) == (93, 7)


@pytest.mark.parametrize("owner,intent,scopes,expiring,superuser", [
    ("pat", "api", None, False, False),            # scopes null: no scope key, no header
    ("pat", "api", [], False, False),              # []: scope "", the header present and empty
    ("sue", "api", ["b", "a", "tokens:read"], True, True),
    ("sue", "app_password", None, True, True),     # app_password qualifies (not for the API)
    ("pat", "app_password", ["x"], False, False),
])
def test_the_active_object_and_headers(w, owner, intent, scopes, expiring, superuser):
    ident = fresh(w, owner, intent, expiring=expiring,
                  **({} if scopes is None else {"scopes": scopes}))
    want = active(w, ident, scopes=scopes, exp=FAR_UNIX if expiring else None,
                  superuser=superuser)
    resp = verify(w.server, key(w, ident))
    check_verified(resp, want)
    if scopes is None:
        assert "scope" not in resp.json() and resp.header("X-Tokend-Scopes") is None
    if scopes == []:
        assert resp.json()["scope"] == "" and resp.header_all("X-Tokend-Scopes") == [""]
    assert resp.header("X-Tokend-User") == str(w.users[owner].pk)
    assert resp.header("X-Tokend-Superuser") == ("true" if superuser else "false")


def test_an_expiring_token_has_exp_a_non_expiring_one_none(w):
    """exp is the token's expiry in unix seconds, whatever the year; absent when `expiring` is
    false even though `expires` holds a date."""
    soon = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            + datetime.timedelta(days=3))
    soon_text = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    a = fresh(w, "pat", expires=soon_text, expiring=True)
    b = fresh(w, "pat", expires=soon_text, expiring=False)
    got = verify(w.server, key(w, a)).json()
    assert got["exp"] == unix(soon_text) and type(got["exp"]) is int, got
    assert "exp" not in verify(w.server, key(w, b)).json()


# -- the credential: docs/api.md §3.1 ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def ann(w):
    """One token whose key the header tables below use."""
    ident = fresh(w, "pat")
    return ident, key(w, ident), active(w, ident, superuser=False)


def header_value(template, k):
    return template.format(k=k, cut=k[:-1], swapped=k.swapcase(), basic=basic("pat", k)[6:])


@pytest.mark.parametrize("header", [
    "Bearer {k}", "bearer {k}", "BEARER {k}", "BeArEr {k}",
    "\u00a0Bearer {k}\u2003",   # the header is stripped of (Unicode) whitespace first
], ids=repr)
def test_accepted_header_forms(w, ann, header):
    ident, k, want = ann
    check_verified(raw(w.server, auth=header_value(header, k)), want)


@pytest.mark.parametrize("header", [
    None, "", "   ", "Bearer", "bearer", "Bearer   ", "Basic", "Token",
    "Bearer\t{k}",        # a tab is not the separator
    "Bearer\u00a0{k}",    # nor a no-break space
], ids=repr)
def test_no_credentials(w, ann, header):
    """docs/api.md §3.1 rule 1: absent, empty, or no space after trimming = no credentials: 401 with
    the bare challenge and the "not provided" body. (Reading: such a header carries no
    credential, so no error="invalid_token", as RFC 6750 §3.1 has it for a request without
    authentication information.)"""
    for method in METHODS:
        resp = verify(w.server, method=method) if header is None else \
            raw(w.server, method=method, auth=header_value(header, ann[1]))
        assert_unauthenticated(resp, NOT_PROVIDED, method)


@pytest.mark.parametrize("header", [
    "Basic x", "Basic {basic}", "Token x", "Token {k}", "Bearerx {k}", "Bearer: {k}",
    "Digest username=akadmin", "JWT {k}",
], ids=repr)
def test_other_schemes_are_unsupported(w, ann, header):
    """docs/api.md §3.1 rule 2: another scheme is "Unsupported authentication type", even with a valid
    key in it; a credential was sent, so error="invalid_token"."""
    for method in ("GET", "HEAD", "POST"):
        assert_invalid(raw(w.server, method=method, auth=header_value(header, ann[1])),
                       UNSUPPORTED, method)


@pytest.mark.parametrize("header", [
    "Bearer  {k}",        # two spaces: the credential is " <key>"
    "Bearer {k} x", "Bearer {k}x", "Bearer {cut}",
    "Bearer {swapped}",   # keys are case-sensitive
    "Bearer x", "Bearer null", "Bearer cl\u00e9",
], ids=repr)
def test_a_wrong_credential(w, ann, header):
    """docs/api.md §3.1 rule 3: the credential is everything after the first space, verbatim."""
    for method in ("GET", "HEAD", "DELETE"):
        assert_invalid(raw(w.server, method=method, auth=header_value(header, ann[1])),
                       INVALID_TOKEN, method)


def test_a_header_that_is_not_utf8(w, ann):
    """A malformed credential (the API's 400 "Invalid Authorization header." case, docs/api.md
    §3): a credential was sent, so 401 with error="invalid_token" and a detail body (its wording
    is tokend's: only the shape is checked)."""
    for value in (b"Bearer \xff\xfe" + ann[1].encode(), b"Bearer " + ann[1].encode() + b"\xc3"):
        resp = raw(w.server, auth=value)
        assert resp.status == 401, resp
        assert resp.header_all("WWW-Authenticate") == [CHALLENGE_INVALID], resp.headers
        body = resp.json()
        assert list(body) == ["detail"] and isinstance(body["detail"], str) and body["detail"]


def test_a_body_is_ignored(w):
    """X4: "a request body is ignored" - whatever its media type or content, and a token in it
    is not a credential."""
    ident = fresh(w, "pat", uses_remaining=50)
    other = fresh(w, "pat")
    want = active(w, ident, superuser=False)
    bodies = [
        ("application/json", b'{"token": "x", "scope": "nothing"}'),
        ("application/json", b"[1, 2, 3]"),
        ("application/json", b"{not json"),
        ("text/plain", b"hello"),
        ("application/x-www-form-urlencoded", b"token=" + key(w, other).encode()),
        (None, b"\x00\xff\xfe binary"),
    ]
    n = 0
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for ctype, body in bodies:
            headers = [("Content-Type", ctype)] if ctype else []
            check_verified(raw(w.server, method, key=key(w, ident), headers=headers, body=body),
                           want)
            n += 1
    # each is exactly one use (the check of the headers before the body is not a second one)
    assert usage(w, ident)[0] == 50 - n
    # a key in the body does not authenticate a request without a header
    resp = raw(w.server, "POST", headers=[("Content-Type", "application/x-www-form-urlencoded")],
               body=b"token=" + key(w, other).encode())
    assert_unauthenticated(resp)
    assert usage(w, other) == (None, 0)


# -- tokens that do not qualify ---------------------------------------------------------------------

def test_refused_tokens_are_401_invalid_token_and_no_use(w):
    cases = {
        "expired api": fresh(w, "pat", "api", expires=PAST, expiring=True),
        "expired app_password": fresh(w, "pat", "app_password", expires=PAST, expiring=True),
        "recovery": fresh(w, "pat", "recovery"),
        "verification": fresh(w, "pat", "verification"),
        "inactive owner": fresh(w, "ina", "api"),
        "inactive owner, app_password": fresh(w, "ina", "app_password"),
        "no uses left": fresh(w, "pat", "api", uses_remaining=0),
    }
    for what, ident in cases.items():
        for method in METHODS:
            resp = verify(w.server, key(w, ident), method=method)
            assert (what, method, resp.status) == (what, method, 401), resp
            assert_invalid(resp, INVALID_TOKEN, method)
        # asking for its own intent does not make a flow token qualify
        intent = w.tokens[ident].intent
        assert_invalid(verify(w.server, key(w, ident), query=[("intent", intent)]))
    # the expired token was not deleted by presenting it (docs/api.md §17.3)
    assert_status(retrieve(w.client(), cases["expired api"]), 200)
    # none of this was a use
    time.sleep(FLUSH_S + 0.5)
    for what, ident in cases.items():
        got = current(w.client(), ident)
        assert (what, got["use_count"], got["last_used"]) == (what, 0, None)
    assert current(w.client(), cases["no uses left"])["uses_remaining"] == 0


def test_an_expiring_token_stops_at_its_expiry(w):
    """A key seen a moment ago is refused once its expiry passes (an answer from memory must
    look at the clock)."""
    at = math.ceil(time.time()) + 3
    expires = datetime.datetime.fromtimestamp(at, datetime.timezone.utc)
    ident = fresh(w, "pat", expires=expires.strftime("%Y-%m-%dT%H:%M:%SZ"), expiring=True)
    want = active(w, ident, exp=at, superuser=False)
    check_verified(verify(w.server, key(w, ident)), want)
    check_verified(verify(w.server, key(w, ident)), want)
    time.sleep(max(0.0, at - time.time()) + 0.6)
    assert_invalid(verify(w.server, key(w, ident)))
    assert_invalid(verify(w.server, key(w, ident), method="HEAD"), method="HEAD")


# -- ?intent= ---------------------------------------------------------------------------------------

def test_the_intent_parameter_restricts_the_intents(w):
    api = fresh(w, "pat", "api")
    app = fresh(w, "pat", "app_password")
    want_api = active(w, api, superuser=False)
    want_app = active(w, app, superuser=False)
    for query in ([("intent", "api")], [("intent", "app_password"), ("intent", "api")],
                  [("intent", "api"), ("intent", "app_password")]):
        check_verified(verify(w.server, key(w, api), query=query), want_api)
    for query in ([("intent", "app_password")], [("intent", "app_password")] * 2,
                  [("intent", "recovery"), ("intent", "app_password")]):
        assert_invalid(verify(w.server, key(w, api), query=query))
        assert_invalid(verify(w.server, key(w, api), query=query, method="POST"))
    check_verified(verify(w.server, key(w, app), query=[("intent", "app_password")]), want_app)
    check_verified(verify(w.server, key(w, app)), want_app)
    assert_invalid(verify(w.server, key(w, app), query=[("intent", "api")]))
    # the refusals were no uses
    time.sleep(FLUSH_S + 0.5)
    assert current(w.client(), api)["use_count"] == 3
    assert current(w.client(), app)["use_count"] == 2


# -- ?scope= ----------------------------------------------------------------------------------------

def test_required_scopes(w):
    ident = fresh(w, "pat", scopes=["a:read", "b:write", "c", "tokens:read"], uses_remaining=20)
    want = active(w, ident, scopes=["a:read", "b:write", "c", "tokens:read"], superuser=False)
    k = key(w, ident)
    for query in ([("scope", "a:read")], [("scope", "a:read"), ("scope", "c")],
                  [("scope", "c"), ("scope", "b:write"), ("scope", "a:read")],
                  [("scope", "tokens:read")], [("scope", "c"), ("scope", "c")]):
        check_verified(verify(w.server, k, query=query), want)
    ok = 5
    for query in ([("scope", "d")], [("scope", "a:read"), ("scope", "d")],
                  [("scope", "d"), ("scope", "a:read")],
                  [("scope", "A:read")],              # scopes are compared exactly
                  [("scope", "a")], [("scope", "a:read b:write")],
                  [("scope", "introspect")]):
        for method in METHODS:
            assert_insufficient(verify(w.server, k, query=query, method=method), method)
    # a 403 is no use: only the five 200s took uses
    assert usage(w, ident)[0] == 20 - ok
    usage_reaches(w.client(), ident, ok)


def test_an_empty_scope_list_has_no_scope(w):
    ident = fresh(w, "pat", scopes=[])
    check_verified(verify(w.server, key(w, ident)), active(w, ident, scopes=[], superuser=False))
    assert_insufficient(verify(w.server, key(w, ident), query=[("scope", "a:read")]))


def test_a_token_without_scopes_has_every_scope(w):
    """Reading of X1/X2/X4: scopes null is "the owner's full rights" and scopes only ever narrow
    a token (X2, "Scopes narrow, never widen"): an unnarrowed token lacks no scope, so every
    required scope, tokend's own or an application's, is there. It still reports none (no
    `scope` key, no X-Tokend-Scopes): the service decides by the user. (docs/api.md §19.7 reads
    it the same way.)"""
    for owner, su in (("pat", False), ("sue", True)):
        ident = fresh(w, owner)
        want = active(w, ident, superuser=su)
        check_verified(verify(w.server, key(w, ident)), want)
        for query in ([("scope", "billing:read")], [("scope", "a"), ("scope", "introspect")],
                      [("scope", "tokens:write")]):
            check_verified(verify(w.server, key(w, ident), query=query), want)


# -- allowed_networks and the client address (X5) --------------------------------------------------

def test_allowed_networks(w):
    inside = fresh(w, "pat", allowed_networks=["127.0.0.1/32"])
    outside = fresh(w, "pat", allowed_networks=["10.0.0.0/8", "::1/128"])
    anywhere = fresh(w, "pat")
    want = active(w, inside, superuser=False)
    check_verified(verify(w.server, key(w, inside)), want)
    for method in METHODS:
        assert_insufficient(verify(w.server, key(w, outside), method=method), method)
        assert_insufficient(verify(w.server, key(w, inside), method=method, source="127.0.0.2"),
                            method)
    check_verified(verify(w.server, key(w, anywhere), source="127.0.0.2"),
                   active(w, anywhere, superuser=False))
    # refusals are no uses
    time.sleep(FLUSH_S + 0.5)
    assert current(w.client(), outside)["use_count"] == 0
    assert current(w.client(), inside)["use_count"] == 1


def test_the_client_address_behind_a_trusted_proxy(w):
    """X5: from 127.0.0.1 (trusted) the client is the right-most untrusted X-Forwarded-For
    address; IPv4-mapped is IPv4; from 127.0.0.2 (untrusted) the header is ignored.
    allowed_networks and last_used_ip follow the client address."""
    net = fresh(w, "pat", allowed_networks=["203.0.113.0/24"])
    mapped = fresh(w, "pat", allowed_networks=["203.0.113.0/24"])
    free = fresh(w, "pat")
    k = key(w, net)
    want = active(w, net, superuser=False)
    xff = "X-Forwarded-For"
    check_verified(verify(w.server, k, headers=[(xff, "203.0.113.9")]), want)
    check_verified(verify(w.server, k, headers=[(xff, "198.51.100.1, 203.0.113.9, 127.0.0.1")]),
                   want)
    assert_insufficient(verify(w.server, k, headers=[(xff, "203.0.113.9, 198.51.100.1")]))
    assert_insufficient(verify(w.server, k, headers=[(xff, "198.51.100.1")]))
    assert_insufficient(verify(w.server, k))  # no header: the peer, 127.0.0.1
    assert_insufficient(verify(w.server, k, headers=[(xff, "203.0.113.9")], source="127.0.0.2"))
    got = usage_reaches(w.client(), net, 2)
    assert got["last_used_ip"] == "203.0.113.9"
    check_verified(verify(w.server, key(w, mapped), headers=[(xff, "::ffff:203.0.113.7")]),
                   active(w, mapped, superuser=False))
    assert usage_reaches(w.client(), mapped, 1)["last_used_ip"] == "203.0.113.7"
    # an untrusted peer's X-Forwarded-For is not its address
    check_verified(verify(w.server, key(w, free), headers=[(xff, "198.51.100.50")],
                          source="127.0.0.2"), active(w, free, superuser=False))
    assert usage_reaches(w.client(), free, 1)["last_used_ip"] == "127.0.0.2"


# -- uses: uses_remaining and rate_limit ------------------------------------------------------------

def test_verify_takes_uses_remaining_exactly(w):
    ident = fresh(w, "pat", uses_remaining=3)
    want = active(w, ident, superuser=False)
    with Clock() as c:
        for i in range(3):
            check_verified(verify(w.server, key(w, ident)), want)
            assert usage(w, ident)[0] == 2 - i
    for method in ("GET", "HEAD", "POST"):
        assert_invalid(verify(w.server, key(w, ident), method=method), method=method)
    got = usage_reaches(w.client(), ident, 3)
    assert got["uses_remaining"] == 0 and got["last_used_ip"] == "127.0.0.1"
    assert c.lo - SLACK <= parse_rfc3339(got["last_used"]) <= c.hi + SLACK
    # more uses granted through the API: exactly that many more
    assert_status(tpatch(w.client(), ident, {"uses_remaining": 1}), 200)
    check_verified(verify(w.server, key(w, ident)), want)
    assert_invalid(verify(w.server, key(w, ident)))
    time.sleep(FLUSH_S + 0.5)
    assert usage(w, ident) == (0, 4)


def away_from_a_minute_boundary():
    """Rate windows are aligned to the period (docs/api.md §19.3): keep a test's few requests
    within one calendar minute (waits at most 4 s)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if now.second >= 56:
        time.sleep(60.2 - now.second - now.microsecond / 1e6)


def test_rate_limit_is_429_and_shared_with_api_uses(w):
    ident = fresh(w, "pat", rate_limit="3/minute", uses_remaining=10)
    want = active(w, ident, superuser=False)
    k = key(w, ident)
    away_from_a_minute_boundary()
    check_verified(verify(w.server, k), want)
    assert_status(Client(w.server, k).get(ME), 200)  # an API use counts toward the same limit
    check_verified(verify(w.server, k, method="POST"), want)
    for method in METHODS:
        assert_rate_limited(verify(w.server, k, method=method), method)
    assert_status(Client(w.server, k).get(ME), 429)
    # the limit is the token's own: another token of the owner is not limited
    other = fresh(w, "pat")
    for _ in range(4):
        check_verified(verify(w.server, key(w, other)), active(w, other, superuser=False))
    # a refused use takes nothing and counts nothing
    assert usage(w, ident)[0] == 7
    usage_reaches(w.client(), ident, 3)
    time.sleep(FLUSH_S + 0.5)
    assert usage(w, ident) == (7, 3)


# -- changes are seen by the next verify ----------------------------------------------------------

def _delete(w, ident, owner):
    assert_status(w.client().request("DELETE", detail(ident)), 204)


def _cli_revoke(w, ident, owner):
    w.server.cli("token", "revoke", ident)


def _rotate(w, ident, owner):
    resp = rotate(w.client(), ident, {})
    assert_status(resp, 200)
    return resp.json()["key"]


def _set_key(w, ident, owner):
    new = random_key()
    assert_status(send(w.client(), "POST", detail(ident, "set_key"), {"key": new}), 204)
    return new


def _no_uses(w, ident, owner):
    assert_status(tpatch(w.client(), ident, {"uses_remaining": 0}), 200)


def _deactivate(w, ident, owner):
    resp = send(w.client(), "PATCH", f"/api/v3/core/users/{w.users[owner].pk}/",
                {"is_active": False})
    assert_status(resp, 200)


def _intent(w, ident, owner):
    resp = send(w.client(), "PATCH", detail(ident), {"intent": "app_password"})
    assert_status(resp, 200)


CHANGES = {"deleted through the API": _delete, "revoked on the command line": _cli_revoke,
           "rotated": _rotate, "set_key": _set_key, "uses_remaining 0": _no_uses,
           "owner deactivated": _deactivate, "intent changed": _intent}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_is_seen_by_the_next_verify(w, change):
    owner = f"own{next(_n)}"
    w.add_user(owner, "Own Er", f"{owner}@example.com")
    ident = fresh(w, owner)
    old = key(w, ident)
    query = [("intent", "api")]
    want = active(w, ident, superuser=False)
    for _ in range(3):  # seen, and seen again (an answer from memory, issue 16)
        check_verified(verify(w.server, old, query=query), want)
    new = CHANGES[change](w, ident, owner)
    assert_invalid(verify(w.server, old, query=query))
    assert_invalid(verify(w.server, old, query=query, method="HEAD"), method="HEAD")
    if new is not None:  # the new key is the same token
        w.tokens[ident].key = new
        check_verified(verify(w.server, new, query=query), want)


def test_a_rotated_out_key_works_during_its_grace_window(w):
    """X3: during the grace window both keys authenticate, as the same token; both uses count
    on it."""
    ident = fresh(w, "pat", uses_remaining=10)
    old = key(w, ident)
    resp = rotate(w.client(), ident, {"grace": "minutes=5"})
    assert_status(resp, 200)
    w.tokens[ident].key = new = resp.json()["key"]
    want = active(w, ident, superuser=False)
    check_verified(verify(w.server, old), want)
    check_verified(verify(w.server, new), want)
    assert usage(w, ident)[0] == 8
    usage_reaches(w.client(), ident, 2)
    # rotating again ends the first window at once
    resp = rotate(w.client(), ident, {})
    assert_status(resp, 200)
    assert_invalid(verify(w.server, old))
    assert_invalid(verify(w.server, new))
    w.tokens[ident].key = resp.json()["key"]
    check_verified(verify(w.server, key(w, ident)), want)


def test_a_superseded_key_presented_to_verify_is_a_reuse(w):
    """X3: presenting a rotated-out key after its window is refused like any invalid key and,
    with revoke_on_reuse, deletes the token. Reading: a key presented to verify is presented to
    tokend as much as one presented to its API (a proxy is where a leaked key shows up)."""
    ident = fresh(w, "pat", revoke_on_reuse=True)
    old = key(w, ident)
    resp = rotate(w.client(), ident, {})
    assert_status(resp, 200)
    new = resp.json()["key"]
    check_verified(verify(w.server, new), active(w, ident, superuser=False))
    assert_invalid(verify(w.server, old))
    poll(lambda: retrieve(w.client(), ident).status == 404, what="the token to be deleted")
    assert_invalid(verify(w.server, new))
    w.tokens.pop(ident)


def test_settings_changed_through_the_api_are_seen_by_the_next_verify(w):
    ident = fresh(w, "pat", scopes=["a"])
    k = key(w, ident)
    check_verified(verify(w.server, k, query=[("scope", "a")]),
                   active(w, ident, scopes=["a"], superuser=False))
    assert_status(tpatch(w.client(), ident, {"scopes": ["b"]}), 200)
    assert_insufficient(verify(w.server, k, query=[("scope", "a")]))
    check_verified(verify(w.server, k, query=[("scope", "b")]),
                   active(w, ident, scopes=["b"], superuser=False))
    assert_status(tpatch(w.client(), ident, {"scopes": None}), 200)
    check_verified(verify(w.server, k), active(w, ident, superuser=False))
    assert_status(tpatch(w.client(), ident, {"allowed_networks": ["10.0.0.0/8"]}), 200)
    assert_insufficient(verify(w.server, k))
    assert_status(tpatch(w.client(), ident, {"allowed_networks": None}), 200)
    check_verified(verify(w.server, k), active(w, ident, superuser=False))


def test_superuser_status_follows_group_membership(w):
    owner = f"su{next(_n)}"
    w.add_user(owner, "Su Per", f"{owner}@example.com", groups=[ADMIN_GROUP])
    ident = fresh(w, owner)
    group = w.groups[ADMIN_GROUP].uuid
    assert group, "admin group uuid learned"
    resp = verify(w.server, key(w, ident))
    check_verified(resp, active(w, ident, superuser=True))
    resp = send(w.client(), "POST", f"/api/v3/core/groups/{group}/remove_user/",
                {"pk": w.users[owner].pk})
    assert_status(resp, 204)
    resp = verify(w.server, key(w, ident))
    check_verified(resp, active(w, ident, superuser=False))
    assert resp.header("X-Tokend-Superuser") == "false"


# -- the failed-attempt throttle --------------------------------------------------------------------

@pytest.fixture(scope="module")
def thr(tmp_path_factory):
    """A server whose failed-authentication bucket holds 3 failures and earns one back a
    second; 127.0.0.1 is a trusted proxy. Each test fails from an address of its own."""
    env = {"TOKEND_AUTH_FAILURE_BURST": "3", "TOKEND_AUTH_FAILURE_RATE": "1",
           "TOKEND_TRUSTED_PROXIES": "127.0.0.1/32"}
    with served(tmp_path_factory.mktemp("tokend-verify-throttle"), extra_env=env) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_token("pat-key", "pat", "api", expires=FAR, key=random_key())
        yield world


def test_failed_verifies_are_throttled(thr):
    src = "127.0.0.11"
    bad = "no-such-key-" + random_key(20)
    for _ in range(3):
        assert_invalid(verify(thr.server, bad, source=src))
    assert_failures_throttled(verify(thr.server, bad, source=src))
    assert_failures_throttled(raw(thr.server, auth="Basic abc", source=src))
    # the throttle is consulted after the lookup: the address's valid keys are still served
    check_verified(verify(thr.server, thr.tokens["pat-key"].key, source=src),
                   active(thr, "pat-key", superuser=False))
    # another address is not throttled
    assert_invalid(verify(thr.server, bad, source="127.0.0.12"))


def test_no_credentials_is_not_a_failed_attempt(thr):
    """As for the API (test_throttle.py): a request without a credential is not a failed
    authentication, so a proxy's anonymous traffic does not spend the bucket."""
    src = "127.0.0.13"
    for _ in range(8):
        assert_unauthenticated(verify(thr.server, source=src))
    bad = "no-such-key-" + random_key(20)
    for _ in range(3):
        assert_invalid(verify(thr.server, bad, source=src))
    assert_failures_throttled(verify(thr.server, bad, source=src))


def test_verify_and_api_failures_share_one_bucket(thr):
    src = "127.0.0.14"
    bad = "no-such-key-" + random_key(20)
    for _ in range(2):
        resp = raw(thr.server, "GET", ME, key=bad, source=src)
        assert (resp.status, resp.json()) == (403, INVALID_TOKEN)
    assert_invalid(verify(thr.server, bad, source=src))
    assert_failures_throttled(verify(thr.server, bad, source=src))
    assert_failures_throttled(raw(thr.server, "GET", ME, key=bad, source=src))


def test_the_throttle_counts_the_forwarded_client(thr):
    bad = "no-such-key-" + random_key(20)
    xff = [("X-Forwarded-For", "198.51.100.20")]
    for _ in range(3):
        assert_invalid(verify(thr.server, bad, headers=xff))
    assert_failures_throttled(verify(thr.server, bad, headers=xff))
    # another client behind the same proxy, and the proxy itself, have their own buckets
    assert_invalid(verify(thr.server, bad, headers=[("X-Forwarded-For", "198.51.100.21")]))
    assert_invalid(verify(thr.server, bad))
