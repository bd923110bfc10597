"""Rotation, grace windows and reuse detection: POST /api/v3/tokend/tokens/{identifier}/rotate/
(extensions contract X3, settings X6).

rotate answers 200 {"key": <new key>, "previous_key_valid_until": <datetime or null>}; the new
key is generated (docs/api.md §13) and `expires` does not change. During a grace window both keys
work, as the same token; another rotation or set_key ends the window at once; the grace may not
pass TOKEND_ROTATE_GRACE_MAX. A superseded key presented after its window is refused like any
invalid key and recorded once a minute per token as `suspicious_request`; with revoke_on_reuse
the token is deleted. Each rotation records `secret_rotate` with the acting user.

The module's server writes usage every second (to see both keys count for one token); two more
servers run with TOKEND_ROTATE_GRACE_MAX=minutes=1 and TOKEND_REUSE_WINDOW=seconds=1.
"""

import datetime
import itertools
import time

import pytest

pytest.register_assert_rewrite("tokendapi")

from harness import (INVALID_TOKEN, NOT_FOUND, NOT_PROVIDED, Client, assert_json,  # noqa: E402
                     assert_status, random_key, served)
from tokenapi import (EVENT_KEYS, Clock, actor, assert_in_window,  # noqa: E402
                      assert_no_secrets, detail, events, http_request, is_generated_key, refs_of,
                      out, remember, retrieve, send, token_ref)
from tokendapi import (assert_exact, assert_field_errors, current, poll,  # noqa: E402
                       refused_as_invalid, rotate, tget, tobj, tpatch, tpath, usage_reaches, use,
                       works)
from world import World  # noqa: E402

FAR = "2099-01-01T00:00:00Z"
MIN = datetime.timedelta(minutes=1)
SLACK = datetime.timedelta(seconds=3)
ROTATE_KEYS = ["key", "previous_key_valid_until"]
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("tokend-rotate"),
                extra_env={"TOKEND_USAGE_FLUSH": "seconds=1"}) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("quinn", "Quinn Other", "quinn@example.com")
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        world.add_token("quinn-login", "quinn", "api", expires=FAR, key=random_key(), login=True)
        world.learn(world.client())
        yield world


def fresh(w, owner="pat", expiring=False, expires=FAR):
    ident = f"r-{owner}-{next(_n)}"
    w.add_token(ident, owner, "api", expires=expires, expiring=expiring, key=random_key())
    w.learn(w.client())
    return ident


def rotated(w, resp, grace_window=None):
    """The new key of a 200 rotate answer, after checking its shape: the two keys in order, a
    generated key, previous_key_valid_until null or (grace_window) within that window."""
    assert_status(resp, 200)
    body = resp.json()
    assert list(body) == ROTATE_KEYS, body
    key = body["key"]
    assert is_generated_key(key), key
    remember(w, key)
    if grace_window is None:
        assert body["previous_key_valid_until"] is None, body
    else:
        assert_in_window(body["previous_key_valid_until"], grace_window,
                         "previous_key_valid_until")
    return key, body["previous_key_valid_until"]


def of_token(w, action, token_pk):
    hex_ = token_pk.replace("-", "")
    return [e for e in events(w.client(), {"action": action}) if hex_ in refs_of(e)]


def core_json(w, ident):
    resp = retrieve(w.client(), ident)
    assert_status(resp, 200)
    return resp.json()


# -- rotation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [None, {}, {"grace": "seconds=0"}, {"grace": "minutes=0"}],
                         ids=["no-body", "empty", "seconds=0", "minutes=0"])
def test_rotate_without_grace(w, body):
    ident = fresh(w, expiring=True)
    old = w.tokens[ident].key
    core_before = core_json(w, ident)
    resp = rotate(w.client(), ident, body)
    new, _ = rotated(w, resp)
    assert_exact(resp, 200, {"key": new, "previous_key_valid_until": None})
    assert new != old
    assert works(w.server, new)
    refused_as_invalid(w.server, old)
    # the same token, expiry untouched (X3: `expires` does not change)
    assert core_json(w, ident) == core_before
    assert current(w.client(), ident)["previous_key_valid_until"] is None
    w.tokens[ident].key = new


