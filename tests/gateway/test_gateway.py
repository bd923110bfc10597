"""tokend as the authority of real reverse proxies (issue 16 item 4; docs/api.md §19.7; README
"Protecting your own services"): Debian's nginx (auth_request) and Caddy (forward_auth), each
configured with contrib/'s snippets, in front of a small upstream service that echoes the
request it received. Every test runs through both proxies.

What a client sees, by tokend's answer to the proxy (the mapping README "Protecting your own
services" documents; nginx's refusals of 403, 429 and 500 come from contrib/'s @tokend_refused):

    tokend verify                     nginx                            Caddy
    200 + X-Tokend-Username           the service's answer; the service gets X-Remote-User
    401 + challenge                   401 + challenge, nginx's page    401, tokend's answer
    403 + insufficient_scope          403 + challenge, tokend's body   403, tokend's answer
    429 + Retry-After                 429 + Retry-After, tokend's body 429, tokend's answer
    (unreachable)                     500                              502

Clients connect from 127.0.0.1 or 127.0.0.2; the proxies reach tokend from 127.0.0.1, which
tokend trusts (TOKEND_TRUSTED_PROXIES), so allowed_networks apply to the client's address.
"""

import itertools
import json
import re
import time

import pytest

from gateway import PROXIES, SCOPE, SCOPED_PATH, Upstream, call, free_port
from harness import Client, random_key
from tokendapi import current, poll, tpatch

FAR = "2099-01-01T00:00:00Z"
OWNER = "gw-alice"
OTHER_ADDRESS = "127.0.0.2"

CHALLENGE = 'Bearer realm="tokend"'
INVALID = 'Bearer realm="tokend", error="invalid_token"'
INSUFFICIENT = 'Bearer realm="tokend", error="insufficient_scope"'
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Token invalid/expired"}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
THROTTLED_RE = r"Request was throttled\. Expected available in (\d+) seconds\."

_serial = itertools.count(1)


@pytest.fixture(scope="session")
def owner(tokend):
    tokend.cli("user", "create", OWNER, "--name", "Alice Gateway")
    return OWNER


def admin(tokend):
    return Client(tokend, tokend.bootstrap_key)


def make_token(tokend, owner, intent="api", expires=FAR, expiring=False, **settings):
    """A new token of `owner` made with the command line, then given tokend settings (scopes,
    allowed_networks, rate_limit) through PATCH tokend/tokens/{identifier}/; (identifier, key)."""
    ident = f"gw-{next(_serial)}-{intent}"
    key = random_key()
    tokend.cli("token", "create", ident, "--user", owner, "--intent", intent, "--expires",
               expires, "--expiring", "true" if expiring else "false", "--key", key)
    if settings:
        resp = tpatch(admin(tokend), ident, settings)
        assert resp.status == 200, resp
    return ident, key


def hits_during(upstream, fn):
    """fn()'s result and the requests the upstream received meanwhile."""
    before = len(upstream.hits)
    result = fn()
    return result, upstream.hits[before:]


def passed(proxy, upstream, path="/", **kw):
    """A request the proxy must let through: the upstream's record of it."""
    resp, hits = hits_during(upstream, lambda: call(proxy, path, **kw))
    assert resp.status == 200, f"{proxy}: {resp.status} {resp.body[:500]!r}"
    assert len(hits) == 1, hits
    seen = resp.json()
    assert seen == hits[0]
    return seen


def refused(proxy, upstream, status, path="/", challenge=None, expect=None, **kw):
    """A request the proxy must refuse with `status` without reaching the upstream; the
    WWW-Authenticate challenge exactly (None: no such header); `expect` is tokend's JSON, which
    Caddy copies always and nginx for 403 and 429 (on a 401 nginx answers its own page)."""
    resp, hits = hits_during(upstream, lambda: call(proxy, path, **kw))
    assert resp.status == status, f"{proxy}: {resp.status} {resp.body[:500]!r}"
    assert hits == [], f"{proxy} let a refused request through: {hits}"
    assert resp.header_all("WWW-Authenticate") == ([challenge] if challenge else []), resp.headers
    if expect is not None and (proxy.name == "caddy" or status != 401):
        assert resp.media_type == "application/json", resp.headers
        assert resp.json() == expect
    return resp


def header_values(seen, name):
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


# -- a valid key -----------------------------------------------------------------------------

def test_a_valid_key_reaches_the_upstream_with_the_username(proxy, tokend, upstream, owner):
    _, key = make_token(tokend, owner)
    seen = passed(proxy, upstream, "/app/page?x=1", key=key)
    assert (seen["method"], seen["path"]) == ("GET", "/app/page?x=1")
    assert header_values(seen, "X-Remote-User") == [owner]
    # the service may read the key itself too: it is passed on as it came
    assert header_values(seen, "Authorization") == ["Bearer " + key]


