"""POST /api/v3/core/tokens/ (docs/api.md §5, §6, §7.2, §17): every field check of §6.1 with the
exact messages, accumulating per field and reported together in field order; the object rules
of §6.2 in order (defaults, intent, app-password maximum lifetime from merged attributes, the
forced api expiry); ownership and `expiring` of §6.3; bad bodies (§1.2). Every refused
request must leave the store (tokens and events) exactly as it was.

Runs on its own server. Requests are made as akadmin (superuser) unless a test says otherwise.
"""

import concurrent.futures
import datetime
import itertools
import json
import os
import re
import subprocess

import pytest

from harness import (INVALID_TOKEN, LIST, Client, assert_json, assert_status, pagination,
                     random_key, served, tokend_bin)
from tokenapi import (BLANK, DEFAULT_DURATION, DT_FORMAT, EXPIRING_ATTR, FIELD_ORDER,
                      IDENT_TAKEN, MANAGED_TAKEN, MAX_LIFETIME_ATTR, NOT_BOOL, NOT_NULL,
                      NOT_STRING, NUL, REQUIRED, SLUG, TOO_LONG, Clock, assert_no_secrets,
                      assert_unchanged, bad_choice, bad_pk, create, detail, expect_token,
                      invalid_intent, is_generated_key, iso_in, max_lifetime_instant, pk_type,
                      remember, snapshot, view_key)
from world import World

_n = itertools.count(1)  # fresh identifiers
H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("create")) as server:
        world = World(server)
        world.add_group("g-noexp", attributes={EXPIRING_ATTR: False})
        world.add_group("g-2h", attributes={MAX_LIFETIME_ATTR: "hours=2"})
        world.add_group("g-day", attributes={MAX_LIFETIME_ATTR: "days=1"})
        world.add_group("g-a", attributes={MAX_LIFETIME_ATTR: "days=1"})
        world.add_group("g-b", attributes={MAX_LIFETIME_ATTR: "hours=3"})
        world.add_group("g-parent", attributes={MAX_LIFETIME_ATTR: "hours=2"})
        world.add_group("g-child", parent="g-parent")
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("nora", "Nora Noexp", "nora@example.com", attributes={EXPIRING_ATTR: False})
        world.add_user("gail", "Gail Group", "gail@example.com", groups=["g-noexp"])
        world.add_user("hour", "Hour Limit", "hour@example.com",
                       attributes={MAX_LIFETIME_ATTR: "hours=1"})
        world.add_user("grp2", "Group Two", "grp2@example.com", groups=["g-2h"])
        world.add_user("ovr", "Own Override", "ovr@example.com",
                       attributes={MAX_LIFETIME_ATTR: "hours=1"}, groups=["g-day"])
        # joined g-b first: name order (g-a, then g-b) makes g-b's hours=3 win
        world.add_user("mrg", "Merge Order", "mrg@example.com", groups=["g-b", "g-a"])
        world.add_user("anc", "Ancestor Attr", "anc@example.com", groups=["g-child"])
        world.add_user("num", "Number Attr", "num@example.com",
                       attributes={MAX_LIFETIME_ATTR: 3600})
        world.add_user("bad", "Bad Attr", "bad@example.com",
                       attributes={MAX_LIFETIME_ATTR: "bogus"})
        world.add_user("combo", "Combo Attr", "combo@example.com",
                       attributes={MAX_LIFETIME_ATTR: "hours=1;minutes=30"})
        far = "2099-01-01T00:00:00Z"
        for user in ("pat", "nora", "gail", "hour"):
            world.add_token(f"{user}-login", user, "api", expires=far, key=random_key(),
                            login=True)
        world.add_token("taken", "pat", "api", expires=far, managed="m-taken", key=random_key())
        world.learn(world.client())
        yield world


def pk(w, username):
    return w.users[username].pk


def refused(w, resp, status, body, client=None, before=None):
    """The exact error and nothing written."""
    if body is None:
        assert_status(resp, status)
    else:
        assert_json(resp, status, body)
        assert list(resp.json()) == list(body), "key order"
    if before is not None:
        assert_unchanged(w, before)


# -- §6.1 field checks, one body each --------------------------------------------------------------

LONG_SPACED = "ab " * 100  # 300 characters, 299 after trimming

