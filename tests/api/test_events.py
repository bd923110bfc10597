"""Audit events of the token viewset (docs/api.md §11) through GET /api/v3/events/events/:
superusers only, paginated like the token list, newest first, filters action, username and
context_model_pk. Every create, update, delete, view_key and set_key records its events with the
actor, the token reference (name with the expiry while expiring) and the request (query
arguments with sensitive names masked); refused requests record nothing; no key ever appears.

Runs on its own server.
"""

import datetime
import itertools

import pytest

from harness import (INVALID_PAGE, NOT_PROVIDED, assert_json, assert_status, pagination,
                     random_key, served)
from tokenapi import (EVENTS, FORBIDDEN, MASK, Clock, actor, assert_no_secrets, assert_unchanged,
                      check_event, create, detail, events, expect_token, http_request, out,
                      parse_rfc3339, refs_of, remember, retrieve, send, snapshot, token_ref,
                      update, view_key)
from world import World

FAR = "2099-01-01T00:00:00Z"
UA = "tokend-tests/1.0 (events)"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("events")) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("quinn", "Quinn Other", "")
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        world.add_token("quinn-login", "quinn", "api", expires=FAR, key=random_key(), login=True)
        world.learn(world.client())
        yield world


def of_token(w, pk):
    """All events referencing the token (model, secret or token reference), newest first."""
    hex_ = pk.replace("-", "")
    return [e for e in events(w.client()) if hex_ in refs_of(e)]


# -- access ----------------------------------------------------------------------------------------

def test_superuser_only(w):
    resp = w.client().get(EVENTS)
    assert_status(resp, 200)
    assert list(resp.json()) == ["pagination", "results"]
    for user in ("pat", "quinn"):
        assert_json(w.client(user).get(EVENTS), 403, FORBIDDEN)
        assert_json(w.client(user).get(EVENTS, {"username": user}), 403, FORBIDDEN)
    assert_json(w.client().get(EVENTS, token=None), 403, NOT_PROVIDED)


# -- one token's whole life ------------------------------------------------------------------------

def test_lifecycle_events(w):
    ident = f"life-{next(_n)}"
    query = "include_groups=false&note=a+b%21&password=x&plain=1&plain=2"
    with Clock() as c_create:
        resp = create(w.client(), {"identifier": ident, "description": "life"}, query=query,
                      headers={"User-Agent": UA})
    created = expect_token(w, resp, 201, ident, "akadmin", "api", "life", expiring=True,
                           window=c_create.window(), groups=False)
    created_json = w.token_json(ident)
    assert created_json["expiring"] and created_json["expires"] is not None

    renamed = f"life-renamed-{next(_n)}"
    with Clock() as c_patch:
        resp = update(w.client(), ident, {"identifier": renamed, "expiring": False})
    assert_status(resp, 200)
    patched_json = resp.json()
    assert patched_json["identifier"] == renamed and patched_json["expiring"] is False

    with Clock() as c_view:
        key = view_key(w, renamed)
    with Clock() as c_set:
        new_key = "life-" + random_key(50)
        remember(w, new_key)
        resp = send(w.client(), "POST", detail(renamed, "set_key"), {"key": new_key})
        assert_status(resp, 204)
    with Clock() as c_delete:
        assert_status(w.client().request("DELETE", detail(renamed)), 204)
    remember(w, key)
    w.tokens.pop(ident)

    evs = of_token(w, created.pk)
    assert [e["action"] for e in evs] == ["model_deleted", "model_updated", "model_updated",
                                         "secret_view", "model_updated", "model_created"]
    admin = actor(w, "akadmin")
    plain_ref = token_ref(patched_json)
    assert plain_ref["name"] == renamed

    check_event(evs[5], "model_created", admin,
                {"model": token_ref(created_json),
                 "http_request": http_request("/api/v3/core/tokens/", "POST",
                                              {"include_groups": "false", "note": "a b!",
                                               "password": MASK, "plain": "2"}, UA)},
                c_create.window(datetime.timedelta(0)))
    name = evs[5]["context"]["model"]["name"]
    assert name == f"{ident} (expires={parse_rfc3339(created_json['expires'])})", name
    check_event(evs[4], "model_updated", admin,
                {"model": plain_ref, "http_request": http_request(detail(ident), "PATCH")},
                c_patch.window(datetime.timedelta(0)))
    check_event(evs[3], "secret_view", admin,
                {"secret": plain_ref,
                 "http_request": http_request(detail(renamed, "view_key"), "GET")},
                c_view.window(datetime.timedelta(0)))
    set_ctx = {"model": plain_ref,
               "http_request": http_request(detail(renamed, "set_key"), "POST")}
    apps = set()
    for ev in evs[1:3]:
        check_event(ev, "model_updated", admin, set_ctx, c_set.window(datetime.timedelta(0)),
                    app=ev["app"])
        apps.add(ev["app"])
    assert apps == {"authentik.events.middleware", "authentik.core.api.tokens"}
    check_event(evs[0], "model_deleted", admin,
                {"model": plain_ref, "http_request": http_request(detail(renamed), "DELETE")},
                c_delete.window(datetime.timedelta(0)))

    # one request id per request: the two set_key events share theirs
    ids = [e["context"]["http_request"]["request_id"] for e in evs]
    assert ids[1] == ids[2]
    assert len(set(ids)) == 5, ids
    assert len({e["pk"] for e in evs}) == 6


