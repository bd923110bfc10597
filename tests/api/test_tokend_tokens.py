"""Token settings and usage at /api/v3/tokend/tokens/ (extensions contract X1, with the usage
half of X4: a use is an authenticated request to tokend's API). Checked here: the TokendToken
object (keys in the contract's order, the defaults of a fresh token), visibility (superusers see
every token, anyone else only their own, 404 otherwise), 405 for PUT, DELETE and POST on the
list, the list envelope and pagination (docs/api.md §9), every filter and ordering, the PATCH
validation table, and usage: use_count, last_used, last_used_ip, uses_remaining, rate_limit, and
the flush on a clean stop.

The module's server writes usage every second (TOKEND_USAGE_FLUSH=seconds=1); the pagination
default and clamp run on a second server seeded with 1100 tokens, the clean stop on a third one
that writes usage every minute.
"""

import datetime
import itertools
import re
import time

import pytest

pytest.register_assert_rewrite("tokendapi")

from harness import (INVALID_PAGE, INVALID_TOKEN, NOT_FOUND, NOT_PROVIDED,  # noqa: E402
                     RFC3339_RE, Client, assert_json, assert_status, pagination, random_key,
                     served)
from tokenapi import Clock, out, parse_rfc3339, retrieve, send  # noqa: E402
from tokendapi import (FIELDS, ME, RESET, THROTTLED_RE, TOKEND, assert_exact,  # noqa: E402
                       assert_field_errors, current, refused_as_invalid, tget, tlist,
                       tobj, tpatch, tpath, usage_reaches, use)
from world import World  # noqa: E402

FAR = "2099-01-01T00:00:00Z"
FLUSH_S = 1  # TOKEND_USAGE_FLUSH of the module's server, in seconds
SLACK = datetime.timedelta(seconds=2)
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("tokend-tokens"),
                extra_env={"TOKEND_USAGE_FLUSH": f"seconds={FLUSH_S}"}) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("quinn", "Quinn Other", "quinn@example.com")
        world.add_user("lister", "Lis Ter", "lister@example.com")
        world.add_token("pat-login", "pat", "api", expires=FAR, key=random_key(), login=True)
        world.add_token("quinn-login", "quinn", "api", expires=FAR, key=random_key(), login=True)
        world.learn(world.client())
        yield world


def fresh(w, owner="pat", intent="api", expires=FAR, expiring=False):
    """A new CLI-made token with a known key."""
    ident = f"t-{owner}-{next(_n)}"
    w.add_token(ident, owner, intent, expires=expires, expiring=expiring, key=random_key())
    return ident


def pk(w, username):
    return w.users[username].pk


# -- the object ------------------------------------------------------------------------------------

@pytest.mark.parametrize("intent", ["api", "app_password", "recovery", "verification"])
def test_a_fresh_token(w, intent):
    ident = fresh(w, "pat", intent)
    want = tobj(ident, intent, pk(w, "pat"))
    assert want == {"identifier": ident, "intent": intent, "user": pk(w, "pat"), "scopes": None,
                    "allowed_networks": None, "rate_limit": None, "uses_remaining": None,
                    "view_key": "always", "revoke_on_reuse": False, "last_used": None,
                    "last_used_ip": None, "use_count": 0, "previous_key_valid_until": None}
    for client in (w.client(), w.client("pat")):
        assert_exact(tget(client, ident), 200, want)
    # the same object in the list, inside the envelope of docs/api.md §9
    assert_exact(tlist(w.client(), {"identifier": ident}), 200,
                 {"pagination": pagination(1), "results": [want]})


def test_unknown_and_invisible_tokens_are_404(w):
    other = fresh(w, "quinn")
    for client, ident in ((w.client("pat"), other), (w.client("pat"), "no-such-token"),
                          (w.client(), "no-such-token")):
        assert_json(tget(client, ident), 404, NOT_FOUND)
        assert_json(tpatch(client, ident, {"rate_limit": "1/s"}), 404, NOT_FOUND)
    assert_exact(tget(w.client(), other), 200, tobj(other, "api", pk(w, "quinn")))


def test_superuser_sees_every_token_and_a_plain_user_their_own(w):
    fresh(w, "pat")
    fresh(w, "quinn")
    for client in (w.client(), w.client("pat"), w.client("quinn")):
        core = client.list({"page_size": "1000"})
        assert_status(core, 200)
        ours = tlist(client, {"page_size": "1000"})
        assert_status(ours, 200)
        assert [t["identifier"] for t in ours.json()["results"]] == \
            [t["identifier"] for t in core.json()["results"]]
        assert ours.json()["pagination"] == core.json()["pagination"]
        by_ident = {t["identifier"]: t for t in core.json()["results"]}
        for t in ours.json()["results"]:
            assert list(t) == FIELDS, list(t)
            assert (t["intent"], t["user"]) == (by_ident[t["identifier"]]["intent"],
                                                by_ident[t["identifier"]]["user"])
    mine = tlist(w.client("pat"), {"page_size": "1000"}).json()["results"]
    assert [t["identifier"] for t in mine] == w.owned_by("pat")
    everyone = tlist(w.client(), {"page_size": "1000"}).json()["results"]
    assert {t["user"] for t in everyone} >= {pk(w, "pat"), pk(w, "quinn"), 1}


def test_authentication_is_required(w):
    ident = fresh(w, "pat")
    for path in (TOKEND, tpath(ident)):
        assert_json(Client(w.server).get(path), 403, NOT_PROVIDED)
        assert_json(Client(w.server, "no-such-key-" + random_key(20)).get(path), 403,
                    INVALID_TOKEN)