def test_a_client_cannot_choose_its_username(proxy, tokend, upstream, owner):
    _, key = make_token(tokend, owner)
    seen = passed(proxy, upstream, key=key, headers={"X-Remote-User": "akadmin"})
    assert header_values(seen, "X-Remote-User") == [owner]
    # and without a key the forged header is refused with everything else
    refused(proxy, upstream, 401, headers={"X-Remote-User": "akadmin"}, challenge=CHALLENGE)


def test_the_clients_query_is_not_sent_to_verify(proxy, tokend, upstream, owner):
    """verify's query is the location's own: a client's `?scope=` (or anything else in its
    query, which may hold secrets of the protected service) never reaches tokend. Caddy keeps
    the original query on a rewrite without one, hence `uri /api/v3/tokend/verify/?`."""
    _, none = make_token(tokend, owner, scopes=[])
    _, reports = make_token(tokend, owner, scopes=[SCOPE])
    marks = [random_key(20) for _ in range(2)]
    seen = passed(proxy, upstream, f"/app?scope={SCOPE}&probe={marks[0]}", key=none)
    assert seen["path"] == f"/app?scope={SCOPE}&probe={marks[0]}"
    passed(proxy, upstream, f"{SCOPED_PATH}?scope=reports:write&probe={marks[1]}", key=reports)
    log = tokend.log_text()
    assert all(m not in log for m in marks), "the client's query reached tokend"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_method_is_asked_alike(proxy, tokend, upstream, owner, method):
    _, key = make_token(tokend, owner)
    body = b'{"order": 66}'
    headers = {"Content-Type": "application/json"}
    seen = passed(proxy, upstream, "/app/items/1", method=method, key=key, body=body,
                  headers=headers)
    assert (seen["method"], seen["body"]) == (method, body.decode())
    assert header_values(seen, "X-Remote-User") == [owner]
    refused(proxy, upstream, 401, "/app/items/1", method=method, body=body, headers=headers,
            challenge=CHALLENGE, expect=NOT_PROVIDED)


@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_the_services_own_refusals_pass_unchanged(proxy, tokend, upstream, owner, status):
    """Only tokend's answers are mapped: the protected service's own 401/403/429/500 reach the
    client as the service sent them (nginx's error_page does not touch proxied answers)."""
    _, key = make_token(tokend, owner)
    resp, hits = hits_during(upstream, lambda: call(proxy, f"/status/{status}", key=key))
    assert len(hits) == 1 and resp.status == status, (resp, hits)
    assert resp.json() == hits[0]
    assert resp.header("WWW-Authenticate") is None


@pytest.mark.parametrize("intent,ok", [("api", True), ("app_password", True),
                                       ("recovery", False), ("verification", False)])
def test_which_intents_qualify(proxy, tokend, upstream, owner, intent, ok):
    _, key = make_token(tokend, owner, intent=intent)
    if ok:
        assert header_values(passed(proxy, upstream, key=key), "X-Remote-User") == [owner]
    else:
        refused(proxy, upstream, 401, key=key, challenge=INVALID, expect=INVALID_TOKEN)


# -- refusals ------------------------------------------------------------------------------------

def test_no_key_is_401(proxy, upstream):
    refused(proxy, upstream, 401, challenge=CHALLENGE, expect=NOT_PROVIDED)


@pytest.mark.parametrize("authorization", ["Bearer " + "x" * 40, "Bearer ", "Basic YTpi"])
def test_a_bad_key_is_401(proxy, upstream, authorization):
    want = INVALID if authorization != "Bearer " else CHALLENGE
    refused(proxy, upstream, 401, headers={"Authorization": authorization}, challenge=want)


def test_an_expired_key_is_401(proxy, tokend, upstream, owner):
    _, key = make_token(tokend, owner, expires="2020-01-01T00:00:00Z", expiring=True)
    refused(proxy, upstream, 401, key=key, challenge=INVALID, expect=INVALID_TOKEN)


def test_a_missing_scope_is_403(proxy, tokend, upstream, owner):
    """The location/route under /reports/ asks verify with ?scope=reports:read."""
    _, other = make_token(tokend, owner, scopes=["reports:write"])
    refused(proxy, upstream, 403, SCOPED_PATH, key=other, challenge=INSUFFICIENT, expect=FORBIDDEN)
    _, empty = make_token(tokend, owner, scopes=[])
    refused(proxy, upstream, 403, SCOPED_PATH, key=empty, challenge=INSUFFICIENT, expect=FORBIDDEN)
    # where no scope is asked, any valid key passes, [] included
    passed(proxy, upstream, "/app", key=other)
    passed(proxy, upstream, "/app", key=empty)
    # the scope, among others, or no scope list at all (the owner's full rights): through
    for scopes in ([SCOPE], ["reports:write", SCOPE]):
        _, key = make_token(tokend, owner, scopes=scopes)
        assert header_values(passed(proxy, upstream, SCOPED_PATH, key=key),
                             "X-Remote-User") == [owner]
    _, unscoped = make_token(tokend, owner)
    passed(proxy, upstream, SCOPED_PATH, key=unscoped)


