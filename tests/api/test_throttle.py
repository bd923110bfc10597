"""Throttling of failed authentications (issue 7 point 4): an address that keeps failing gets
429 {"detail": "Request was throttled."} with Retry-After, before its keys are even looked up;
successful authentications never count; the bucket refills with time."""

import time

from harness import Client, served

LIST = "/api/v3/core/tokens/"


def test_failures_are_throttled_and_successes_are_not(tmp_path):
    env = {"TOKEND_AUTH_FAILURE_BURST": "5", "TOKEND_AUTH_FAILURE_RATE": "1"}
    with served(tmp_path, extra_env=env) as server:
        good = Client(server, token=server.bootstrap_key)
        for _ in range(60):  # many successes take nothing from the bucket
            assert good.get(LIST).status == 200
        bad = Client(server, token="wrong-key")
        for _ in range(5):
            r = bad.get(LIST)
            assert r.status == 403 and r.json() == {"detail": "Token invalid/expired"}
        r = bad.get(LIST)
        assert r.status == 429
        assert r.json() == {"detail": "Request was throttled."}
        assert int(r.header("Retry-After")) >= 1
        # once throttled, the address is refused before any lookup: a good key cannot be told
        # from a bad one by its answer, nor another scheme
        r = good.get(LIST)
        assert r.status == 429 and r.json() == {"detail": "Request was throttled."}
        r = Client(server).get(LIST, headers={"Authorization": "Basic abc"})
        assert r.status == 429
        time.sleep(1.5)  # a failure earned back
        assert good.get(LIST).status == 200
        assert bad.get(LIST).status == 403


def test_no_credentials_is_not_a_failure(tmp_path):
    env = {"TOKEND_AUTH_FAILURE_BURST": "2", "TOKEND_AUTH_FAILURE_RATE": "1"}
    with served(tmp_path, extra_env=env) as server:
        anon = Client(server)
        for _ in range(10):
            r = anon.get(LIST)
            assert r.status == 403
            assert r.json() == {"detail": "Authentication credentials were not provided."}


def test_default_bucket_is_generous(tmp_path):
    """With the defaults (1000 at once, 100/s back) a clumsy client's few hundred failures are
    answered 403, not 429: the bucket only stops sustained guessing."""
    with served(tmp_path, extra_env={"TOKEND_AUTH_FAILURE_BURST": "1000",
                                     "TOKEND_AUTH_FAILURE_RATE": "100"}) as server:
        bad = Client(server, token="wrong-key")
        for _ in range(300):
            assert bad.get(LIST).status == 403
