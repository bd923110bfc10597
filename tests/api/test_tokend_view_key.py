"""view_key modes (extensions contract X3, setting TOKEND_VIEW_KEY of X6): `always` is
authentik's behaviour; `once` answers core/tokens/{id}/view_key/ once after each time the key was
set (creation, set_key, rotation; a rotate answer is that one view), then
404 {"detail": "Not found."}, and erases the sealed copy; `never` is always 404, stores no sealed
copy, and the key is seen only in a rotate answer. Changing the mode to once or never erases an
already viewed key's sealed copy.

The sealed copy lives in tokens.key_sealed (src/store/migrations/sqlite/0001_init.sql); "erased"
is NULL or empty there, and on SQLite its bytes must be found nowhere in the database files once
the server has stopped.

Tokens of the once tests are made through POST core/tokens/, whose answer holds no key (the CLI
prints the key it makes, which the contract does not count as a view either way).
"""

import glob
import itertools

import pytest

pytest.register_assert_rewrite("tokendapi")

from harness import NOT_FOUND, assert_json, assert_status, random_key, served  # noqa: E402
from tokenapi import assert_no_secrets, create, detail, remember, send  # noqa: E402
from tokendapi import (current, rotate, sealed_bytes, sealed_length, tpatch,  # noqa: E402
                       works)
from world import World  # noqa: E402

FAR = "2099-01-01T00:00:00Z"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("tokend-view-key")) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        yield world


def api_token(w, client=None, mode=None):
    """A token made through POST core/tokens/ (no key shown); `mode` PATCHed in at once."""
    ident = f"v-{next(_n)}"
    assert_status(create(client or w.client(), {"identifier": ident}), 201)
    if mode is not None:
        assert_status(tpatch(client or w.client(), ident, {"view_key": mode}), 200)
    return ident


def view(w, ident, client=None):
    return (client or w.client()).get(detail(ident, "view_key"))


def viewed(w, ident, client=None):
    """A 200 view_key answer's key."""
    resp = view(w, ident, client)
    assert_status(resp, 200)
    body = resp.json()
    assert list(body) == ["key"] and isinstance(body["key"], str), body
    remember(w, body["key"])
    return body["key"]


def gone(w, ident, client=None):
    assert_json(view(w, ident, client), 404, NOT_FOUND)


def set_key(w, ident):
    key = "set-" + random_key(40)
    remember(w, key)
    assert_status(send(w.client(), "POST", detail(ident, "set_key"), {"key": key}), 204)
    return key


def rotated_key(w, ident, client=None):
    resp = rotate(client or w.client(), ident, {})
    assert_status(resp, 200)
    remember(w, resp.json()["key"])
    return resp.json()["key"]


# -- always ----------------------------------------------------------------------------------------

def test_always_is_the_default(w):
    ident = api_token(w)
    assert current(w.client(), ident)["view_key"] == "always"
    key = viewed(w, ident)
    assert viewed(w, ident) == key
    assert viewed(w, ident) == key
    assert works(w.server, key)
    cli = f"v-cli-{next(_n)}"
    w.add_token(cli, "pat", "api", expires=FAR, key=random_key())
    assert current(w.client(), cli)["view_key"] == "always"


# -- once ------------------------------------------------------------------------------------------

def test_once(w):
    ident = api_token(w, mode="once")
    key = viewed(w, ident)
    gone(w, ident)
    gone(w, ident)
    assert works(w.server, key)             # viewing changes nothing but the view
    # set_key: viewable once again, the new key
    key2 = set_key(w, ident)
    assert viewed(w, ident) == key2
    gone(w, ident)
    assert works(w.server, key2)
    assert current(w.client(), ident)["view_key"] == "once"


def test_once_a_rotate_answer_is_the_view(w):
    ident = api_token(w, mode="once")
    key = rotated_key(w, ident)
    gone(w, ident)
    assert works(w.server, key)
    # a rotation after a view: again only the answer shows it
    key2 = set_key(w, ident)
    assert viewed(w, ident) == key2
    key3 = rotated_key(w, ident)
    gone(w, ident)
    assert works(w.server, key3)


def test_once_the_one_view_is_everyones(w):
    """pat made the token through the API (so pat may view its key, docs/api.md §4.2): after the
    superuser's view there is none left for pat."""
    pat = w.client("pat")
    ident = api_token(w, client=pat, mode="once")
    key = viewed(w, ident)
    gone(w, ident, pat)
    gone(w, ident)
    assert works(w.server, key)