@pytest.mark.parametrize("method,path", [
    ("PUT", "detail"), ("DELETE", "detail"), ("POST", "list"),
])
def test_methods_not_allowed(w, method, path):
    """X1: PUT, POST on the list and DELETE are 405 (tokens are made and deleted through
    core/tokens/), with Allow as everywhere (docs/api.md §2.3). The contract names no exact
    Allow value: it must list GET, and PATCH on the detail route, and not the refused method."""
    ident = fresh(w, "pat")
    target = tpath(ident) if path == "detail" else TOKEND
    resp = send(w.client(), method, target, {"scopes": ["a"]})
    assert_exact(resp, 405, {"detail": f'Method "{method}" not allowed.'})
    allow = [m.strip() for m in (resp.header("Allow") or "").split(",")]
    assert "GET" in allow and method not in allow, allow
    if path == "detail":
        assert "PATCH" in allow, allow
    # nothing happened
    assert_exact(tget(w.client(), ident), 200, tobj(ident, "api", pk(w, "pat")))
    assert_status(retrieve(w.client(), ident), 200)


def test_head_is_get_without_a_body(w):
    ident = fresh(w, "pat")
    for path in (TOKEND, tpath(ident)):
        resp = w.client().request("HEAD", path)
        assert_status(resp, 200)
        assert resp.body == b""


def test_trailing_slash_is_required(w):
    ident = fresh(w, "pat")
    for path in (TOKEND[:-1], tpath(ident)[:-1]):
        assert_json(w.client().get(path), 404, NOT_FOUND)


def test_the_core_token_object_is_unchanged_by_settings(w):
    """Contract preamble: no new field in any authentik object."""
    ident = fresh(w, "pat")
    w.learn(w.client())
    before = retrieve(w.client(), ident)
    assert_status(before, 200)
    assert_status(tpatch(w.client(), ident, {"scopes": ["a"], "rate_limit": "5/s",
                                              "allowed_networks": ["127.0.0.1"],
                                              "uses_remaining": 7, "view_key": "once",
                                              "revoke_on_reuse": True}), 200)
    after = retrieve(w.client(), ident)
    assert_json(after, 200, w.token_json(ident))
    assert list(after.json()) == list(before.json())


# -- list: envelope and pagination ----------------------------------------------------------------

L_SOON = datetime.timedelta(minutes=10)
L_LATE = datetime.timedelta(hours=2)
L_TOKENS = [
    # identifier  intent          expires (CLI input; None = now + delta) expiring
    ("L-Upper",   "api",          "none",                    False),
    ("l-app",     "app_password", L_SOON,                    True),
    ("l-exp",     "api",          "2020-01-01T00:00:00Z",    True),
    ("l-late",    "api",          L_LATE,                    True),
    ("l-noexp",   "api",          "2020-06-01T00:00:00Z",    False),
    ("l-rec",     "recovery",     "2099-01-01T00:00:00Z",    False),
    ("l-u1",      "api",          "2098-01-01T00:00:00Z",    False),
    ("l-u2",      "api",          "none",                    False),
    ("l-u3",      "api",          "2097-01-01T00:00:00Z",    False),
]
L_ALL = [t[0] for t in L_TOKENS]  # byte-wise identifier order
L_SCOPES = {"l-rec": ["a:x", "b:y"], "l-u1": ["a:x", "tokens:read"], "l-u2": ["a:x"]}
L_USES = {"l-u1": 3, "l-u2": 2, "l-u3": 1}
L_NEVER = [i for i in L_ALL if i not in L_USES]
BASE = "user__username=lister"


@pytest.fixture(scope="module")
def lw(w):
    """lister's nine tokens: three used (l-u2 twice, then l-u3 once, then l-u1 three times, so
    last_used, use_count and identifier orders all differ), three with scopes. `cut` lies between
    l-u2's last use and l-u3's."""
    now = datetime.datetime.now(datetime.timezone.utc)
    for ident, intent, expires, expiring in L_TOKENS:
        if isinstance(expires, datetime.timedelta):
            expires = out(now + expires)
        w.add_token(ident, "lister", intent, expires=expires, expiring=expiring,
                    key=random_key())
    admin = w.client()
    for ident, scopes in L_SCOPES.items():
        resp = tpatch(admin, ident, {"scopes": scopes})
        assert_status(resp, 200)
    use(w.server, w.tokens["l-u2"].key, 2)
    time.sleep(0.05)
    cut = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.05)
    use(w.server, w.tokens["l-u3"].key, 1)
    time.sleep(0.05)
    use(w.server, w.tokens["l-u1"].key, 3)
    for ident, n in L_USES.items():
        usage_reaches(admin, ident, n)
    return {"cut": cut}


def ids(resp):
    assert_status(resp, 200)
    body = resp.json()
    assert list(body) == ["pagination", "results"], list(body)
    return [t["identifier"] for t in body["results"]]


def matches_order(got, spec):
    """got (identifiers) against spec: a list of identifiers (that exact position) and sets
    (ties: these identifiers, in any order, at these positions)."""
    i = 0
    for part in spec:
        if isinstance(part, str):
            if i >= len(got) or got[i] != part:
                return False
            i += 1
        else:
            n = len(part)
            if set(got[i:i + n]) != set(part) or len(got[i:i + n]) != n:
                return False
            i += n
    return i == len(got)


