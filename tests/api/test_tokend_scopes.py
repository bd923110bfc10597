"""Scopes narrow, never widen (extensions contract X2), and allowed_networks (X1, X5) on the
test server's IPv4 loopback.

The scope matrix: for each of tokend's scopes, a token of a superuser with exactly that scope is
allowed on the routes the scope names and refused with
403 {"detail": "You do not have permission to perform this action."} on every other route (the
core token routes, tokend's token routes, users, groups, events); users/me needs no scope.
Refusals come before any lookup (403 for a token that does not exist), change nothing, and a
scope never adds to what the owner may do. A token created by a scoped token gets its creator's
scopes and allowed_networks; a scoped token may PATCH only `scopes`, to a subset of its own.

Runs on its own server.
"""

import itertools

import pytest

pytest.register_assert_rewrite("tokendapi")

from harness import (INVALID_TOKEN, LIST, NOT_FOUND, Client, RawConnection,  # noqa: E402
                     assert_json, assert_status, parse_json, random_key, request_bytes, served)
from tokenapi import FORBIDDEN, detail, retrieve, send  # noqa: E402
from tokendapi import (EVENTS, GROUPS, ME, USERS, WRITABLE, assert_exact, current,  # noqa: E402
                       refused_as_invalid, rotate, tget, tlist, tobj, tpatch, use, works)
from world import ADMIN_GROUP, World, directory_state  # noqa: E402

FAR = "2099-01-01T00:00:00Z"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("tokend-scopes")) as server:
        world = World(server)
        world.add_user("sue", "Sue Super", "sue@example.com", groups=[ADMIN_GROUP])
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("vic", "Vic Tim", "vic@example.com")
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        world.add_token("vic-static", "vic", "api", expires=FAR, key=random_key())
        world.learn(world.client())
        yield world


def fresh(w, owner="vic"):
    ident = f"s-{owner}-{next(_n)}"
    w.add_token(ident, owner, "api", expires=FAR, key=random_key())
    return ident


def scoped(w, scopes, owner="sue", networks=None):
    """A new token of `owner` with these scopes (and allowed_networks), set by the superuser;
    returns a client authenticating with it."""
    ident = fresh(w, owner)
    body = {"scopes": scopes}
    if networks is not None:
        body["allowed_networks"] = networks
    resp = tpatch(w.client(), ident, body)
    assert_status(resp, 200)
    return ident, Client(w.server, w.tokens[ident].key)


# -- the route table -------------------------------------------------------------------------------
# name -> (scope that allows it, or None for "no scope needed"). `call(w, client, name, fresh)`
# makes the request: on a new target of its own when `fresh` (the request is expected to be
# allowed and may change it), else on fixed targets a refused request must leave alone.

ROUTES = {
    "core-list": "tokens:read",
    "core-retrieve": "tokens:read",
    "core-create": "tokens:write",
    "core-patch": "tokens:write",
    "core-put": "tokens:write",
    "core-delete": "tokens:write",
    "view_key": "tokens:keys",
    "set_key": "tokens:keys",
    "tokend-list": "tokens:read",
    "tokend-retrieve": "tokens:read",
    "tokend-patch": "tokens:write",
    "rotate": "tokens:keys",
    "users-list": "users:read",
    "users-retrieve": "users:read",
    "users-create": "users:write",
    "users-me": None,
    "groups-list": "groups:read",
    "groups-create": "groups:write",
    "events-list": "events:read",
}
SUCCESS = {"core-create": 201, "core-delete": 204, "set_key": 204, "users-create": 201,
           "groups-create": 201}


