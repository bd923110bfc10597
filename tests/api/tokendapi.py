"""Helpers of the tests of tokend's own API under /api/v3/tokend/ (test_tokend_*.py): the paths,
the TokendToken object of the extensions contract (X1) with its keys in the contract's order,
exact comparisons that include key order, field-error checks, "uses" of a key (authenticated
requests, X4), polling with a deadline, and SQL on the stored sealed key copy (X3).

The contract leaves the wording of validation messages free ("any non-empty English message"),
so field errors are checked for their keys and for non-empty message lists only.
"""

import time
import urllib.parse

from harness import Client, INVALID_TOKEN, assert_json, assert_status
from tokenapi import send
from world import assert_key_order

TOKEND = "/api/v3/tokend/tokens/"
ME = "/api/v3/core/users/me/"
USERS = "/api/v3/core/users/"
GROUPS = "/api/v3/core/groups/"
EVENTS = "/api/v3/events/events/"

# TokendToken (X1), keys in the contract's order.
FIELDS = ["identifier", "intent", "user", "scopes", "allowed_networks", "rate_limit",
          "uses_remaining", "view_key", "revoke_on_reuse", "last_used", "last_used_ip",
          "use_count", "previous_key_valid_until"]
WRITABLE = ["scopes", "allowed_networks", "rate_limit", "uses_remaining", "view_key",
            "revoke_on_reuse"]
DEFAULTS = {"scopes": None, "allowed_networks": None, "rate_limit": None, "uses_remaining": None,
            "view_key": "always", "revoke_on_reuse": False, "last_used": None,
            "last_used_ip": None, "use_count": 0, "previous_key_valid_until": None}
RESET = {k: DEFAULTS[k] for k in WRITABLE}  # a PATCH body that puts every setting back

THROTTLED_RE = r"Request was throttled\. Expected available in (\d+) seconds\."


def tpath(identifier, action=None):
    path = TOKEND + urllib.parse.quote(identifier, safe="") + "/"
    return path + action + "/" if action else path


def tobj(identifier, intent, user_pk, **over):
    """The expected TokendToken: defaults of a fresh token, then `over`, in contract order."""
    values = dict(DEFAULTS, identifier=identifier, intent=intent, user=user_pk)
    for k, v in over.items():
        assert k in FIELDS, f"not a TokendToken key: {k}"
        values[k] = v
    return {k: values[k] for k in FIELDS}


def tget(client, identifier, **kw):
    return client.request("GET", tpath(identifier), **kw)


def tlist(client, query=None, **kw):
    return client.request("GET", TOKEND, query, **kw)


def tpatch(client, identifier, body, **kw):
    return send(client, "PATCH", tpath(identifier), body, **kw)


def rotate(client, identifier, body=None, **kw):
    """POST rotate/ with `body` JSON-encoded, or without any body when None."""
    if body is None:
        return client.request("POST", tpath(identifier, "rotate"), **kw)
    return send(client, "POST", tpath(identifier, "rotate"), body, **kw)


def assert_exact(resp, status, body):
    """Status, application/json, the body equal to `body` and every object's keys in the same
    order as in `body` (the harness parses JSON keeping the order)."""
    assert_json(resp, status, body)
    assert_key_order(resp.json(), body, skip=())


def current(admin, identifier):
    """The TokendToken as a superuser reads it (200 required)."""
    resp = tget(admin, identifier)
    assert_status(resp, 200)
    got = resp.json()
    assert isinstance(got, dict) and list(got) == FIELDS, f"keys {list(got)}"
    return got


def assert_field_errors(resp, fields):
    """400 {"<field>": ["<message>", ...], ...} naming exactly `fields` (in any order), each
    with a non-empty list of non-empty messages (X1: any non-empty English message)."""
    assert_status(resp, 400)
    assert resp.media_type == "application/json", resp.header("Content-Type")
    body = resp.json()
    assert isinstance(body, dict), body
    assert set(body) == set(fields), f"failing keys {sorted(body)}, expected {sorted(fields)}"
    for f in fields:
        msgs = body[f]
        assert isinstance(msgs, list) and msgs, f"{f}: {msgs!r}"
        assert all(isinstance(m, str) and m.strip() for m in msgs), f"{f}: {msgs!r}"


# -- uses (X4: a successful use is an authenticated request to tokend's API) ---------------------

def use(server, key, n=1, path=ME):
    """n authenticated requests with `key`, each of which must succeed."""
    client = Client(server, key)
    for i in range(n):
        resp = client.get(path)
        assert resp.status == 200, f"use {i + 1} of {n}: {resp!r}"


def refused_as_invalid(server, key, path=ME, **kw):
    assert_json(Client(server, key).get(path, **kw), 403, INVALID_TOKEN)


def works(server, key, path=ME):
    return Client(server, key).get(path).status == 200


def poll(fn, timeout=6.0, interval=0.05, what="condition"):
    """Calls fn until it returns something truthy (returned) or the deadline passes (fails with
    fn's last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout} s; last: {value!r}")
        time.sleep(interval)


def usage_reaches(admin, identifier, count, timeout=6.0):
    """Polls until the token's use_count is `count` (usage is written in batches, X4); returns
    the TokendToken then. A count above `count` fails at once."""
    def check():
        got = current(admin, identifier)
        assert got["use_count"] <= count, f"use_count {got['use_count']} > {count}: {got}"
        return got if got["use_count"] == count else None
    return poll(check, timeout, what=f"{identifier}: use_count {count}")


# -- the sealed copy of a key (X3) ----------------------------------------------------------------

def sealed_length(backend, identifier):
    """Bytes held in tokens.key_sealed for the token (NULL counts as 0)."""
    import startup  # noqa: PLC0415 - only the view-key tests need SQL
    rows = startup.sql(backend, "SELECT coalesce(length(key_sealed), 0) FROM tokens "
                                f"WHERE identifier = '{identifier}'")
    assert len(rows) == 1, rows
    return int(rows[0][0])


def sealed_bytes(backend, identifier):
    import startup  # noqa: PLC0415
    f = "hex(key_sealed)" if backend.name == "sqlite" else "encode(key_sealed, 'hex')"
    rows = startup.sql(backend, f"SELECT {f} FROM tokens WHERE identifier = '{identifier}'")
    assert len(rows) == 1, rows
    return bytes.fromhex(rows[0][0] or "")
