"""Fixture data built through tokend's admin CLI, and the exact JSON the API must return for it.

A World mirrors what was created (users, groups, tokens) and renders the expected Token, User
and Group objects of docs/api.md §5 and §10. Values a client cannot know beforehand (token pk, user
uuid and uid, the bootstrap group's uuid, the bootstrap token's expiry) are read once from an
admin listing by learn() and then compared exactly everywhere, which pins their stability.
"""

import dataclasses
import datetime
import json

from harness import (Client, InitialsAvatar, Unordered, assert_json, assert_status, initials,
                     num_pk, pagination)

ADMIN_GROUP = "authentik Admins"
BOOTSTRAP = "authentik-bootstrap-token"
MAX_GROUP_DEPTH = 20  # docs/api.md §4.1


def rfc3339(value):
    """The output form of a datetime input (docs/api.md §1): UTC, 'Z', microseconds only if
    non-zero. None / 'none' -> None."""
    if value is None or value == "none":
        return None
    dt = datetime.datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    dt = dt.astimezone(datetime.timezone.utc)
    text = (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T"
            f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}")
    return text + (f".{dt.microsecond:06d}Z" if dt.microsecond else "Z")


@dataclasses.dataclass
class Group:
    name: str
    uuid: str
    is_superuser: bool
    parent: str  # parent group's name or None
    attributes: dict


@dataclasses.dataclass
class User:
    username: str
    pk: int
    name: str
    email: str
    is_active: bool
    attributes: dict
    path: str
    type: str
    groups: list  # direct group names
    uuid: str = None
    uid: str = None
    last_login: str = None  # output form; set only by tests that write it through the API


@dataclasses.dataclass
class Token:
    identifier: str
    user: str  # owner's username
    intent: str
    description: str
    expires: str  # output form, None for null
    expiring: bool
    managed: str
    key: str
    pk: str = None