def call(w, client, name, fresh_target, own_scopes=()):
    target = fresh(w) if fresh_target else "vic-static"
    n = next(_n)
    if name == "core-list":
        return client.get(LIST)
    if name == "core-retrieve":
        return retrieve(client, target)
    if name == "core-create":
        return send(client, "POST", LIST, {"identifier": f"made-{n}"})
    if name == "core-patch":
        return send(client, "PATCH", detail(target), {"description": f"patched {n}"})
    if name == "core-put":
        return send(client, "PUT", detail(target), {"identifier": target,
                                                    "description": f"put {n}"})
    if name == "core-delete":
        return client.request("DELETE", detail(target))
    if name == "view_key":
        return client.get(detail(target, "view_key"))
    if name == "set_key":
        return send(client, "POST", detail(target, "set_key"), {"key": random_key()})
    if name == "tokend-list":
        return tlist(client)
    if name == "tokend-retrieve":
        return tget(client, target)
    if name == "tokend-patch":
        # a subset of the caller's own scopes: only the missing scope can refuse it (X2)
        return tpatch(client, target, {"scopes": sorted(own_scopes)})
    if name == "rotate":
        return rotate(client, target, {})
    if name == "users-list":
        return client.get(USERS)
    if name == "users-retrieve":
        return client.get(f"{USERS}{w.users['vic'].pk}/")
    if name == "users-create":
        return send(client, "POST", USERS, {"username": f"made-{n}", "name": "Made"})
    if name == "users-me":
        return client.get(ME)
    if name == "groups-list":
        return client.get(GROUPS)
    if name == "groups-create":
        return send(client, "POST", GROUPS, {"name": f"made-{n}"})
    if name == "events-list":
        return client.get(EVENTS)
    raise AssertionError(name)


def static_state(w):
    """What a refused request must not change: users, groups and core tokens as the superuser
    sees them, vic-static's settings, and that vic-static's key still works."""
    state = directory_state(w.client())
    got = current(w.client(), "vic-static")
    # usage fields move with every use (this check's own included): settings only
    state.append({k: got[k] for k in WRITABLE + ["previous_key_valid_until"]})
    assert works(w.server, w.tokens["vic-static"].key)
    return state


SCOPE_SETS = [
    ["tokens:read"], ["tokens:write"], ["tokens:keys"], ["users:read"], ["users:write"],
    ["groups:read"], ["groups:write"], ["events:read"],
    ["introspect"],                      # allows only introspection, not tested here
    ["billing:read"],                    # an application scope grants nothing
    [],                                  # nothing but users/me
    ["tokens:read", "events:read", "billing:read"],
]


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=lambda s: ",".join(s) or "empty")
def test_scope_matrix(w, scopes):
    _, client = scoped(w, scopes)
    allowed = {name for name, needs in ROUTES.items() if needs is None or needs in scopes}
    # refused requests first, on fixed targets: 403 and nothing changed
    before = static_state(w)
    for name in ROUTES:
        if name not in allowed:
            resp = call(w, client, name, False, scopes)
            assert (name, resp.status) == (name, 403), resp
            assert_exact(resp, 403, FORBIDDEN)
    assert static_state(w) == before
    # allowed requests, each on a target of its own
    for name in sorted(allowed):
        resp = call(w, client, name, True, scopes)
        assert (name, resp.status) == (name, SUCCESS.get(name, 200)), resp


@pytest.mark.parametrize("scopes", [["users:read"], ["events:read"], [], ["billing:read"]],
                         ids=lambda s: ",".join(s) or "empty")
def test_refused_before_any_lookup(w, scopes):
    """X2: decided before any lookup, so a token that does not exist is 403, not 404."""
    _, client = scoped(w, scopes)
    for resp in (retrieve(client, "no-such-token"),
                 send(client, "PATCH", detail("no-such-token"), {"description": "x"}),
                 client.request("DELETE", detail("no-such-token")),
                 client.get(detail("no-such-token", "view_key")),
                 send(client, "POST", detail("no-such-token", "set_key"), {"key": "k" * 30}),
                 tget(client, "no-such-token"),
                 tpatch(client, "no-such-token", {"scopes": []}),
                 rotate(client, "no-such-token", {})):
        assert_exact(resp, 403, FORBIDDEN)
    if "users:read" not in scopes:
        assert_exact(client.get(f"{USERS}999999/"), 403, FORBIDDEN)