def test_list_envelope_and_small_pages(w, lw):
    admin = w.client()
    resp = tlist(admin, BASE)
    assert ids(resp) == L_ALL
    assert resp.json()["pagination"] == pagination(len(L_ALL))
    pages = [L_ALL[i:i + 2] for i in range(0, len(L_ALL), 2)]
    for page, want in enumerate(pages, 1):
        resp = tlist(admin, f"{BASE}&page_size=2&page={page}")
        assert ids(resp) == want
        assert resp.json()["pagination"] == pagination(len(L_ALL), page, 2)
    resp = tlist(admin, f"{BASE}&page_size=2&page=last")
    assert ids(resp) == pages[-1]
    for bad in (str(len(pages) + 1), "0", "abc"):
        assert_json(tlist(admin, f"{BASE}&page_size=2&page={bad}"), 404, INVALID_PAGE)
    for size in ("0", "-3", "x"):  # invalid sizes fall back to the default
        resp = tlist(admin, f"{BASE}&page_size={size}")
        assert ids(resp) == L_ALL
        assert resp.json()["pagination"] == pagination(len(L_ALL))


N_SEEDED = 1100


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    def seed(server):
        server.cli("seed", "--users", "3", "--groups", "1", "--tokens", str(N_SEEDED),
                   "--seed", "15", "--admin-token", server.bootstrap_key)

    with served(tmp_path_factory.mktemp("tokend-big"), pre_start=seed) as server:
        yield Client(server, server.bootstrap_key)


@pytest.mark.parametrize("query,size", [
    ("", 100), ("page_size=5000", 1000), ("page_size=1000", 1000), ("page_size=999", 999),
    ("page_size=5000&page=2", 1000),
])
def test_page_size_default_and_clamp(big, query, size):
    core = big.list(query)
    assert_status(core, 200)
    count = core.json()["pagination"]["count"]
    assert count > N_SEEDED
    page = 2 if "page=2" in query else 1
    resp = tlist(big, query)
    assert ids(resp) == [t["identifier"] for t in core.json()["results"]]
    assert resp.json()["pagination"] == pagination(count, page, size)
    assert len(resp.json()["results"]) == min(size, count - (page - 1) * size)


# -- list: filters and ordering -------------------------------------------------------------------

U = ["l-u1", "l-u2", "l-u3"]


@pytest.mark.parametrize("query,want", [
    ("identifier=l-u1", ["l-u1"]),
    ("identifier=l-U1", []),
    ("identifier=nope", []),
    ("intent=app_password", ["l-app"]),
    ("intent=recovery", ["l-rec"]),
    ("intent=verification", []),
    ("intent=api", ["L-Upper", "l-exp", "l-late", "l-noexp", "l-u1", "l-u2", "l-u3"]),
    ("scope=a:x", ["l-rec", "l-u1", "l-u2"]),
    ("scope=a%3Ax", ["l-rec", "l-u1", "l-u2"]),
    ("scope=b:y", ["l-rec"]),
    ("scope=a:x&scope=b:y", ["l-rec"]),                 # repeated: every one of them
    ("scope=a:x&scope=tokens:read", ["l-u1"]),
    ("scope=b:y&scope=tokens:read", []),
    ("scope=tokens:read", ["l-u1"]),
    ("scope=a", []),                                    # whole scopes, not prefixes
    ("scope=zzz", []),
    ("never_used=true", L_NEVER),
    ("never_used=false", U),
    ("last_used_after=2000-01-01T00:00:00Z", U),        # never-used tokens match neither
    ("last_used_before=2999-01-01T00:00:00Z", U),
    ("last_used_before=2000-01-01T00:00:00Z", []),
    ("last_used_after=2999-01-01T00:00:00Z", []),
    ("last_used_before=CUT", ["l-u2"]),
    ("last_used_after=CUT", ["l-u1", "l-u3"]),
    ("last_used_after=CUT&last_used_before=2999-01-01", ["l-u1", "l-u3"]),
    ("expiring_within=minutes=30", ["l-app", "l-exp"]),  # expired ones included
    ("expiring_within=seconds=0", ["l-exp"]),
    ("expiring_within=hours=3", ["l-app", "l-exp", "l-late"]),
    ("expiring_within=days=36500", ["l-app", "l-exp", "l-late"]),  # only expiring = true
    ("expiring_within=hours%3D1%3Bminutes%3D30", ["l-app", "l-exp"]),
    ("intent=api&never_used=true", ["L-Upper", "l-exp", "l-late", "l-noexp"]),
    ("scope=a:x&never_used=false&last_used_after=CUT", ["l-u1"]),
    ("intent=api&expiring_within=hours=3", ["l-exp", "l-late"]),
    ("identifier=&intent=&scope=&never_used=&last_used_before=&last_used_after="
     "&expiring_within=&ordering=", L_ALL),             # empty values are ignored
], ids=lambda v: v if isinstance(v, str) else None)
def test_filters(w, lw, query, want):
    query = query.replace("CUT", out(lw["cut"]))
    assert ids(tlist(w.client(), f"{BASE}&{query}")) == want


def test_filter_user__username(w, lw):
    for username in ("pat", "quinn", "lister"):
        got = ids(tlist(w.client(), {"user__username": username, "page_size": "1000"}))
        assert got == w.owned_by(username)
    assert ids(tlist(w.client(), {"user__username": "Lister"})) == []
    assert ids(tlist(w.client(), {"user__username": "nobody"})) == []


def test_filters_apply_to_a_plain_users_own_tokens_only(w, lw):
    assert ids(tlist(w.client("pat"), "user__username=lister")) == []
    assert ids(tlist(w.client("pat"), "identifier=l-u1")) == []
    got = ids(tlist(w.client("pat"), "never_used=false"))
    assert set(got) <= set(w.owned_by("pat")), got


def test_invalid_intent_is_the_core_message(w, lw):
    """intent filters exactly as in core (docs/api.md §8.1)."""
    assert_exact(tlist(w.client(), f"{BASE}&intent=bogus"), 400,
                 {"intent": ["Select a valid choice. bogus is not one of the available "
                             "choices."]})


