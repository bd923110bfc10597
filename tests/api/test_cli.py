"""The admin command line (issue 4): every command's output, --json that parses, --help on each
command, usage and exit status 2 for bad arguments, exit 1 with one line for failures, a missing
database refused rather than created, and the CLI working against a running server."""

import json
import os
import re
import subprocess

import pytest

from harness import Client, SqliteBackend, random_key, served, tokend_bin

COMMANDS = [
    ("user", "create"), ("user", "list"), ("user", "delete"),
    ("group", "create"), ("group", "add"), ("group", "remove"), ("group", "list"),
    ("token", "create"), ("token", "list"), ("token", "revoke"), ("token", "view-key"),
]


class Cli:
    """Runs tokend against one database without a server."""

    def __init__(self, workdir, db=None):
        self.db = db or "sqlite:" + os.path.join(str(workdir), "cli.db")
        self.env = dict(os.environ)
        self.env.pop("TOKEND_LISTEN", None)
        self.env["TOKEND_DATABASE"] = self.db
        self.env["TOKEND_SECRET_KEY"] = "cli-test-secret"
        self.env.pop("TOKEND_BOOTSTRAP_TOKEN", None)
        self.env.pop("AUTHENTIK_BOOTSTRAP_TOKEN", None)

    def run(self, *args, env=None):
        p = subprocess.run([tokend_bin(), *args], env=env or self.env, capture_output=True,
                           timeout=120)
        out, err = p.stdout.decode(), p.stderr.decode()
        assert "AddressSanitizer" not in err and "runtime error:" not in err, err
        return p.returncode, out, err

    def ok(self, *args):
        rc, out, err = self.run(*args)
        assert rc == 0, f"tokend {' '.join(args)} exited {rc}: {err}"
        return out


@pytest.fixture
def cli(tmp_path):
    c = Cli(tmp_path)
    c.ok("migrate")
    return c


def test_top_level_help_and_unknown_command(tmp_path):
    c = Cli(tmp_path)
    rc, out, err = c.run("--help")
    assert rc == 0
    for word in ("serve", "migrate", "bootstrap", "user create", "token create", "seed", "sweep",
                 "TOKEND_DATABASE", "TOKEND_LISTEN"):
        assert word in out
    assert re.search(r"TOKEND_AUTH_FAILURE_BURST\s+1000\b", out)
    assert re.search(r"TOKEND_AUTH_FAILURE_RATE\s+100\b", out)
    rc, out, err = c.run("frobnicate")
    assert rc == 2 and out == ""
    assert err.strip() == 'tokend: unknown command "frobnicate" (see tokend --help)'
    rc, _, err = c.run("--no-such-flag")
    assert rc == 2 and "unknown option --no-such-flag" in err


@pytest.mark.parametrize("noun,verb", COMMANDS)
def test_every_command_has_help(tmp_path, noun, verb):
    c = Cli(tmp_path)  # no database needed for help
    rc, out, err = c.run(noun, verb, "--help")
    assert rc == 0, err
    assert out.startswith("usage: tokend " + noun + " " + verb)
    assert not os.path.exists(c.db[len("sqlite:"):])


@pytest.mark.parametrize("noun", ["user", "group", "token"])
def test_noun_alone_prints_usage_and_exits_2(tmp_path, noun):
    rc, out, err = Cli(tmp_path).run(noun)
    assert rc == 2 and out == ""
    assert err.startswith("usage:") and f"tokend {noun} create" in err


