"""Configuration (issue 9 point 4): every setting of `tokend --help` is an environment variable
and a flag (flags win) and shows up in `tokend config`; secrets are masked there; an invalid
value stops the start with one line on stderr naming the setting, exit status 2, and no
database file created.

The wiring tests read the settings from --help, so settings added to the table later are
checked too, with no change here."""

import json
import os
import re
import subprocess

import pytest

from harness import tokend_bin

HELP_ROW = re.compile(r"^\s+(--[a-z0-9-]+)\s+(TOKEND_[A-Z0-9_]+)\s+(.*)$")


def run(args, env_extra=None, db=None, timeout=60):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TOKEND_") and k != "AUTHENTIK_BOOTSTRAP_TOKEN"}
    if db is not None:
        env["TOKEND_DATABASE"] = "sqlite:" + db
    env.update(env_extra or {})
    p = subprocess.run([tokend_bin(), *args], env=env, capture_output=True, timeout=timeout)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert "AddressSanitizer" not in err and "runtime error:" not in err, err
    return p.returncode, out, err


def settings_from_help(args=("--help",)):
    rc, out, err = run(list(args))
    assert rc == 0, err
    rows = [HELP_ROW.match(line) for line in out.splitlines()]
    return [(m.group(1), m.group(2)) for m in rows if m]


def config_json(args=(), env=None, db=None):
    rc, out, err = run([*args, "config", "--json"], env, db)
    assert rc == 0, err
    return json.loads(out)


def test_help_lists_every_setting_with_serve_help_too():
    top = settings_from_help()
    assert len(top) >= 16
    assert ("--listen", "TOKEND_LISTEN") in top and ("--database", "TOKEND_DATABASE") in top
    assert settings_from_help(("serve", "--help")) == top
    assert settings_from_help(("help",)) == top
    rc, out, _ = run(["--help"])
    for cmd in ("config [--json]", "backup [--force] FILE", "restore [--force] FILE"):
        assert cmd in out


def test_config_prints_every_setting_once(tmp_path):
    db = str(tmp_path / "t.db")
    rc, out, err = run(["config"], db=db)
    assert rc == 0 and err == ""
    names = []
    for line in out.splitlines():
        m = re.match(r"^(TOKEND_[A-Z0-9_]+)=(.*)$", line) or \
            re.match(r"^# (TOKEND_[A-Z0-9_]+) is unset$", line)
        assert m, f"unexpected line {line!r}"
        names.append(m.group(1))
    assert names == [env for _, env in settings_from_help()]
    assert f"TOKEND_DATABASE=sqlite:{db}" in out.splitlines()
    assert f"TOKEND_SECRET_KEY_FILE={db}.secret" in out.splitlines()
    assert "# TOKEND_DATABASE_REPLICA is unset" in out.splitlines()
    assert re.search(r"^TOKEND_THREADS=[1-9][0-9]*$", out, re.M)  # cores, not the doc text
    assert not os.path.exists(db) and not os.path.exists(db + ".secret")
    js = config_json(db=db)
    assert list(js) == names
    assert js["TOKEND_DATABASE"] == {"value": "sqlite:" + db, "source": "environment"}
    assert js["TOKEND_SECRET_KEY_FILE"] == {"value": db + ".secret", "source": "derived"}
    assert js["TOKEND_THREADS"]["source"] == "derived"
    assert js["TOKEND_LISTEN"] == {"value": "127.0.0.1:9000", "source": "default"}
    assert js["TOKEND_DATABASE_REPLICA"] == {"value": None, "source": "default"}
    # with the secret given as text, no file is derived
    js = config_json(env={"TOKEND_SECRET_KEY": "s"}, db=db)
    assert js["TOKEND_SECRET_KEY_FILE"] == {"value": None, "source": "default"}


# Values for settings whose default is unset (or masked), with whatever else they need.
SPECIAL = {
    "TOKEND_DATABASE_REPLICA": ("postgres://replica.example/tokend",
                                {"TOKEND_DATABASE": "postgres://primary.example/tokend",
                                 "TOKEND_SECRET_KEY": "s"}),
    "TOKEND_SECRET_KEY": ("a secret", {}),
    "TOKEND_BOOTSTRAP_TOKEN": ("a-bootstrap-key", {}),
    "TOKEND_TRUSTED_PROXIES": ("10.0.0.0/8,2001:db8::/32", {}),
}