@pytest.mark.parametrize("query,fields", [
    ("last_used_before=yesterday", ["last_used_before"]),
    ("last_used_after=2024-13-01T00:00:00Z", ["last_used_after"]),
    ("last_used_after=1", ["last_used_after"]),
    ("expiring_within=soon", ["expiring_within"]),
    ("expiring_within=hours:1", ["expiring_within"]),
    ("expiring_within=minutes", ["expiring_within"]),
    ("intent=bogus&last_used_before=x&last_used_after=y&expiring_within=soon",
     ["intent", "last_used_before", "last_used_after", "expiring_within"]),
    ("identifier=l-u1&last_used_before=x&expiring_within=soon",
     ["last_used_before", "expiring_within"]),
])
def test_invalid_filters_are_one_400(w, lw, query, fields):
    """X1: invalid values are 400 {"<param>": [...]}, every failing key in one body (docs/api.md
    §8.1). The messages are free (no wording is given for the new parameters)."""
    assert_field_errors(tlist(w.client(), f"{BASE}&{query}"), fields)


@pytest.mark.parametrize("value", ["maybe", "yes", "2"])
def test_invalid_never_used_is_a_400(w, lw, value):
    """X1 gives never_used the values true/false and makes invalid filter values a 400, for
    every filter. (Core's `expiring` filter ignores an invalid value, docs/api.md §8.1; the
    contract does not carry that over to never_used.) Alone and together with another bad
    filter: one 400 with both keys."""
    assert_field_errors(tlist(w.client(), f"{BASE}&never_used={value}"), ["never_used"])
    assert_field_errors(tlist(w.client(), f"{BASE}&never_used={value}&expiring_within=soon"),
                        ["never_used", "expiring_within"])


NEVER = set(L_NEVER)


@pytest.mark.parametrize("ordering,spec", [
    ("identifier", L_ALL),
    ("-identifier", L_ALL[::-1]),
    ("", L_ALL),                                        # default: identifier
    ("last_used", ["l-u2", "l-u3", "l-u1", NEVER]),     # nulls after ascending ...
    ("-last_used", [NEVER, "l-u1", "l-u3", "l-u2"]),    # ... and before descending
    ("use_count", [NEVER, "l-u3", "l-u2", "l-u1"]),     # never used: 0, not null
    ("-use_count", ["l-u1", "l-u2", "l-u3", NEVER]),
    ("expires", ["l-exp", "l-noexp", "l-app", "l-late", "l-u3", "l-u1", "l-rec",
                 {"L-Upper", "l-u2"}]),
    ("-expires", [{"L-Upper", "l-u2"}, "l-rec", "l-u1", "l-u3", "l-late", "l-app", "l-noexp",
                  "l-exp"]),
])
def test_ordering(w, lw, ordering, spec):
    """Ties (the never-used tokens, the null expiries) may come in any order: the contract
    names no tie-breaker."""
    got = ids(tlist(w.client(), f"{BASE}&ordering={ordering}"))
    assert matches_order(got, spec), (got, spec)


def test_usage_fields_of_the_list_tokens(w, lw):
    for t in tlist(w.client(), BASE).json()["results"]:
        if t["identifier"] in L_USES:
            assert t["use_count"] == L_USES[t["identifier"]], t
            assert RFC3339_RE.match(t["last_used"]), t
            assert t["last_used_ip"] == "127.0.0.1", t
        else:
            assert (t["use_count"], t["last_used"], t["last_used_ip"]) == (0, None, None), t
        assert t["scopes"] == L_SCOPES.get(t["identifier"]), t


# -- PATCH: the validation table ------------------------------------------------------------------

@pytest.fixture(scope="module")
def target(w):
    """One token that every validation case patches (and puts back): never used, so its usage
    fields stay at their defaults."""
    ident = fresh(w, "pat")
    return ident


SCOPE_64 = [f"s{i:02d}" for i in range(64)]
NETS_64 = [f"10.0.{i}.0/24" for i in range(64)]
BYTEWISE = ["b", "B", "a", "A", "0", "a.b", "a-b", "a:b", "a/b", "a_b", "b"]