def test_rotate_with_grace(w):
    ident = fresh(w)
    old = w.tokens[ident].key
    with Clock() as c:
        resp = rotate(w.client(), ident, {"grace": "minutes=5"})
    new, until = rotated(w, resp, c.window(5 * MIN, SLACK))
    assert current(w.client(), ident)["previous_key_valid_until"] == until
    # both keys authenticate, as the same token: their uses add up on it
    use(w.server, old, 2)
    use(w.server, new, 3)
    assert_status(tget(Client(w.server, old), ident), 200)
    got = usage_reaches(w.client(), ident, 6)
    assert got["previous_key_valid_until"] == until
    w.tokens[ident].key = new


def test_another_rotation_ends_the_window(w):
    ident = fresh(w)
    k0 = w.tokens[ident].key
    with Clock() as c:
        resp = rotate(w.client(), ident, {"grace": "minutes=5"})
    k1, _ = rotated(w, resp, c.window(5 * MIN, SLACK))
    with Clock() as c:
        resp = rotate(w.client(), ident, {"grace": "minutes=5"})
    k2, until2 = rotated(w, resp, c.window(5 * MIN, SLACK))
    refused_as_invalid(w.server, k0)          # the first window ended at once
    assert works(w.server, k1) and works(w.server, k2)
    assert current(w.client(), ident)["previous_key_valid_until"] == until2
    k3, _ = rotated(w, rotate(w.client(), ident, {"grace": "seconds=0"}))
    refused_as_invalid(w.server, k1)
    refused_as_invalid(w.server, k2)
    assert works(w.server, k3)
    assert current(w.client(), ident)["previous_key_valid_until"] is None
    w.tokens[ident].key = k3


def test_set_key_ends_the_window(w):
    ident = fresh(w)
    k0 = w.tokens[ident].key
    with Clock() as c:
        resp = rotate(w.client(), ident, {"grace": "minutes=5"})
    k1, _ = rotated(w, resp, c.window(5 * MIN, SLACK))
    k2 = "set-" + random_key(40)
    remember(w, k2)
    assert_status(send(w.client(), "POST", detail(ident, "set_key"), {"key": k2}), 204)
    refused_as_invalid(w.server, k0)
    refused_as_invalid(w.server, k1)
    assert works(w.server, k2)
    assert current(w.client(), ident)["previous_key_valid_until"] is None
    w.tokens[ident].key = k2


def test_grace_up_to_the_default_maximum(w):
    """TOKEND_ROTATE_GRACE_MAX defaults to days=7, and the grace may be "from 0 up to" it."""
    ident = fresh(w)
    old = w.tokens[ident].key
    with Clock() as c:
        resp = rotate(w.client(), ident, {"grace": "days=7"})
    new, _ = rotated(w, resp, c.window(datetime.timedelta(days=7), SLACK))
    assert works(w.server, old) and works(w.server, new)
    w.tokens[ident].key = new


@pytest.mark.parametrize("grace", [
    "days=7;seconds=1", "days=8", "weeks=2", "hours=169",          # above the maximum
    "soon", "minutes", "hours:1", "", "minutes=-1", "days=-7",     # not a grace
    5, 1.5, True, [], {}, ["minutes=5"],
], ids=repr)
def test_invalid_grace_changes_nothing(w, grace):
    ident = fresh(w)
    old = w.tokens[ident].key
    before = current(w.client(), ident)
    assert_field_errors(rotate(w.client(), ident, {"grace": grace}), ["grace"])
    assert works(w.server, old)
    after = current(w.client(), ident)
    assert after["previous_key_valid_until"] is None
    assert {k: after[k] for k in after if k not in ("last_used", "use_count", "last_used_ip")} \
        == {k: before[k] for k in before if k not in ("last_used", "use_count", "last_used_ip")}
    assert_json(w.client().get(detail(ident, "view_key")), 200, {"key": old})