@pytest.mark.parametrize("flag,env", settings_from_help())
def test_every_setting_is_an_env_var_and_a_flag_and_the_flag_wins(tmp_path, flag, env):
    db = str(tmp_path / "t.db")
    defaults = config_json(db=db)
    assert env in defaults
    if env in SPECIAL:
        value, extra = SPECIAL[env]
    else:
        value, extra = defaults[env]["value"], {}
        assert value is not None, f"{env} has no default: add it to SPECIAL"
    shown = "****" if env in ("TOKEND_SECRET_KEY", "TOKEND_BOOTSTRAP_TOKEN") else value
    by_env = config_json(env=dict(extra, **{env: value}), db=db)
    assert by_env[env] == {"value": shown, "source": "environment"}
    by_flag = config_json(args=[f"{flag}={value}"], env=extra, db=db)
    assert by_flag[env] == {"value": shown, "source": "flag"}
    by_flag2 = config_json(args=[flag, value], env=extra, db=db)
    assert by_flag2[env] == by_flag[env]
    # given both ways, the flag is the one used
    both = config_json(args=[f"{flag}={value}"], env=dict(extra, **{env: value}), db=db)
    assert both[env]["source"] == "flag"
    # settings after the command work as with serve
    rc, out, err = run(["config", "--json", f"{flag}={value}"], extra, db)
    assert rc == 0 and json.loads(out)[env]["source"] == "flag", err
    assert not os.path.exists(db)


def test_flag_wins_over_env(tmp_path):
    js = config_json(args=["--threads=3", "--listen", "127.0.0.1:1234"],
                     env={"TOKEND_THREADS": "5", "TOKEND_LISTEN": "127.0.0.1:99"},
                     db=str(tmp_path / "t.db"))
    assert js["TOKEND_THREADS"] == {"value": "3", "source": "flag"}
    assert js["TOKEND_LISTEN"] == {"value": "127.0.0.1:1234", "source": "flag"}


@pytest.mark.parametrize("database,hidden", [
    ("postgres://tokend:hunter2pw@db.internal:5432/tokend", "hunter2pw"),
    ("postgresql://tokend:hunter2pw@db.internal/tokend?sslmode=require", "hunter2pw"),
    ("postgres://tokend@db.internal/tokend?password=hunter2pw&sslmode=require", "hunter2pw"),
    ("host=db.internal user=tokend password=hunter2pw dbname=tokend", "hunter2pw"),
    ("host=db.internal password = 'hunter2 pw\\' x' dbname=tokend", "hunter2"),
])
def test_config_masks_database_passwords(tmp_path, database, hidden):
    env = {"TOKEND_DATABASE": database, "TOKEND_SECRET_KEY": "s",
           "TOKEND_DATABASE_REPLICA": database}
    rc, out, err = run(["config"], env)
    assert rc == 0, err
    assert hidden not in out and "****" in out
    assert "db.internal" in out  # the rest of the URL is still there
    js = config_json(env=env)
    assert hidden not in json.dumps(js)
    assert "****" in js["TOKEND_DATABASE"]["value"]
    assert js["TOKEND_DATABASE_REPLICA"]["value"] == js["TOKEND_DATABASE"]["value"]


def test_config_masks_secrets(tmp_path):
    secrets = {"TOKEND_SECRET_KEY": "the-server-secret-1234",
               "TOKEND_BOOTSTRAP_TOKEN": "the-bootstrap-key-5678"}
    for args, env in (([], secrets),
                      (["--secret-key", secrets["TOKEND_SECRET_KEY"],
                        "--bootstrap-token", secrets["TOKEND_BOOTSTRAP_TOKEN"]], {}),
                      ([], {"AUTHENTIK_BOOTSTRAP_TOKEN": "the-bootstrap-key-5678",
                            "TOKEND_SECRET_KEY": "the-server-secret-1234"})):
        rc, out, err = run([*args, "config"], env, db=str(tmp_path / "t.db"))
        assert rc == 0, err
        for s in secrets.values():
            assert s not in out
        assert "TOKEND_SECRET_KEY=****" in out.splitlines()
        assert "TOKEND_BOOTSTRAP_TOKEN=****" in out.splitlines()
        js = config_json(args, env, db=str(tmp_path / "t.db"))
        assert js["TOKEND_SECRET_KEY"]["value"] == "****"