class World:
    def __init__(self, server):
        self.server = server
        self.groups = {ADMIN_GROUP: Group(ADMIN_GROUP, None, True, None, {})}
        self.users = {"akadmin": User("akadmin", 1, "authentik Default Admin", "root@localhost",
                                      True, {}, "users", "internal", [ADMIN_GROUP])}
        self.tokens = {BOOTSTRAP: Token(BOOTSTRAP, "akadmin", "api", "", None, False, None,
                                        server.bootstrap_key)}
        self.login = {"akadmin": server.bootstrap_key}  # username -> a working API key

    # -- building through the CLI ----------------------------------------------------------

    def add_group(self, name, superuser=False, parent=None, attributes=None):
        args = ["group", "create", name]
        if superuser:
            args.append("--superuser")
        if parent:
            args += ["--parent", parent]
        if attributes is not None:
            args += ["--attributes", json.dumps(attributes)]
        uuid = self.server.cli(*args)
        self.groups[name] = Group(name, uuid, superuser, parent, attributes or {})
        return self.groups[name]

    def add_user(self, username, name, email=None, inactive=False, attributes=None, path=None,
                 type=None, groups=()):
        args = ["user", "create", username, "--name", name]
        if email is not None:
            args += ["--email", email]
        if inactive:
            args.append("--inactive")
        if attributes is not None:
            args += ["--attributes", json.dumps(attributes)]
        if path is not None:
            args += ["--path", path]
        if type is not None:
            args += ["--type", type]
        pk = int(self.server.cli(*args))
        self.users[username] = User(username, pk, name, email or "", not inactive,
                                    attributes or {}, path or "users", type or "internal", [])
        for g in groups:
            self.join(g, username)
        return self.users[username]

    def join(self, group, username):
        self.server.cli("group", "add", group, username)
        self.users[username].groups.append(group)

    def leave(self, group, username):
        self.server.cli("group", "remove", group, username)
        self.users[username].groups.remove(group)

    def add_token(self, identifier, user, intent="api", description="", expires="none",
                  expiring=False, managed=None, key=None, login=False):
        """Fixture tokens state every field explicitly (the CLI defaults expires to now+30m)."""
        args = ["token", "create", identifier, "--user", user, "--intent", intent,
                "--expires", expires, "--expiring", "true" if expiring else "false"]
        if description:
            args += ["--description", description]
        if managed is not None:
            args += ["--managed", managed]
        if key is not None:
            args += ["--key", key]
        printed = self.server.cli(*args)
        key = key or printed
        self.tokens[identifier] = Token(identifier, user, intent, description, rfc3339(expires),
                                        expiring, managed, key)
        if login:
            self.login[user] = key
        return self.tokens[identifier]

    # -- values only the server knows ----------------------------------------------------------

    def learn(self, admin):
        """Reads token pks, user uuids/uids, the admin group's uuid and the bootstrap token's
        expiry from the admin's full listing (format checks live in the tests)."""
        page = 1
        while True:
            r = admin.list({"page_size": "1000", "page": str(page)})
            assert r.status == 200, f"admin listing for learn() failed: {r!r}"
            body = r.json()
            for t in body["results"]:
                tok = self.tokens.get(t.get("identifier"))
                if tok is not None:
                    tok.pk = t.get("pk")
                    if tok.identifier == BOOTSTRAP:
                        tok.expires = t.get("expires")
                u = t.get("user_obj") or {}
                user = self.users.get(u.get("username"))
                if user is not None:
                    user.uuid, user.uid = u.get("uuid"), u.get("uid")
                    for g in u.get("groups_obj") or []:
                        if g.get("name") == ADMIN_GROUP and self.groups[ADMIN_GROUP].uuid is None:
                            self.groups[ADMIN_GROUP].uuid = g.get("pk")
            if not body["pagination"]["next"]:
                break
            page += 1

    # -- clients -------------------------------------------------------------------------------

    def client(self, username="akadmin"):
        return Client(self.server, self.login[username])

    # -- expected JSON ---------------------------------------------------------------------------

    def effective_groups(self, username):
        out, seen = [], set()
        for name in self.users[username].groups:
            depth = 0
            while name is not None and name not in seen and depth <= MAX_GROUP_DEPTH:
                seen.add(name)
                out.append(self.groups[name])
                name = self.groups[name].parent
                depth += 1
        return out

    def is_superuser(self, username):
        return any(g.is_superuser for g in self.effective_groups(username))

    def group_json(self, name):
        g = self.groups[name]
        parent = self.groups[g.parent] if g.parent else None
        return {
            "pk": g.uuid,
            "num_pk": num_pk(g.uuid) if g.uuid else None,
            "name": g.name,
            "is_superuser": g.is_superuser,
            "parent": parent.uuid if parent else None,
            "parent_name": parent.name if parent else None,
            "attributes": g.attributes,
        }

    def user_json(self, username, groups=True):
        u = self.users[username]
        return {
            "pk": u.pk,
            "username": u.username,
            "name": u.name,
            "is_active": u.is_active,
            "last_login": u.last_login,
            "is_superuser": self.is_superuser(username),
            "groups": Unordered(self.groups[g].uuid for g in u.groups),
            "groups_obj": Unordered(self.group_json(g) for g in u.groups) if groups else None,
            "email": u.email,
            "avatar": InitialsAvatar(initials(u.name)),
            "attributes": u.attributes,
            "uid": u.uid,
            "path": u.path,
            "type": u.type,
            "uuid": u.uuid,
        }

    def token_json(self, identifier, groups=True):
        t = self.tokens[identifier]
        return {
            "pk": t.pk,
            "managed": t.managed,
            "identifier": t.identifier,
            "intent": t.intent,
            "user": self.users[t.user].pk,
            "user_obj": self.user_json(t.user, groups),
            "description": t.description,
            "expires": t.expires,
            "expiring": t.expiring,
        }

    def page(self, identifiers, groups=True, paging=None):
        """The whole list body: `paging` is the pagination object (default: one page of all)."""
        return {
            "pagination": paging if paging is not None else pagination(len(identifiers)),
            "results": [self.token_json(i, groups) for i in identifiers],
        }

    def owned_by(self, username):
        return sorted((t.identifier for t in self.tokens.values() if t.user == username),
                      key=lambda s: s.encode("utf-8"))

    def all_identifiers(self):
        return sorted(self.tokens, key=lambda s: s.encode("utf-8"))


# ----------------------------------------------------------------------------------------------
# The standard world: read-only, shared by test_tokens_list, test_filters, test_search_ordering.

STD_GROUPS = [
    # name          superuser  parent   attributes
    ("team-a",      False,     None,    {"dept": "eng"}),
    ("team-a-sub",  False,     "team-a", {}),
    ("team-b",      False,     None,    {"n": [1, 2], "nested": {"k": "v"}}),
    ("lvl1",        True,      None,    {}),
    ("lvl2",        False,     "lvl1",  {}),
    ("lvl3",        False,     "lvl2",  {}),
    ("lvl4",        False,     "lvl3",  {}),
    ("lvl5",        False,     "lvl4",  {}),
    ("top",         False,     None,    {}),
    ("sub-su",      True,      "top",   {}),
]

