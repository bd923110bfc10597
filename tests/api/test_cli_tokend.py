"""The command line's side of tokend's token settings (docs/api.md §19): `tokend token set`
validates and stores like PATCH tokend/tokens/{identifier}/ (the same canonical forms, checked
against the API itself), `tokend token rotate` rotates like POST .../rotate/ (the new key works,
the old one only for the grace), view modes erase the sealed copy as the API does, every invalid
value exits 2 with one line naming the flag and changes nothing, `--json` gives the API's shapes,
and `tokend token list` shows each token's last use. Runs on either store (one server for the
module; each test makes its own tokens)."""

import datetime
import itertools
import json
import re
import time

import pytest

from harness import Client, assert_json, assert_status, note_key, served
from startup import run, sql
from tokenapi import Clock, check_event, events, token_ref

TOKEND = "/api/v3/tokend/tokens/"
ME = "/api/v3/core/users/me/"
FIELDS = ["identifier", "intent", "user", "scopes", "allowed_networks", "rate_limit",
          "uses_remaining", "view_key", "revoke_on_reuse", "last_used", "last_used_ip",
          "use_count", "previous_key_valid_until"]
INVALID_KEY = {"detail": "Token invalid/expired"}
NOT_FOUND = {"detail": "Not found."}
SET_USAGE = "usage: tokend token set IDENTIFIER"
ROTATE_USAGE = "usage: tokend token rotate IDENTIFIER"

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # usage is written often, so the list's last-use columns are seen soon
    with served(tmp_path_factory.mktemp("cli-tokend"),
                extra_env={"TOKEND_USAGE_FLUSH": "seconds=0.2"}) as s:
        s.cli("user", "create", "cli-owner")
        yield s


@pytest.fixture(scope="module")
def admin(server):
    return Client(server, token=server.bootstrap_key)


def new_token(server, **env):
    """A fresh non-expiring api token of cli-owner: (identifier, key)."""
    ident = f"cli-tok-{next(_names)}"
    rc, out, err = run(server, "token", "create", ident, "--user", "cli-owner",
                       "--expiring", "false", env=env or None)
    assert rc == 0, err
    note_key(out.strip())  # checked against the server's logs at the end of the session
    return ident, out.strip()


def api_object(admin, ident):
    r = admin.get(f"{TOKEND}{ident}/")
    assert_status(r, 200)
    return r.json()


def works(server, key):
    r = Client(server, token=key).get(ME)
    return r.status == 200


def refused(server, key):
    assert_json(Client(server, token=key).get(ME), 403, INVALID_KEY)


def sealed_length(server, ident):
    rows = sql(server.backend,
               f"SELECT length(key_sealed) FROM tokens WHERE identifier = '{ident}'")
    return int(rows[0][0])


def text_fields(out):
    """`token set`'s text output: key -> value, every line "key:" padded to one column."""
    lines = out.rstrip("\n").split("\n")
    assert [line.split(":", 1)[0] for line in lines] == FIELDS
    column = len("previous_key_valid_until: ")
    for line in lines:
        key = line.split(":", 1)[0]
        assert line[:column] == (key + ":").ljust(column), line
        assert line[column] != " ", line
    return {line.split(":", 1)[0]: line[column:] for line in lines}


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# -- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["rotate", "set", "list"])
def test_help(server, verb):
    rc, out, err = run(server, "token", verb, "--help")
    assert rc == 0, err
    assert out.startswith(f"usage: tokend token {verb}")
    rc, out, _ = run(server, "token", "--help")
    assert f"tokend token {verb}" in out
    rc, out, _ = run(server, "--help")
    assert "token rotate IDENTIFIER [--grace DURATION]" in out and "token set IDENTIFIER" in out


# -- token set -----------------------------------------------------------------------------------