def test_switching_to_once_after_a_view_erases_the_copy(w):
    ident = api_token(w)
    key = viewed(w, ident)
    assert_status(tpatch(w.client(), ident, {"view_key": "once"}), 200)
    gone(w, ident)
    assert works(w.server, key)


def test_switching_to_once_before_any_view_leaves_the_one_view(w):
    """Only an already viewed key's copy is erased by the switch (X3), so a key not yet viewed
    is viewable once."""
    ident = api_token(w)
    assert_status(tpatch(w.client(), ident, {"view_key": "once"}), 200)
    key = viewed(w, ident)
    gone(w, ident)
    assert works(w.server, key)


# -- never -----------------------------------------------------------------------------------------

def test_never(w):
    ident = api_token(w, mode="never")
    gone(w, ident)
    key = rotated_key(w, ident)           # the only place the key is seen
    assert works(w.server, key)
    gone(w, ident)
    key2 = set_key(w, ident)
    gone(w, ident)
    assert works(w.server, key2)
    assert not works(w.server, key)
    assert current(w.client(), ident)["view_key"] == "never"


def test_switching_to_never_after_a_view(w):
    ident = api_token(w)
    key = viewed(w, ident)
    assert_status(tpatch(w.client(), ident, {"view_key": "never"}), 200)
    gone(w, ident)
    assert works(w.server, key)


def test_no_key_in_events_or_log(w):
    assert_no_secrets(w)


# -- TOKEND_VIEW_KEY=once (X6) ---------------------------------------------------------------------

def test_view_key_setting_makes_new_tokens_once(tmp_path):
    with served(tmp_path, extra_env={"TOKEND_VIEW_KEY": "once"}) as server:
        w2 = World(server)
        w2.add_user("pat", "Pat Plain", "pat@example.com")
        w2.add_token("pat-cli", "pat", "api", expires=FAR, key=random_key())
        assert current(w2.client(), "pat-cli")["view_key"] == "once"
        ident = api_token(w2)
        assert current(w2.client(), ident)["view_key"] == "once"
        key = viewed(w2, ident)
        gone(w2, ident)
        assert works(server, key)
        # a token set to always before its first view keeps its copy
        other = api_token(w2, mode="always")
        key = viewed(w2, other)
        assert viewed(w2, other) == key
        assert_no_secrets(w2)


# -- the sealed copy in storage --------------------------------------------------------------------

def windows(blob, size=16):
    """Every `size`-byte run of blob: a surviving part of the copy is found as well."""
    return [blob[i:i + size] for i in range(0, len(blob) - size + 1)]


def test_sealed_copies_are_erased_from_storage(tmp_path):
    with served(tmp_path) as server:
        w2 = World(server)
        backend = server.backend
        sqlite = backend.name == "sqlite"
        captured = {}

        # once: stored until its view, then erased
        once = api_token(w2, mode="once")
        assert sealed_length(backend, once) > 0
        if sqlite:
            captured[once] = sealed_bytes(backend, once)
        viewed(w2, once)
        gone(w2, once)
        assert sealed_length(backend, once) == 0

        # always, viewed, then never: erased
        never = api_token(w2)
        assert sealed_length(backend, never) > 0
        if sqlite:
            captured[never] = sealed_bytes(backend, never)
        viewed(w2, never)
        assert sealed_length(backend, never) > 0   # always keeps it
        assert_status(tpatch(w2.client(), never, {"view_key": "never"}), 200)
        assert sealed_length(backend, never) == 0
        # never stores no copy of a key set later
        key = rotated_key(w2, never)
        assert sealed_length(backend, never) == 0
        set_key(w2, never)
        assert sealed_length(backend, never) == 0
        assert not works(server, key)

        # once, then a rotation: the answer was the view, no copy kept
        rot = api_token(w2, mode="once")
        assert sealed_length(backend, rot) > 0
        rotated_key(w2, rot)
        assert sealed_length(backend, rot) == 0

        # always, after another view and a set_key: a copy is kept (the column is the right one)
        kept = api_token(w2)
        viewed(w2, kept)
        set_key(w2, kept)
        assert sealed_length(backend, kept) > 0
        assert_no_secrets(w2)

        server.stop()
        if sqlite:
            files = [f for f in glob.glob(backend.path + "*") if not f.endswith(".secret")]
            assert backend.path in files
            for path in files:
                with open(path, "rb") as f:
                    data = f.read()
                for ident, blob in captured.items():
                    assert len(blob) >= 32, (ident, blob)
                    hits = [run for run in windows(blob) if run in data]
                    assert not hits, f"{ident}: {len(hits)} runs of its erased sealed copy " \
                                     f"are still in {path}"
