"""Stored text and JSON values come back exactly (docs/api.md §1 responses, §5, §10): control
characters, quotes, backslashes, non-BMP characters, line separators, long strings, numbers and
nesting in attributes — in token, user and group fields. Responses are parsed strictly (no raw
control characters in strings, no duplicate keys), so a writer that forgets an escape fails.
"""

from urllib.parse import quote

import pytest

from harness import assert_json, served
from world import World, check_list

CONTROL = "".join(chr(c) for c in range(1, 32)) + "\x7f"

DESCRIPTIONS = {
    "j-ctl": "ctl " + CONTROL + " end",
    "j-lines": "line1\nline2\r\nline3",
    "j-quote": 'quote " and \\ backslash and / slash',
    "j-html": "</script><!-- & <b>",
    "j-seps": "sep \u2028 \u2029 \u0085 end",
    "j-astral": "emoji \U0001F600 and \U00010348",
    "j-bmp": "edge \uffff \ufeff \u00a0 end",
    "j-comb": "e\u0301 combining",
    "j-long": "x" * 5000,
}

ATTRIBUTES = {
    "ctl": CONTROL,
    "quote": "\"'\\/",
    "astral": "\U0001F600",
    "seps": "\u2028\u2029",
    "": "empty key",
    "ünï \"k\"": True,
    "null": None,
    "numbers": [0, -1, 1.5, -0.0, 1e300, -2.5e-7, 2**53 + 1, 2**63 - 1, -(2**63)],
    "nested": {"a": {"b": {"c": [[], {}, [[{}]]]}}},
    "deep": {"l1": {"l2": {"l3": {"l4": {"l5": {"l6": {"l7": {"l8": "bottom"}}}}}}}},
}

ODD_USERNAME = "we.ird+user@x"


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("json")) as server:
        world = World(server)
        world.add_group('grp "q" \\ é \U0001F600', attributes={"x": "\n\t", "n": 2**40})
        world.add_user("json", 'Quote " Backslash \\ Tab\t end', "json@example.com",
                       attributes=ATTRIBUTES, groups=['grp "q" \\ é \U0001F600'])
        world.add_user(ODD_USERNAME, "Odd User", "odd@example.com")
        for ident, desc in DESCRIPTIONS.items():
            world.add_token(ident, "json", "api", description=desc,
                            expires="2040-01-01T00:00:00Z")
        world.add_token("odd-api", ODD_USERNAME, "api", description="odd",
                        expires="2041-01-01T00:00:00Z", login=True)
        world.add_token("t-max", ODD_USERNAME, "api", expires="9999-12-31T23:59:59.999999Z")
        world.add_token("t-min", ODD_USERNAME, "api", expires="0001-01-01T00:00:00Z")
        world.add_token("t-epoch", ODD_USERNAME, "api", expires="1970-01-01T00:00:00Z")
        world.add_token("t-pre", ODD_USERNAME, "api", expires="1969-12-31T23:59:59.999999Z")
        world.learn(world.client())
        yield world


def test_every_value_round_trips(w):
    check_list(w.client(), w, "user__username=json", sorted(DESCRIPTIONS))


@pytest.mark.parametrize("identifier", sorted(DESCRIPTIONS))
def test_description_round_trips(w, identifier):
    check_list(w.client(), w, "identifier=" + identifier, [identifier])


@pytest.mark.parametrize("identifier", sorted(DESCRIPTIONS))
def test_description_filter_finds_the_exact_text(w, identifier):
    text = DESCRIPTIONS[identifier]
    check_list(w.client(), w, "description=" + quote(text, safe=""), [identifier])


@pytest.mark.parametrize("term,expected", [
    ("\x1b", ["j-ctl"]),
    ("\x7f", ["j-ctl"]),
    ("line2\r", ["j-lines"]),        # \r is whitespace: a separator, the term is "line2"
    ("line2", ["j-lines"]),
    ('"', ["j-quote"]),
    ("\\", ["j-quote"]),
    ("</script>", ["j-html"]),
    ("\u2028", []),                  # whitespace too: no terms, so no filtering below
    ("\U0001F600", ["j-astral"]),
    ("\U00010348", ["j-astral"]),
    ("\uffff", ["j-bmp"]),
    ("\u0301", ["j-comb"]),
    ("x" * 1000, ["j-long"]),
])
def test_search_for_special_characters(w, term, expected):
    if term == "\u2028":
        expected = sorted(DESCRIPTIONS)
    check_list(w.client(), w, "user__username=json&search=" + quote(term, safe=""), expected)


@pytest.mark.parametrize("identifier,expires", [
    ("t-max", "9999-12-31T23:59:59.999999Z"),
    ("t-min", "0001-01-01T00:00:00Z"),
    ("t-epoch", "1970-01-01T00:00:00Z"),
    ("t-pre", "1969-12-31T23:59:59.999999Z"),
])
def test_extreme_datetimes(w, identifier, expires):
    resp = w.client().list("identifier=" + identifier)
    assert [t["expires"] for t in resp.json()["results"]] == [expires]
    check_list(w.client(), w, "expires=" + quote(expires, safe=""), [identifier])


def test_extreme_datetimes_order(w):
    check_list(w.client(), w, "user__username=we.ird%2Buser%40x&ordering=expires",
               ["t-min", "t-pre", "t-epoch", "odd-api", "t-max"])
    check_list(w.client(), w, "user__username=we.ird%2Buser%40x&ordering=-expires",
               ["t-max", "odd-api", "t-epoch", "t-pre", "t-min"])


ODD = ["odd-api", "t-epoch", "t-max", "t-min", "t-pre"]


def test_odd_username_filter(w):
    check_list(w.client(), w, "user__username=" + quote(ODD_USERNAME, safe=""), ODD)
    # an unencoded '+' is a space
    check_list(w.client(), w, "user__username=we.ird+user@x", [])


def test_odd_username_authenticates(w):
    assert_json(w.client(ODD_USERNAME).list(), 200, w.page(ODD))


def test_no_raw_control_characters_on_the_wire(w):
    body = w.client().list("page_size=1000").body
    assert not any(b < 0x20 for b in body), "unescaped control character in the JSON"
