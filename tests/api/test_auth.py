"""Authentication of GET /api/v3/core/tokens/ (docs/api.md §3 with §17.3): header parsing, which
tokens authenticate, expiry, inactive users, superuser status through group membership changes,
and the bootstrap after a restart. Failures are always 403 with an exact body, never 401.

Tokens that the expiry sweeper (§12.4, every 5 minutes) would touch — expiring with a past or
null expiry — are created inside the test that uses them, moments before use.
"""

import base64
import datetime

import pytest

from harness import LIST, INVALID_TOKEN, NOT_PROVIDED, UNSUPPORTED, assert_json, random_key, served
from world import BOOTSTRAP, World


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    with served(tmp_path_factory.mktemp("auth")) as server:
        world = World(server)
        world.add_user("ann", "Ann Example", "ann@example.com")
        world.add_user("ivan", "Ivan Inactive", "ivan@example.com", inactive=True)
        world.add_user("hank", "Hank Hill", "hank@example.com")
        world.add_group("root-su", superuser=True)
        world.add_group("mid", parent="root-su")
        world.add_group("leaf", parent="mid")
        far = "2099-01-01T00:00:00Z"
        world.add_token("ann-api", "ann", "api", expires=far, expiring=True, key=random_key(),
                        login=True)
        world.add_token("ann-app", "ann", "app_password", expires=far, expiring=True,
                        key=random_key())
        world.add_token("ann-rec", "ann", "recovery", expires=far, expiring=True, key=random_key())
        world.add_token("ann-ver", "ann", "verification", expires=far, expiring=True,
                        key=random_key())
        world.add_token("ann-old", "ann", "api", expires="2020-01-01T00:00:00Z", expiring=False,
                        key=random_key())
        world.add_token("ivan-api", "ivan", "api", expires=far, expiring=False, key=random_key())
        world.add_token("hank-api", "hank", "api", expires=far, expiring=False, key=random_key(),
                        login=True)
        world.learn(world.client())
        yield world


ANN = ["ann-api", "ann-app", "ann-old", "ann-rec", "ann-ver"]


def key(w, identifier):
    return w.tokens[identifier].key


def as_header(w, value):
    """GET the list with exactly this Authorization header (None: no header)."""
    headers = {"Authorization": value} if value is not None else None
    return w.client().list(token=None, headers=headers)


_fresh = iter(range(1, 10**6))


def fresh_user(w, stem):
    """A new user per test, so a test's own tokens are the only ones that user owns."""
    name = f"{stem}{next(_fresh)}"
    w.add_user(name, f"Fresh {stem}", f"{name}@example.com")
    return name


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the Authorization header --------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    None,
    "",
    "   ",
    "Bearer",
    "bearer",
    "Bearer   ",          # trailing whitespace only: no space left after trimming
    "Basic",
    "Token",
    "Bearer\t{ann}",      # a tab is not the separator
    "Bearer\u00a0{ann}",  # nor a no-break space
], ids=repr)
def test_no_credentials(w, header):
    value = header.format(ann=key(w, "ann-api")).encode() if header is not None else None
    assert_json(as_header(w, value), 403, NOT_PROVIDED)


@pytest.mark.parametrize("header", [
    "Basic x",
    "Basic {basic}",      # even with valid credentials in it
    "Token x",
    "Token {ann}",
    "Bearerx {ann}",
    "Bearer: {ann}",
    "Digest username=akadmin",
    "JWT {ann}",
], ids=repr)
def test_unsupported_scheme(w, header):
    basic = base64.b64encode(f"ann:{key(w, 'ann-api')}".encode()).decode()
    assert_json(as_header(w, header.format(ann=key(w, "ann-api"), basic=basic)), 403, UNSUPPORTED)


@pytest.mark.parametrize("header", [
    "Bearer {ann}",
    "bearer {ann}",
    "BEARER {ann}",
    "BeArEr {ann}",
    "\u00a0Bearer {ann}\u2003",  # the header is stripped of (Unicode) whitespace first
], ids=repr)
def test_accepted_header_forms(w, header):
    assert_json(as_header(w, header.format(ann=key(w, "ann-api")).encode()), 200, w.page(ANN))


@pytest.mark.parametrize("header", [
    "Bearer  {ann}",          # two spaces: the credential is " <key>"
    "Bearer {ann} x",
    "Bearer {ann}x",
    "Bearer {ann_cut}",
    "Bearer {ann_swapped}",   # keys are case-sensitive
    "Bearer x",
    "Bearer {random}",
    "Bearer null",
], ids=repr)
def test_wrong_credential(w, header):
    k = key(w, "ann-api")
    value = header.format(ann=k, ann_cut=k[:-1], ann_swapped=k.swapcase(), random=random_key())
    assert_json(as_header(w, value), 403, INVALID_TOKEN)