FIELD_ERRORS = [
    # identifier
    ("identifier-missing", {}, {"identifier": [REQUIRED]}),
    ("identifier-missing-other-fields", {"description": "d", "intent": "api"},
     {"identifier": [REQUIRED]}),
    ("identifier-null", {"identifier": None}, {"identifier": [NOT_NULL]}),
    ("identifier-empty", {"identifier": ""}, {"identifier": [BLANK]}),
    ("identifier-whitespace", {"identifier": " \t\n "}, {"identifier": [BLANK]}),
    ("identifier-256", {"identifier": "x" * 256}, {"identifier": [TOO_LONG]}),
    ("identifier-long-and-spaces", {"identifier": LONG_SPACED}, {"identifier": [TOO_LONG, SLUG]}),
    ("identifier-space", {"identifier": "a b"}, {"identifier": [SLUG]}),
    ("identifier-dot", {"identifier": "a.b"}, {"identifier": [SLUG]}),
    ("identifier-slash", {"identifier": "a/b"}, {"identifier": [SLUG]}),
    ("identifier-non-ascii", {"identifier": "café"}, {"identifier": [SLUG]}),
    ("identifier-plus", {"identifier": "a+b"}, {"identifier": [SLUG]}),
    ("identifier-nul", {"identifier": "a\x00b"}, {"identifier": [NUL, SLUG]}),
    ("identifier-taken", {"identifier": "taken"}, {"identifier": [IDENT_TAKEN]}),
    ("identifier-taken-padded", {"identifier": "  taken "}, {"identifier": [IDENT_TAKEN]}),
    ("identifier-true", {"identifier": True}, {"identifier": [NOT_STRING]}),
    ("identifier-false", {"identifier": False}, {"identifier": [NOT_STRING]}),
    ("identifier-list", {"identifier": ["a"]}, {"identifier": [NOT_STRING]}),
    ("identifier-dict", {"identifier": {"a": 1}}, {"identifier": [NOT_STRING]}),
    ("identifier-float", {"identifier": 1.5}, {"identifier": [SLUG]}),  # str(1.5) = "1.5"
    # intent
    ("intent-bogus", {"identifier": "e-int-1", "intent": "bogus"},
     {"intent": [bad_choice("bogus")]}),
    ("intent-empty", {"identifier": "e-int-2", "intent": ""}, {"intent": [bad_choice("")]}),
    ("intent-case", {"identifier": "e-int-3", "intent": "API"}, {"intent": [bad_choice("API")]}),
    ("intent-padded", {"identifier": "e-int-4", "intent": " api"},
     {"intent": [bad_choice(" api")]}),
    ("intent-number", {"identifier": "e-int-5", "intent": 1}, {"intent": [bad_choice("1")]}),
    ("intent-bool", {"identifier": "e-int-6", "intent": True}, {"intent": [bad_choice("True")]}),
    ("intent-null", {"identifier": "e-int-7", "intent": None}, {"intent": [NOT_NULL]}),
    # user
    ("user-unknown", {"identifier": "e-usr-1", "user": 999}, {"user": [bad_pk("999")]}),
    ("user-unknown-str", {"identifier": "e-usr-2", "user": "999"}, {"user": [bad_pk("999")]}),
    ("user-zero", {"identifier": "e-usr-3", "user": 0}, {"user": [bad_pk("0")]}),
    ("user-negative", {"identifier": "e-usr-4", "user": -1}, {"user": [bad_pk("-1")]}),
    ("user-str", {"identifier": "e-usr-5", "user": "abc"}, {"user": [pk_type("str")]}),
    ("user-true", {"identifier": "e-usr-6", "user": True}, {"user": [pk_type("bool")]}),
    ("user-false", {"identifier": "e-usr-7", "user": False}, {"user": [pk_type("bool")]}),
    ("user-list", {"identifier": "e-usr-8", "user": [1]}, {"user": [pk_type("list")]}),
    ("user-dict", {"identifier": "e-usr-9", "user": {"a": 1}}, {"user": [pk_type("dict")]}),
    ("user-null", {"identifier": "e-usr-10", "user": None}, {"user": [NOT_NULL]}),
    # DRF's RelatedField turns "" into None before validating
    ("user-empty-string", {"identifier": "e-usr-11", "user": ""}, {"user": [NOT_NULL]}),
    # managed
    ("managed-empty", {"identifier": "e-man-1", "managed": ""}, {"managed": [BLANK]}),
    ("managed-whitespace", {"identifier": "e-man-2", "managed": "  "}, {"managed": [BLANK]}),
    ("managed-taken", {"identifier": "e-man-3", "managed": "m-taken"},
     {"managed": [MANAGED_TAKEN]}),
    ("managed-bool", {"identifier": "e-man-4", "managed": True}, {"managed": [NOT_STRING]}),
    ("managed-nul", {"identifier": "e-man-5", "managed": "m\x00"}, {"managed": [NUL]}),
    # description
    ("description-null", {"identifier": "e-dsc-1", "description": None},
     {"description": [NOT_NULL]}),
    ("description-bool", {"identifier": "e-dsc-2", "description": False},
     {"description": [NOT_STRING]}),
    ("description-list", {"identifier": "e-dsc-3", "description": ["x"]},
     {"description": [NOT_STRING]}),
    ("description-dict", {"identifier": "e-dsc-4", "description": {}},
     {"description": [NOT_STRING]}),
    ("description-nul", {"identifier": "e-dsc-5", "description": "a\x00b"},
     {"description": [NUL]}),
    # expires (checked before any intent rule, for api tokens too)
    ("expires-word", {"identifier": "e-exp-1", "expires": "bogus"}, {"expires": [DT_FORMAT]}),
    ("expires-int", {"identifier": "e-exp-2", "expires": 1700000000}, {"expires": [DT_FORMAT]}),
    ("expires-float", {"identifier": "e-exp-3", "expires": 1e308}, {"expires": [DT_FORMAT]}),
    ("expires-bool", {"identifier": "e-exp-4", "expires": True}, {"expires": [DT_FORMAT]}),
    ("expires-list", {"identifier": "e-exp-5", "expires": []}, {"expires": [DT_FORMAT]}),
    ("expires-empty", {"identifier": "e-exp-6", "expires": ""}, {"expires": [DT_FORMAT]}),
    ("expires-month-13", {"identifier": "e-exp-7", "expires": "2030-13-01T00:00:00Z"},
     {"expires": [DT_FORMAT]}),
    ("expires-year-10000", {"identifier": "e-exp-8", "expires": "10000-01-01T00:00:00Z"},
     {"expires": [DT_FORMAT]}),
    ("expires-app-password", {"identifier": "e-exp-9", "intent": "app_password",
                              "expires": "tomorrow"}, {"expires": [DT_FORMAT]}),
    # expiring
    ("expiring-word", {"identifier": "e-xpg-1", "expiring": "maybe"}, {"expiring": [NOT_BOOL]}),
    ("expiring-two", {"identifier": "e-xpg-2", "expiring": 2}, {"expiring": [NOT_BOOL]}),
    ("expiring-str-two", {"identifier": "e-xpg-3", "expiring": "2"}, {"expiring": [NOT_BOOL]}),
    ("expiring-empty", {"identifier": "e-xpg-4", "expiring": ""}, {"expiring": [NOT_BOOL]}),
    ("expiring-half", {"identifier": "e-xpg-5", "expiring": 0.5}, {"expiring": [NOT_BOOL]}),
    ("expiring-list", {"identifier": "e-xpg-6", "expiring": [True]}, {"expiring": [NOT_BOOL]}),
    ("expiring-dict", {"identifier": "e-xpg-7", "expiring": {}}, {"expiring": [NOT_BOOL]}),
    ("expiring-null", {"identifier": "e-xpg-8", "expiring": None}, {"expiring": [NOT_NULL]}),
    # object rules run only when every field passed
    ("field-error-before-intent-rule", {"identifier": "a b", "intent": "recovery"},
     {"identifier": [SLUG]}),
    ("field-error-before-lifetime-rule", {"identifier": "e-obj-1", "intent": "app_password",
                                          "expires": "2999-01-01T00:00:00Z", "expiring": "x"},
     {"expiring": [NOT_BOOL]}),
    # §6.2 rule 3
    ("intent-recovery", {"identifier": "e-rec", "intent": "recovery"}, invalid_intent("recovery")),
    ("intent-verification", {"identifier": "e-ver", "intent": "verification"},
     invalid_intent("verification")),
    # everything wrong at once: all fields reported, in field order
    ("all-fields", {"expiring": "x", "expires": "x", "description": None, "user": "abc",
                    "intent": "bogus", "identifier": "bad id", "managed": ""},
     {"managed": [BLANK], "identifier": [SLUG], "intent": [bad_choice("bogus")],
      "user": [pk_type("str")], "description": [NOT_NULL], "expires": [DT_FORMAT],
      "expiring": [NOT_BOOL]}),
    ("several-fields", {"expiring": None, "user": 999, "identifier": LONG_SPACED},
     {"identifier": [TOO_LONG, SLUG], "user": [bad_pk("999")], "expiring": [NOT_NULL]}),
]