def test_a_disallowed_network_is_403(proxy, tokend, upstream, owner):
    """The token allows 127.0.0.1 only: the same key from 127.0.0.2 is refused, and a forged
    X-Forwarded-For does not help (the proxy replaces it)."""
    _, key = make_token(tokend, owner, allowed_networks=["127.0.0.1/32"])
    passed(proxy, upstream, key=key)
    refused(proxy, upstream, 403, key=key, source=OTHER_ADDRESS, challenge=INSUFFICIENT,
            expect=FORBIDDEN)
    refused(proxy, upstream, 403, key=key, source=OTHER_ADDRESS, challenge=INSUFFICIENT,
            expect=FORBIDDEN, headers={"X-Forwarded-For": "127.0.0.1"})


def test_allowed_networks_apply_to_the_client_not_the_proxy(proxy, tokend, upstream, owner):
    """The token allows 127.0.0.2 only: tokend's TCP peer is always the proxy on 127.0.0.1, so
    the key passes only because tokend reads the client's address from the proxy's
    X-Forwarded-For; the use is recorded with that address too."""
    ident, key = make_token(tokend, owner, allowed_networks=[OTHER_ADDRESS + "/32"])
    refused(proxy, upstream, 403, key=key, challenge=INSUFFICIENT, expect=FORBIDDEN)
    seen = passed(proxy, upstream, key=key, source=OTHER_ADDRESS)
    assert header_values(seen, "X-Remote-User") == [owner]
    got = poll(lambda: (t := current(admin(tokend), ident))["use_count"] == 1 and t,
               what=f"{ident}: one use recorded")
    assert got["last_used_ip"] == OTHER_ADDRESS


def test_a_key_revoked_through_the_api_is_refused_on_the_next_request(proxy, tokend, upstream,
                                                                       owner):
    ident, key = make_token(tokend, owner)
    passed(proxy, upstream, key=key)
    resp = admin(tokend).request("DELETE", f"/api/v3/core/tokens/{ident}/")
    assert resp.status == 204, resp
    refused(proxy, upstream, 401, key=key, challenge=INVALID, expect=INVALID_TOKEN)


def test_a_rate_limit_comes_through_as_429(proxy, tokend, upstream, owner):
    """rate_limit 2/minute: two requests pass, the third is 429 with Retry-After (the seconds
    left in the minute's window) and the same body through both proxies."""
    _, key = make_token(tokend, owner, rate_limit="2/minute")
    # Windows are aligned to the minute: keep the three requests inside one of them.
    if time.time() % 60 > 55:
        time.sleep(60 - time.time() % 60 + 0.1)
    passed(proxy, upstream, key=key)
    passed(proxy, upstream, key=key)
    resp = refused(proxy, upstream, 429, key=key, challenge=None)
    retry_after = resp.header_all("Retry-After")
    assert len(retry_after) == 1 and retry_after[0].isdigit(), resp.headers
    assert 1 <= int(retry_after[0]) <= 60, retry_after
    assert resp.media_type == "application/json", resp.headers
    m = re.fullmatch(THROTTLED_RE, resp.json()["detail"])
    assert m and m.group(1) == retry_after[0], resp.json()


# -- the proxies themselves --------------------------------------------------------------------

def test_nginx_auth_location_is_internal(proxies, tokend, upstream, owner):
    _, key = make_token(tokend, owner)
    resp, hits = hits_during(upstream, lambda: call(proxies["nginx"], "/.tokend/verify", key=key))
    assert (resp.status, hits) == (404, [])


def test_nginx_deny_rules_keep_their_403(proxies, tokend, upstream, owner):
    """A location that also has allow/deny rules: their 403 comes before tokend is asked and
    goes through @tokend_refused too, which answers it 403 (not the 500 of a failed ask)."""
    nginx = proxies["nginx"]
    _, key = make_token(tokend, owner)
    passed(nginx, upstream, "/local/x", key=key)
    refused(nginx, upstream, 403, "/local/x", key=key, source=OTHER_ADDRESS, expect=FORBIDDEN)


@pytest.fixture(scope="module")
def cut_off(tmp_path_factory):
    """Both proxies asking a tokend that is not there (a port nothing listens on)."""
    up = Upstream()
    dead = free_port()
    started = {}
    try:
        for name, cls in PROXIES.items():
            started[name] = cls(tmp_path_factory.mktemp("cut-" + name), dead, up.port).start()
        yield up, started
    finally:
        for p in started.values():
            p.stop()
        up.stop()


@pytest.mark.parametrize("name,status", [("nginx", 500), ("caddy", 502)])
def test_tokend_unreachable_fails_closed(cut_off, name, status):
    up, started = cut_off
    resp = call(started[name], "/app", key=random_key())
    assert resp.status == status, resp
    assert up.hits == []
    if name == "nginx":
        assert json.loads(resp.body) == {"detail": "The authorization server could not be asked."}
