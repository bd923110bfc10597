"""Helpers of the tests of verification for other services (extensions contract X4):
`tokend/verify/` (forward auth) and `tokend/introspect/` (RFC 7662), used by
test_tokend_verify.py and test_tokend_introspect.py.

Verify answers 401 with a WWW-Authenticate challenge, which the rest of the API never sends, so
its requests go through `raw()` (a RawConnection, from any loopback source address) and are
checked with the assertions here instead of harness.assert_status. Every response of a method
other than HEAD and OPTIONS is still validated against the served OpenAPI document, as the
harness does for its own requests.
"""

import base64
import datetime
import re
import urllib.parse

import schema_check
from harness import UUID_RE, HEX64_RE, RawConnection, note_key, parse_json, request_bytes

VERIFY = "/api/v3/tokend/verify/"
INTROSPECT = "/api/v3/tokend/introspect/"
ME = "/api/v3/core/users/me/"

# RFC 6750 challenges (X4). The contract spells the insufficient_scope one out; the invalid_token
# one is "Bearer realm="tokend"" "plus error="invalid_token"", read as the same form.
CHALLENGE = 'Bearer realm="tokend"'
CHALLENGE_INVALID = 'Bearer realm="tokend", error="invalid_token"'
CHALLENGE_SCOPE = 'Bearer realm="tokend", error="insufficient_scope"'

# The docs/api.md §1.1 detail bodies.
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Token invalid/expired"}
UNSUPPORTED = {"detail": "Unsupported authentication type"}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
FAILURES_THROTTLED = {"detail": "Request was throttled."}   # docs/api.md §16.4
THROTTLED_RE = r"Request was throttled\. Expected available in (\d+) seconds\."  # X4

INACTIVE = {"active": False}
# The active object's keys, in the contract's order (scope and exp may be absent).
ACTIVE_KEYS = ["active", "scope", "client_id", "username", "sub", "token_type", "exp", "jti",
               "is_superuser"]
HEADERS = ["X-Tokend-User", "X-Tokend-Username", "X-Tokend-Token", "X-Tokend-Intent",
           "X-Tokend-Scopes", "X-Tokend-Superuser"]

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

_NONE = object()


def raw(server, method="GET", path=VERIFY, query=None, auth=_NONE, key=None, headers=(),
        body=b"", source=None):
    """One request on its own connection from `source` (default 127.0.0.1). `key`: sent as
    `Authorization: Bearer <key>`; `auth`: the whole Authorization value (str or bytes) instead.
    `query`: a str (verbatim) or pairs. Returns the harness Response."""
    target = path
    if query:
        target += "?" + (query if isinstance(query, str) else
                         urllib.parse.urlencode(list(query), quote_via=urllib.parse.quote,
                                                safe=""))
    hdrs = []
    if key is not None:
        hdrs.append(("Authorization", "Bearer " + key))
    elif auth is not _NONE:
        hdrs.append(("Authorization", auth))
    hdrs += list(headers)
    if not body and method in ("POST", "PUT", "PATCH"):
        hdrs.append(("Content-Length", "0"))
    with RawConnection(server.port, source=source) as c:
        c.send(request_bytes(method, target, hdrs, body))
        resp = c.read_response(method)
    if key is not None and resp.status == 200:
        note_key(key)  # accepted: must never be in a log (conftest)
    schema_check.instance().check(method, path, resp.status, resp.headers, resp.body)
    return resp


def verify(server, key=None, **kw):
    return raw(server, key=key, **kw)


def _body_of(resp, method):
    if method == "HEAD":
        assert resp.body == b"", f"HEAD with a body: {resp.body[:200]!r}"
        return None
    assert resp.media_type == "application/json", \
        f"Content-Type {resp.header('Content-Type')!r}; body {resp.body[:200]!r}"
    return resp.json()


def assert_exact_json(got, want):
    """Equal, with every object's keys in the same order (strict JSON parsing kept the order)."""
    assert got == want
    if isinstance(want, dict):
        assert list(got) == list(want), f"key order {list(got)} != {list(want)}"


def assert_refused(resp, status, body, challenge=None, method="GET"):
    """A verify refusal: exact status, the exact WWW-Authenticate value (or none when
    `challenge` is None), and the exact body (none for HEAD)."""
    assert resp.status == status, f"status {resp.status}, expected {status}: {resp!r}"
    assert resp.header_all("WWW-Authenticate") == ([challenge] if challenge else []), \
        resp.headers
    got = _body_of(resp, method)
    if got is not None:
        assert_exact_json(got, body)


def assert_unauthenticated(resp, body=NOT_PROVIDED, method="GET"):
    """401 for no credentials: the bare challenge (RFC 6750 §3.1: no error code when the
    request carried no authentication information)."""
    assert_refused(resp, 401, body, CHALLENGE, method)


def assert_invalid(resp, body=INVALID_TOKEN, method="GET"):
    """401 for a credential that was sent and does not qualify."""
    assert_refused(resp, 401, body, CHALLENGE_INVALID, method)


def assert_insufficient(resp, method="GET"):
    assert_refused(resp, 403, FORBIDDEN, CHALLENGE_SCOPE, method)


