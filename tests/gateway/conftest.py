"""Gateway tests (issue 16 item 4): real reverse proxies (Debian's nginx with auth_request, Caddy
with forward_auth) in front of a small upstream service, with a real tokend as the authority,
configured with the very snippets of contrib/. Reuses the API harness (tests/api/harness.py).

Environment: TOKEND_BIN (default: build/debug/tokend of this checkout), TOKEND_TEST_BACKEND as
for the API tests. nginx and caddy are required: a machine without them fails the run at once
(scripts/install-deps installs them); nothing is skipped.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))
pytest.register_assert_rewrite("harness", "gateway")

import gateway  # noqa: E402
import harness  # noqa: E402


def pytest_sessionstart(session):
    missing = gateway.missing_programs()
    if missing:
        pytest.exit("the gateway tests need " + ", ".join(missing) +
                    " (scripts/install-deps installs nginx-light and caddy)", returncode=1)


@pytest.fixture(scope="session")
def tokend(tmp_path_factory):
    """One tokend for the session. Every proxy runs on 127.0.0.1 and is trusted, so tokend takes
    the client's address from their X-Forwarded-For (README "Connections, deadlines, client
    addresses"); usage is flushed often, so last_used_ip can be read back soon."""
    env = {"TOKEND_TRUSTED_PROXIES": "127.0.0.1/32", "TOKEND_USAGE_FLUSH": "seconds=0.2"}
    with harness.served(tmp_path_factory.mktemp("tokend"), extra_env=env) as server:
        yield server


@pytest.fixture(scope="session")
def upstream():
    u = gateway.Upstream()
    yield u
    u.stop()


@pytest.fixture(scope="session")
def proxies(tmp_path_factory, tokend, upstream):
    """Both proxies, in front of `upstream`, asking `tokend`."""
    started = {}
    try:
        for name, cls in gateway.PROXIES.items():
            p = cls(tmp_path_factory.mktemp(name), tokend.port, upstream.port)
            started[name] = p
            p.start()
        yield started
    finally:
        for p in started.values():
            p.stop()


@pytest.fixture(params=sorted(gateway.PROXIES))
def proxy(request, proxies):
    return proxies[request.param]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    harness.report_session(terminalreporter, "logs")  # tokend's and the proxies'


def pytest_sessionfinish(session, exitstatus):
    if (harness.SANITIZER_REPORTS or harness.session_leaks()) and session.exitstatus == 0:
        session.exitstatus = 1