def test_name_without_microseconds(w):
    """str() of a datetime with zero microseconds has no fraction."""
    expires = out(datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                  + datetime.timedelta(minutes=10))
    ident = f"whole-{next(_n)}"
    with Clock() as c:
        resp = create(w.client(), {"identifier": ident, "intent": "app_password",
                                   "expires": expires})
    tok = expect_token(w, resp, 201, ident, "akadmin", "app_password", expires=expires,
                       expiring=True)
    (ev,) = of_token(w, tok.pk)
    dt = parse_rfc3339(expires)
    check_event(ev, "model_created", actor(w, "akadmin"),
                {"model": {"app": "authentik_core", "model_name": "token",
                           "pk": tok.pk.replace("-", ""),
                           "name": f"{ident} (expires={dt:%Y-%m-%d %H:%M:%S}+00:00)"},
                 "http_request": http_request("/api/v3/core/tokens/", "POST")},
                c.window(datetime.timedelta(0)))


def test_events_of_a_plain_user(w):
    ident = f"pat-{next(_n)}"
    with Clock() as c1:
        resp = create(w.client("pat"), {"identifier": ident})
    tok = expect_token(w, resp, 201, ident, "pat", "api", expiring=True, window=c1.window())
    with Clock() as c2:
        view_key(w, ident, w.client("pat"))
    ref = token_ref(w.token_json(ident))  # expiring at create and at view_key
    with Clock() as c3:
        resp = update(w.client("pat"), ident, {"expiring": False})
    expect_token(w, resp, 200, ident, "pat", "api", expiring=False, window=c3.window())
    evs = of_token(w, tok.pk)
    assert [e["action"] for e in evs] == ["model_updated", "secret_view", "model_created"]
    pat = actor(w, "pat")
    check_event(evs[2], "model_created", pat,
                {"model": ref, "http_request": http_request("/api/v3/core/tokens/", "POST")},
                c1.window(datetime.timedelta(0)))
    check_event(evs[1], "secret_view", pat,
                {"secret": ref, "http_request": http_request(detail(ident, "view_key"), "GET")},
                c2.window(datetime.timedelta(0)))
    check_event(evs[0], "model_updated", pat,
                {"model": token_ref(w.token_json(ident)),
                 "http_request": http_request(detail(ident), "PATCH")},
                c3.window(datetime.timedelta(0)))


def test_actor_with_an_empty_email(w):
    ident = f"quinn-{next(_n)}"
    resp = create(w.client("quinn"), {"identifier": ident})
    assert_status(resp, 201)
    (ev,) = of_token(w, resp.json()["pk"])
    assert ev["user"] == {"pk": w.users["quinn"].pk, "username": "quinn", "email": ""}
    w.learn(w.client())


SENSITIVE = ["api", "API_KEY", "x-api-key", "token", "MyToken", "key", "monkey", "secret",
             "password", "PASS", "signature", "auth", "Authorization", "http_cookie"]
HARMLESS = {"passing": "1", "passing_token": "2", "compassing": "3", "plain": "p",
            "note": "a b!", "empty": "", "ordering": "-expires"}


