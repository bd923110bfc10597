"""The expiry sweeper (docs/api.md §12.4 with §17.3, §11): `tokend sweep` runs it once on the
configured database; the server runs it every TOKEND_SWEEP_INTERVAL. Expiring tokens whose expiry
has passed (or is null) are processed: api tokens are rotated (new key, expiry now + 30 minutes,
a secret_rotate event without user or request), the other intents are deleted. Tokens that do
not expire or expire later are untouched. Nothing secret is printed or logged.

Two servers: one with the default interval (the CLI test), one sweeping every second.
"""

import datetime
import time

import pytest

from harness import INVALID_TOKEN, NOT_FOUND, assert_json, assert_status, random_key, served
from tokenapi import (Clock, assert_no_secrets, check_event, events, is_generated_key, out,
                      parse_rfc3339, remember, retrieve, run_cli, token_ref, view_key)
from world import World

FAR = "2099-01-01T00:00:00Z"
PAST = "2020-01-01T00:00:00Z"
S = datetime.timedelta(seconds=1)

# identifier, intent, expires, expiring, fate
TOKENS = [
    ("rot-past", "api", PAST, True, "rotate"),
    ("rot-null", "api", "none", True, "rotate"),
    ("rot-now", "api", "NOW", True, "rotate"),
    ("del-app", "app_password", PAST, True, "delete"),
    ("del-app-null", "app_password", "none", True, "delete"),
    ("del-rec", "recovery", PAST, True, "delete"),
    ("del-ver", "verification", "NOW", True, "delete"),
    ("keep-api-noexp", "api", PAST, False, "keep"),
    ("keep-api-null-noexp", "api", "none", False, "keep"),
    ("keep-api-future", "api", FAR, True, "keep"),
    ("keep-app-noexp", "app_password", PAST, False, "keep"),
    ("keep-app-future", "app_password", FAR, True, "keep"),
    ("keep-rec-future", "recovery", FAR, True, "keep"),
    ("keep-ver-noexp", "verification", "none", False, "keep"),
]


def fate(kind):
    return [t[0] for t in TOKENS if t[4] == kind]


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("sweep")) as server:
        world = World(server)
        world.add_user("sw", "Sweep Owner", "sw@example.com")
        world.add_token("sw-login", "sw", "api", expires=FAR, key=random_key(), login=True)
        world.learn(world.client())
        yield world


def add_tokens(w, tokens, prefix=""):
    just_past = out(datetime.datetime.now(datetime.timezone.utc) - S)
    for ident, intent, expires, expiring, _ in tokens:
        w.add_token(prefix + ident, "sw", intent,
                    expires=just_past if expires == "NOW" else expires, expiring=expiring,
                    key=random_key())
    w.learn(w.client())


def rotation_event_check(w, ev, tok_json, window):
    check_event(ev, "secret_rotate", {},
                {"token": token_ref(tok_json),
                 "message": f"Token {tok_json['identifier']}'s secret was rotated."},
                window, client_ip=None)