VALID = [
    # id, body, what the object then shows
    ("scopes-sorted", {"scopes": ["b", "a", "b"]}, {"scopes": ["a", "b"]}),
    ("scopes-bytewise", {"scopes": BYTEWISE},
     {"scopes": sorted(set(BYTEWISE), key=lambda s: s.encode())}),
    ("scopes-empty", {"scopes": []}, {"scopes": []}),
    ("scopes-null", {"scopes": None}, {"scopes": None}),
    ("scopes-64", {"scopes": SCOPE_64[::-1]}, {"scopes": SCOPE_64}),
    ("scopes-128-chars", {"scopes": ["a" + "b" * 127]}, {"scopes": ["a" + "b" * 127]}),
    ("scopes-every-char", {"scopes": ["Z9._:/-az09AZ"]}, {"scopes": ["Z9._:/-az09AZ"]}),
    ("scopes-app", {"scopes": ["billing:read", "tokens:read"]},
     {"scopes": ["billing:read", "tokens:read"]}),
    ("nets-host", {"allowed_networks": ["10.1.2.3"]}, {"allowed_networks": ["10.1.2.3/32"]}),
    ("nets-host-bits", {"allowed_networks": ["10.9.9.9/8"]},
     {"allowed_networks": ["10.0.0.0/8"]}),
    ("nets-v6-case", {"allowed_networks": ["2001:DB8::1/32"]},
     {"allowed_networks": ["2001:db8::/32"]}),
    ("nets-v6-compress", {"allowed_networks": ["2001:0db8:0000:0000:0000:0000:0000:0001",
                                               "2001:db8:0:0:1:0:0:1", "::1"]},
     {"allowed_networks": ["2001:db8::1/128", "2001:db8::1:0:0:1/128", "::1/128"]}),
    ("nets-all", {"allowed_networks": ["0.0.0.0/0", "::/0"]},
     {"allowed_networks": ["0.0.0.0/0", "::/0"]}),
    ("nets-dedup-in-order", {"allowed_networks": ["192.168.1.1", "10.0.0.0/8", "192.168.1.1/32",
                                                  "10.1.2.3/8", "172.16.0.0/12"]},
     {"allowed_networks": ["192.168.1.1/32", "10.0.0.0/8", "172.16.0.0/12"]}),
    ("nets-64", {"allowed_networks": NETS_64}, {"allowed_networks": NETS_64}),
    ("nets-null", {"allowed_networks": None}, {"allowed_networks": None}),
    ("rate-min", {"rate_limit": "100/min"}, {"rate_limit": "100/minute"}),
    ("rate-minute", {"rate_limit": "100/minute"}, {"rate_limit": "100/minute"}),
    ("rate-m", {"rate_limit": "100/m"}, {"rate_limit": "100/minute"}),
    ("rate-s", {"rate_limit": "5/s"}, {"rate_limit": "5/second"}),
    ("rate-sec", {"rate_limit": "5/sec"}, {"rate_limit": "5/second"}),
    ("rate-h", {"rate_limit": "1/h"}, {"rate_limit": "1/hour"}),
    ("rate-hours", {"rate_limit": "2/hours"}, {"rate_limit": "2/hour"}),
    ("rate-day", {"rate_limit": "7/day"}, {"rate_limit": "7/day"}),
    ("rate-d", {"rate_limit": "7/d"}, {"rate_limit": "7/day"}),
    ("rate-max", {"rate_limit": "1000000000/second"}, {"rate_limit": "1000000000/second"}),
    ("rate-1", {"rate_limit": "1/second"}, {"rate_limit": "1/second"}),
    ("rate-null", {"rate_limit": None}, {"rate_limit": None}),
    ("uses-0", {"uses_remaining": 0}, {"uses_remaining": 0}),
    ("uses-3", {"uses_remaining": 3}, {"uses_remaining": 3}),
    ("uses-big", {"uses_remaining": 2147483648}, {"uses_remaining": 2147483648}),
    ("uses-null", {"uses_remaining": None}, {"uses_remaining": None}),
    ("view-once", {"view_key": "once"}, {"view_key": "once"}),
    ("view-never", {"view_key": "never"}, {"view_key": "never"}),
    ("view-always", {"view_key": "always"}, {"view_key": "always"}),
    ("reuse-true", {"revoke_on_reuse": True}, {"revoke_on_reuse": True}),
    ("reuse-false", {"revoke_on_reuse": False}, {"revoke_on_reuse": False}),
    ("empty-body", {}, {}),
    ("all-at-once", {"scopes": ["x"], "allowed_networks": ["::1"], "rate_limit": "3/h",
                     "uses_remaining": 9, "view_key": "never", "revoke_on_reuse": True},
     {"scopes": ["x"], "allowed_networks": ["::1/128"], "rate_limit": "3/hour",
      "uses_remaining": 9, "view_key": "never", "revoke_on_reuse": True}),
    ("unknown-field-ignored", {"bogus": 1, "rate_limit": "1/s"}, {"rate_limit": "1/second"}),
]