def test_sensitive_query_arguments_are_masked(w):
    ident = f"mask-{next(_n)}"
    resp = create(w.client(), {"identifier": ident, "intent": "app_password"})
    tok = expect_token(w, resp, 201, ident, "akadmin", "app_password", expires=None)
    pairs = [(name, f"v{i}") for i, name in enumerate(SENSITIVE)] + [("empty_secret", "")]
    pairs += [(k, v) for k, v in HARMLESS.items()]
    with Clock() as c:
        resp = update(w.client(), ident, {"description": "masked"}, query=pairs)
    assert_status(resp, 200)
    args = {name: MASK for name in SENSITIVE}
    args["empty_secret"] = MASK
    args.update(HARMLESS)
    ev = of_token(w, tok.pk)[0]
    check_event(ev, "model_updated", actor(w, "akadmin"),
                {"model": token_ref(resp.json()),
                 "http_request": http_request(detail(ident), "PATCH", args)},
                c.window(datetime.timedelta(0)))
    w.tokens[ident].description = "masked"


def test_refused_requests_record_nothing(w):
    ident = f"ref-{next(_n)}"
    resp = create(w.client(), {"identifier": ident, "user": w.users["quinn"].pk})
    assert_status(resp, 201)
    w.learn(w.client())
    before = snapshot(w)
    pat, admin = w.client("pat"), w.client()
    for resp in (
        create(admin, {"identifier": "a b"}),
        create(admin, {"identifier": "rec", "intent": "recovery"}),
        update(admin, ident, {"user": w.users["pat"].pk}),
        update(admin, ident, {"expires": "never"}),
        update(pat, ident, {"description": "x"}),
        pat.request("DELETE", detail(ident)),
        pat.request("GET", detail(ident, "view_key")),
        pat.request("GET", detail("pat-login", "view_key")),
        send(pat, "POST", detail("pat-login", "set_key"), {"key": "x" * 30}),
        send(admin, "POST", detail(ident, "set_key"), {"key": ""}),
        send(admin, "POST", detail(ident, "set_key"), {"key": 5}),
        admin.request("GET", detail("no-such", "view_key")),
        admin.request("DELETE", detail("no-such")),
        retrieve(admin, ident),
        admin.request("GET", detail(ident, "used_by")),
    ):
        assert resp.status in (200, 400, 403, 404), resp
    assert_unchanged(w, before)


def test_deleting_a_user_records_model_deleted_for_each_token(w):
    """authentik's cascade sends each token's post_delete: one model_deleted per token, by the
    requester, in one request, each with the token's reference (README "Users with many
    tokens"). tokend writes them a batch per statement; the shape is the one of a delete."""
    name = f"gone-{next(_n)}"
    w.add_user(name, "Gone User", f"{name}@example.com")
    idents = [f"{name}-b", f"{name}-a", f"{name}-c"]
    w.add_token(idents[0], name, "api", expires=FAR, key=random_key())
    w.add_token(idents[1], name, "app_password", expires="2030-01-02T03:04:05.5Z",
                expiring=True, key=random_key())
    w.add_token(idents[2], name, "recovery", expires=FAR, expiring=False, key=random_key())
    w.learn(w.client())
    refs = {i: token_ref(w.token_json(i)) for i in idents}
    assert refs[f"{name}-a"]["name"] == f"{name}-a (expires=2030-01-02 03:04:05.500000+00:00)"
    pk = w.users[name].pk
    path = f"/api/v3/core/users/{pk}/"
    with Clock() as c:
        resp = w.client().request("DELETE", path, query={"why": "x", "api_key": "k"},
                                  headers={"User-Agent": UA})
    assert_status(resp, 204)
    for i in idents:
        w.tokens.pop(i)
    del w.users[name]
    evs = [e for e in events(w.client(), {"action": "model_deleted"})
           if e["context"]["model"]["pk"] in {r["pk"] for r in refs.values()}]
    # newest first, the same created: written in identifier order, listed the other way round
    assert [e["context"]["model"]["name"].split(" ")[0] for e in evs] == sorted(idents,
                                                                                 reverse=True)
    request = http_request(path, "DELETE", {"why": "x", "api_key": MASK}, UA)
    for ev in evs:
        ident = ev["context"]["model"]["name"].split(" ")[0]
        check_event(ev, "model_deleted", actor(w, "akadmin"),
                    {"model": refs[ident], "http_request": request},
                    c.window(datetime.timedelta(0)))
    assert len({e["context"]["http_request"]["request_id"] for e in evs}) == 1
    assert len({e["created"] for e in evs}) == 1