def test_set_every_setting_text_output(server, admin):
    ident, key = new_token(server)
    out = server.cli("token", "set", ident, "--scopes", "users:read, tokens:read,users:read,app/x",
                     "--networks", "10.9.9.9/8,::1, 10.0.0.0/8,::ffff:127.0.0.1,2001:DB8::1/32",
                     "--rate-limit", "100/min", "--uses", "5", "--view-key", "once",
                     "--revoke-on-reuse", "true")
    f = text_fields(out + "\n")
    owner = api_object(admin, ident)["user"]
    assert f == {
        "identifier": ident, "intent": "api", "user": str(owner),
        "scopes": "app/x,tokens:read,users:read",
        "allowed_networks": "10.0.0.0/8,::1/128,127.0.0.1/32,2001:db8::/32",
        "rate_limit": "100/minute", "uses_remaining": "5", "view_key": "once",
        "revoke_on_reuse": "true", "last_used": "none", "last_used_ip": "none", "use_count": "0",
        "previous_key_valid_until": "none"}
    assert api_object(admin, ident) == {
        "identifier": ident, "intent": "api", "user": owner,
        "scopes": ["app/x", "tokens:read", "users:read"],
        "allowed_networks": ["10.0.0.0/8", "::1/128", "127.0.0.1/32", "2001:db8::/32"],
        "rate_limit": "100/minute", "uses_remaining": 5, "view_key": "once",
        "revoke_on_reuse": True, "last_used": None, "last_used_ip": None, "use_count": 0,
        "previous_key_valid_until": None}
    # none is null, "" the empty list; the settings not named stay
    f = text_fields(server.cli("token", "set", ident, "--scopes", "", "--networks", "none",
                               "--rate-limit", "none", "--uses", "none") + "\n")
    assert (f["scopes"], f["allowed_networks"], f["rate_limit"], f["uses_remaining"]) == \
        ('""', "none", "none", "none")
    assert (f["view_key"], f["revoke_on_reuse"]) == ("once", "true")
    obj = api_object(admin, ident)
    assert (obj["scopes"], obj["allowed_networks"], obj["rate_limit"], obj["uses_remaining"]) == \
        ([], None, None, None)
    f = text_fields(server.cli("token", "set", ident, "--networks", " ", "--scopes", "none",
                               "--uses", "0", "--revoke-on-reuse", "false") + "\n")
    assert (f["scopes"], f["allowed_networks"], f["uses_remaining"], f["revoke_on_reuse"]) == \
        ("none", '""', "0", "false")
    # nothing to change: the token as it is
    assert text_fields(server.cli("token", "set", ident) + "\n") == f


def test_set_json_is_the_api_object(server, admin):
    ident, _ = new_token(server)
    out = server.cli("token", "set", ident, "--json", "--scopes", "b,a,b", "--uses", "3")
    assert out.count("\n") == 0
    got = json.loads(out)
    assert list(got) == FIELDS
    assert got == api_object(admin, ident)
    assert got["scopes"] == ["a", "b"] and got["uses_remaining"] == 3


# Inputs written both ways: the CLI's flag value and the API's PATCH value.
SAME_AS_PATCH = [
    ("--scopes", "z:1,a-b,A,z:1,0.x", "scopes", ["z:1", "a-b", "A", "z:1", "0.x"]),
    ("--scopes", "", "scopes", []),
    ("--scopes", "none", "scopes", None),
    ("--networks", "10.1.2.3,10.1.2.255/25,fe80::1/10,::FFFF:10.0.0.0/104,10.1.2.3/32",
     "allowed_networks",
     ["10.1.2.3", "10.1.2.255/25", "fe80::1/10", "::FFFF:10.0.0.0/104", "10.1.2.3/32"]),
    ("--networks", "0.0.0.0/0,::/0", "allowed_networks", ["0.0.0.0/0", "::/0"]),
    ("--networks", "", "allowed_networks", []),
    ("--rate-limit", "7/s", "rate_limit", "7/s"),
    ("--rate-limit", "1000000000/days", "rate_limit", "1000000000/days"),
    ("--rate-limit", "3/hxyz", "rate_limit", "3/hxyz"),
    ("--uses", "9223372036854775807", "uses_remaining", 9223372036854775807),
    ("--uses", "0", "uses_remaining", 0),
    ("--view-key", "never", "view_key", "never"),
    ("--revoke-on-reuse", "true", "revoke_on_reuse", True),
]