def test_config_quotes_values_for_an_environment_file(tmp_path):
    rc, out, err = run(["config"], {"TOKEND_DEFAULT_TOKEN_DURATION": "days=1;hours=2",
                                    "TOKEND_AVATARS": "https://x/$user \"q\""},
                       db=str(tmp_path / "t.db"))
    assert rc == 0, err
    assert 'TOKEND_DEFAULT_TOKEN_DURATION="days=1;hours=2"' in out.splitlines()
    assert 'TOKEND_AVATARS="https://x/\\$user \\"q\\""' in out.splitlines()
    # the printed file, sourced by a shell, gives the values back
    sh = subprocess.run(["sh", "-c", 'set -a; . /dev/stdin; printf %s "$TOKEND_AVATARS"'],
                        input=out.encode(), capture_output=True)
    assert sh.stdout.decode() == 'https://x/$user "q"'


def test_config_bad_arguments_exit_2(tmp_path):
    rc, out, err = run(["config", "--bogus"], db=str(tmp_path / "t.db"))
    assert rc == 2 and out == "" and 'config: unexpected argument "--bogus"' in err
    assert "usage: tokend [SETTINGS] config" in err
    rc, out, err = run(["config", "--help"])
    assert rc == 0 and out.startswith("usage: tokend [SETTINGS] config")


# ---- invalid values -------------------------------------------------------------------------

def loose_secret(tmp_path):
    p = tmp_path / "loose.secret"
    p.write_text("0" * 64 + "\n")
    os.chmod(p, 0o644)
    return str(p)


