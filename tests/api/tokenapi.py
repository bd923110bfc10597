"""Helpers for the tests of the token viewset beyond the list (docs/api.md §5-§7, §11-§13, §17):
sending JSON bodies, the exact messages, expected Token bodies for tokens the API created (values
only the server can choose, like an api token's expiry, are checked against a time window and
then compared exactly), the audit events, the "nothing was written" snapshot, the CLI with its
stderr, and the check that no key ever reaches the events or the server log.

Used by test_token_create.py, test_token_detail.py, test_token_actions.py, test_events.py and
test_sweep.py. Registered for assertion rewriting by harness.py.
"""

import datetime
import json
import re
import subprocess
import urllib.parse

import harness  # noqa: E402  (note_key: keys the CLI prints)
from harness import (HEX64_RE, LIST, SANITIZER_REPORTS, UUID_RE, _sanitizer_lines, assert_json,
                     assert_status)
from world import Token

EVENTS = "/api/v3/events/events/"
DETAIL_ALLOW = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
VIEW_KEY_ALLOW = "GET, HEAD, OPTIONS"
USED_BY_ALLOW = "GET, HEAD, OPTIONS"
SET_KEY_ALLOW = "POST, OPTIONS"

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
MASK = "********************"

# DRF / authentik messages (docs/api.md §1, §6.1)
REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
BLANK = "This field may not be blank."
TOO_LONG = "Ensure this field has no more than 255 characters."
SLUG = 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
IDENT_TAKEN = "Token with this identifier already exists."
MANAGED_TAKEN = "Token with this Managed by authentik already exists."
NOT_STRING = "Not a valid string."
NUL = "Null characters are not allowed."
DT_FORMAT = ("Datetime has wrong format. Use one of these formats instead: "
             "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
NOT_BOOL = "Must be a valid boolean."
USER_FIXED = "User cannot be changed"
FIELD_ORDER = ["managed", "identifier", "intent", "user", "description", "expires", "expiring"]

MAX_LIFETIME_ATTR = "goauthentik.io/user/token-maximum-lifetime"
EXPIRING_ATTR = "goauthentik.io/user/token-expires"
DEFAULT_DURATION = datetime.timedelta(minutes=30)
SLACK = datetime.timedelta(seconds=3)
UTC = datetime.timezone.utc


def bad_choice(value):
    return f'"{value}" is not a valid choice.'


def bad_pk(value):
    return f'Invalid pk "{value}" - object does not exist.'


def pk_type(name):
    return f"Incorrect type. Expected pk value, received {name}."


def invalid_intent(intent):
    return {"intent": [f"Invalid intent {intent}"]}


# ----------------------------------------------------------------------------------------------
# Requests.

_NOBODY = object()


def detail(identifier, action=None):
    path = LIST + urllib.parse.quote(identifier, safe="") + "/"
    return path + action + "/" if action else path


def send(client, method, path, body=_NOBODY, query=None, raw=None,
         content_type="application/json", headers=None, token=None):
    """`body` is JSON-encoded; `raw` bytes are sent as they are. content_type None: no header."""
    if raw is None and body is not _NOBODY:
        raw = json.dumps(body).encode("utf-8")
    hdrs = dict(headers or {})
    if raw is not None and content_type is not None:
        hdrs["Content-Type"] = content_type
    kw = {} if token is None else {"token": token}
    return client.request(method, path, query, headers=hdrs, body=raw, **kw)


def create(client, body=_NOBODY, **kw):
    return send(client, "POST", LIST, body, **kw)


def update(client, identifier, body=_NOBODY, method="PATCH", **kw):
    return send(client, method, detail(identifier), body, **kw)


def retrieve(client, identifier, query=None):
    return client.request("GET", detail(identifier), query)


# ----------------------------------------------------------------------------------------------
# Time.

def now():
    return datetime.datetime.now(UTC)


def parse_rfc3339(text):
    assert isinstance(text, str) and re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z", text), \
        f"not an output datetime: {text!r}"
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def out(dt):
    """The API's output form of an aware datetime (docs/api.md §1)."""
    dt = dt.astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{dt.microsecond:06d}Z" if dt.microsecond else "Z")


def py_str(dt):
    """Python's str() of an aware UTC datetime: '2024-09-27 16:26:18.082123+00:00'."""
    return str(dt.astimezone(UTC))


def iso_in(delta):
    """now + delta as an RFC 3339 input string (microseconds kept)."""
    return out(now() + delta)


class Clock:
    """`with Clock() as c: request` - the window [c.lo, c.hi] that holds the server's `now`."""

    def __enter__(self):
        self.lo = now()
        return self

    def __exit__(self, *exc):
        self.hi = now()
        return False

    def window(self, delta=DEFAULT_DURATION, slack=SLACK):
        return (self.lo + delta - slack, self.hi + delta + slack)


def assert_in_window(text, window, what="instant"):
    got = parse_rfc3339(text)
    lo, hi = window
    assert lo <= got <= hi, f"{what} {text} not within [{out(lo)}, {out(hi)}]"
    return got


def max_lifetime_instant(resp):
    """The instant in a 400 {"expires": ["Token expires exceeds maximum lifetime (... UTC)."]}
    after checking the exact message shape (docs/api.md §6.2 rule 4)."""
    assert_status(resp, 400)
    body = resp.json()
    assert list(body) == ["expires"] and isinstance(body["expires"], list) \
        and len(body["expires"]) == 1, body
    msg = body["expires"][0]
    m = re.fullmatch(r"Token expires exceeds maximum lifetime \((\d{4}-\d{2}-\d{2} "
                     r"\d{2}:\d{2}:\d{2})(\.\d{6})?\+00:00 UTC\)\.", msg)
    assert m, f"message shape: {msg!r}"
    assert m.group(2) != ".000000", f"zero microseconds are omitted by str(): {msg!r}"
    return datetime.datetime.fromisoformat(m.group(1) + (m.group(2) or "") + "+00:00")


# ----------------------------------------------------------------------------------------------
# Expected Token bodies for tokens made through the API.

def expect_token(w, resp, status, identifier, owner, intent="api", description="", expires=None,
                 expiring=True, managed=None, groups=True, window=None):
    """Checks a Token response exactly and records the token in the world. `window`: the
    expiry must lie in it (and is then taken as the expected value) instead of `expires`."""
    assert_status(resp, status)
    got = resp.json()
    assert isinstance(got, dict), got
    if window is not None:
        assert_in_window(got.get("expires"), window, f"{identifier}: expires")
        expires = got["expires"]
    old = w.tokens.get(identifier)
    if old is not None and old.pk is not None:
        pk = old.pk
    else:
        pk = got.get("pk")
        assert isinstance(pk, str) and UUID_RE.match(pk), f"pk {pk!r}"
        assert pk not in {t.pk for t in w.tokens.values()}, f"pk {pk} reused"
    user = w.users[owner]
    if user.uuid is None and isinstance(got.get("user_obj"), dict):
        # a user that owned no token when the world learned: take its server-made values once
        uuid_, uid = got["user_obj"].get("uuid"), got["user_obj"].get("uid")
        assert isinstance(uuid_, str) and UUID_RE.match(uuid_), f"user uuid {uuid_!r}"
        assert isinstance(uid, str) and HEX64_RE.match(uid), f"user uid {uid!r}"
        user.uuid, user.uid = uuid_, uid
    tok = Token(identifier, owner, intent, description, expires, expiring, managed,
                old.key if old is not None else None, pk)
    w.tokens[identifier] = tok
    assert_json(resp, status, w.token_json(identifier, groups))
    return tok


def forget(w, identifier):
    tok = w.tokens.pop(identifier)
    if tok.key:
        remember(w, tok.key)
    return tok


def rename(w, old, new):
    tok = w.tokens.pop(old)
    tok.identifier = new
    w.tokens[new] = tok
    return tok


def remember(w, key):
    """Every key the module handled, for the no-leak check."""
    if not hasattr(w, "issued"):
        w.issued = set()
    w.issued.add(key)


def view_key(w, identifier, client=None):
    """GET view_key (as akadmin unless `client`); records and returns the key."""
    resp = (client or w.client()).request("GET", detail(identifier, "view_key"))
    assert_status(resp, 200)
    body = resp.json()
    assert list(body) == ["key"] and isinstance(body["key"], str), body
    if identifier in w.tokens:
        w.tokens[identifier].key = body["key"]
    remember(w, body["key"])
    return body["key"]


def is_generated_key(key):
    return isinstance(key, str) and len(key) == 60 and key.isascii() and key.isalnum()


# ----------------------------------------------------------------------------------------------
# Store snapshots: nothing may be written by a refused request.

def snapshot(w):
    admin = w.client()
    tokens = admin.list("page_size=1000")
    assert_status(tokens, 200)
    assert tokens.json()["pagination"]["next"] == 0, "snapshot needs one page"
    events = admin.get(EVENTS, "page_size=1")
    assert_status(events, 200)
    return tokens.json(), events.json()["pagination"]["count"]


def assert_unchanged(w, before):
    after = snapshot(w)
    assert after[0] == before[0], "the token store changed"
    assert after[1] == before[1], f"events were recorded ({before[1]} -> {after[1]})"


# ----------------------------------------------------------------------------------------------
# Events (docs/api.md §11).

EVENT_KEYS = ["pk", "user", "action", "app", "context", "client_ip", "created", "expires", "brand"]
RETENTION = datetime.timedelta(days=365)
APPS = {
    "model_created": "authentik.events.middleware",
    "model_updated": "authentik.events.middleware",
    "model_deleted": "authentik.events.middleware",
    "secret_view": "authentik.core.api.tokens",
    "secret_rotate": "authentik.core.models",
}


def events(client, query=None):
    """Every event matching `query` (a dict), newest first, over all pages."""
    out_, page = [], 1
    while True:
        q = dict(query or {})
        q.update(page_size="1000", page=str(page))
        resp = client.get(EVENTS, q)
        assert_status(resp, 200)
        body = resp.json()
        out_ += body["results"]
        if not body["pagination"]["next"]:
            return out_
        page += 1


def token_display(token_json):
    """authentik's Token.__str__ (docs/api.md §11)."""
    if not token_json["expiring"]:
        return token_json["identifier"]
    exp = token_json["expires"]
    shown = py_str(parse_rfc3339(exp)) if exp is not None else "None"
    return f"{token_json['identifier']} (expires={shown})"


def token_ref(token_json):
    return {"app": "authentik_core", "model_name": "token",
            "pk": token_json["pk"].replace("-", ""), "name": token_display(token_json)}


def actor(w, username):
    u = w.users[username]
    return {"pk": u.pk, "username": u.username, "email": u.email}


def refs_of(event):
    """The token pks (hex) an event references, under any context key."""
    ctx = event.get("context") or {}
    return {v.get("pk") for k, v in ctx.items() if isinstance(v, dict) and k != "http_request"}


def check_event(ev, action, user, context, window, app=None, client_ip="127.0.0.1"):
    """One event object exactly: key order, user, action, app, context, client_ip, created in
    the window, expires = created + 365 days, brand an object."""
    assert list(ev) == EVENT_KEYS, f"event keys {list(ev)}"
    assert UUID_RE.match(ev["pk"]), ev["pk"]
    assert (ev["action"], ev["user"], ev["client_ip"]) == (action, user, client_ip)
    assert ev["app"] == (app or APPS[action])
    assert ev["context"] == context
    created = assert_in_window(ev["created"], window, "created")
    assert parse_rfc3339(ev["expires"]) == created + RETENTION, (ev["created"], ev["expires"])
    assert isinstance(ev["brand"], dict), ev["brand"]


def http_request(path, method, args=None, user_agent="", request_id=None):
    """The expected context.http_request; request_id is matched by RequestId() unless given."""
    return {"path": path, "method": method, "args": args or {}, "user_agent": user_agent,
            "request_id": request_id if request_id is not None else RequestId()}


class RequestId:
    """Equal to a uuid4().hex request id (authentik's request middleware)."""

    def __eq__(self, other):
        return isinstance(other, str) and re.fullmatch(r"[0-9a-f]{32}", other) is not None

    def __repr__(self):
        return "RequestId()"


# ----------------------------------------------------------------------------------------------
# Secrets never leak (docs/api.md §11, §17.5).

def assert_no_secrets(w, extra_text=""):
    """No key the module handled appears in the events API output or the server log."""
    keys = set(getattr(w, "issued", set()))
    keys |= {t.key for t in w.tokens.values() if t.key}
    keys.add(w.server.bootstrap_key)
    keys = {k for k in keys if len(k) >= 16}
    admin = w.client()
    texts = {"server log": w.server.log_text(), "extra": extra_text}
    page = 1
    while True:
        resp = admin.get(EVENTS, {"page_size": "1000", "page": str(page)})
        assert_status(resp, 200)
        texts[f"events page {page}"] = resp.body.decode("utf-8")
        if not resp.json()["pagination"]["next"]:
            break
        page += 1
    for where, text in texts.items():
        for k in keys:
            for form in (k, json.dumps(k)[1:-1]):
                assert form not in text, f"a key ({k[:4]}...) appears in the {where}"
        assert w.server.secret_key not in text, f"the server secret appears in the {where}"
    return keys


# ----------------------------------------------------------------------------------------------
# The CLI with its exit status and stderr.

def run_cli(server, *args):
    """`tokend ARGS` on the server's database: (exit status, stdout, stderr)."""
    argv = [server.bin] + list(args)
    p = subprocess.run(argv, env=server.env(), capture_output=True, timeout=120)
    out_ = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if _sanitizer_lines(err):
        SANITIZER_REPORTS.append(f"tokend {' '.join(args)}:\n{err[-6000:]}")
        raise AssertionError(f"sanitizer report from `tokend {' '.join(args)}`:\n{err}")
    if p.returncode == 0 and args[:1] == ("token",) and args[1:2] in (("create",), ("view-key",)):
        harness.note_key(out_.strip())
        harness.note_keys_in_body(out_)
    return p.returncode, out_, err