@pytest.mark.parametrize("body,expected", [c[1:] for c in FIELD_ERRORS],
                         ids=[c[0] for c in FIELD_ERRORS])
def test_field_errors(w, body, expected):
    before = snapshot(w)
    resp = create(w.client(), body)
    refused(w, resp, 400, expected, before=before)
    assert list(resp.json()) == [k for k in FIELD_ORDER if k in expected]


@pytest.mark.parametrize("username", ["pat", "nora"])
def test_field_errors_for_a_plain_user(w, username):
    """A non-superuser gets the same checks (the submitted user must exist, §6.3)."""
    before = snapshot(w)
    resp = create(w.client(username), {"identifier": "p-err", "user": 999, "intent": "x"})
    refused(w, resp, 400, {"intent": [bad_choice("x")], "user": [bad_pk("999")]}, before=before)
    resp = create(w.client(username), {"identifier": "p-err", "intent": "recovery"})
    refused(w, resp, 400, invalid_intent("recovery"), before=before)


# -- §6.1 coercions that succeed -------------------------------------------------------------------

STRING_COERCIONS = [
    # body extra, field, stored value
    ({"identifier": 123}, "identifier", "123"),
    ({"identifier": -7}, "identifier", "-7"),
    ({"identifier": "  padded-id \n"}, "identifier", "padded-id"),
    ({"identifier": "x" * 255}, "identifier", "x" * 255),
    ({"identifier": "TAKEN"}, "identifier", "TAKEN"),  # uniqueness is case-sensitive
    ({"identifier": "ok-desc-1", "description": 42}, "description", "42"),
    ({"identifier": "ok-desc-2", "description": 1.5}, "description", "1.5"),
    ({"identifier": "ok-desc-3", "description": 1e16}, "description", "1e+16"),
    ({"identifier": "ok-desc-4", "description": "  trimmed \t"}, "description", "trimmed"),
    ({"identifier": "ok-desc-5", "description": "   "}, "description", ""),
    ({"identifier": "ok-desc-6", "description": "😀 \ud83d\ude00"}, "description", "😀 😀"),
    ({"identifier": "ok-man-1", "managed": "  m-ok-1 "}, "managed", "m-ok-1"),
    ({"identifier": "ok-man-2", "managed": 7}, "managed", "7"),
    ({"identifier": "ok-man-3", "managed": None}, "managed", None),
]