# -- listing: order, pagination, filters -----------------------------------------------------------

def test_newest_first(w):
    evs = events(w.client())
    assert len(evs) >= 10
    created = [parse_rfc3339(e["created"]) for e in evs]
    assert created == sorted(created, reverse=True)


def test_pagination(w):
    # events of its own, so that there are pages to turn whatever ran before (or nothing did)
    for _ in range(5):
        assert_status(create(w.client(), {"identifier": f"paged-{next(_n)}"}), 201)
    full = events(w.client())
    assert len(full) >= 5
    n = len(full)
    resp = w.client().get(EVENTS, {"page_size": "2"})
    assert_status(resp, 200)
    assert resp.json()["pagination"] == pagination(n, 1, 2)
    assert [e["pk"] for e in resp.json()["results"]] == [e["pk"] for e in full[:2]]
    resp = w.client().get(EVENTS, {"page_size": "2", "page": "2"})
    assert resp.json()["pagination"] == pagination(n, 2, 2)
    assert [e["pk"] for e in resp.json()["results"]] == [e["pk"] for e in full[2:4]]
    last = (n + 1) // 2
    resp = w.client().get(EVENTS, {"page_size": "2", "page": "last"})
    assert resp.json()["pagination"] == pagination(n, last, 2)
    resp = w.client().get(EVENTS)
    assert resp.json()["pagination"] == pagination(n, 1, 100)
    for page in ("0", str(last + 1), "x"):
        assert_json(w.client().get(EVENTS, {"page_size": "2", "page": page}), 404, INVALID_PAGE)


@pytest.mark.parametrize("action", ["model_created", "model_updated", "model_deleted",
                                    "secret_view"])
def test_filter_action(w, action):
    full = events(w.client())
    want = [e["pk"] for e in full if e["action"] == action]
    assert want, f"no {action} events to filter"
    assert [e["pk"] for e in events(w.client(), {"action": action})] == want


@pytest.mark.parametrize("username", ["akadmin", "pat", "quinn", "nobody"])
def test_filter_username(w, username):
    full = events(w.client())
    want = [e["pk"] for e in full if e["user"].get("username") == username]
    assert (username == "nobody") == (not want)
    assert [e["pk"] for e in events(w.client(), {"username": username})] == want


def test_filter_action_and_username(w):
    full = events(w.client())
    want = [e["pk"] for e in full
            if e["user"].get("username") == "pat" and e["action"] == "model_created"]
    assert want
    got = events(w.client(), {"username": "pat", "action": "model_created"})
    assert [e["pk"] for e in got] == want


def test_filter_context_model_pk(w):
    ident = f"ctx-{next(_n)}"
    resp = create(w.client(), {"identifier": ident})
    assert_status(resp, 201)
    pk = resp.json()["pk"]
    assert_status(update(w.client(), ident, {"description": "d"}), 200)
    view_key(w, ident)
    w.learn(w.client())
    hex_ = pk.replace("-", "")
    dashed = events(w.client(), {"context_model_pk": pk})
    plain = events(w.client(), {"context_model_pk": hex_})
    assert dashed == plain
    model_events = [e["pk"] for e in events(w.client())
                    if (e["context"].get("model") or {}).get("pk") == hex_]
    assert len(model_events) == 2
    got = [e["pk"] for e in dashed]
    assert all(p in got for p in model_events), (got, model_events)
    assert all(hex_ in refs_of(e) for e in dashed)
    assert events(w.client(), {"context_model_pk": "00000000-0000-4000-8000-000000000000"}) == []


def test_events_expire_a_year_after_creation(w):
    for ev in events(w.client()):
        assert parse_rfc3339(ev["expires"]) - parse_rfc3339(ev["created"]) == \
            datetime.timedelta(days=365)


def test_no_key_in_events_or_log(w):
    for ident in list(w.tokens):
        if w.tokens[ident].key is None:
            view_key(w, ident)
    assert_no_secrets(w)
