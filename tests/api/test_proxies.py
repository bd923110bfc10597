"""Client addresses behind reverse proxies (issue 13 point 6, README "Connections, deadlines,
client addresses"): from a peer inside TOKEND_TRUSTED_PROXIES the client address is the
right-most X-Forwarded-For address that is not itself trusted, and the request log's `remote`,
event `client_ip` and the failed-authentication throttle use it; from any other peer a spoofed
X-Forwarded-For changes nothing. IPv4-mapped IPv6 is the IPv4 address everywhere. The parsing
corners are unit-tested in tests/unit/http/test_client_addr.c.

The server trusts 127.0.0.2 only: connections from 127.0.0.2 are the proxy, those from
127.0.0.1 an untrusted client."""

import json
import time

import pytest

from harness import RawConnection, parse_json, random_key, request_bytes, served

LIST = "/api/v3/core/tokens/"
EVENTS = "/api/v3/events/events/"
PROXY = "127.0.0.2"
CLIENT = "127.0.0.1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    env = {"TOKEND_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.2",
           "TOKEND_AUTH_FAILURE_BURST": "3", "TOKEND_AUTH_FAILURE_RATE": "1"}
    with served(tmp_path_factory.mktemp("proxies"), extra_env=env) as server:
        yield server


def send(server, source, method, target, headers=(), body=b"", token=None):
    """One request from `source`; the response and its request id."""
    rid = "xff-" + random_key(12)
    hdrs = [("X-Request-Id", rid)] + list(headers)
    if token is not None:
        hdrs.append(("Authorization", "Bearer " + token))
    if body:
        hdrs.append(("Content-Type", "application/json"))
    with RawConnection(server.port, source=source) as c:
        c.send(request_bytes(method, target, hdrs, body))
        return c.read_response(method), rid


def log_remote(server, rid):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in server.log_text().splitlines():
            if rid in line:
                obj = json.loads(line)
                if obj.get("request_id") == rid:
                    return obj["remote"]
        time.sleep(0.05)
    raise AssertionError(f"no log line for {rid}")


def created_event_ip(server, pk):
    r, _ = send(server, CLIENT, "GET", EVENTS + "?action=model_created",
                token=server.bootstrap_key)
    assert r.status == 200
    for ev in parse_json(r.body)["results"]:
        if ev["context"].get("model", {}).get("pk") == pk.replace("-", ""):
            return ev["client_ip"]
    raise AssertionError(f"no model_created event for {pk}")


def create_token(server, source, xff):
    identifier = "xff-" + random_key(10)
    body = json.dumps({"identifier": identifier, "intent": "api"}).encode()
    headers = [("X-Forwarded-For", v) for v in xff]
    r, rid = send(server, source, "POST", LIST, headers, body, token=server.bootstrap_key)
    assert r.status == 201, r.body
    return created_event_ip(server, parse_json(r.body)["pk"]), log_remote(server, rid)


@pytest.mark.parametrize("xff,want", [
    (["203.0.113.9"], "203.0.113.9"),
    (["198.51.100.1, 203.0.113.9, 10.1.2.3"], "203.0.113.9"),  # 10/8: a proxy of ours too
    (["198.51.100.1", "203.0.113.9,10.1.2.3"], "203.0.113.9"),  # two header lines, one list
    (["::ffff:203.0.113.7"], "203.0.113.7"),                    # mapped: the IPv4 address
    (["2001:DB8::7"], "2001:db8::7"),                           # canonical text
    (["10.1.2.3"], "10.1.2.3"),                                 # all trusted: the farthest
    (["203.0.113.9, not-an-address"], PROXY),                   # unparsable: the peer
    ([], PROXY),                                                # absent: the peer
])
def test_forwarded_address_from_a_trusted_proxy(srv, xff, want):
    assert create_token(srv, PROXY, xff) == (want, want)


@pytest.mark.parametrize("xff", [["203.0.113.9"], ["10.1.2.3, 203.0.113.9"], ["::ffff:1.2.3.4"]])
def test_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(srv, xff):
    assert create_token(srv, CLIENT, xff) == (CLIENT, CLIENT)


def test_the_throttle_counts_the_forwarded_client(srv):
    """Behind the proxy, one forwarded client's failures throttle that client only."""
    def bad(source, client):
        r, _ = send(srv, source, "GET", LIST, [("X-Forwarded-For", client)], token="wrong-key")
        return r.status

    assert [bad(PROXY, "198.51.100.20") for _ in range(5)] == [403, 403, 403, 429, 429]
    assert bad(PROXY, "198.51.100.21") == 403  # another client behind the same proxy
    # the proxy's own address has spent nothing
    assert bad(PROXY, "") == 403  # an empty header: the peer
    # valid keys of the throttled client are served
    r, _ = send(srv, PROXY, "GET", LIST, [("X-Forwarded-For", "198.51.100.20")],
                token=srv.bootstrap_key)
    assert r.status == 200


def test_the_throttle_ignores_forwarded_for_from_an_untrusted_peer(srv):
    """From an untrusted peer each spoofed address is the same client: a guesser cannot get a
    fresh bucket by writing a new X-Forwarded-For."""
    statuses = []
    for i in range(5):
        r, _ = send(srv, "127.0.0.3", "GET", LIST, [("X-Forwarded-For", f"192.0.2.{i}")],
                    token="wrong-key")
        statuses.append(r.status)
    assert statuses == [403, 403, 403, 429, 429]


def test_a_mapped_address_in_the_list_trusts_the_ipv4_peer(tmp_path):
    env = {"TOKEND_TRUSTED_PROXIES": "::ffff:127.0.0.2/128"}
    with served(tmp_path, extra_env=env) as server:
        assert create_token(server, PROXY, ["203.0.113.5"]) == ("203.0.113.5", "203.0.113.5")
        assert create_token(server, CLIENT, ["203.0.113.5"]) == (CLIENT, CLIENT)