@pytest.mark.parametrize("args,message", [
    (("user", "create"), "user create needs a USERNAME"),
    (("user", "create", "a", "b"), 'user create: unexpected argument "b"'),
    (("user", "create", "a", "--type", "robot"), "--type must be internal"),
    (("user", "create", "a", "--attributes", "[1]"), "--attributes needs a JSON object"),
    (("user", "create", "a", "--attributes", "{bad"), "--attributes needs a JSON object"),
    (("user", "list", "extra"), "user list takes no arguments"),
    (("user", "delete"), "user delete needs one USERNAME"),
    (("group", "create"), "group create needs a NAME"),
    (("group", "add", "only-one"), "group add needs GROUP and USERNAME"),
    (("group", "remove"), "group remove needs GROUP and USERNAME"),
    (("token", "create", "ident"), "token create needs an IDENTIFIER and --user USERNAME"),
    (("token", "create", "bad ident", "--user", "akadmin"), "the identifier must be"),
    (("token", "create", "x", "--user", "akadmin", "--intent", "bogus"), "--intent must be"),
    (("token", "create", "x", "--user", "akadmin", "--expires", "soon"), "--expires needs"),
    (("token", "create", "x", "--user", "akadmin", "--expiring", "maybe"), "--expiring must be"),
    (("token", "list", "--bogus"), 'token list: unexpected argument "--bogus"'),
    (("token", "revoke"), "token revoke needs one IDENTIFIER"),
    (("token", "view-key", "a", "b"), "token view-key needs one IDENTIFIER"),
    (("user", "frob"), 'unknown command "user frob"'),
])
def test_bad_arguments_exit_2_with_usage(cli, args, message):
    rc, out, err = cli.run(*args)
    assert rc == 2, (rc, out, err)
    assert out == ""
    assert message in err
    if args[1] != "frob":
        assert "usage: tokend " + args[0] in err


def test_missing_database_is_refused_not_created(tmp_path):
    path = os.path.join(str(tmp_path), "does-not-exist", "x.db")
    c = Cli(tmp_path, db="sqlite:" + path)
    for args in (("user", "list"), ("token", "list"), ("group", "create", "g"), ("sweep",)):
        rc, out, err = c.run(*args)
        assert rc == 1 and out == ""
        assert err.strip() == (f"tokend: database {path} does not exist (set TOKEND_DATABASE, "
                               "or create it with tokend migrate)")
    assert not os.path.exists(path)
    path2 = os.path.join(str(tmp_path), "fresh.db")
    c2 = Cli(tmp_path, db="sqlite:" + path2)
    rc, _, err = c2.run("user", "list")
    assert rc == 1 and not os.path.exists(path2)
    c2.ok("migrate")
    assert os.path.exists(path2)


def test_invalid_setting_is_named(tmp_path):
    c = Cli(tmp_path)
    env = dict(c.env, TOKEND_KEY_LENGTH="abc")
    rc, out, err = c.run("migrate", env=env)
    assert rc == 2
    assert "TOKEND_KEY_LENGTH must be a whole number" in err
    env = dict(c.env, TOKEND_DEFAULT_TOKEN_DURATION="hours:1")
    rc, out, err = c.run("migrate", env=env)
    assert rc == 2 and "TOKEND_DEFAULT_TOKEN_DURATION" in err


def test_users_text_and_json(cli):
    cli.ok("bootstrap")
    pk = cli.ok("user", "create", "alice", "--name", "Alice Doe", "--email", "alice@example.com")
    assert re.fullmatch(r"\d+\n", pk)
    j = json.loads(cli.ok("user", "create", "bob", "--json", "--inactive"))
    assert isinstance(j["pk"], int) and re.fullmatch(r"[0-9a-f-]{36}", j["uuid"])
    rc, out, err = cli.run("user", "create", "alice")
    assert rc == 1 and err.strip() == "tokend: alice: already exists"
    text = cli.ok("user", "list").splitlines()
    assert text[0].split() == ["PK", "USERNAME", "NAME", "EMAIL", "ACTIVE", "SUPERUSER", "GROUPS"]
    # aligned: every row has USERNAME starting at the same column
    col = text[0].index("USERNAME")
    rows = {line[col:].split()[0]: line for line in text[1:]}
    assert set(rows) == {"akadmin", "alice", "bob"}
    assert "Alice Doe" in rows["alice"] and "alice@example.com" in rows["alice"]
    assert rows["bob"][text[0].index("ACTIVE"):].split()[0] == "no"
    assert rows["akadmin"][text[0].index("SUPERUSER"):].split()[0] == "yes"
    users = json.loads(cli.ok("user", "list", "--json"))
    assert [u["username"] for u in users] == ["akadmin", "alice", "bob"]
    alice = users[1]
    assert alice["pk"] == int(pk) and alice["name"] == "Alice Doe" and alice["is_active"] is True
    assert list(alice)[:5] == ["pk", "username", "name", "is_active", "last_login"]