@pytest.mark.parametrize("flag,value,field,body", SAME_AS_PATCH)
def test_set_stores_what_the_api_patch_stores(server, admin, flag, value, field, body):
    by_cli, _ = new_token(server)
    by_api, _ = new_token(server)
    got = json.loads(server.cli("token", "set", by_cli, flag, value, "--json"))
    r = admin.request("PATCH", f"{TOKEND}{by_api}/", body=json.dumps({field: body}),
                      headers={"Content-Type": "application/json"})
    assert_status(r, 200)
    assert got[field] == r.json()[field]
    assert api_object(admin, by_cli)[field] == r.json()[field]


SCOPE_RULE = "is not a scope (a letter or digit, then up to 127 letters, digits or . _ : / -)"
BAD_SET = [
    (["--scopes", "a,,b"], f'--scopes: "" {SCOPE_RULE}'),
    (["--scopes", "a,"], f'--scopes: "" {SCOPE_RULE}'),
    (["--scopes", "x!y"], f'--scopes: "x!y" {SCOPE_RULE}'),
    (["--scopes", "-a"], f'--scopes: "-a" {SCOPE_RULE}'),
    (["--scopes", "a" * 129], f'--scopes: "{"a" * 129}" {SCOPE_RULE}'),
    (["--scopes", ",".join(f"s{i}" for i in range(65))],
     "--scopes takes at most 64 scopes, not 65"),
    (["--scopes", "a\nb"], f'--scopes: "a?b" {SCOPE_RULE}'),
    (["--networks", "10.0.0"], '--networks: "10.0.0" is not an IPv4 or IPv6 address or network'),
    (["--networks", "010.1.2.3"],
     '--networks: "010.1.2.3" is not an IPv4 or IPv6 address or network'),
    (["--networks", "10.0.0.0/33"],
     '--networks: "10.0.0.0/33" is not an IPv4 or IPv6 address or network'),
    (["--networks", "::1,,::2"], '--networks: "" is not an IPv4 or IPv6 address or network'),
    (["--networks", "10.0.0.0/255.0.0.0"],
     '--networks: "10.0.0.0/255.0.0.0" is not an IPv4 or IPv6 address or network'),
    (["--networks", ",".join(f"10.0.0.{i}" for i in range(65))],
     "--networks takes at most 64 networks, not 65"),
    (["--rate-limit", "0/s"], '--rate-limit must be none or N/second, N/minute, N/hour or N/day '
                              '(N from 1 to 1000000000), not "0/s"'),
    (["--rate-limit", "1000000001/s"], '--rate-limit must be none or'),
    (["--rate-limit", "5/week"], '--rate-limit must be none or'),
    (["--rate-limit", "5"], '--rate-limit must be none or'),
    (["--rate-limit", "5/m/s"], '--rate-limit must be none or'),
    (["--rate-limit", ""], '--rate-limit must be none or'),
    (["--uses", "-1"], '--uses must be none or a whole number of at least 0, not "-1"'),
    (["--uses", "1.5"], '--uses must be none or a whole number of at least 0, not "1.5"'),
    (["--uses", "+3"], '--uses must be none or a whole number of at least 0, not "+3"'),
    (["--uses", ""], '--uses must be none or a whole number of at least 0, not ""'),
    (["--uses", "9223372036854775808"],
     '--uses must be none or a whole number of at least 0, not "9223372036854775808"'),
    (["--view-key", "Once"], '--view-key must be always, once or never, not "Once"'),
    (["--revoke-on-reuse", "yes"], '--revoke-on-reuse must be true or false, not "yes"'),
    (["--revoke-on-reuse", "1"], '--revoke-on-reuse must be true or false, not "1"'),
    (["--scopes"], "--scopes needs a value"),
    (["--uses", "1", "--view-key"], "--view-key needs a value"),
    (["--bogus", "1"], 'token set: unknown option "--bogus"'),
    (["extra"], 'token set: unexpected argument "extra"'),
    # one bad value among good ones: nothing is written
    (["--uses", "7", "--scopes", "ok", "--rate-limit", "x"], "--rate-limit must be none or"),
]


