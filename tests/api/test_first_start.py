"""A first start that reads well (issue 18 item 8; docs/api.md §22): a first start on a clean
database without a bootstrap key ends its output with the key it generated and the admin
console's address on the port it serves; the key works and the address leads to the console;
a later start prints neither. No start logs a warning or an error: libmicrohttpd's "Zero size,
specified for thread pool size" among them, whatever the number of threads, with the metrics
listener on (the harness gives it a port). Both stores."""

import json
import re
import time
import urllib.request

import pytest

from harness import served

KEY_LINE = re.compile(r"^[A-Za-z0-9]{60}$")
WAIT_S = 10


def without_bootstrap_key(server):
    env = server.env

    def without():
        e = env()
        e.pop("TOKEND_BOOTSTRAP_TOKEN", None)
        e.pop("AUTHENTIK_BOOTSTRAP_TOKEN", None)
        return e

    server.env = without


def wait_for(server, text):
    deadline = time.monotonic() + WAIT_S
    while text not in server.log_text():
        if time.monotonic() > deadline:
            pytest.fail(f"no {text!r} in the first start's output:\n{server.log_text()}")
        time.sleep(0.05)
    return server.log_text()


def assert_no_warning(log):
    """Every line is a log line below warning or one of the bootstrap's own lines."""
    for line in log.splitlines():
        if line.startswith("{"):
            level = json.loads(line)["level"]
            assert level in ("debug", "info"), f"a clean start logged: {line}\n{log}"
        else:
            assert line.startswith("tokend: ") or KEY_LINE.match(line), f"{line!r}\n{log}"
    assert "Zero size" not in log and "thread pool" not in log, log


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.parametrize("threads", ["1", "2", "5"])
def test_first_start_ends_with_the_key_and_the_console(tmp_path, threads):
    with served(tmp_path, pre_start=without_bootstrap_key,
                extra_env={"TOKEND_THREADS": threads}) as s:
        log = wait_for(s, "admin console")
        lines = log.splitlines()
        assert len(lines) >= 3, log
        created, key, console = lines[-3:]
        assert created == ("tokend: created user akadmin with API token "
                           "authentik-bootstrap-token; its key (shown only now):"), log
        assert KEY_LINE.match(key), log
        assert console == (f"tokend: the admin console is at http://127.0.0.1:{s.port}/: "
                           "sign in there with this key"), log
        assert log.count(key) == 1
        # the serving line comes before them: the output ends with what to do next
        serving = [i for i, ln in enumerate(lines) if '"event":"serving"' in ln]
        assert serving and serving[0] < len(lines) - 3, log
        assert_no_warning(log)

        # (through urllib: the harness's client would note it as a key no log may hold)
        me = urllib.request.Request(f"http://127.0.0.1:{s.port}/api/v3/core/users/me/",
                                    headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(me, timeout=10) as r:
            assert json.load(r)["user"]["username"] == "akadmin"
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as e:
            opener.open(f"http://127.0.0.1:{s.port}/", timeout=10)
        assert e.value.code == 302 and e.value.headers["Location"] == "/if/admin/"

        s.restart()  # the bootstrap ran: nothing printed again, no warning either
        time.sleep(0.3)
        later = s.log_text()
        assert '"event":"serving"' in later
        assert key not in later and "admin console" not in later and \
            "created user" not in later, later
        assert_no_warning(later)


def test_a_start_with_a_bootstrap_key_prints_no_key_and_no_warning(tmp_path):
    """TOKEND_BOOTSTRAP_TOKEN given: the key is the operator's, nothing is printed on stdout."""
    with served(tmp_path) as s:
        time.sleep(0.3)
        log = s.log_text()
        assert s.bootstrap_key not in log
        assert not any(KEY_LINE.match(ln) for ln in log.splitlines()), log
        assert "admin console" not in log
        assert_no_warning(log)