ALICE_ATTRIBUTES = {"team": "blue", "level": 3, "ratio": 0.5, "flags": [True, None, "x"],
                    "nested": {"deep": {"k": "é"}}}

# Users get pks 2..10 in this order (akadmin is 1); henry's 10 makes numeric and textual
# ordering of `user` differ.
STD_USERS = [
    # username  name                 email                extra
    ("alice",  "Alice Liddell",      "alice@example.com", dict(attributes=ALICE_ATTRIBUTES,
                                                               groups=["team-a", "team-b"])),
    ("bob",    "bob",                "bob@example.org",   dict(type="external",
                                                               path="external/partners",
                                                               groups=["team-a-sub"])),
    ("carol",  "Carol Danvers",      "carol@example.com", dict(groups=["lvl3"])),
    ("dave",   "Dave Null",          "dave@example.com",  dict(inactive=True)),
    ("erin",   "",                   None,                dict(type="service_account",
                                                               path="goauthentik.io/service-accounts")),
    ("frank",  "Frank Top",          "frank@example.com", dict(groups=["top"])),
    ("gina",   "Gina Deep",          "gina@example.com",  dict(groups=["lvl5"])),
    ("elodie", "élodie ünal",        "elodie@example.com", dict(groups=["sub-su"])),
    ("henry",  "henry james hart",   "henry@example.com", dict()),
]

STD_TOKENS = [
    # identifier   owner     intent          description               expires (CLI input)            expiring managed                    login
    ("Zeta",       "akadmin", "api",          "B",                      "2031-01-01T02:00:00+02:00",   False, None,                      False),
    ("a-1",        "alice",  "api",          "a",                      "2030-01-02T03:04:05.123456Z", True,  None,                      True),
    ("a1",         "alice",  "app_password", "é",                      "2030-01-02T03:04:05Z",        True,  None,                      False),
    ("aB",         "alice",  "recovery",     "Café Crème",             "none",                        False, "goauthentik.io/alice/aB", False),
    ("aZ",         "alice",  "api",          "Élan",                   "none",                        False, None,                      False),
    ("a_1",        "alice",  "verification", "100% done",              "2030-01-02T00:00:00Z",        False, None,                      False),
    ("ab",         "alice",  "api",          "C:\\temp",               "2032-06-30T12:00:00Z",        False, "m-ab",                    False),
    ("bob-api",    "bob",    "api",          'say "hi" now',           "2030-06-01T00:00:00Z",        False, None,                      True),
    ("bob-app",    "bob",    "app_password", "app pw",                 "2033-01-01T00:00:00Z",        False, None,                      False),
    ("carol-api",  "carol",  "api",          "alpha beta",             "2034-01-01T00:00:00Z",        False, None,                      True),
    ("dave-api",   "dave",   "api",          "",                       "none",                        False, "m-dave",                  False),
    ("erin-3",     "erin",   "api",          "bad\ufffd\ufffd\ufffdbyte", "2020-06-01T00:00:00Z",     False, None,                      False),
    ("erin-api",   "erin",   "api",          "bad\ufffdbyte",          "2020-01-01T00:00:00Z",        False, None,                      True),
    ("frank-api",  "frank",  "api",          "for bob",                "2035-01-01T00:00:00.5Z",      False, None,                      True),
    ("gina-api",   "gina",   "api",          "deep Ωμέγα Москва",      "2036-01-01T00:00:00Z",        False, None,                      True),
    ("elodie-api", "elodie", "api",          "xzy",                    "2037-01-01T00:00:00Z",        False, None,                      True),
    ("henry-api",  "henry",  "api",          "x_y",                    "2038-01-01T00:00:00Z",        False, None,                      True),
]


def build_standard_world(server):
    world = World(server)
    for name, su, parent, attrs in STD_GROUPS:
        world.add_group(name, superuser=su, parent=parent, attributes=attrs)
    for username, name, email, extra in STD_USERS:
        world.add_user(username, name, email, **extra)
    for ident, owner, intent, desc, expires, expiring, managed, login in STD_TOKENS:
        world.add_token(ident, owner, intent, desc, expires, expiring, managed, login=login)
    world.learn(world.client())
    return world


# ----------------------------------------------------------------------------------------------
# Table-driven list cases: one case = query, expected status, expected body.


class Err:
    """An expected error response: status and, unless None, the whole JSON body."""

    def __init__(self, status, body=None):
        self.status, self.body = status, body

    def __repr__(self):
        return f"Err({self.status}, {self.body!r})"