def test_rotate_records_secret_rotate(w):
    ident = fresh(w, expiring=True)
    ref = token_ref(core_json(w, ident))
    for client, username in ((w.client(), "akadmin"), (w.client("pat"), "pat")):
        with Clock() as c:
            resp = rotate(client, ident, {"grace": "minutes=1"})
        rotated(w, resp, c.window(MIN, SLACK))
        ev = of_token(w, "secret_rotate", w.tokens[ident].pk)[0]  # newest first
        assert list(ev) == EVENT_KEYS, list(ev)
        assert (ev["user"], ev["client_ip"]) == (actor(w, username), "127.0.0.1")
        assert_in_window(ev["created"], (c.lo - SLACK, c.hi + SLACK), "created")
        ctx = ev["context"]
        assert ctx["token"] == ref
        assert ctx["http_request"] == http_request(tpath(ident, "rotate"), "POST")
        # docs/api.md §11 gives secret_rotate a message; the contract names none for rotate
        assert set(ctx) <= {"token", "message", "http_request"}, ctx
        if "message" in ctx:
            assert isinstance(ctx["message"], str) and ctx["message"], ctx
    assert len(of_token(w, "secret_rotate", w.tokens[ident].pk)) == 2


# -- who may rotate --------------------------------------------------------------------------------

def test_plain_user_rotates_their_own_token(w):
    ident = fresh(w, "pat")
    old = w.tokens[ident].key
    new, _ = rotated(w, rotate(w.client("pat"), ident, {}))
    assert works(w.server, new)
    refused_as_invalid(w.server, old)
    w.tokens[ident].key = new


@pytest.mark.parametrize("target", ["other", "unknown"])
def test_plain_user_gets_404_for_other_tokens(w, target):
    ident = fresh(w, "quinn") if target == "other" else "no-such-token"
    assert_json(rotate(w.client("pat"), ident, {}), 404, NOT_FOUND)
    assert_json(rotate(w.client("pat"), ident, {"grace": "minutes=1"}), 404, NOT_FOUND)
    if target == "other":
        assert works(w.server, w.tokens[ident].key)
        assert current(w.client(), ident)["previous_key_valid_until"] is None


def test_superuser_unknown_token_is_404(w):
    assert_json(rotate(w.client(), "no-such-token", {}), 404, NOT_FOUND)


@pytest.mark.parametrize("grace", [None, "minutes=1"])
def test_a_token_rotates_itself(w, grace):
    ident = fresh(w, "pat")
    old = w.tokens[ident].key
    body = {} if grace is None else {"grace": grace}
    with Clock() as c:
        resp = rotate(Client(w.server, old), ident, body)
    new, _ = rotated(w, resp, None if grace is None else c.window(MIN, SLACK))
    assert works(w.server, new)
    if grace is None:
        refused_as_invalid(w.server, old)
    else:
        assert works(w.server, old)
    w.tokens[ident].key = new


def test_rotate_needs_authentication_and_post(w):
    ident = fresh(w)
    assert_json(Client(w.server).request("POST", tpath(ident, "rotate")), 403, NOT_PROVIDED)
    assert_json(rotate(Client(w.server, "no-such-key-" + random_key(20)), ident), 403,
                INVALID_TOKEN)
    resp = w.client().request("GET", tpath(ident, "rotate"))
    assert_exact(resp, 405, {"detail": 'Method "GET" not allowed.'})
    assert "POST" in [m.strip() for m in (resp.header("Allow") or "").split(",")]
    assert works(w.server, w.tokens[ident].key)


def test_view_key_after_rotate_is_the_new_key(w):
    ident = fresh(w)
    new, _ = rotated(w, rotate(w.client(), ident, {}))
    assert_json(w.client().get(detail(ident, "view_key")), 200, {"key": new})
    w.tokens[ident].key = new