@pytest.mark.parametrize("args,message", BAD_SET)
def test_set_invalid_value_exits_2_and_changes_nothing(server, admin, args, message):
    ident, _ = new_token(server)
    server.cli("token", "set", ident, "--scopes", "keep:me", "--uses", "9")
    before = api_object(admin, ident)
    rc, out, err = run(server, "token", "set", ident, *args)
    assert rc == 2 and out == ""
    lines = err.split("\n")
    assert lines[0].startswith("tokend: " + message), err
    assert lines[1].startswith(SET_USAGE), err  # then the usage, as every command's bad argument
    assert api_object(admin, ident) == before


def test_set_needs_an_existing_token(server):
    rc, out, err = run(server, "token", "set")
    assert rc == 2 and out == "" and err.startswith("tokend: token set needs an IDENTIFIER\n")
    rc, out, err = run(server, "token", "set", "no-such-token", "--uses", "1")
    assert (rc, out, err) == (1, "", "tokend: no-such-token: not found\n")


def test_set_settings_take_effect_on_a_running_server(server, admin):
    ident, key = new_token(server)
    assert works(server, key)
    server.cli("token", "set", ident, "--networks", "192.0.2.0/24")
    refused(server, key)  # the tests connect from 127.0.0.1
    server.cli("token", "set", ident, "--networks", "none", "--uses", "1")
    assert works(server, key)
    refused(server, key)  # its one use is taken
    server.cli("token", "set", ident, "--uses", "none", "--scopes", "users:read")
    assert works(server, key)
    assert_json(Client(server, token=key).get(TOKEND), 403,
                {"detail": "You do not have permission to perform this action."})


# -- view modes (docs/api.md §19.4) --------------------------------------------------------------


def test_set_view_key_once_after_a_view_erases_the_sealed_copy(server, admin):
    ident, key = new_token(server)
    assert sealed_length(server, ident) > 0
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 200, {"key": key})
    server.cli("token", "set", ident, "--view-key", "once")
    assert sealed_length(server, ident) == 0
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 404, NOT_FOUND)
    assert works(server, key)  # the key itself is unchanged


def test_set_view_key_once_before_any_view_keeps_the_one_view(server, admin):
    ident, key = new_token(server)
    server.cli("token", "set", ident, "--view-key", "once")
    assert sealed_length(server, ident) > 0
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 200, {"key": key})
    assert sealed_length(server, ident) == 0
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 404, NOT_FOUND)


def test_set_view_key_never_erases_at_once_and_always_keeps(server, admin):
    ident, key = new_token(server)
    server.cli("token", "set", ident, "--view-key", "always")
    assert sealed_length(server, ident) > 0
    server.cli("token", "set", ident, "--view-key", "never")
    assert sealed_length(server, ident) == 0
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 404, NOT_FOUND)
    # back to always: nothing to show until the key is set again
    server.cli("token", "set", ident, "--view-key", "always")
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 404, NOT_FOUND)
    new = server.cli("token", "rotate", ident)
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 200, {"key": new})


# -- token rotate (docs/api.md §19.5) ------------------------------------------------------------


def test_rotate_prints_a_new_key_that_replaces_the_old(server, admin):
    ident, old = new_token(server)
    rc, out, err = run(server, "token", "rotate", ident)
    assert rc == 0 and err == ""
    assert re.fullmatch(r"[A-Za-z0-9]{60}\n", out), out  # the key alone, one line
    new = out.strip()
    assert new != old
    assert works(server, new)
    refused(server, old)
    assert api_object(admin, ident)["previous_key_valid_until"] is None
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 200, {"key": new})
    assert new not in server.cli("token", "list") + server.cli("token", "list", "--json")


def test_rotate_records_a_secret_rotate_event_without_user(server, admin):
    """The sweeper's kind of event (docs/api.md §11.3): no request made it."""
    ident, _ = new_token(server)
    core = admin.get(f"/api/v3/core/tokens/{ident}/").json()
    with Clock() as c:
        server.cli("token", "rotate", ident)
    mine = [e for e in events(admin, {"action": "secret_rotate"})
            if e["context"].get("token", {}).get("pk") == core["pk"].replace("-", "")]
    assert len(mine) == 1, mine
    check_event(mine[0], "secret_rotate", {},
                {"token": token_ref(core), "message": f"Token {ident}'s secret was rotated."},
                c.window(datetime.timedelta(0)), client_ip=None)