@pytest.mark.parametrize("identifier", ["ann-app", "ann-rec", "ann-ver"])
def test_only_api_tokens_authenticate(w, identifier):
    assert_json(w.client().list(token=key(w, identifier)), 403, INVALID_TOKEN)


def test_inactive_users_token_is_refused(w):
    assert_json(w.client().list(token=key(w, "ivan-api")), 403, INVALID_TOKEN)
    # and the token is still there
    assert_json(w.client().list("identifier=ivan-api"), 200, w.page(["ivan-api"]))


def test_bootstrap_token_authenticates_as_akadmin(w):
    assert_json(w.client().list("user__username=akadmin"), 200, w.page([BOOTSTRAP]))


def test_api_token_with_past_expiry_but_expiring_false_works(w):
    assert_json(w.client().list(token=key(w, "ann-old")), 200, w.page(ANN))


def test_non_ascii_credential_is_just_a_wrong_key(w):
    resp = w.client().request("GET", LIST, token=None,
                              headers={"Authorization": "Bearer clé".encode("utf-8")})
    assert_json(resp, 403, INVALID_TOKEN)


@pytest.mark.parametrize("query", ["intent=bogus", "page=99", "expires=bad", "identifier=a%00",
                                   "page_size=x&ordering=bogus"])
def test_authentication_comes_before_query_validation(w, query):
    assert_json(w.client().list(query, token=None), 403, NOT_PROVIDED)
    assert_json(w.client().list(query, token="wrong"), 403, INVALID_TOKEN)


# -- expiry (§12.1, §17.3) ---------------------------------------------------------------------

def test_expired_api_token_is_refused_and_not_deleted(w):
    user = fresh_user(w, "exp")
    w.add_token("exp-tok", user, "api", expires="2020-01-01T00:00:00Z", expiring=True,
                key=random_key())
    for _ in range(2):
        assert_json(w.client().list(token=key(w, "exp-tok")), 403, INVALID_TOKEN)
    w.learn(w.client())
    assert_json(w.client().list("identifier=exp-tok"), 200, w.page(["exp-tok"]))
    assert w.tokens["exp-tok"].expires == "2020-01-01T00:00:00Z"


def test_token_expired_seconds_ago_is_refused(w):
    user = fresh_user(w, "recent")
    past = iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5))
    w.add_token("recent-tok", user, "api", expires=past, expiring=True, key=random_key())
    assert_json(w.client().list(token=key(w, "recent-tok")), 403, INVALID_TOKEN)
    w.learn(w.client())
    assert_json(w.client().list("identifier=recent-tok"), 200, w.page(["recent-tok"]))


def test_token_expiring_in_an_hour_works(w):
    user = fresh_user(w, "soon")
    soon = iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    w.add_token("soon-tok", user, "api", expires=soon, expiring=True, key=random_key())
    w.learn(w.client())
    assert_json(w.client().list(token=key(w, "soon-tok")), 200, w.page(["soon-tok"]))


def test_expiring_token_without_expiry_date_works(w):
    """expiring=true with expires=null is not rejected at authentication (§12.1)."""
    user = fresh_user(w, "nullexp")
    w.add_token("nullexp-tok", user, "api", expires="none", expiring=True, key=random_key())
    w.learn(w.client())
    assert_json(w.client().list(token=key(w, "nullexp-tok")), 200, w.page(["nullexp-tok"]))


def test_cli_default_expiry_is_thirty_minutes(w):
    """token create without --expires: now + 30 minutes, expiring (§12.2 default duration)."""
    user = fresh_user(w, "dflt")
    before = datetime.datetime.now(datetime.timezone.utc)
    k = w.server.cli("token", "create", "dflt-tok", "--user", user)
    after = datetime.datetime.now(datetime.timezone.utc)
    resp = w.client().list(token=k)
    assert resp.status == 200, resp
    (tok,) = resp.json()["results"]
    assert (tok["identifier"], tok["intent"], tok["expiring"], tok["description"]) == (
        "dflt-tok", "api", True, "")
    expires = datetime.datetime.fromisoformat(tok["expires"].replace("Z", "+00:00"))
    lo = before + datetime.timedelta(minutes=30) - datetime.timedelta(seconds=2)
    hi = after + datetime.timedelta(minutes=30) + datetime.timedelta(seconds=2)
    assert lo <= expires <= hi, tok["expires"]


def test_generated_keys_are_60_alphanumerics(w):
    user = fresh_user(w, "gen")
    k = w.server.cli("token", "create", "gen-tok", "--user", user, "--expires", "none",
                     "--expiring", "false")
    assert len(k) == 60 and k.isascii() and k.isalnum(), k
    assert w.client().list(token=k).status == 200


# -- shared keys: only a valid api token counts ----------------------------------------------------

def test_key_shared_with_an_app_password_authenticates_through_the_api_token(w):
    user = fresh_user(w, "dup")
    shared = random_key()
    w.add_token("dup-app", user, "app_password", expires="2099-01-01T00:00:00Z", expiring=True,
                key=shared)
    w.add_token("dup-api", user, "api", expires="2099-01-01T00:00:00Z", expiring=True, key=shared)
    w.learn(w.client())
    assert_json(w.client().list(token=shared), 200, w.page(["dup-api", "dup-app"]))