# (setting, invalid value or a function of tmp_path giving one, extra environment)
INVALID = [
    ("TOKEND_DATABASE", "mysql://db/tokend", {}),
    ("TOKEND_DATABASE", "sqlite:", {}),
    ("TOKEND_DATABASE", "tokend.db", {}),
    ("TOKEND_DATABASE_REPLICA", "sqlite:replica.db", {}),
    ("TOKEND_DATABASE_REPLICA", "postgres://replica.example/tokend", {}),  # primary is SQLite
    ("TOKEND_LISTEN", "9000", {}),
    ("TOKEND_LISTEN", "127.0.0.1:", {}),
    ("TOKEND_LISTEN", "127.0.0.1:65536", {}),
    ("TOKEND_LISTEN", "127.0.0.1:http", {}),
    ("TOKEND_LISTEN", "example.com:9000", {}),
    ("TOKEND_LISTEN", ":9000", {}),
    ("TOKEND_SECRET_KEY", "", {}),
    ("TOKEND_SECRET_KEY_FILE", "", {}),
    ("TOKEND_SECRET_KEY_FILE", lambda t: str(t / "no-such-dir" / "secret"), {}),
    ("TOKEND_SECRET_KEY_FILE", lambda t: str(t), {}),  # a directory
    ("TOKEND_SECRET_KEY_FILE", loose_secret, {}),
    ("TOKEND_BOOTSTRAP_TOKEN", "k" * 1025, {}),
    ("TOKEND_THREADS", "0", {}),
    ("TOKEND_THREADS", "257", {}),
    ("TOKEND_THREADS", "-1", {}),
    ("TOKEND_THREADS", "four", {}),
    ("TOKEND_THREADS", "", {}),
    ("TOKEND_THREADS", "4x", {}),
    ("TOKEND_DEFAULT_TOKEN_DURATION", "hours:1", {}),
    ("TOKEND_DEFAULT_TOKEN_DURATION", "minutes=0", {}),
    ("TOKEND_DEFAULT_TOKEN_DURATION", "", {}),
    ("TOKEND_KEY_LENGTH", "0", {}),
    ("TOKEND_KEY_LENGTH", "1025", {}),
    ("TOKEND_KEY_LENGTH", "sixty", {}),
    ("TOKEND_MAX_TOKENS_PER_USER", "-1", {}),
    ("TOKEND_MAX_TOKENS_PER_USER", "1000000001", {}),
    ("TOKEND_MAX_TOKENS_PER_USER", "ten thousand", {}),
    ("TOKEND_MAX_TOKENS_PER_USER", "", {}),
    ("TOKEND_EVENT_RETENTION", "forever", {}),
    ("TOKEND_EVENT_RETENTION", "days=0", {}),
    ("TOKEND_SWEEP_INTERVAL", "seconds=0", {}),
    ("TOKEND_SWEEP_INTERVAL", "milliseconds=10", {}),
    ("TOKEND_SWEEP_INTERVAL", "often", {}),
    ("TOKEND_MAX_CONNECTIONS", "0", {}),
    ("TOKEND_MAX_CONNECTIONS", "1000001", {}),
    ("TOKEND_MAX_CONNECTIONS", "many", {}),
    ("TOKEND_AUTH_FAILURE_BURST", "-5", {}),
    ("TOKEND_AUTH_FAILURE_BURST", "1000000001", {}),
    ("TOKEND_AUTH_FAILURE_RATE", "0", {}),
    ("TOKEND_AUTH_FAILURE_RATE", "1.5", {}),
    ("TOKEND_CONNECTION_TIMEOUT", "0", {}),
    ("TOKEND_CONNECTION_TIMEOUT", "3601", {}),
    ("TOKEND_CONNECTION_TIMEOUT", "30s", {}),
    ("TOKEND_STATEMENT_TIMEOUT", "-1", {}),
    ("TOKEND_STATEMENT_TIMEOUT", "10s", {}),
    ("TOKEND_STATEMENT_TIMEOUT", "86401", {}),
    ("TOKEND_STATEMENT_TIMEOUT", "99999999999999999999", {}),
    ("TOKEND_STATEMENT_TIMEOUT", "0.0005", {}),
    ("TOKEND_STATEMENT_TIMEOUT", "1.", {}),
    ("TOKEND_STATEMENT_TIMEOUT", ".5", {}),
    ("TOKEND_STATEMENT_TIMEOUT", "", {}),
    ("TOKEND_STATEMENT_TIMEOUT", "ten", {}),
    ("TOKEND_MAX_CONNECTIONS_PER_IP", "-1", {}),
    ("TOKEND_MAX_CONNECTIONS_PER_IP", "1000001", {}),
    ("TOKEND_MAX_CONNECTIONS_PER_IP", "lots", {}),
    ("TOKEND_REQUEST_TIMEOUT", "0", {}),
    ("TOKEND_REQUEST_TIMEOUT", "3601", {}),
    ("TOKEND_REQUEST_TIMEOUT", "30s", {}),
    ("TOKEND_TRUSTED_PROXIES", "10.0.0.0/33", {}),
    ("TOKEND_TRUSTED_PROXIES", "010.0.0.1", {}),
    ("TOKEND_TRUSTED_PROXIES", "10.0.0.0/8,", {}),
    ("TOKEND_TRUSTED_PROXIES", "proxy.example", {}),
    ("TOKEND_TRUSTED_PROXIES", "10.0.0.0/255.0.0.0", {}),
]
# TOKEND_AVATARS takes any text (authentik's modes, URL templates), so it has no invalid value.
NO_INVALID_VALUE = {"TOKEND_AVATARS"}


def test_every_setting_of_this_branch_has_invalid_cases():
    covered = {env for env, _, _ in INVALID} | NO_INVALID_VALUE
    ours = {"TOKEND_DATABASE", "TOKEND_DATABASE_REPLICA", "TOKEND_LISTEN", "TOKEND_SECRET_KEY",
            "TOKEND_SECRET_KEY_FILE", "TOKEND_BOOTSTRAP_TOKEN", "TOKEND_THREADS",
            "TOKEND_AVATARS", "TOKEND_DEFAULT_TOKEN_DURATION", "TOKEND_KEY_LENGTH",
            "TOKEND_EVENT_RETENTION", "TOKEND_SWEEP_INTERVAL", "TOKEND_MAX_CONNECTIONS",
            "TOKEND_AUTH_FAILURE_BURST", "TOKEND_AUTH_FAILURE_RATE", "TOKEND_CONNECTION_TIMEOUT",
            "TOKEND_STATEMENT_TIMEOUT",
            "TOKEND_MAX_CONNECTIONS_PER_IP", "TOKEND_REQUEST_TIMEOUT", "TOKEND_TRUSTED_PROXIES",
            "TOKEND_MAX_TOKENS_PER_USER"}
    assert ours <= {env for _, env in settings_from_help()}
    assert ours - covered == set()