# -- reuse of a superseded key ---------------------------------------------------------------------

def reuse_message(ident):
    return f"Superseded key of token {ident} was used."


def check_suspicious(w, ident, ref, window=None):
    evs = of_token(w, "suspicious_request", w.tokens[ident].pk)
    assert len(evs) == 1, evs
    ev = evs[0]
    assert list(ev) == EVENT_KEYS, list(ev)
    ctx = ev["context"]
    # the contract gives {"token", "message"}; a request-bound event may also carry
    # http_request (docs/api.md §11.2)
    assert list(ctx)[:2] == ["token", "message"] and set(ctx) <= {"token", "message",
                                                                  "http_request"}, ctx
    assert (ctx["token"], ctx["message"]) == (ref, reuse_message(ident))
    if window is not None:
        assert_in_window(ev["created"], window, "created")
    return ev


def test_reuse_is_refused_and_recorded_once_a_minute(w):
    a, b = fresh(w, expiring=True), fresh(w)
    refs = {i: token_ref(core_json(w, i)) for i in (a, b)}
    olds = {i: w.tokens[i].key for i in (a, b)}
    news = {}
    for i in (a, b):
        news[i], _ = rotated(w, rotate(w.client(), i, {}))
    with Clock() as c:
        for _ in range(3):
            for i in (a, b):
                refused_as_invalid(w.server, olds[i])
    for i in (a, b):
        check_suspicious(w, i, refs[i], (c.lo - SLACK, c.hi + SLACK))
        assert works(w.server, news[i])     # revoke_on_reuse is false: the token stays
        assert_status(retrieve(w.client(), i), 200)
        w.tokens[i].key = news[i]


def test_reuse_after_the_grace_window(w):
    ident = fresh(w)
    ref = token_ref(core_json(w, ident))
    old = w.tokens[ident].key
    with Clock() as c:
        resp = rotate(w.client(), ident, {"grace": "seconds=2"})
    new, _ = rotated(w, resp, c.window(datetime.timedelta(seconds=2), SLACK))
    assert works(w.server, old)                      # still in its window: not a reuse
    assert of_token(w, "suspicious_request", w.tokens[ident].pk) == []
    poll(lambda: not works(w.server, old), timeout=8, what="the old key's window to end")
    refused_as_invalid(w.server, old)
    check_suspicious(w, ident, ref)
    assert works(w.server, new)
    w.tokens[ident].key = new


def test_revoke_on_reuse_deletes_the_token(w):
    ident = fresh(w)
    assert_status(tpatch(w.client(), ident, {"revoke_on_reuse": True}), 200)
    ref = token_ref(core_json(w, ident))
    old = w.tokens[ident].key
    new, _ = rotated(w, rotate(w.client(), ident, {}))
    assert works(w.server, new)
    refused_as_invalid(w.server, old)
    poll(lambda: retrieve(w.client(), ident).status == 404, what="the token to be deleted")
    assert_json(retrieve(w.client(), ident), 404, NOT_FOUND)
    assert_json(tget(w.client(), ident), 404, NOT_FOUND)
    refused_as_invalid(w.server, new)
    check_suspicious(w, ident, ref)
    deleted = of_token(w, "model_deleted", w.tokens[ident].pk)
    assert len(deleted) == 1 and deleted[0]["context"]["model"] == ref, deleted
    w.tokens.pop(ident)
    remember(w, old)
    remember(w, new)


def test_no_key_in_events_or_log(w):
    assert_no_secrets(w)


# -- settings (X6) ---------------------------------------------------------------------------------