def assert_rate_limited(resp, method="GET"):
    """429 {"detail": "Request was throttled. Expected available in N seconds."} with
    Retry-After: N (X4); N within the longest window used by these tests (a minute)."""
    assert resp.status == 429, f"status {resp.status}, expected 429: {resp!r}"
    n = resp.header("Retry-After")
    assert n is not None and re.fullmatch(r"\d+", n) and 1 <= int(n) <= 60, resp.headers
    got = _body_of(resp, method)
    if got is not None:
        assert list(got) == ["detail"], got
        m = re.fullmatch(THROTTLED_RE, got["detail"])
        assert m, got
        assert m.group(1) == n, (got, n)


def assert_failures_throttled(resp):
    """The failed-authentication throttle's answer (docs/api.md §16.4)."""
    assert resp.status == 429, f"status {resp.status}, expected 429: {resp!r}"
    n = resp.header("Retry-After")
    assert n is not None and re.fullmatch(r"\d+", n) and int(n) >= 1, resp.headers
    assert_exact_json(resp.json(), FAILURES_THROTTLED)


def check_verified(resp, want, method="GET"):
    """200 with the active object `want` (an Expected) as the body, key order included (no body
    for HEAD), and the X-Tokend-* headers derived from it (X4)."""
    assert resp.status == 200, f"status {resp.status}, expected 200: {resp!r}"
    got = _body_of(resp, method)
    if got is not None:
        assert_exact_json(got, dict(want))
    assert headers_of(resp) == expected_headers(want, want.owner_pk), resp.headers


def headers_of(resp):
    """The X-Tokend-* headers, each as the list of its values (one expected)."""
    return {h: resp.header_all(h) for h in HEADERS if resp.header_all(h)}


def expected_headers(want, owner_pk):
    h = {"X-Tokend-User": [str(owner_pk)], "X-Tokend-Username": [want["username"]],
         "X-Tokend-Token": [want["client_id"]], "X-Tokend-Intent": [want["token_type"]],
         "X-Tokend-Superuser": ["true" if want["is_superuser"] else "false"]}
    if "scope" in want:
        h["X-Tokend-Scopes"] = [want["scope"]]  # "" for []: the header is there, empty
    return dict(sorted(h.items(), key=lambda kv: HEADERS.index(kv[0])))


# -- the active object --------------------------------------------------------------------------

def unix(text):
    """Unix seconds of a whole-second RFC 3339 UTC instant."""
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert dt.microsecond == 0, text
    return int(dt.timestamp())


class Facts:
    """What the core API says about a token: its pk (uuid) and its owner's pk, uid and
    is_superuser (GET core/tokens/{identifier}/ as a superuser)."""

    def __init__(self, admin, identifier):
        from tokenapi import retrieve  # noqa: PLC0415
        resp = retrieve(admin, identifier)
        assert resp.status == 200, resp
        t = resp.json()
        self.pk = t["pk"]
        self.user_pk = t["user"]
        self.uid = t["user_obj"]["uid"]
        self.is_superuser = t["user_obj"]["is_superuser"]
        assert UUID_RE.match(self.pk), self.pk
        assert HEX64_RE.match(self.uid), self.uid


def active(w, identifier, scopes=None, exp=None, superuser=None, intent=None):
    """The expected active object of a token of world `w`: `scopes` as set (None: the key is
    absent), `exp` unix seconds (None: absent), `superuser` the owner's status as the test knows
    it (cross-checked with the core API's user object). Keys in the contract's order."""
    tok = w.tokens[identifier]
    f = Facts(w.client(), identifier)
    if superuser is not None:
        assert f.is_superuser is superuser, "the test's idea of the owner's superuser status"
    want = {"active": True}
    if scopes is not None:
        want["scope"] = " ".join(sorted(set(scopes)))  # stored sorted byte-wise (X1)
    want["client_id"] = identifier
    want["username"] = tok.user
    want["sub"] = f.uid
    want["token_type"] = intent or tok.intent
    if exp is not None:
        want["exp"] = exp
    want["jti"] = f.pk
    want["is_superuser"] = f.is_superuser
    assert [k for k in ACTIVE_KEYS if k in want] == list(want)
    return Expected(want, f.user_pk)


class Expected(dict):
    """The active object plus the owner's pk (for X-Tokend-User)."""

    def __init__(self, body, owner_pk):
        super().__init__(body)
        self.owner_pk = owner_pk


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- introspection --------------------------------------------------------------------------------

def form(pairs):
    return urllib.parse.urlencode(list(pairs)).encode()


def introspect(client, token=None, body=None, content_type="application/json", extra=None):
    """POST tokend/introspect/ through the harness client (403s and 400s are the API's, checked
    with assert_json). JSON by default: {"token": token, **extra}; `body` bytes are sent as
    they are with `content_type`."""
    import json  # noqa: PLC0415
    if body is None:
        obj = {} if token is None else {"token": token}
        obj.update(extra or {})
        body = json.dumps(obj).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    resp = client.request("POST", INTROSPECT, headers=headers, body=body)
    if resp.status == 200 and token is not None:
        note_key(token)  # a key that went over the wire: must never be in a log (conftest)
    return resp


def parsed(resp):
    return parse_json(resp.body)