class Page:
    """An expected 200 list body: these identifiers in this order, groups_obj rendered or null,
    and the pagination object (default: a single page holding all of them)."""

    def __init__(self, identifiers, groups=True, paging=None):
        self.identifiers, self.groups, self.paging = list(identifiers), groups, paging

    def __repr__(self):
        return f"Page({self.identifiers!r}, groups={self.groups}, paging={self.paging!r})"


def check_list(client, world, query, expected):
    """GET the token list with `query` (raw, already %-encoded) and compare status and the
    whole body. `expected` is a list of identifiers (one 200 page), a Page or an Err."""
    resp = client.list(query)
    if isinstance(expected, Err):
        if expected.body is None:
            assert_status(resp, expected.status)
        else:
            assert_json(resp, expected.status, expected.body)
        return resp
    if not isinstance(expected, Page):
        expected = Page(expected)
    want = world.page(expected.identifiers, expected.groups, expected.paging)
    assert_status(resp, 200)
    got = resp.json()
    if isinstance(got, dict) and isinstance(got.get("results"), list):
        # the short comparison first: which tokens, in which order, on which page
        got_ids = [t.get("identifier") if isinstance(t, dict) else t for t in got["results"]]
        assert (got_ids, got.get("pagination")) == (expected.identifiers, want["pagination"])
    assert_json(resp, 200, want)
    return resp


# ----------------------------------------------------------------------------------------------
# The users and groups API (docs/api.md §10, §14; used by test_users*.py and test_groups*.py).

USERS = "/api/v3/core/users/"
GROUPS = "/api/v3/core/groups/"
USER_FIELDS = ["pk", "username", "name", "is_active", "last_login", "is_superuser", "groups",
               "groups_obj", "email", "avatar", "attributes", "uid", "path", "type", "uuid"]
GROUP_FIELDS = ["pk", "num_pk", "name", "is_superuser", "parent", "parent_name", "users",
                "users_obj", "attributes", "roles", "roles_obj"]
MEMBER_FIELDS = ["pk", "username", "name", "is_active", "last_login", "email", "attributes", "uid"]
ME_FIELDS = ["pk", "username", "name", "is_active", "is_superuser", "groups", "email", "avatar",
             "uid", "settings", "type", "system_permissions"]


def user_url(pk, action=None):
    path = f"{USERS}{pk}/"
    return path + action + "/" if action else path


def group_url(group_uuid, action=None):
    path = f"{GROUPS}{group_uuid}/"
    return path + action + "/" if action else path


_NO_BODY = object()


def send_json(client, method, path, body=_NO_BODY, query=None, raw=None,
              content_type="application/json", token=_NO_BODY):
    """`body` is JSON-encoded, `raw` bytes are sent as they are; content_type None: no header."""
    if raw is None and body is not _NO_BODY:
        raw = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": content_type} if raw is not None and content_type else {}
    kw = {} if token is _NO_BODY else {"token": token}
    return client.request(method, path, query, headers=headers, body=raw, **kw)


def assert_key_order(got, want, skip=("attributes", "settings")):
    """Object keys in the documented order, recursively through plain dicts and lists (not
    through matchers); the values under `skip` are free-form JSON whose key order is the
    store's."""
    if isinstance(want, dict):
        assert isinstance(got, dict), got
        assert list(got) == list(want), f"key order {list(got)} != {list(want)}"
        for k, v in want.items():
            if k not in skip:
                assert_key_order(got[k], v, skip)
    elif isinstance(want, list) and isinstance(got, list) and len(got) == len(want):
        for g, v in zip(got, want):
            assert_key_order(g, v, skip)


def assert_body(resp, status, body):
    """assert_json plus the key order of every object in the body."""
    assert_json(resp, status, body)
    assert_key_order(resp.json(), body)


def learn_users(w, admin):
    """Reads uuid/uid of every user and the admin group's uuid from the users list."""
    r = admin.get(USERS, {"page_size": "1000"})
    assert r.status == 200, f"users listing for learn_users() failed: {r!r}"
    for u in r.json()["results"]:
        user = w.users.get(u.get("username"))
        if user is not None:
            user.uuid, user.uid = u.get("uuid"), u.get("uid")
        for g in u.get("groups_obj") or []:
            if g.get("name") == ADMIN_GROUP and w.groups[ADMIN_GROUP].uuid is None:
                w.groups[ADMIN_GROUP].uuid = g.get("pk")


def members_of(w, group):
    return [name for name, u in w.users.items() if group in u.groups]


