"""The settings tokend's extensions add (contract X6): TOKEND_VIEW_KEY, TOKEND_ROTATE_GRACE_MAX,
TOKEND_REUSE_WINDOW and TOKEND_USAGE_FLUSH are environment variables and flags like every other
setting (test_config.py), with the contract's defaults, and an invalid value stops the start
with exit status 2 and one line on stderr naming the setting.

`tokend config` is asked first: it refuses an invalid value the same way as `serve`
(test_config.py checks that for every setting) and answers at once, where a `serve` that does
not know the setting would start serving. Durations are authentik's (docs/api.md §12.3), so an
empty value or one without a known key is invalid.
"""

import json
import os
import re
import subprocess

import pytest

from harness import tokend_bin

NEW = {
    # setting: (default, invalid values)
    "TOKEND_VIEW_KEY": ("always", ["sometimes", "", "alwaysx", "once,never"]),
    "TOKEND_ROTATE_GRACE_MAX": ("days=7", ["forever", "", "hours:1", "days", "weeks=x"]),
    "TOKEND_REUSE_WINDOW": ("days=30", ["forever", "", "hours:1", "days", "weeks=x"]),
    "TOKEND_USAGE_FLUSH": ("seconds=10", ["often", "", "seconds", "minutes:1", "seconds=x"]),
    # issue 17 (docs/api.md §20.1), not of the contract
    "TOKEND_PG_CACHES": ("notified", ["", "Strict", "notify", "strict,notified", "none"]),
}
HELP_ROW = re.compile(r"^\s+(--[a-z0-9-]+)\s+(TOKEND_[A-Z0-9_]+)\s+(.*)$")


def run(args, env_extra=None, db=None, timeout=30):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TOKEND_") and k != "AUTHENTIK_BOOTSTRAP_TOKEN"}
    if db is not None:
        env["TOKEND_DATABASE"] = "sqlite:" + db
    env.update(env_extra or {})
    p = subprocess.run([tokend_bin(), *args], env=env, capture_output=True, timeout=timeout)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert "AddressSanitizer" not in err and "runtime error:" not in err, err
    return p.returncode, out, err


def flags():
    rc, out, err = run(["--help"])
    assert rc == 0, err
    rows = [HELP_ROW.match(line) for line in out.splitlines()]
    return {m.group(2): m.group(1) for m in rows if m}


def flag_of(env):
    got = flags()
    assert env in got, f"{env} is not a setting of tokend --help"
    return got[env]


@pytest.mark.parametrize("env", sorted(NEW))
def test_default_env_and_flag(tmp_path, env):
    db = str(tmp_path / "t.db")
    default = NEW[env][0]
    rc, out, err = run(["config", "--json"], {"TOKEND_SECRET_KEY": "s"}, db)
    assert rc == 0, err
    js = json.loads(out)
    assert js.get(env) == {"value": default, "source": "default"}, js.get(env)
    valid = {"TOKEND_VIEW_KEY": "never", "TOKEND_ROTATE_GRACE_MAX": "hours=1",
             "TOKEND_REUSE_WINDOW": "days=1", "TOKEND_USAGE_FLUSH": "seconds=30",
             "TOKEND_PG_CACHES": "strict"}[env]
    rc, out, err = run(["config", "--json"], {"TOKEND_SECRET_KEY": "s", env: valid}, db)
    assert rc == 0, err
    assert json.loads(out)[env] == {"value": valid, "source": "environment"}
    rc, out, err = run([f"{flag_of(env)}={valid}", "config", "--json"],
                       {"TOKEND_SECRET_KEY": "s"}, db)
    assert rc == 0, err
    assert json.loads(out)[env] == {"value": valid, "source": "flag"}
    assert not os.path.exists(db)


@pytest.mark.parametrize("view_key", ["always", "once", "never"])
def test_every_view_key_mode_is_accepted(tmp_path, view_key):
    rc, out, err = run(["config", "--json"],
                       {"TOKEND_SECRET_KEY": "s", "TOKEND_VIEW_KEY": view_key},
                       str(tmp_path / "t.db"))
    assert rc == 0, err
    assert json.loads(out)["TOKEND_VIEW_KEY"]["value"] == view_key


CASES = [(env, value) for env in sorted(NEW) for value in NEW[env][1]]


@pytest.mark.parametrize("how", ["env", "flag"])
@pytest.mark.parametrize("env,value", CASES, ids=[f"{e}={v}" for e, v in CASES])
def test_invalid_value_stops_the_start_with_one_line(tmp_path, how, env, value):
    db = str(tmp_path / "t.db")
    base = {"TOKEND_LISTEN": "127.0.0.1:0", "TOKEND_SECRET_KEY": "s"}
    if how == "env":
        base[env] = value
        pre = []
    else:
        pre = [f"{flag_of(env)}={value}"]
    results = []
    for command in ("config", "serve"):
        rc, out, err = run(pre + [command], base, db)
        assert rc == 2, (command, rc, out, err)
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1, (command, err)
        assert lines[0].startswith("tokend: ") and env in lines[0], (command, err)
        results.append(err)
    assert results[0] == results[1]
    assert not os.path.exists(db), "a database was created despite the invalid setting"