def test_rotate_grace_max_setting(tmp_path):
    with served(tmp_path, extra_env={"TOKEND_ROTATE_GRACE_MAX": "minutes=1"}) as server:
        w2 = World(server)
        w2.add_user("pat", "Pat Plain", "pat@example.com")
        w2.add_token("pat-api", "pat", "api", expires=FAR, key=random_key())
        old = w2.tokens["pat-api"].key
        for grace in ("minutes=2", "minutes=1;seconds=1", "days=7"):
            assert_field_errors(rotate(w2.client(), "pat-api", {"grace": grace}), ["grace"])
        assert works(server, old)
        with Clock() as c:
            resp = rotate(w2.client(), "pat-api", {"grace": "minutes=1"})
        new, _ = rotated(w2, resp, c.window(MIN, SLACK))
        assert works(server, old) and works(server, new)
        assert_no_secrets(w2)


def test_reuse_window_setting(tmp_path):
    """X3: rotated-out keys are remembered for TOKEND_REUSE_WINDOW; once forgotten, a superseded
    key is only an unknown key: refused, but no suspicious_request, and no revocation."""
    with served(tmp_path, extra_env={"TOKEND_REUSE_WINDOW": "seconds=1"}) as server:
        w2 = World(server)
        w2.add_user("pat", "Pat Plain", "pat@example.com")
        w2.add_token("pat-api", "pat", "api", expires=FAR, key=random_key())
        w2.learn(w2.client())
        assert_status(tpatch(w2.client(), "pat-api", {"revoke_on_reuse": True}), 200)
        old = w2.tokens["pat-api"].key
        new, _ = rotated(w2, rotate(w2.client(), "pat-api", {}))
        time.sleep(2.5)
        refused_as_invalid(server, old)
        assert works(server, new)
        assert_status(retrieve(w2.client(), "pat-api"), 200)
        assert of_token(w2, "suspicious_request", w2.tokens["pat-api"].pk) == []
        assert of_token(w2, "model_deleted", w2.tokens["pat-api"].pk) == []
        assert current(w2.client(), "pat-api")["revoke_on_reuse"] is True
        w2.tokens["pat-api"].key = new
        assert_no_secrets(w2)


def test_the_sweepers_rotation_ends_the_window(tmp_path):
    """X3: the sweeper's expiry rotation (docs/api.md §12.4) ends a grace window at once, as
    set_key and rotate do: once it has given the expired token a new key and expiry, neither
    earlier key works."""
    with served(tmp_path, extra_env={"TOKEND_SWEEP_INTERVAL": "seconds=1"}) as server:
        w2 = World(server)
        w2.add_user("pat", "Pat Plain", "pat@example.com")
        soon = out(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3))
        w2.add_token("pat-exp", "pat", "api", expires=soon, expiring=True, key=random_key())
        k0 = w2.tokens["pat-exp"].key
        with Clock() as c:
            resp = rotate(w2.client(), "pat-exp", {"grace": "minutes=5"})
        k1, _ = rotated(w2, resp, c.window(5 * MIN, SLACK))
        assert works(server, k0) and works(server, k1)
        poll(lambda: core_json(w2, "pat-exp")["expires"] != w2.tokens["pat-exp"].expires,
             timeout=10, what="the sweeper's rotation")
        refused_as_invalid(server, k0)
        refused_as_invalid(server, k1)
        assert current(w2.client(), "pat-exp")["previous_key_valid_until"] is None
        k2 = w2.client().get(detail("pat-exp", "view_key")).json()["key"]
        remember(w2, k2)
        assert works(server, k2)
        assert_no_secrets(w2)

def test_rotation_changes_no_setting(w):
    ident = fresh(w)
    assert_status(tpatch(w.client(), ident, {"scopes": ["a"], "rate_limit": "9/h"}), 200)
    new, _ = rotated(w, rotate(w.client(), ident, {}))
    w.tokens[ident].key = new
    got = current(w.client(), ident)
    want = tobj(ident, "api", w.users["pat"].pk, scopes=["a"], rate_limit="9/hour")
    for usage in ("last_used", "last_used_ip", "use_count"):
        got.pop(usage)
        want.pop(usage)
    assert got == want
    assert core_json(w, ident)["expires"] == FAR