def member_json(w, username):
    """A GroupMember (docs/api.md §14.2)."""
    u = w.users[username]
    return {"pk": u.pk, "username": u.username, "name": u.name, "is_active": u.is_active,
            "last_login": u.last_login, "email": u.email, "attributes": u.attributes,
            "uid": u.uid}


def group_full_json(w, name, users=True):
    """The Group object of /core/groups/ (docs/api.md §14.2): members in any order."""
    g = dict(w.group_json(name))
    attributes = g.pop("attributes")
    members = members_of(w, name)
    g["users"] = Unordered(w.users[m].pk for m in members)
    g["users_obj"] = Unordered(member_json(w, m) for m in members) if users else None
    g["attributes"] = attributes
    g["roles"] = []
    g["roles_obj"] = []
    return g


def deep_merge(base, more):
    """authentik's attribute merge: objects recursively, lists concatenated, scalars replaced."""
    out = dict(base)
    for k, v in more.items():
        if isinstance(out.get(k), dict) and isinstance(v, dict):
            out[k] = deep_merge(out[k], v)
        elif isinstance(out.get(k), list) and isinstance(v, list):
            out[k] = out[k] + v
        else:
            out[k] = v
    return out


def merged_attributes(w, username):
    """Attributes of the effective groups by name (byte-wise), then the user's own."""
    merged = {}
    for g in sorted(w.effective_groups(username), key=lambda g: g.name.encode("utf-8")):
        merged = deep_merge(merged, g.attributes)
    return deep_merge(merged, w.users[username].attributes)


class NonEmptyStrings:
    """Equal to a non-empty list of strings (a superuser's system_permissions)."""

    def __eq__(self, other):
        return isinstance(other, list) and other != [] and all(isinstance(s, str) for s in other)

    def __repr__(self):
        return "NonEmptyStrings()"


def me_json(w, username):
    """GET /core/users/me/ for `username` (docs/api.md §14.1, UserSelf)."""
    u = w.users[username]
    su = w.is_superuser(username)
    settings = merged_attributes(w, username).get("settings")
    return {"user": {
        "pk": u.pk,
        "username": u.username,
        "name": u.name,
        "is_active": u.is_active,
        "is_superuser": su,
        "groups": [{"name": g.name, "pk": g.uuid}
                   for g in sorted(w.effective_groups(username),
                                   key=lambda g: g.name.encode("utf-8"))],
        "email": u.email,
        "avatar": InitialsAvatar(initials(u.name)),
        "uid": u.uid,
        "settings": settings if isinstance(settings, dict) else {},
        "type": u.type,
        "system_permissions": NonEmptyStrings() if su else [],
    }}


def user_page(w, usernames, groups=True, paging=None):
    return {"pagination": paging if paging is not None else pagination(len(usernames)),
            "results": [w.user_json(u, groups) for u in usernames]}


def group_page(w, names, users=True, paging=None):
    return {"pagination": paging if paging is not None else pagination(len(names)),
            "results": [group_full_json(w, n, users) for n in names]}


def directory_state(client):
    """Users, groups and tokens as the admin sees them: a refused write must not change it."""
    out = []
    for path in (USERS, GROUPS, "/api/v3/core/tokens/"):
        r = client.get(path, {"page_size": "1000"})
        assert_status(r, 200)
        assert r.json()["pagination"]["next"] == 0, "directory_state needs one page"
        out.append(r.json())
    return out


def adopt_user(w, got, username, name, email="", is_active=True, attributes=None, path="users",
               type="internal", groups=(), last_login=None):
    """Records a user the API made (pk, uuid and uid taken from `got`, a User or the service
    account response, after checking their form and that the pk is new) and returns it."""
    import re  # noqa: PLC0415 - local: only these helpers need it
    pk = got.get("pk", got.get("user_pk"))
    assert isinstance(pk, int) and not isinstance(pk, bool), f"pk {pk!r}"
    assert all(pk > u.pk for u in w.users.values()), f"pk {pk} is not above every existing pk"
    uid = got.get("uid", got.get("user_uid"))
    assert isinstance(uid, str) and re.fullmatch(r"[0-9a-f]{64}", uid), f"uid {uid!r}"
    user = User(username, pk, name, email, is_active, attributes or {}, path, type, list(groups),
                None, uid, last_login)
    uuid_ = got.get("uuid")
    if uuid_ is not None:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                            uuid_), f"uuid {uuid_!r}"
        assert uuid_ not in {u.uuid for u in w.users.values()}, f"uuid {uuid_} reused"
        user.uuid = uuid_
    w.users[username] = user
    return user