@pytest.mark.parametrize("body,shown", [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_patch_valid(w, target, body, shown):
    want = tobj(target, "api", pk(w, "pat"), **shown)
    assert_exact(tpatch(w.client(), target, body), 200, want)
    assert_exact(tget(w.client(), target), 200, want)
    assert_exact(tpatch(w.client(), target, RESET), 200, tobj(target, "api", pk(w, "pat")))


INVALID = [
    # scopes
    ("scopes-string", {"scopes": "tokens:read"}, ["scopes"]),
    ("scopes-number", {"scopes": 5}, ["scopes"]),
    ("scopes-object", {"scopes": {"a": "b"}}, ["scopes"]),
    ("scopes-bool", {"scopes": True}, ["scopes"]),
    ("scopes-65", {"scopes": SCOPE_64 + ["s64"]}, ["scopes"]),
    ("scopes-129-chars", {"scopes": ["a" + "b" * 128]}, ["scopes"]),
    ("scopes-empty-string", {"scopes": [""]}, ["scopes"]),
    ("scopes-dot-first", {"scopes": [".a"]}, ["scopes"]),
    ("scopes-dash-first", {"scopes": ["-a"]}, ["scopes"]),
    ("scopes-colon-first", {"scopes": [":a"]}, ["scopes"]),
    ("scopes-slash-first", {"scopes": ["/a"]}, ["scopes"]),
    ("scopes-underscore-first", {"scopes": ["_a"]}, ["scopes"]),
    ("scopes-space", {"scopes": ["a b"]}, ["scopes"]),
    ("scopes-comma", {"scopes": ["a,b"]}, ["scopes"]),
    ("scopes-non-ascii", {"scopes": ["é"]}, ["scopes"]),
    ("scopes-newline", {"scopes": ["a\nb"]}, ["scopes"]),
    ("scopes-nul", {"scopes": ["a\u0000b"]}, ["scopes"]),
    ("scopes-one-bad-of-two", {"scopes": ["ok", "not ok"]}, ["scopes"]),
    ("scopes-int-item", {"scopes": [1]}, ["scopes"]),
    ("scopes-null-item", {"scopes": [None]}, ["scopes"]),
    ("scopes-bool-item", {"scopes": [True]}, ["scopes"]),
    ("scopes-list-item", {"scopes": [["a"]]}, ["scopes"]),
    ("scopes-object-item", {"scopes": [{"a": 1}]}, ["scopes"]),
    # allowed_networks
    ("nets-string", {"allowed_networks": "10.0.0.0/8"}, ["allowed_networks"]),
    ("nets-number", {"allowed_networks": 10}, ["allowed_networks"]),
    ("nets-three-octets", {"allowed_networks": ["10.0.0"]}, ["allowed_networks"]),
    ("nets-leading-zero", {"allowed_networks": ["010.1.2.3"]}, ["allowed_networks"]),
    ("nets-prefix-33", {"allowed_networks": ["1.2.3.4/33"]}, ["allowed_networks"]),
    ("nets-prefix-129", {"allowed_networks": ["::/129"]}, ["allowed_networks"]),
    ("nets-octet-256", {"allowed_networks": ["1.2.3.256"]}, ["allowed_networks"]),
    ("nets-empty-prefix", {"allowed_networks": ["10.0.0.0/"]}, ["allowed_networks"]),
    ("nets-negative-prefix", {"allowed_networks": ["10.0.0.0/-1"]}, ["allowed_networks"]),
    ("nets-two-prefixes", {"allowed_networks": ["10.0.0.0/8/8"]}, ["allowed_networks"]),
    ("nets-five-octets", {"allowed_networks": ["1.2.3.4.5"]}, ["allowed_networks"]),
    ("nets-hostname", {"allowed_networks": ["host.example"]}, ["allowed_networks"]),
    ("nets-empty-string", {"allowed_networks": [""]}, ["allowed_networks"]),
    ("nets-bad-v6", {"allowed_networks": ["2001:db8:::1"]}, ["allowed_networks"]),
    ("nets-v6-letter", {"allowed_networks": ["2001:db8::g"]}, ["allowed_networks"]),
    ("nets-one-bad-of-two", {"allowed_networks": ["10.0.0.0/8", "10.0.0"]},
     ["allowed_networks"]),
    ("nets-int-item", {"allowed_networks": [167772161]}, ["allowed_networks"]),
    ("nets-null-item", {"allowed_networks": [None]}, ["allowed_networks"]),
    ("nets-list-item", {"allowed_networks": [["10.0.0.0/8"]]}, ["allowed_networks"]),
    ("nets-65", {"allowed_networks": NETS_64 + ["10.0.64.0/24"]}, ["allowed_networks"]),
    # rate_limit
    ("rate-zero", {"rate_limit": "0/m"}, ["rate_limit"]),
    ("rate-too-big", {"rate_limit": "1000000001/s"}, ["rate_limit"]),
    ("rate-bad-period", {"rate_limit": "10/x"}, ["rate_limit"]),
    ("rate-no-period", {"rate_limit": "10"}, ["rate_limit"]),
    ("rate-empty-period", {"rate_limit": "10/"}, ["rate_limit"]),
    ("rate-no-number", {"rate_limit": "/m"}, ["rate_limit"]),
    ("rate-letters", {"rate_limit": "a/m"}, ["rate_limit"]),
    ("rate-negative", {"rate_limit": "-1/m"}, ["rate_limit"]),
    ("rate-fraction", {"rate_limit": "1.5/m"}, ["rate_limit"]),
    ("rate-empty", {"rate_limit": ""}, ["rate_limit"]),
    ("rate-json-number", {"rate_limit": 100}, ["rate_limit"]),
    ("rate-json-float", {"rate_limit": 1.5}, ["rate_limit"]),
    ("rate-json-bool", {"rate_limit": True}, ["rate_limit"]),
    ("rate-json-list", {"rate_limit": ["1/m"]}, ["rate_limit"]),
    ("rate-json-object", {"rate_limit": {"n": 1}}, ["rate_limit"]),
    # uses_remaining
    ("uses-negative", {"uses_remaining": -1}, ["uses_remaining"]),
    ("uses-fraction", {"uses_remaining": 1.5}, ["uses_remaining"]),
    ("uses-string", {"uses_remaining": "3"}, ["uses_remaining"]),
    ("uses-true", {"uses_remaining": True}, ["uses_remaining"]),
    ("uses-false", {"uses_remaining": False}, ["uses_remaining"]),
    ("uses-list", {"uses_remaining": [3]}, ["uses_remaining"]),
    ("uses-object", {"uses_remaining": {}}, ["uses_remaining"]),
    # view_key
    ("view-upper", {"view_key": "ALWAYS"}, ["view_key"]),
    ("view-capital", {"view_key": "Once"}, ["view_key"]),
    ("view-other", {"view_key": "sometimes"}, ["view_key"]),
    ("view-empty", {"view_key": ""}, ["view_key"]),
    ("view-null", {"view_key": None}, ["view_key"]),
    ("view-number", {"view_key": 1}, ["view_key"]),
    ("view-list", {"view_key": ["always"]}, ["view_key"]),
    # revoke_on_reuse: a JSON boolean only
    ("reuse-string-true", {"revoke_on_reuse": "true"}, ["revoke_on_reuse"]),
    ("reuse-string-false", {"revoke_on_reuse": "false"}, ["revoke_on_reuse"]),
    ("reuse-one", {"revoke_on_reuse": 1}, ["revoke_on_reuse"]),
    ("reuse-zero", {"revoke_on_reuse": 0}, ["revoke_on_reuse"]),
    ("reuse-null", {"revoke_on_reuse": None}, ["revoke_on_reuse"]),
    ("reuse-yes", {"revoke_on_reuse": "yes"}, ["revoke_on_reuse"]),
    ("reuse-list", {"revoke_on_reuse": []}, ["revoke_on_reuse"]),
    # several at once: every failing field in one 400, nothing applied
    ("all-six", {"scopes": 5, "allowed_networks": ["10.0.0"], "rate_limit": "0/m",
                 "uses_remaining": -1, "view_key": "x", "revoke_on_reuse": "x"},
     ["scopes", "allowed_networks", "rate_limit", "uses_remaining", "view_key",
      "revoke_on_reuse"]),
    ("two-bad-with-good-ones", {"scopes": ["fine"], "allowed_networks": ["::/129"],
                                "rate_limit": "5/s", "uses_remaining": "3",
                                "view_key": "once", "revoke_on_reuse": True},
     ["allowed_networks", "uses_remaining"]),
]


@pytest.mark.parametrize("body,fields", [v[1:] for v in INVALID], ids=[v[0] for v in INVALID])
def test_patch_invalid(w, target, body, fields):
    want = tobj(target, "api", pk(w, "pat"))
    assert_exact(tget(w.client(), target), 200, want)
    assert_field_errors(tpatch(w.client(), target, body), fields)
    assert_exact(tget(w.client(), target), 200, want)


def test_patch_changes_only_the_fields_sent(w):
    ident = fresh(w, "pat")
    admin, me = w.client(), pk(w, "pat")
    steps = [({"scopes": ["b", "a"]}, {"scopes": ["a", "b"]}),
             ({"rate_limit": "4/s"}, {"rate_limit": "4/second"}),
             ({"allowed_networks": ["127.0.0.1"]}, {"allowed_networks": ["127.0.0.1/32"]}),
             ({"uses_remaining": 11}, {"uses_remaining": 11}),
             ({"view_key": "never"}, {"view_key": "never"}),
             ({"revoke_on_reuse": True}, {"revoke_on_reuse": True}),
             ({"scopes": None}, {"scopes": None}),
             ({}, {})]
    shown = {}
    for body, change in steps:
        shown.update(change)
        want = tobj(ident, "api", me, **shown)
        assert_exact(tpatch(admin, ident, body), 200, want)
        assert_exact(tget(admin, ident), 200, want)


def test_read_only_fields_are_ignored(w):
    """X1 marks identifier, intent, user, last_used, last_used_ip, use_count and
    previous_key_valid_until read-only; read-only fields sent are ignored (docs/api.md §1.2)."""
    ident = fresh(w, "pat")
    w.learn(w.client())
    core_before = retrieve(w.client(), ident).json()
    want = tobj(ident, "api", pk(w, "pat"))
    for body in ({"identifier": "renamed-by-tokend", "intent": "recovery",
                  "user": pk(w, "quinn"), "last_used": "2020-01-01T00:00:00Z",
                  "last_used_ip": "10.0.0.1", "use_count": 99,
                  "previous_key_valid_until": "2030-01-01T00:00:00Z"},
                 {"use_count": "many", "last_used": "never", "user": "x", "intent": 5}):
        assert_exact(tpatch(w.client(), ident, body), 200, want)
    want = tobj(ident, "api", pk(w, "pat"), uses_remaining=4)
    assert_exact(tpatch(w.client(), ident, {"use_count": 99, "uses_remaining": 4}), 200, want)
    assert_exact(tget(w.client(), ident), 200, want)
    assert_json(tget(w.client(), "renamed-by-tokend"), 404, NOT_FOUND)
    assert_json(retrieve(w.client(), ident), 200, core_before)


def test_plain_user_patches_their_own_token(w):
    ident = fresh(w, "pat")
    want = tobj(ident, "api", pk(w, "pat"), rate_limit="9/minute", scopes=["mine"])
    assert_exact(tpatch(w.client("pat"), ident, {"rate_limit": "9/m", "scopes": ["mine"]}), 200,
                 want)
    assert_exact(tget(w.client("pat"), ident), 200, want)
    # another user's token: not visible, not changed
    other = fresh(w, "quinn")
    assert_json(tpatch(w.client("pat"), other, {"rate_limit": "9/m"}), 404, NOT_FOUND)
    assert_exact(tget(w.client(), other), 200, tobj(other, "api", pk(w, "quinn")))


@pytest.mark.parametrize("raw,ctype,status,body", [
    (b"[]", "application/json", 400,
     {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    (b'{"scopes": ["a"]}', "text/plain", 415,
     {"detail": 'Unsupported media type "text/plain" in request.'}),
    (b'{"scopes": ["a"', "application/json", 400, None),
], ids=["list-body", "text-plain", "malformed"])
def test_patch_bodies_follow_the_core_conventions(w, target, raw, ctype, status, body):
    """docs/api.md §1.2, which X1 follows."""
    resp = send(w.client(), "PATCH", tpath(target), raw=raw, content_type=ctype)
    if body is None:
        assert_status(resp, status)
        assert list(resp.json()) == ["detail"]
        assert resp.json()["detail"].startswith("JSON parse error - ")
    else:
        assert_exact(resp, status, body)
    assert_exact(tget(w.client(), target), 200, tobj(target, "api", pk(w, "pat")))


# -- usage (X4) -----------------------------------------------------------------------------------

def test_use_count_last_used_and_address(w):
    """Every authenticated request is one use: N requests add exactly N (read with another
    token, so the reads add nothing to this token)."""
    ident = fresh(w, "pat")
    key = w.tokens[ident].key
    admin = w.client()
    assert_exact(tget(admin, ident), 200, tobj(ident, "api", pk(w, "pat")))
    with Clock() as c:
        use(w.server, key, 4)
        use(w.server, key, 3, path="/api/v3/core/tokens/")
    got = usage_reaches(admin, ident, 7)
    assert RFC3339_RE.match(got["last_used"]), got["last_used"]
    last = parse_rfc3339(got["last_used"])
    assert c.lo - SLACK <= last <= c.hi + SLACK, (got["last_used"], out(c.lo), out(c.hi))
    assert got["last_used_ip"] == "127.0.0.1"
    assert got == tobj(ident, "api", pk(w, "pat"), last_used=got["last_used"],
                       last_used_ip="127.0.0.1", use_count=7)
    # one more flush later: still exactly 7 (nothing counted twice)
    time.sleep(FLUSH_S + 0.5)
    assert current(admin, ident)["use_count"] == 7
    # failed authentications are not uses of anything; further uses add up
    refused_as_invalid(w.server, key + "x")
    use(w.server, key, 2)
    got2 = usage_reaches(admin, ident, 9)
    assert parse_rfc3339(got2["last_used"]) >= last


def test_the_reading_token_counts_its_own_reads(w):
    """The superuser's reads are uses of the superuser's token: k reads add k to it."""
    sue = f"sue{next(_n)}"
    w.add_user(sue, "Sue Super", "sue@example.com", groups=["authentik Admins"])
    reader = fresh(w, sue)
    target = fresh(w, "pat")
    client = Client(w.server, w.tokens[reader].key)
    for _ in range(5):
        assert_status(tget(client, target), 200)
    assert_status(tlist(client, {"identifier": target}), 200)
    usage_reaches(w.client(), reader, 6)
    assert current(w.client(), target)["use_count"] == 0


def test_uses_remaining_is_exact(w):
    ident = fresh(w, "pat")
    key = w.tokens[ident].key
    admin = w.client()
    assert_exact(tpatch(admin, ident, {"uses_remaining": 3}), 200,
                 tobj(ident, "api", pk(w, "pat"), uses_remaining=3))
    use(w.server, key, 3)
    refused_as_invalid(w.server, key)
    refused_as_invalid(w.server, key)
    # exact, not batched: 0 at once
    assert current(admin, ident)["uses_remaining"] == 0
    got = usage_reaches(admin, ident, 3)  # refusals are not uses
    assert got["uses_remaining"] == 0
    time.sleep(FLUSH_S + 0.5)
    assert current(admin, ident)["use_count"] == 3
    # more uses granted: the token works again, for exactly that many
    assert_status(tpatch(admin, ident, {"uses_remaining": 1}), 200)
    use(w.server, key, 1)
    refused_as_invalid(w.server, key)
    assert current(admin, ident)["uses_remaining"] == 0
    # unlimited again
    assert_status(tpatch(admin, ident, {"uses_remaining": None}), 200)
    use(w.server, key, 2)
    assert current(admin, ident)["uses_remaining"] is None


def test_uses_remaining_zero_refuses_at_once(w):
    ident = fresh(w, "pat")
    assert_status(tpatch(w.client(), ident, {"uses_remaining": 0}), 200)
    refused_as_invalid(w.server, w.tokens[ident].key)
    assert current(w.client(), ident)["uses_remaining"] == 0


def away_from_a_minute_boundary():
    """A fixed-window limiter would start a new window at a minute boundary; the contract's
    "N/minute" does not say which kind of window, so the few requests of a rate test are kept
    within one calendar minute (waits at most 3 s)."""
    now = datetime.datetime.now()
    if now.second >= 57:
        time.sleep(60.2 - now.second - now.microsecond / 1e6)


def test_rate_limit(w):
    ident = fresh(w, "pat")
    other = fresh(w, "pat")
    key = w.tokens[ident].key
    admin = w.client()
    assert_exact(tpatch(admin, ident, {"rate_limit": "2/minute", "uses_remaining": 5}), 200,
                 tobj(ident, "api", pk(w, "pat"), rate_limit="2/minute", uses_remaining=5))
    away_from_a_minute_boundary()
    use(w.server, key, 2)
    for _ in range(2):
        resp = Client(w.server, key).get(ME)
        assert_status(resp, 429)
        body = resp.json()
        assert list(body) == ["detail"], body
        m = re.fullmatch(THROTTLED_RE, body["detail"])
        assert m, body
        n = int(m.group(1))
        assert 1 <= n <= 60, body
        assert resp.header("Retry-After") == str(n), resp.headers
    # the limit is the token's: the owner's other token is not limited
    use(w.server, w.tokens[other].key, 4)
    # a refused use takes nothing from uses_remaining and is not counted
    assert current(admin, ident)["uses_remaining"] == 3
    usage_reaches(admin, ident, 2)
    time.sleep(FLUSH_S + 0.5)
    assert current(admin, ident)["use_count"] == 2


def test_a_clean_stop_writes_the_usage(tmp_path):
    """X4: usage is written at least every TOKEND_USAGE_FLUSH and a clean stop flushes: uses made
    just before SIGTERM, well within the minute-long interval, are there after a restart."""
    with served(tmp_path, extra_env={"TOKEND_USAGE_FLUSH": "seconds=60"}) as server:
        w2 = World(server)
        w2.add_user("pat", "Pat Plain", "pat@example.com")
        w2.add_token("pat-used", "pat", "api", expires=FAR, key=random_key())
        with Clock() as c:
            use(server, w2.tokens["pat-used"].key, 5)
        server.restart()
        got = current(w2.client(), "pat-used")
        assert got["use_count"] == 5, got
        assert got["last_used_ip"] == "127.0.0.1", got
        last = parse_rfc3339(got["last_used"])
        assert c.lo - SLACK <= last <= c.hi + SLACK, got
        # and once more, from a server that has already flushed once
        use(server, w2.tokens["pat-used"].key, 2)
        server.restart()
        assert current(w2.client(), "pat-used")["use_count"] == 7