FLAGS = dict((env, flag) for flag, env in settings_from_help())


@pytest.mark.parametrize("how", ["env", "flag"])
@pytest.mark.parametrize("env,value,extra", INVALID,
                         ids=[f"{e}={v if isinstance(v, str) else v.__name__}"[:60]
                              for e, v, _ in INVALID])
def test_invalid_value_stops_the_start_with_one_line(tmp_path, how, env, value, extra):
    if callable(value):
        value = value(tmp_path)
    db = str(tmp_path / "t.db")
    base = dict(extra)
    base.setdefault("TOKEND_LISTEN", "127.0.0.1:0")
    if env not in ("TOKEND_SECRET_KEY", "TOKEND_SECRET_KEY_FILE"):
        base["TOKEND_SECRET_KEY"] = "s"
    args = ["serve"]
    if how == "env":
        base[env] = value
    else:
        args = [f"{FLAGS[env]}={value}", "serve"]
    rc, out, err = run(args, base, db=db, timeout=30)
    assert rc == 2, (rc, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tokend: ") and env in lines[0], err
    assert not os.path.exists(db), "a database was created despite the invalid setting"
    assert not os.path.exists(db + ".secret")
    # the same value given after the command, as serve allows
    if how == "flag":
        rc2, _, err2 = run(["serve", f"{FLAGS[env]}={value}"], base, db=db, timeout=30)
        assert rc2 == 2 and err2 == err
        assert not os.path.exists(db)
    # and tokend config refuses it the same way
    rc3, out3, err3 = run(args[:-1] + ["config"], base, db=db)
    assert rc3 == 2 and out3 == "" and err3 == err


def test_a_flag_without_its_value_is_named():
    rc, out, err = run(["--threads"])
    assert rc == 2 and err.strip() == "tokend: --threads needs a value"


@pytest.mark.parametrize("url,local", [
    ("postgres://nobody@db.example.com:5432/none", False),
    ("postgresql://nobody@10.1.2.3/none", False),
    ("host=db.example.com dbname=none", False),
    ("postgres://nobody@127.0.0.1:1/none", True),
    ("postgres://nobody@localhost/none", True),
    ("postgres://nobody@[::1]:5432/none", True),
    ("postgres:///none?host=/var/run/postgresql", True),
    ("host=/tmp dbname=none", True),
    ("dbname=none", True),                                    # libpq's default: a Unix socket
    ("host=localhost,db.example.com dbname=none", False),     # one host elsewhere
    ("host=db.example.com hostaddr=127.0.0.1 dbname=none", True),  # hostaddr is dialled
    ("postgres://nobody@127.example.com/none", False),
])
def test_threads_default_by_where_postgres_runs(tmp_path, url, local):
    """A worker waiting on PostgreSQL on another machine uses no core: the default is four per
    core there (at most 64); on this machine (Unix socket, localhost, loopback) the server's work
    is done on the same cores: one per core, as on SQLite; a value given is kept
    (docs/api.md §20.2)."""
    cores = os.cpu_count()
    pg = {"TOKEND_DATABASE": url, "TOKEND_SECRET_KEY": "s", "PGHOST": ""}
    js = config_json(env=pg)
    assert js["TOKEND_THREADS"]["value"] == str(cores if local else min(4 * cores, 64))
    js = config_json(env=dict(pg, TOKEND_THREADS="3"))
    assert js["TOKEND_THREADS"]["value"] == "3"
    js = config_json(db=str(tmp_path / "t.db"))
    assert js["TOKEND_THREADS"]["value"] == str(cores)


def test_threads_default_follows_pghost_when_the_url_names_no_host():
    cores = os.cpu_count()
    env = {"TOKEND_DATABASE": "dbname=none", "TOKEND_SECRET_KEY": "s",
           "PGHOST": "db.example.com"}
    assert config_json(env=env)["TOKEND_THREADS"]["value"] == str(min(4 * cores, 64))