def test_refused_before_the_owner_rule_of_a_plain_user(w):
    """A plain user's scoped token asking for another user's token: the scope refuses first
    (403), where the unscoped owner would get 404."""
    _, client = scoped(w, ["users:read"], owner="pat")
    assert_exact(retrieve(client, "vic-static"), 403, FORBIDDEN)
    assert_exact(tget(client, "vic-static"), 403, FORBIDDEN)
    assert_json(retrieve(w.client("pat"), "vic-static"), 404, NOT_FOUND)


def test_users_me_needs_no_scope(w):
    for scopes in ([], ["billing:read"], ["introspect"]):
        _, client = scoped(w, scopes, owner="pat")
        resp = client.get(ME)
        assert_status(resp, 200)
        assert resp.json()["user"]["username"] == "pat"


def test_scopes_never_widen_a_plain_users_rights(w):
    every = ["tokens:read", "tokens:write", "tokens:keys", "users:read", "users:write",
             "groups:read", "groups:write", "events:read", "introspect"]
    ident, client = scoped(w, every, owner="pat")
    before = directory_state(w.client())
    for resp in (send(client, "POST", USERS, {"username": "widened", "name": "W"}),
                 client.get(USERS),
                 client.get(f"{USERS}{w.users['vic'].pk}/"),
                 send(client, "POST", GROUPS, {"name": "widened"}),
                 client.get(GROUPS),
                 client.get(EVENTS),
                 # set_key is for superusers only (docs/api.md §4.2), own token or not
                 send(client, "POST", detail(ident, "set_key"), {"key": random_key()})):
        assert_exact(resp, 403, FORBIDDEN)
    assert directory_state(w.client()) == before
    # another user's token stays invisible: 404 as for the owner
    assert_json(retrieve(client, "vic-static"), 404, NOT_FOUND)
    assert_json(tget(client, "vic-static"), 404, NOT_FOUND)
    assert_json(rotate(client, "vic-static", {}), 404, NOT_FOUND)
    # the owner's own tokens only, as the unscoped owner sees them
    own = w.client("pat").list({"page_size": "1000"})
    assert_status(own, 200)
    own = [t["identifier"] for t in own.json()["results"]]
    assert own == w.owned_by("pat")
    got = tlist(client, {"page_size": "1000"})
    assert_status(got, 200)
    assert [t["identifier"] for t in got.json()["results"]] == own
    got = client.list({"page_size": "1000"})
    assert_status(got, 200)
    assert [t["identifier"] for t in got.json()["results"]] == own


# -- no widening through a narrowed token ----------------------------------------------------------

def test_a_token_made_by_a_scoped_token_inherits_scopes_and_networks(w):
    networks = ["127.0.0.0/8", "::1/128"]
    _, client = scoped(w, ["tokens:write", "tokens:read", "billing:read"], networks=networks)
    ident = f"child-{next(_n)}"
    resp = send(client, "POST", LIST, {"identifier": ident})
    assert_status(resp, 201)
    got = current(w.client(), ident)
    assert (got["scopes"], got["allowed_networks"]) == (
        ["billing:read", "tokens:read", "tokens:write"], networks)
    # a plain user's scoped token too
    _, client = scoped(w, ["tokens:write"], owner="pat", networks=["127.0.0.1/32"])
    ident = f"child-{next(_n)}"
    assert_status(send(client, "POST", LIST, {"identifier": ident}), 201)
    got = current(w.client(), ident)
    assert (got["scopes"], got["allowed_networks"]) == (["tokens:write"], ["127.0.0.1/32"])
    # an unscoped token's creations have no settings
    ident = f"child-{next(_n)}"
    assert_status(send(w.client(), "POST", LIST, {"identifier": ident}), 201)
    got = current(w.client(), ident)
    assert (got["scopes"], got["allowed_networks"]) == (None, None)


MINE = ["billing:read", "tokens:read", "tokens:write"]