@pytest.mark.parametrize("body,field,value", STRING_COERCIONS,
                         ids=[f"{c[1]}={c[2]!r}"[:40] for c in STRING_COERCIONS])
def test_string_coercions(w, body, field, value):
    fields = {"identifier": None, "description": "", "managed": None}
    fields.update({k: v for k, v in body.items() if k in fields})
    fields[field] = value
    with Clock() as c:
        resp = create(w.client(), body)
    expect_token(w, resp, 201, fields["identifier"], "akadmin", "api", fields["description"],
                 expiring=True, managed=fields["managed"], window=c.window())


@pytest.mark.parametrize("value,user", [(2, "pat"), ("2", "pat"), (" 2 ", "pat"), (1, "akadmin")],
                         ids=repr)
def test_user_by_pk(w, value, user):
    ident = f"usr-ok-{next(_n)}"
    with Clock() as c:
        resp = create(w.client(), {"identifier": ident, "user": value})
    assert w.users[user].pk == int(value)
    expect_token(w, resp, 201, ident, user, window=c.window())


TRUE_VALUES = [True, 1, "1", "true", "True", "TRUE", "t", "T", "y", "Y", "yes", "Yes", "YES",
               "on", "On", "ON"]
FALSE_VALUES = [False, 0, 0.0, "0", "false", "False", "FALSE", "f", "F", "n", "N", "no", "No",
                "NO", "off", "Off", "OFF"]


@pytest.mark.parametrize("value,expected", [(v, True) for v in TRUE_VALUES] +
                         [(v, False) for v in FALSE_VALUES], ids=repr)
def test_expiring_accepts_the_boolean_spellings(w, value, expected):
    ident = "bool-" + re.sub(r"[^a-zA-Z0-9]", "_", f"{type(value).__name__}-{value}")
    with Clock() as c:
        resp = create(w.client(), {"identifier": ident, "expiring": value})
    expect_token(w, resp, 201, ident, "akadmin", expiring=expected, window=c.window())


# -- §6.2: defaults, the api expiry, app-password lifetime -----------------------------------------

def test_defaults_on_create(w):
    with Clock() as c:
        resp = create(w.client(), {"identifier": "dflt"})
    expect_token(w, resp, 201, "dflt", "akadmin", "api", "", expiring=True, managed=None,
                 window=c.window())


@pytest.mark.parametrize("extra", [
    {"expires": "2099-01-01T00:00:00Z"},
    {"expires": "2020-01-01T00:00:00Z"},
    {"expires": None},
    {"expires": "2099-01-01T00:00:00Z", "expiring": False},
    {"expires": "2099-01-01T00:00:00Z", "intent": "api"},
], ids=["future", "past", "null", "not-expiring", "explicit-api"])
def test_api_expiry_is_forced_to_now_plus_default(w, extra):
    ident = f"forced-{next(_n)}"
    with Clock() as c:
        resp = create(w.client(), dict(identifier=ident, **extra))
    expect_token(w, resp, 201, ident, "akadmin", "api",
                 expiring=extra.get("expiring", True), window=c.window())


LIFETIMES = [
    # user, effective maximum lifetime
    ("akadmin", DEFAULT_DURATION),   # absent -> default
    ("pat", DEFAULT_DURATION),
    ("hour", H),                     # own attribute
    ("grp2", 2 * H),                 # a group's attribute
    ("ovr", H),                      # own attribute beats the group's days=1
    ("mrg", 3 * H),                  # groups merged in name order: g-b (hours=3) after g-a
    ("anc", 2 * H),                  # an ancestor group's attribute (effective groups)
    ("num", DEFAULT_DURATION),       # non-string value: unparsable -> default
    ("bad", DEFAULT_DURATION),       # unparsable string -> default
    ("combo", 90 * M),               # key=value pairs separated by ';'
]


@pytest.mark.parametrize("user,lifetime", LIFETIMES, ids=[u for u, _ in LIFETIMES])
def test_app_password_maximum_lifetime(w, user, lifetime):
    body = {"identifier": f"life-{user}", "intent": "app_password", "user": pk(w, user)}
    before = snapshot(w)
    with Clock() as c:
        resp = create(w.client(), dict(body, expires=iso_in(lifetime + 10 * M)))
    maximum = max_lifetime_instant(resp)
    lo, hi = c.window(lifetime, slack=datetime.timedelta(seconds=2))
    assert lo <= maximum <= hi, f"maximum {maximum} not now + {lifetime}"
    assert_unchanged(w, before)

    expires = iso_in(lifetime - 10 * M)
    resp = create(w.client(), dict(body, expires=expires))
    expect_token(w, resp, 201, body["identifier"], user, "app_password", expires=expires,
                 expiring=True)