def test_groups_text_and_json(cli):
    cli.ok("bootstrap")
    cli.ok("user", "create", "carol")
    root = cli.ok("group", "create", "ops", "--attributes", '{"team": "x"}').strip()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", root)
    j = json.loads(cli.ok("group", "create", "ops-eu", "--parent", "ops", "--json"))
    assert re.fullmatch(r"[0-9a-f-]{36}", j["pk"])
    rc, _, err = cli.run("group", "create", "x", "--parent", "nope")
    assert rc == 1 and err.strip() == "tokend: nope: not found"
    rc, _, err = cli.run("group", "create", "ops")
    assert rc == 1 and "already exists" in err
    cli.ok("group", "add", "ops-eu", "carol")
    cli.ok("group", "add", "ops-eu", "carol")  # idempotent
    rc, _, err = cli.run("group", "add", "ops-eu", "nobody")
    assert rc == 1 and err.strip() == "tokend: nobody: not found"
    groups = {g["name"]: g for g in json.loads(cli.ok("group", "list", "--json"))}
    assert groups["ops-eu"]["parent"] == root and groups["ops-eu"]["parent_name"] == "ops"
    assert groups["ops-eu"]["users"] == ["carol"]
    assert groups["ops"]["attributes"] == {"team": "x"}
    text = cli.ok("group", "list").splitlines()
    assert text[0].split() == ["UUID", "NAME", "SUPERUSER", "PARENT", "MEMBERS"]
    line = [l for l in text if " ops-eu " in l][0]
    assert line.split()[-2:] == ["ops", "1"]
    cli.ok("group", "remove", "ops-eu", "carol")
    groups = {g["name"]: g for g in json.loads(cli.ok("group", "list", "--json"))}
    assert groups["ops-eu"]["users"] == []


def test_tokens_create_list_view_revoke(cli):
    cli.ok("bootstrap")
    cli.ok("user", "create", "dave")
    key = cli.ok("token", "create", "dave-ci", "--user", "dave", "--description", "ci").strip()
    assert re.fullmatch(r"[A-Za-z0-9]{60}", key)
    given = random_key(30)
    assert cli.ok("token", "create", "dave-2", "--user", "dave", "--key", given,
                  "--intent", "app_password", "--expires", "none").strip() == given
    j = json.loads(cli.ok("token", "create", "dave-3", "--user", "dave", "--json"))
    assert j["identifier"] == "dave-3" and re.fullmatch(r"[A-Za-z0-9]{60}", j["key"])
    assert cli.ok("token", "view-key", "dave-ci").strip() == key
    assert cli.ok("token", "view-key", "dave-2").strip() == given
    listing = cli.ok("token", "list")
    assert key not in listing and given not in listing and j["key"] not in listing
    lines = listing.splitlines()
    assert lines[0].split() == ["IDENTIFIER", "INTENT", "USER", "EXPIRING", "EXPIRES",
                                "LAST_USED", "USE_COUNT", "DESCRIPTION"]
    row = [l for l in lines if l.startswith("dave-2 ")][0].split()
    assert row[:7] == ["dave-2", "app_password", "dave", "yes", "-", "-", "0"]
    tokens = json.loads(cli.ok("token", "list", "--user", "dave", "--json"))
    assert [t["identifier"] for t in tokens] == ["dave-2", "dave-3", "dave-ci"]
    assert all("key" not in t for t in tokens)
    assert tokens[2]["description"] == "ci" and tokens[2]["user_obj"]["username"] == "dave"
    assert json.loads(cli.ok("token", "list", "--user", "nobody", "--json")) == []
    rc, _, err = cli.run("token", "create", "dave-ci", "--user", "dave")
    assert rc == 1 and err.strip() == "tokend: dave-ci: already exists"
    rc, _, err = cli.run("token", "create", "x", "--user", "nobody")
    assert rc == 1 and err.strip() == "tokend: nobody: not found"
    cli.ok("token", "revoke", "dave-ci")
    rc, out, err = cli.run("token", "view-key", "dave-ci")
    assert rc == 1 and out == "" and err.strip() == "tokend: dave-ci: not found"
    rc, _, err = cli.run("token", "revoke", "dave-ci")
    assert rc == 1 and err.strip() == "tokend: dave-ci: not found"