@pytest.mark.parametrize("body,shown", [
    ({"scopes": ["billing:read"]}, ["billing:read"]),
    ({"scopes": ["tokens:write", "tokens:read"]}, ["tokens:read", "tokens:write"]),
    ({"scopes": MINE}, MINE),
    ({"scopes": []}, []),
])
def test_scoped_patch_to_a_subset_is_allowed(w, body, shown):
    _, client = scoped(w, MINE)
    target = fresh(w)
    vic = w.users["vic"].pk
    assert_exact(tpatch(client, target, body), 200, tobj(target, "api", vic, scopes=shown))
    assert_exact(tget(w.client(), target), 200, tobj(target, "api", vic, scopes=shown))


@pytest.mark.parametrize("body", [
    {"scopes": ["tokens:keys"]},
    {"scopes": ["tokens:read", "events:read"]},   # one of them lacking
    {"scopes": ["billing:write"]},
    {"scopes": None},                             # null: the owner's full rights
    {"rate_limit": "5/m"},
    {"uses_remaining": 1},
    {"allowed_networks": ["127.0.0.1"]},
    {"allowed_networks": None},
    {"view_key": "once"},
    {"revoke_on_reuse": True},
    {"scopes": ["billing:read"], "view_key": "always"},  # another field, even unchanged
], ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items()))
def test_scoped_patch_beyond_its_own_scopes_is_403(w, body):
    _, client = scoped(w, MINE)
    target = fresh(w)
    assert_status(tpatch(w.client(), target, {"scopes": ["billing:read"]}), 200)
    want = tobj(target, "api", w.users["vic"].pk, scopes=["billing:read"])
    assert_exact(tpatch(client, target, body), 403, FORBIDDEN)
    assert_exact(tget(w.client(), target), 200, want)


def test_a_scoped_token_cannot_widen_itself(w):
    ident, client = scoped(w, MINE)
    assert_exact(tpatch(client, ident, {"scopes": MINE + ["users:write"]}), 403, FORBIDDEN)
    assert_exact(tpatch(client, ident, {"scopes": None}), 403, FORBIDDEN)
    assert current(w.client(), ident)["scopes"] == MINE
    # narrowing itself is a subset
    assert_status(tpatch(client, ident, {"scopes": ["tokens:write"]}), 200)
    assert current(w.client(), ident)["scopes"] == ["tokens:write"]
    assert_exact(client.get(LIST), 403, FORBIDDEN)  # tokens:read is gone


# -- allowed_networks (X1, X5): the test server listens on 127.0.0.1 ---------------------------

def from_address(w, key, source):
    with RawConnection(w.server.port, source=source) as c:
        c.send(request_bytes("GET", ME, [("Authorization", "Bearer " + key)]))
        resp = c.read_response()
    return resp.status, parse_json(resp.body)


@pytest.mark.parametrize("networks,ok_from", [
    (["10.0.0.0/8"], []),
    (["::1/128"], []),
    (["127.0.0.0/8"], ["127.0.0.1", "127.0.0.2"]),
    (["127.0.0.1/32"], ["127.0.0.1"]),
    (["127.0.0.1"], ["127.0.0.1"]),
    (["10.0.0.0/8", "127.0.0.2/32"], ["127.0.0.2"]),
    (["0.0.0.0/0"], ["127.0.0.1", "127.0.0.2"]),
    (None, ["127.0.0.1", "127.0.0.2"]),
], ids=lambda v: ",".join(v) if isinstance(v, list) and v else repr(v))
def test_allowed_networks(w, networks, ok_from):
    ident = fresh(w, "pat")
    assert_status(tpatch(w.client(), ident, {"allowed_networks": networks}), 200)
    key = w.tokens[ident].key
    for source in ("127.0.0.1", "127.0.0.2"):
        status, body = from_address(w, key, source)
        if source in ok_from:
            assert status == 200, (source, status, body)
        else:
            assert (status, body) == (403, INVALID_TOKEN), source
    if "127.0.0.1" not in ok_from:
        refused_as_invalid(w.server, key)
    else:
        use(w.server, key)