def test_app_password_lifetime_for_a_plain_user(w):
    before = snapshot(w)
    with Clock() as c:
        resp = create(w.client("hour"), {"identifier": "hour-app", "intent": "app_password",
                                         "expires": iso_in(70 * M)})
    maximum = max_lifetime_instant(resp)
    assert c.window(H)[0] <= maximum <= c.window(H)[1]
    assert_unchanged(w, before)
    expires = iso_in(50 * M)
    resp = create(w.client("hour"), {"identifier": "hour-app", "intent": "app_password",
                                     "expires": expires})
    expect_token(w, resp, 201, "hour-app", "hour", "app_password", expires=expires, expiring=True)


def test_app_password_lifetime_is_the_owners_not_the_submitted_users(w):
    """docs/api.md §17.15 (issue 13.8): authentik checks rule 4 against the submitted user though
    a plain user's token is always their own (§6.3), so pat (30 minutes) escaped the limit by
    naming hour (1 hour) and learned hour's limit from the message. tokend checks the owner."""
    expires = iso_in(50 * M)
    before = snapshot(w)
    with Clock() as c:
        resp = create(w.client("pat"), {"identifier": "pat-quirk", "intent": "app_password",
                                        "expires": expires, "user": pk(w, "hour")})
    maximum = max_lifetime_instant(resp)  # pat's own limit, nothing of hour's
    lo, hi = c.window(DEFAULT_DURATION, slack=datetime.timedelta(seconds=2))
    assert lo <= maximum <= hi, f"maximum {maximum} is not pat's now + {DEFAULT_DURATION}"
    assert_unchanged(w, before)
    # within pat's own limit the submitted user changes nothing: the token is pat's
    inside = iso_in(20 * M)
    resp = create(w.client("pat"), {"identifier": "pat-quirk", "intent": "app_password",
                                    "expires": inside, "user": pk(w, "hour")})
    expect_token(w, resp, 201, "pat-quirk", "pat", "app_password", expires=inside, expiring=True)
    # and the other way round: hour (1 hour) naming pat (30 minutes) keeps the hour
    resp = create(w.client("hour"), {"identifier": "hour-quirk", "intent": "app_password",
                                     "expires": expires, "user": pk(w, "pat")})
    expect_token(w, resp, 201, "hour-quirk", "hour", "app_password", expires=expires,
                 expiring=True)


@pytest.mark.parametrize("requester", ["akadmin", "pat"])
def test_app_password_with_null_expiry(w, requester):
    ident = f"app-null-{requester}"
    resp = create(w.client(requester), {"identifier": ident, "intent": "app_password",
                                        "expires": None, "expiring": False})
    # a plain user's submitted expiring is ignored (§6.3): their own attribute is absent
    expect_token(w, resp, 201, ident, requester, "app_password", expires=None,
                 expiring=requester != "akadmin")


def test_app_password_without_expiry(w):
    resp = create(w.client(), {"identifier": "app-absent", "intent": "app_password"})
    expect_token(w, resp, 201, "app-absent", "akadmin", "app_password", expires=None,
                 expiring=True)