def test_key_shared_with_an_expired_token_authenticates_through_the_valid_one(w):
    user = fresh_user(w, "dupx")
    shared = random_key()
    w.add_token("dupx-old", user, "api", expires="2020-01-01T00:00:00Z", expiring=True, key=shared)
    w.add_token("dupx-new", user, "api", expires="2099-01-01T00:00:00Z", expiring=True, key=shared)
    w.learn(w.client())
    assert_json(w.client().list(token=shared), 200, w.page(["dupx-new", "dupx-old"]))


# -- keys set with --key are used verbatim ---------------------------------------------------------

def test_key_with_spaces(w):
    user = fresh_user(w, "spc")
    k = "my key with spaces " + random_key(20)
    w.add_token("spc-tok", user, "api", expires="none", expiring=False, key=k)
    w.learn(w.client())
    assert_json(w.client().list(token=k), 200, w.page(["spc-tok"]))
    assert_json(w.client().list(token=k.replace(" ", "  ", 1)), 403, INVALID_TOKEN)


def test_key_with_non_ascii_characters(w):
    user = fresh_user(w, "utf")
    k = "ключ-" + random_key(20)
    w.add_token("utf-tok", user, "api", expires="none", expiring=False, key=k)
    w.learn(w.client())
    resp = w.client().request("GET", LIST, token=None,
                              headers={"Authorization": ("Bearer " + k).encode("utf-8")})
    assert_json(resp, 200, w.page(["utf-tok"]))


def test_key_is_compared_verbatim_without_url_decoding(w):
    user = fresh_user(w, "pct")
    k = "a+b%20c%2Fd" + random_key(20)
    w.add_token("pct-tok", user, "api", expires="none", expiring=False, key=k)
    w.learn(w.client())
    assert_json(w.client().list(token=k), 200, w.page(["pct-tok"]))
    assert_json(w.client().list(token=k.replace("%20", " ")), 403, INVALID_TOKEN)
    assert_json(w.client().list(token=k.replace("+", " ")), 403, INVALID_TOKEN)


def test_long_key(w):
    user = fresh_user(w, "long")
    k = random_key(1024)
    w.add_token("long-tok", user, "api", expires="none", expiring=False, key=k)
    w.learn(w.client())
    assert_json(w.client().list(token=k), 200, w.page(["long-tok"]))
    assert_json(w.client().list(token=k[:-1]), 403, INVALID_TOKEN)
    assert_json(w.client().list(token=k + "x"), 403, INVALID_TOKEN)


# -- superuser status follows group membership, through ancestry ---------------------------------

def test_superuser_through_grandparent_group_follows_membership(w):
    hank = w.client("hank")
    assert_json(hank.list(), 200, w.page(["hank-api"]))
    w.join("leaf", "hank")  # leaf -> mid -> root-su (superuser)
    try:
        everything = w.client().list("page_size=1000")
        assert everything.status == 200
        assert_json(hank.list("page_size=1000"), 200, everything.json())
        assert_json(hank.list("identifier=hank-api"), 200, w.page(["hank-api"]))
        assert_json(hank.list("user__username=ann"), 200, w.page(ANN))
    finally:
        w.leave("leaf", "hank")
    assert_json(hank.list(), 200, w.page(["hank-api"]))
    assert_json(hank.list("user__username=ann"), 200, w.page([]))


def test_direct_member_of_the_admin_group_sees_everything(w):
    """Direct membership in a superuser group grants everything too."""
    user = fresh_user(w, "adm")
    k = random_key()
    w.add_token("adm-tok", user, "api", expires="none", expiring=False, key=k)
    w.join("authentik Admins", user)
    w.learn(w.client())
    assert_json(w.client().list("user__username=ann", token=k), 200, w.page(ANN))
    assert_json(w.client().list("identifier=adm-tok", token=k), 200, w.page(["adm-tok"]))


def test_keys_and_secret_never_logged(w):
    """§17.5: keys never appear in logs (every key above was presented at least once)."""
    log = w.server.log_text()
    leaked = [t.identifier for t in w.tokens.values() if t.key in log]
    assert not leaked, f"keys of {leaked} in the server log"
    assert w.server.secret_key not in log


# -- keep last: restarts the server ------------------------------------------------------------------

def test_restart_keeps_data_and_does_not_bootstrap_again(w):
    before = w.client().list("page_size=1000")
    assert before.status == 200
    w.server.restart()
    assert_json(w.client().list("page_size=1000"), 200, before.json())
    assert_json(w.client().list("identifier=authentik-bootstrap-token"), 200, w.page([BOOTSTRAP]))
    assert_json(w.client("ann").list(), 200, w.page(ANN))