def test_cli_sweep(w):
    add_tokens(w, TOKENS)
    admin = w.client()
    before = {t[0]: retrieve(admin, t[0]).json() for t in TOKENS}
    old_keys = {t[0]: w.tokens[t[0]].key for t in TOKENS}
    n_events = len(events(admin))

    with Clock() as c:
        rc, stdout, stderr = run_cli(w.server, "sweep")
    assert rc == 0, (stdout, stderr)

    # deleted
    for ident in fate("delete"):
        assert_json(retrieve(admin, ident), 404, NOT_FOUND)
        w.tokens.pop(ident)
    # untouched
    for ident in fate("keep"):
        assert_json(retrieve(admin, ident), 200, before[ident])
        if w.tokens[ident].intent == "api":
            assert w.client().list(token=old_keys[ident]).status == 200, ident
    # rotated: same token, new expiry, old key refused
    after = {}
    for ident in fate("rotate"):
        resp = retrieve(admin, ident)
        assert_status(resp, 200)
        got = resp.json()
        after[ident] = got
        want = dict(before[ident], expires=got["expires"])
        assert got == want
        exp = parse_rfc3339(got["expires"])
        lo, hi = c.window()
        assert lo <= exp <= hi, (ident, got["expires"])
        assert_json(w.client().list(token=old_keys[ident]), 403, INVALID_TOKEN)
        w.tokens[ident].expires = got["expires"]

    # events: one secret_rotate per rotated token, and one suspicious_request per old key
    # presented above (the sweeper remembers a rotated-out key, docs/api.md §19.5); nothing else
    evs = events(admin)
    new = evs[:len(evs) - n_events]
    assert sorted(e["action"] for e in new) == (["secret_rotate"] * 3 +
                                                ["suspicious_request"] * 3), \
        [e["action"] for e in new]
    reused = [e for e in new if e["action"] == "suspicious_request"]
    assert sorted(e["context"]["message"] for e in reused) == sorted(
        f"Superseded key of token {ident} was used." for ident in fate("rotate"))
    new = [e for e in new if e["action"] == "secret_rotate"]
    by_pk = {e["context"]["token"]["pk"]: e for e in new}
    for ident in fate("rotate"):
        rotation_event_check(w, by_pk[after[ident]["pk"].replace("-", "")], after[ident],
                             c.window(datetime.timedelta(0)))

    # the new keys
    for ident in fate("rotate"):
        key = view_key(w, ident)
        assert is_generated_key(key) and key != old_keys[ident]
        assert_json(w.client().list({"identifier": ident}, token=key), 200, w.page([ident]))

    # nothing secret printed
    for k in list(old_keys.values()) + [w.tokens[i].key for i in fate("rotate")]:
        remember(w, k)
        assert k not in stdout and k not in stderr
    assert w.server.secret_key not in stdout + stderr

    # a second run finds nothing to do
    listing = admin.list("page_size=1000").json()
    n_events = len(events(admin))
    rc, stdout2, stderr2 = run_cli(w.server, "sweep")
    assert rc == 0, (stdout2, stderr2)
    assert admin.list("page_size=1000").json() == listing
    assert len(events(admin)) == n_events
    assert_no_secrets(w, stdout + stderr + stdout2 + stderr2)


def test_sweep_keeps_the_user_and_the_other_tokens(w):
    w.learn(w.client())
    assert_json(w.client("sw").list("page_size=1000"), 200, w.page(w.owned_by("sw")))


# -- the server's own sweeper ----------------------------------------------------------------------

def test_background_sweeper_rotates_and_deletes(tmp_path_factory):
    with served(tmp_path_factory.mktemp("sweep-bg"),
                extra_env={"TOKEND_SWEEP_INTERVAL": "seconds=1"}) as server:
        w = World(server)
        w.add_user("sw", "Sweep Owner", "sw@example.com")
        w.add_token("sw-login", "sw", "api", expires=FAR, key=random_key(), login=True)
        start = datetime.datetime.now(datetime.timezone.utc)
        add_tokens(w, [("bg-api", "api", PAST, True, "rotate"),
                       ("bg-app", "app_password", PAST, True, "delete"),
                       ("bg-keep", "api", PAST, False, "keep")])
        admin = w.client()
        keep_before = retrieve(admin, "bg-keep").json()
        old_key = w.tokens["bg-api"].key

        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            api = retrieve(admin, "bg-api").json()
            app = retrieve(admin, "bg-app")
            if api["expires"] != PAST and app.status == 404:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"not swept within 8 s: bg-api {api['expires']}, bg-app {app.status}")
        end = datetime.datetime.now(datetime.timezone.utc)

        exp = parse_rfc3339(api["expires"])
        assert start + datetime.timedelta(minutes=30) - S <= exp
        assert exp <= end + datetime.timedelta(minutes=30) + S
        assert api["expiring"] is True and api["identifier"] == "bg-api"
        assert_json(retrieve(admin, "bg-app"), 404, NOT_FOUND)
        w.tokens.pop("bg-app")
        assert_json(retrieve(admin, "bg-keep"), 200, keep_before)
        assert_json(w.client().list(token=old_key), 403, INVALID_TOKEN)
        key = view_key(w, "bg-api")
        assert is_generated_key(key) and key != old_key
        assert w.client().list(token=key).status == 200
        rot = [e for e in events(admin) if e["action"] == "secret_rotate"]
        assert len(rot) == 1
        rotation_event_check(w, rot[0], api, (start - S, end + S))
        remember(w, old_key)
        assert_no_secrets(w)