def test_rotate_with_grace_keeps_the_old_key_working(server, admin):
    ident, old = new_token(server)
    t0 = time.time()
    out = server.cli("token", "rotate", ident, "--grace", "minutes=10", "--json")
    t1 = time.time()
    assert out.count("\n") == 0
    got = json.loads(out)
    assert list(got) == ["key", "previous_key_valid_until"]
    assert re.fullmatch(r"[A-Za-z0-9]{60}", got["key"])
    until = parse_time(got["previous_key_valid_until"])
    assert t0 + 600 - 1 <= until <= t1 + 600 + 1
    assert works(server, got["key"]) and works(server, old)
    assert api_object(admin, ident)["previous_key_valid_until"] == got["previous_key_valid_until"]
    # another rotation ends the grace at once
    again = json.loads(server.cli("token", "rotate", ident, "--json"))
    assert again["previous_key_valid_until"] is None
    assert works(server, again["key"])
    refused(server, old)
    refused(server, got["key"])


@pytest.mark.parametrize("grace", ["seconds=0", "days=7", "days=6;hours=23.5"])
def test_rotate_grace_up_to_the_maximum(server, grace):
    ident, old = new_token(server)
    got = json.loads(server.cli("token", "rotate", ident, "--grace", grace, "--json"))
    assert (got["previous_key_valid_until"] is None) == (grace == "seconds=0")
    assert works(server, old) == (grace != "seconds=0")


BAD_ROTATE = [
    (["--grace", "days=8"], 'tokend: --grace must be at most TOKEND_ROTATE_GRACE_MAX (days=7), '
                            'not "days=8"'),
    (["--grace", "7 days"], 'tokend: --grace must be a duration of at least 0 such as minutes=5 '
                            'or hours=1;minutes=30, not "7 days"'),
    (["--grace", "seconds=-1"], 'tokend: --grace must be a duration of at least 0'),
    (["--grace", "hours=inf"], 'tokend: --grace must be a duration of at least 0'),
    (["--grace", ""], 'tokend: --grace must be a duration of at least 0'),
    (["--grace"], "tokend: --grace needs a value"),
    (["--ttl", "1"], 'tokend: token rotate: unexpected argument "--ttl"'),
    (["other"], 'tokend: token rotate: unexpected argument "other"'),
]


@pytest.mark.parametrize("args,line", BAD_ROTATE)
def test_rotate_invalid_grace_exits_2_and_rotates_nothing(server, admin, args, line):
    ident, key = new_token(server)
    rc, out, err = run(server, "token", "rotate", ident, *args)
    assert rc == 2 and out == ""
    lines = err.split("\n")
    assert lines[0].startswith(line), err
    assert lines[1].startswith(ROTATE_USAGE), err
    assert works(server, key)
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 200, {"key": key})


def test_rotate_grace_maximum_is_the_configured_one(server):
    ident, old = new_token(server)
    env = {"TOKEND_ROTATE_GRACE_MAX": "minutes=5"}
    rc, out, err = run(server, "token", "rotate", ident, "--grace", "minutes=6", env=env)
    assert rc == 2 and err.startswith(
        'tokend: --grace must be at most TOKEND_ROTATE_GRACE_MAX (minutes=5), not "minutes=6"\n')
    rc, out, err = run(server, "token", "rotate", ident, "--grace", "minutes=5", env=env)
    assert rc == 0, err
    assert works(server, out.strip()) and works(server, old)


def test_rotate_needs_an_existing_token(server):
    rc, out, err = run(server, "token", "rotate")
    assert rc == 2 and err.startswith("tokend: token rotate needs an IDENTIFIER\n")
    rc, out, err = run(server, "token", "rotate", "no-such-token")
    assert (rc, out, err) == (1, "", "tokend: no-such-token: not found\n")