DATETIME_INPUTS = [
    ("2020-01-02T03:04:05Z", "2020-01-02T03:04:05Z"),
    ("2020-01-02T03:04:05.5Z", "2020-01-02T03:04:05.500000Z"),
    ("2020-01-02T03:04:05.123456+02:00", "2020-01-02T01:04:05.123456Z"),
    ("2020-01-02T03:04:05-0130", "2020-01-02T04:34:05Z"),
    ("2020-01-02T03:04:05", "2020-01-02T03:04:05Z"),
    ("2020-01-02 03:04", "2020-01-02T03:04:00Z"),
    ("2020-01-02", "2020-01-02T00:00:00Z"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
]


@pytest.mark.parametrize("given,stored", DATETIME_INPUTS, ids=[d[0] for d in DATETIME_INPUTS])
def test_app_password_expiry_in_the_past_is_accepted(w, given, stored):
    ident = f"past-{next(_n)}"
    resp = create(w.client(), {"identifier": ident, "intent": "app_password", "expires": given,
                               "expiring": False})
    expect_token(w, resp, 201, ident, "akadmin", "app_password", expires=stored, expiring=False)


# -- §6.3 ownership and expiring -------------------------------------------------------------------

@pytest.mark.parametrize("requester,extra,expiring", [
    ("pat", {}, True),                                   # attribute absent -> true
    ("pat", {"expiring": False}, True),                  # submitted value ignored
    ("pat", {"user": "other"}, True),                    # submitted existing user ignored
    ("nora", {"expiring": True}, False),                 # own attribute false
    ("nora", {}, False),
    ("gail", {}, True),                                  # a group's attribute does not count
], ids=["pat-default", "pat-expiring-false", "pat-other-user", "nora-true", "nora-default",
        "gail-group-attribute"])
def test_plain_user_creates_for_themselves(w, requester, extra, expiring):
    ident = f"own-{requester}-{next(_n)}"
    body = dict(identifier=ident, **extra)
    if body.get("user") == "other":
        body["user"] = pk(w, "hour")
    with Clock() as c:
        resp = create(w.client(requester), body)
    expect_token(w, resp, 201, ident, requester, "api", expiring=expiring, window=c.window())
    # the key-view grant: the creator sees the key, and it authenticates as them
    key = view_key(w, ident, w.client(requester))
    assert is_generated_key(key), key
    assert key == view_key(w, ident)
    r = w.client().list({"identifier": ident}, token=key)
    assert_json(r, 200, w.page([ident]))


@pytest.mark.parametrize("extra,expiring", [({}, True), ({"expiring": False}, False),
                                            ({"expiring": True}, True)])
def test_superuser_creates_for_any_user(w, extra, expiring):
    ident = f"for-pat-{next(_n)}"
    with Clock() as c:
        resp = create(w.client(), dict(identifier=ident, user=pk(w, "pat"), **extra))
    expect_token(w, resp, 201, ident, "pat", "api", expiring=expiring, window=c.window())
    # no grant for the owner of an admin-made token
    r = w.client("pat").request("GET", detail(ident, "view_key"))
    assert_json(r, 403, {"detail": "You do not have permission to perform this action."})


def test_superuser_creating_for_a_user_with_expiring_false_attribute(w):
    """The attribute applies to non-superuser creates only; a superuser's value is kept."""
    with Clock() as c:
        resp = create(w.client(), {"identifier": "for-nora", "user": pk(w, "nora")})
    expect_token(w, resp, 201, "for-nora", "nora", "api", expiring=True, window=c.window())


# -- the response ----------------------------------------------------------------------------------

def test_created_token_is_the_list_item_and_never_shows_the_key(w):
    with Clock() as c:
        resp = create(w.client(), {"identifier": "shape", "description": "shape test",
                                   "user": pk(w, "grp2")})
    expect_token(w, resp, 201, "shape", "grp2", description="shape test", window=c.window())
    assert resp.header("Location") is None
    key = view_key(w, "shape")
    assert key.encode() not in resp.body
    listed = w.client().list({"identifier": "shape"})
    assert_status(listed, 200)
    assert listed.json()["results"] == [resp.json()]
    assert list(resp.json()) == ["pk", "managed", "identifier", "intent", "user", "user_obj",
                                 "description", "expires", "expiring"]
    assert key.encode() not in listed.body
    assert key.encode() not in w.client().get(detail("shape")).body


def test_include_groups_false_on_create(w):
    with Clock() as c:
        resp = create(w.client(), {"identifier": "nogroups", "user": pk(w, "grp2")},
                      query="include_groups=false")
    expect_token(w, resp, 201, "nogroups", "grp2", window=c.window(), groups=False)


# -- bodies (§1.2) ---------------------------------------------------------------------------

def parse_error(resp):
    assert_status(resp, 400)
    assert resp.media_type == "application/json"
    body = resp.json()
    assert list(body) == ["detail"] and body["detail"].startswith("JSON parse error - "), body


def not_a_dict(kind):
    return {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}


def nested(depth, ident):
    """An object body of this depth (the top-level object is depth 1)."""
    inner = depth - 1
    return (b'{"identifier": "' + ident.encode() + b'", "x": ' + b"[" * inner + b"]" * inner
            + b"}")


BAD_BODIES = [
    # name, content type, raw body, status, body (None: a JSON parse error)
    ("no-content-type", None, b'{"identifier": "bb-1"}', 415,
     {"detail": 'Unsupported media type "" in request.'}),
    ("text-plain", "text/plain", b'{"identifier": "bb-2"}', 415,
     {"detail": 'Unsupported media type "text/plain" in request.'}),
    ("form", "application/x-www-form-urlencoded", b"identifier=bb-3", 415,
     {"detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.'}),
    ("truncated", "application/json", b'{"identifier": ', 400, None),
    ("single-quotes", "application/json", b"{'identifier': 'bb-4'}", 400, None),
    ("trailing-garbage", "application/json", b'{"identifier": "bb-5"} x', 400, None),
    ("trailing-comma", "application/json", b'{"identifier": "bb-6",}', 400, None),
    ("nan", "application/json", b'{"identifier": "bb-7", "x": NaN}', 400, None),
    ("whitespace-only", "application/json", b"  \n", 400, None),
    ("list", "application/json", b'[{"identifier": "bb-8"}]', 400, not_a_dict("list")),
    ("empty-list", "application/json", b"[]", 400, not_a_dict("list")),
    ("str", "application/json", b'"bb-9"', 400, not_a_dict("str")),
    ("int", "application/json", b"42", 400, not_a_dict("int")),
    ("float", "application/json", b"4.5", 400, not_a_dict("float")),
    ("true", "application/json", b"true", 400, not_a_dict("bool")),
    ("false", "application/json", b"false", 400, not_a_dict("bool")),
    ("null", "application/json", b"null", 400, {"non_field_errors": ["No data provided"]}),
    ("empty", "application/json", b"", 400, {"identifier": [REQUIRED]}),
    ("empty-without-content-type", None, b"", 400, {"identifier": [REQUIRED]}),
    ("empty-text-plain", "text/plain", b"", 400, {"identifier": [REQUIRED]}),
    ("depth-65", "application/json", nested(65, "bb-10"), 400, None),
    ("depth-65-list", "application/json", b"[" * 65 + b"]" * 65, 400, None),
    ("depth-100-object", "application/json", b'{"a":' * 99 + b"{}" + b"}" * 99, 400, None),
    ("depth-64-list", "application/json", b"[" * 64 + b"]" * 64, 400, not_a_dict("list")),
    ("invalid-utf8", "application/json", b'{"identifier": "bb-11\xff"}', 400, None),
    ("invalid-utf8-in-key", "application/json", b'{"identifier": "bb-12", "\xc3x": 1}', 400, None),
    ("overlong-utf8", "application/json", b'{"identifier": "bb-13", "d": "\xc0\xaf"}', 400, None),
    ("lone-high-surrogate", "application/json",
     b'{"identifier": "bb-14", "description": "\\ud800"}', 400, None),
    ("lone-low-surrogate", "application/json",
     b'{"identifier": "bb-15", "description": "x\\udc00y"}', 400, None),
    ("number-too-big", "application/json", b'{"identifier": "bb-16", "x": 1e400}', 400, None),
    ("number-too-small", "application/json", b'{"identifier": "bb-17", "x": -1e400}', 400, None),
    ("last-duplicate-wins-bad", "application/json",
     b'{"identifier": "bb-18", "identifier": "bad id"}', 400, {"identifier": [SLUG]}),
]


@pytest.mark.parametrize("ctype,raw,status,expected", [c[1:] for c in BAD_BODIES],
                         ids=[c[0] for c in BAD_BODIES])
def test_bad_bodies(w, ctype, raw, status, expected):
    before = snapshot(w)
    resp = create(w.client(), raw=raw, content_type=ctype)
    if expected is None:
        parse_error(resp)
    else:
        assert_json(resp, status, expected)
    assert_unchanged(w, before)


def test_user_beyond_int64_is_a_user_error(w):
    before = snapshot(w)
    resp = create(w.client(), raw=b'{"identifier": "huge", "user": 99999999999999999999999}')
    assert_status(resp, 400)
    body = resp.json()
    assert list(body) == ["user"] and len(body["user"]) == 1 and isinstance(body["user"][0], str)
    assert_unchanged(w, before)


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8",
                                   "application/json;charset=UTF-8"])
def test_json_with_parameters_is_accepted(w, ctype):
    ident = f"ct-{next(_n)}"
    with Clock() as c:
        resp = create(w.client(), raw=json.dumps({"identifier": ident}).encode(),
                      content_type=ctype)
    expect_token(w, resp, 201, ident, "akadmin", window=c.window())


def test_depth_64_is_parsed(w):
    with Clock() as c:
        resp = create(w.client(), raw=nested(64, "depth-64"))
    expect_token(w, resp, 201, "depth-64", "akadmin", window=c.window())


def test_duplicate_keys_last_wins(w):
    with Clock() as c:
        resp = create(w.client(), raw=b'{"identifier": "bad id", "description": "a", '
                                      b'"identifier": "dup-last", "description": "b"}')
    expect_token(w, resp, 201, "dup-last", "akadmin", description="b", window=c.window())


def test_unknown_fields_are_ignored(w):
    with Clock() as c:
        resp = create(w.client(), {"identifier": "unknown-f", "Identifier": "x", "bogus": [1, {}],
                                   "is_superuser": True, "groups": ["x"], "": None})
    expect_token(w, resp, 201, "unknown-f", "akadmin", window=c.window())


def test_read_only_fields_are_ignored(w):
    submitted_key = "submitted-" + random_key(40)
    remember(w, submitted_key)
    given_pk = "00000000-0000-4000-8000-000000000000"
    with Clock() as c:
        resp = create(w.client(), {"identifier": "ro", "pk": given_pk, "key": submitted_key,
                                   "user_obj": {"pk": pk(w, "pat"), "username": "pat"}})
    tok = expect_token(w, resp, 201, "ro", "akadmin", window=c.window())
    assert tok.pk != given_pk
    key = view_key(w, "ro")
    assert key != submitted_key and is_generated_key(key)
    assert_json(w.client().list(token=submitted_key), 403, INVALID_TOKEN)
    assert w.client().list({"identifier": "ro"}, token=key).status == 200


def test_unauthenticated_create_is_refused(w):
    before = snapshot(w)
    resp = w.client().request("POST", LIST, token=None, body=b'{"identifier": "anon"}',
                              headers={"Content-Type": "application/json"})
    assert_json(resp, 403, {"detail": "Authentication credentials were not provided."})
    resp = w.client().request("POST", LIST, token="nope", body=b'{"identifier": "anon"}',
                              headers={"Content-Type": "application/json"})
    assert_json(resp, 403, INVALID_TOKEN)
    assert_unchanged(w, before)


def test_every_created_token_is_listed(w):
    """The world mirrors every token created above; the admin's list must hold exactly them."""
    w.learn(w.client())
    ids = w.all_identifiers()
    assert_json(w.client().list("page_size=1000"), 200,
                w.page(ids, paging=pagination(len(ids), size=1000)))


def test_no_key_in_events_or_log(w):
    for ident in list(w.tokens):
        if w.tokens[ident].key is None:
            view_key(w, ident)
    assert_no_secrets(w)


# -- the per-user cap (TOKEND_MAX_TOKENS_PER_USER, issue 13.7) ------------------------------------

CAP = 3
FULL = {"user": [f"This user already has {CAP} tokens, the most one user may have. "
                 "Delete one first."]}


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    with served(tmp_path_factory.mktemp("capped"),
                extra_env={"TOKEND_MAX_TOKENS_PER_USER": str(CAP)}) as server:
        world = World(server)
        world.add_user("pat", "Pat Plain", "pat@example.com")
        world.add_user("quinn", "Quinn Other", "quinn@example.com")
        world.add_user("rita", "Rita Racer", "rita@example.com")
        world.add_token("pat-login", "pat", "api", expires="none", key=random_key(), login=True)
        world.learn(world.client())
        yield world


def owned(w, username):
    resp = w.client().list({"user__username": username, "page_size": "1000"})
    assert_status(resp, 200)
    return sorted(t["identifier"] for t in resp.json()["results"])


def test_a_plain_user_stops_at_the_cap(capped):
    w = capped
    # pat-login counts, and so does a recovery token (every intent)
    w.add_token("pat-recovery", "pat", "recovery", expires="none", key=random_key())
    resp = create(w.client("pat"), {"identifier": "pat-1"})
    assert_status(resp, 201)
    before = snapshot(w)
    for body in ({"identifier": "pat-2"},
                 {"identifier": "pat-2", "user": pk(w, "quinn")},  # still pat's own token
                 {"identifier": "pat-2", "intent": "app_password"}):
        assert_json(create(w.client("pat"), body), 400, FULL)
    assert_json(create(w.client(), {"identifier": "pat-2", "user": pk(w, "pat")}), 400, FULL)
    assert owned(w, "pat") == ["pat-1", "pat-login", "pat-recovery"]
    assert_unchanged(w, before)
    # the other field errors come first, as the object rules do
    resp = create(w.client("pat"), {"identifier": "pat-login"})
    assert_json(resp, 400, {"identifier": [IDENT_TAKEN]})
    # the command line refuses too, with one line naming the setting
    p = subprocess.run([w.server.bin, "token", "create", "pat-cli", "--user", "pat"],
                       env=w.server.env(), capture_output=True, timeout=60)
    assert p.returncode == 1 and p.stdout == b"", (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and "TOKEND_MAX_TOKENS_PER_USER" in lines[0], lines
    # one deleted, one more fits
    assert_status(w.client("pat").request("DELETE", detail("pat-1")), 204)
    assert_status(create(w.client("pat"), {"identifier": "pat-3"}), 201)
    assert owned(w, "pat") == ["pat-3", "pat-login", "pat-recovery"]
    # other users are not affected
    assert_status(create(w.client(), {"identifier": "quinn-1", "user": pk(w, "quinn")}), 201)


def test_concurrent_creates_cannot_pass_the_cap_together(capped):
    """Counted under the owner's row lock: of many simultaneous creates, exactly CAP succeed."""
    w = capped
    admin = w.client()
    rita = pk(w, "rita")

    def one(i):
        return create(admin, {"identifier": f"rita-race-{i}", "user": rita}).status

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(one, range(24)))
    assert sorted(statuses) == [201] * CAP + [400] * (24 - CAP), statuses
    assert len(owned(w, "rita")) == CAP


def test_the_default_cap_and_zero_for_none(tmp_path):
    """10,000 by default; 0 lifts the cap (the seeded tokens are the administrator's)."""
    def seed(server):
        server.cli("seed", "--users", "1", "--groups", "1", "--tokens", "9998")

    with served(tmp_path, pre_start=seed) as server:
        admin = Client(server, token=server.bootstrap_key)
        assert admin.list({"page_size": "1"}).json()["pagination"]["count"] == 10000
        full = {"user": ["This user already has 10000 tokens, the most one user may have. "
                         "Delete one first."]}
        assert_json(create(admin, {"identifier": "one-more"}), 400, full)
        server.extra_env["TOKEND_MAX_TOKENS_PER_USER"] = "0"
        server.restart()
        assert_status(create(admin, {"identifier": "one-more"}), 201)


def test_the_default_cap_is_ten_thousand():
    p = subprocess.run([tokend_bin(), "config"], capture_output=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if not k.startswith("TOKEND_")})
    assert p.returncode == 0, p.stderr
    assert "TOKEND_MAX_TOKENS_PER_USER=10000" in p.stdout.decode().splitlines()
