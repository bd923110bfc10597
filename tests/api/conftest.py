"""pytest wiring for tokend's black-box API tests.

The harness (server process, CLI, HTTP clients, matchers) lives in harness.py and the fixture
data in world.py, both importable by test modules; this file only registers them for assertion
rewriting, provides the shared fixtures, and fails the session on any sanitizer report.

Environment: TOKEND_BIN (default: build/debug/tokend of this checkout), TOKEND_TEST_BACKEND
(sqlite | postgres; postgres also needs TOKEND_TEST_POSTGRES_URL).
"""

import pytest

pytest.register_assert_rewrite("harness", "world")

import harness  # noqa: E402
import world  # noqa: E402


@pytest.fixture(scope="session")
def std(tmp_path_factory):
    """The standard world (world.py) on one server, shared read-only by several modules.
    Tests using it must not change its data."""
    with harness.served(tmp_path_factory.mktemp("std")) as server:
        yield world.build_standard_world(server)


@pytest.fixture(scope="session")
def admin(std):
    return std.client("akadmin")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    checked = harness.schema_check.instance().checked
    terminalreporter.write_line(f"responses validated against the OpenAPI schema: {checked}")
    harness.report_session(terminalreporter, "server logs")


def pytest_sessionfinish(session, exitstatus):
    if harness.SANITIZER_REPORTS and session.exitstatus == 0:
        session.exitstatus = 1
    # No key, ever, in a log: a leak fails the session even when every test passed.
    if harness.session_leaks() and session.exitstatus == 0:
        session.exitstatus = 1
    # A run that made requests but validated none means the schema check fell out of the path.
    if (session.testscollected > 20 and harness.schema_check.instance().checked == 0
            and session.exitstatus == 0):
        session.exitstatus = 1