def test_rotate_output_is_the_one_view_under_view_mode_once(server, admin):
    ident, old = new_token(server, TOKEND_VIEW_KEY="once")
    assert api_object(admin, ident)["view_key"] == "once"
    new = server.cli("token", "rotate", ident)
    assert works(server, new)
    assert sealed_length(server, ident) == 0
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 404, NOT_FOUND)


def test_rotate_under_view_mode_never_stores_no_sealed_copy(server, admin):
    ident, _ = new_token(server)
    server.cli("token", "set", ident, "--view-key", "never")
    new = server.cli("token", "rotate", ident)
    assert works(server, new)
    assert sealed_length(server, ident) == 0


# -- token list (docs/api.md §19.3) --------------------------------------------------------------


def list_rows(server, *args):
    lines = server.cli("token", "list", *args).split("\n")
    head = lines[0].split()
    assert head == ["IDENTIFIER", "INTENT", "USER", "EXPIRING", "EXPIRES", "LAST_USED",
                    "USE_COUNT", "DESCRIPTION"]
    cols = [lines[0].index(h) for h in head]
    rows = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(cols, cols[1:] + [len(line)])]
        rows[cells[0]] = dict(zip(head, cells))
    return rows


def test_list_shows_last_use_and_use_count(server, admin):
    ident, key = new_token(server)
    row = list_rows(server, "--user", "cli-owner")[ident]
    assert (row["LAST_USED"], row["USE_COUNT"]) == ("-", "0")
    for _ in range(3):
        assert works(server, key)
    deadline = time.monotonic() + 10
    while api_object(admin, ident)["use_count"] < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    obj = api_object(admin, ident)
    assert obj["use_count"] == 3
    row = list_rows(server, "--user", "cli-owner")[ident]
    assert row["USE_COUNT"] == "3"
    assert row["LAST_USED"] == obj["last_used"]
    assert row["EXPIRING"] == "no"


def test_list_json_keeps_the_core_token_shape(server, admin):
    ident, _ = new_token(server)
    tokens = {t["identifier"]: t for t in json.loads(server.cli("token", "list", "--json"))}
    r = admin.get(f"/api/v3/core/tokens/{ident}/")
    assert_status(r, 200)
    assert list(tokens[ident]) == list(r.json())
    assert "use_count" not in tokens[ident] and "last_used" not in tokens[ident]


# -- token view-key honours the view modes (docs/api.md §19.4) ------------------------------------

def test_cli_view_key_once_shows_the_key_once_and_erases_it(server, admin):
    ident, key = new_token(server)
    rc, out, err = run(server, "token", "set", ident, "--view-key", "once")
    assert rc == 0, err
    rc, out, err = run(server, "token", "view-key", ident)
    assert rc == 0 and out == key + "\n", err
    assert sealed_length(server, ident) == 0
    rc, out, err = run(server, "token", "view-key", ident)
    assert rc == 1 and out == "" and len(err.strip().splitlines()) == 1, (out, err)
    assert ident in err and "cannot be viewed" in err
    # the API agrees: the one view was the command line's
    assert_json(admin.get(f"/api/v3/core/tokens/{ident}/view_key/"), 404,
                {"detail": "Not found."})
    assert works(server, key)


def test_cli_view_key_never_shows_nothing(server):
    ident, key = new_token(server)
    rc, out, err = run(server, "token", "set", ident, "--view-key", "never")
    assert rc == 0, err
    rc, out, err = run(server, "token", "view-key", ident)
    assert rc == 1 and out == "" and "cannot be viewed" in err
    assert works(server, key)


def test_cli_view_key_always_records_the_view(server, admin):
    """A view through the command line counts as a view: switching to once afterwards erases
    the sealed copy, as after an API view."""
    ident, key = new_token(server)
    rc, out, err = run(server, "token", "view-key", ident)
    assert rc == 0 and out == key + "\n", err
    assert sealed_length(server, ident) > 0
    rc, out, err = run(server, "token", "set", ident, "--view-key", "once")
    assert rc == 0, err
    assert sealed_length(server, ident) == 0