def test_user_delete_takes_tokens_and_memberships(cli):
    cli.ok("bootstrap")
    cli.ok("user", "create", "erin")
    cli.ok("group", "create", "team")
    cli.ok("group", "add", "team", "erin")
    cli.ok("token", "create", "erin-1", "--user", "erin")
    cli.ok("user", "delete", "erin")
    assert "erin" not in [u["username"] for u in json.loads(cli.ok("user", "list", "--json"))]
    assert json.loads(cli.ok("token", "list", "--user", "erin", "--json")) == []
    team = [g for g in json.loads(cli.ok("group", "list", "--json")) if g["name"] == "team"][0]
    assert team["users"] == []
    rc, _, err = cli.run("user", "delete", "erin")
    assert rc == 1 and err.strip() == "tokend: erin: not found"


def test_bootstrap_is_idempotent_and_prints_a_generated_key_once(cli):
    out = cli.ok("bootstrap")
    m = re.search(r"^([A-Za-z0-9]{60})$", out, re.M)
    assert m, out
    assert cli.ok("token", "view-key", "authentik-bootstrap-token").strip() == m.group(1)
    assert cli.ok("bootstrap") == ""  # nothing new, nothing printed
    assert cli.ok("token", "view-key", "authentik-bootstrap-token").strip() == m.group(1)


def test_seed_builds_the_data_set(cli):
    rc, out, err = cli.run("seed", "--users", "5", "--groups", "3", "--tokens", "20",
                           "--admin-token", "seed-admin-key")
    assert rc == 0, err
    users = json.loads(cli.ok("user", "list", "--json"))
    assert [u["username"] for u in users] == ["akadmin"] + [f"user{i:05d}" for i in range(1, 5)]
    tokens = json.loads(cli.ok("token", "list", "--json"))
    names = [t["identifier"] for t in tokens]
    assert "akadmin-api" in names  # (seeding a new database also bootstraps it)
    assert sorted(n for n in names if n.startswith("tok-")) == [f"tok-{i:07d}" for i in range(20)]
    assert cli.ok("token", "view-key", "akadmin-api").strip() == "seed-admin-key"
    rc, _, err = cli.run("seed", "--users", "0")
    assert rc == 2 and "usage: tokend seed" in err


def test_cli_acts_on_a_running_server(tmp_path):
    with served(tmp_path) as server:
        server.cli("user", "create", "frank")
        key = server.cli("token", "create", "frank-api", "--user", "frank", "--expiring", "false")
        c = Client(server, token=key)
        r = c.get("/api/v3/core/users/me/")
        assert r.status == 200 and r.json()["user"]["username"] == "frank"
        server.cli("group", "create", "admins-2", "--superuser")
        server.cli("group", "add", "admins-2", "frank")
        assert c.get("/api/v3/core/users/me/").json()["user"]["is_superuser"] is True
        server.cli("token", "revoke", "frank-api")
        r = c.get("/api/v3/core/users/me/")
        assert r.status == 403 and r.json() == {"detail": "Token invalid/expired"}
