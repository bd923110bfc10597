"""Consistency of users, groups and tokens across requests (docs/api.md §3, §4.1, §14): a change of a
membership (add_user/remove_user, a user's groups, a group's users), of a group's is_superuser,
of a group's parent, or of a user's is_active takes effect on the very next request - in me/, in
the User and Group objects, in which tokens the user sees in the token list, and in whether the
user's token authenticates at all. Deleting a group clears its children's parent. Concurrent
add_user/remove_user/PATCH requests leave a state in which both sides of every membership agree.

Runs on its own server.
"""

import itertools
import threading

import pytest

from harness import INVALID_TOKEN, Client, assert_json, assert_status, random_key, served
from world import (GROUPS, USERS, Group, World, adopt_user, assert_body, group_full_json,
                   group_url, learn_users, me_json, send_json, user_url)

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
ME = USERS + "me/"
TOKENS = "/api/v3/core/tokens/"
FAR = "2099-01-01T00:00:00Z"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    # more worker threads than cores, so that the races below really interleave
    with served(tmp_path_factory.mktemp("groups-consistency"),
                extra_env={"TOKEND_THREADS": "8"}) as server:
        world = World(server)
        world.add_group("root-su", superuser=True)
        world.add_user("quinn", "Quinn Other", "quinn@example.com")
        world.add_token("quinn-api", "quinn", "api", expires=FAR, key=random_key(), login=True)
        world.add_token("quinn-app", "quinn", "app_password", expires=FAR, key=random_key())
        admin = world.client()
        world.learn(admin)
        learn_users(world, admin)
        yield world


def fresh_user(w, stem="pat", login=True, groups=()):
    name = f"{stem}{next(_n)}"
    w.add_user(name, f"Fresh {name}", f"{name}@example.com", groups=list(groups))
    if login:
        w.add_token(f"{name}-login", name, "api", expires=FAR, key=random_key(), login=True)
    w.learn(w.client())
    learn_users(w, w.client())
    return name


def api_user(w, stem, groups=()):
    """A user made through the API (faster than the CLI for the many users of the races)."""
    name = f"{stem}{next(_n)}"
    resp = post(w, USERS, {"username": name, "name": f"Fresh {name}",
                           "groups": [w.groups[g].uuid for g in groups]})
    assert_status(resp, 201)
    adopt_user(w, resp.json(), name, f"Fresh {name}", groups=groups)
    return name


def fresh_group(w, stem="g", **kw):
    name = f"{stem}-{next(_n)}"
    w.add_group(name, **kw)
    return name


def visible_tokens(client):
    resp = client.list({"page_size": "1000"})
    assert_status(resp, 200)
    return sorted(t["identifier"] for t in resp.json()["results"])


def check_status_of(w, name):
    """Everything that depends on `name`'s superuser status and activity, as seen right now."""
    su = w.is_superuser(name)
    client = w.client(name)
    assert_body(client.get(ME), 200, me_json(w, name))
    assert visible_tokens(client) == (w.all_identifiers() if su else w.owned_by(name))
    users = client.get(USERS)
    if su:
        assert_status(users, 200)
    else:
        assert_json(users, 403, FORBIDDEN)
    assert_body(w.client().get(user_url(w.users[name].pk)), 200, w.user_json(name))
    rows = w.client().list({"user__username": name}).json()["results"]
    assert [t["identifier"] for t in rows] == w.owned_by(name)
    for t in rows:
        assert t["user_obj"] == w.user_json(name)


def post(w, path, body):
    return send_json(w.client(), "POST", path, body)


def patch(w, path, body):
    resp = send_json(w.client(), "PATCH", path, body)
    assert_status(resp, 200)
    return resp


# -- membership ----------------------------------------------------------------------------------

def test_add_user_and_remove_user_take_effect_at_once(w):
    name = fresh_user(w)
    check_status_of(w, name)
    assert_status(post(w, group_url(w.groups["root-su"].uuid, "add_user"),
                       {"pk": w.users[name].pk}), 204)
    w.users[name].groups.append("root-su")
    check_status_of(w, name)
    assert_status(post(w, group_url(w.groups["root-su"].uuid, "remove_user"),
                       {"pk": w.users[name].pk}), 204)
    w.users[name].groups.remove("root-su")
    check_status_of(w, name)


def test_a_users_groups_field_takes_effect_at_once(w):
    name = fresh_user(w)
    other = fresh_group(w)
    patch(w, user_url(w.users[name].pk), {"groups": [w.groups["root-su"].uuid,
                                                     w.groups[other].uuid]})
    w.users[name].groups = ["root-su", other]
    check_status_of(w, name)
    assert_body(w.client().get(group_url(w.groups["root-su"].uuid)), 200,
                group_full_json(w, "root-su"))
    patch(w, user_url(w.users[name].pk), {"groups": [w.groups[other].uuid]})
    w.users[name].groups = [other]
    check_status_of(w, name)
    assert_body(w.client().get(group_url(w.groups[other].uuid)), 200, group_full_json(w, other))


def test_a_groups_users_field_takes_effect_at_once(w):
    name = fresh_user(w)
    su = fresh_group(w, "su", superuser=True)
    patch(w, group_url(w.groups[su].uuid), {"users": [w.users[name].pk, w.users["quinn"].pk]})
    w.users[name].groups.append(su)
    w.users["quinn"].groups.append(su)
    check_status_of(w, name)
    check_status_of(w, "quinn")
    patch(w, group_url(w.groups[su].uuid), {"users": [w.users["quinn"].pk]})
    w.users[name].groups.remove(su)
    check_status_of(w, name)
    check_status_of(w, "quinn")
    patch(w, group_url(w.groups[su].uuid), {"users": []})
    w.users["quinn"].groups.remove(su)
    check_status_of(w, "quinn")


def test_a_new_group_with_members_takes_effect_at_once(w):
    name = fresh_user(w)
    g = f"created-{next(_n)}"
    resp = post(w, GROUPS, {"name": g, "is_superuser": True, "users": [w.users[name].pk]})
    assert_status(resp, 201)
    w.groups[g] = Group(g, resp.json()["pk"], True, None, {})
    w.users[name].groups.append(g)
    check_status_of(w, name)
    assert_status(w.client().request("DELETE", group_url(w.groups[g].uuid)), 204)
    del w.groups[g]
    w.users[name].groups.remove(g)
    check_status_of(w, name)


# -- group flags and the tree --------------------------------------------------------------------

def test_a_groups_superuser_flag_takes_effect_at_once(w):
    g = fresh_group(w)
    name = fresh_user(w, groups=[g])
    check_status_of(w, name)
    patch(w, group_url(w.groups[g].uuid), {"is_superuser": True})
    w.groups[g].is_superuser = True
    check_status_of(w, name)
    resp = send_json(w.client(), "PUT", group_url(w.groups[g].uuid),
                     {"name": g, "is_superuser": False})
    assert_status(resp, 200)
    w.groups[g].is_superuser = False
    check_status_of(w, name)


def test_a_parent_change_takes_effect_at_once_at_any_depth(w):
    top = fresh_group(w, "top")
    mid = fresh_group(w, "mid", parent=top)
    leaf = fresh_group(w, "leaf", parent=mid)
    name = fresh_user(w, groups=[leaf])
    check_status_of(w, name)
    patch(w, group_url(w.groups[top].uuid), {"parent": w.groups["root-su"].uuid})
    w.groups[top].parent = "root-su"
    check_status_of(w, name)                   # leaf -> mid -> top -> root-su
    patch(w, group_url(w.groups[mid].uuid), {"parent": None})
    w.groups[mid].parent = None
    check_status_of(w, name)
    patch(w, group_url(w.groups[leaf].uuid), {"parent": w.groups[top].uuid})
    w.groups[leaf].parent = top
    check_status_of(w, name)
    for g in (top, mid, leaf):
        assert_body(w.client().get(group_url(w.groups[g].uuid)), 200, group_full_json(w, g))


def test_deleting_a_group_clears_the_childrens_parent_at_once(w):
    su = fresh_group(w, "dsu", superuser=True)
    child = fresh_group(w, "dchild", parent=su)
    name = fresh_user(w, groups=[child])
    check_status_of(w, name)
    assert_status(w.client().request("DELETE", group_url(w.groups[su].uuid)), 204)
    del w.groups[su]
    w.groups[child].parent = None
    check_status_of(w, name)
    got = w.client().get(group_url(w.groups[child].uuid)).json()
    assert (got["parent"], got["parent_name"]) == (None, None)
    assert_body(w.client().get(group_url(w.groups[child].uuid)), 200, group_full_json(w, child))


# -- activity and renames ------------------------------------------------------------------------

def test_deactivation_and_reactivation_take_effect_at_once(w):
    name = fresh_user(w, groups=["root-su"])
    key = w.login[name]
    check_status_of(w, name)
    patch(w, user_url(w.users[name].pk), {"is_active": False})
    w.users[name].is_active = False
    for path in (ME, TOKENS, USERS, GROUPS):
        assert_json(Client(w.server, key).get(path), 403, INVALID_TOKEN)
    assert_body(w.client().get(user_url(w.users[name].pk)), 200, w.user_json(name))
    assert_body(w.client().get(group_url(w.groups["root-su"].uuid)), 200,
                group_full_json(w, "root-su"))
    resp = send_json(w.client(), "PUT", user_url(w.users[name].pk),
                     {"username": name, "name": w.users[name].name, "is_active": True})
    assert_status(resp, 200)
    w.users[name].is_active = True
    check_status_of(w, name)


def test_a_user_can_deactivate_itself_and_is_locked_out_at_once(w):
    name = fresh_user(w, groups=["root-su"])
    client = w.client(name)
    resp = send_json(client, "PATCH", user_url(w.users[name].pk), {"is_active": False})
    assert_status(resp, 200)
    w.users[name].is_active = False
    assert_json(client.get(ME), 403, INVALID_TOKEN)
    patch(w, user_url(w.users[name].pk), {"is_active": True})
    w.users[name].is_active = True
    check_status_of(w, name)


def test_renames_show_everywhere_at_once(w):
    g = fresh_group(w, "ren")
    name = fresh_user(w, groups=[g])
    new = f"renamed{next(_n)}"
    patch(w, user_url(w.users[name].pk), {"username": new, "name": "Re Named",
                                          "email": "re@example.com"})
    u = w.users.pop(name)
    u.username, u.name, u.email = new, "Re Named", "re@example.com"
    w.users[new] = u
    w.login[new] = w.login.pop(name)
    for t in w.tokens.values():
        if t.user == name:
            t.user = new
    assert_body(w.client().get(group_url(w.groups[g].uuid)), 200, group_full_json(w, g))
    assert_body(w.client(new).get(ME), 200, me_json(w, new))
    row = w.client().list({"user__username": new}).json()["results"]
    assert [t["user_obj"] for t in row] == [w.user_json(new)]
    gnew = f"gren{next(_n)}"
    patch(w, group_url(w.groups[g].uuid), {"name": gnew})
    grp = w.groups.pop(g)
    grp.name = gnew
    w.groups[gnew] = grp
    u.groups = [gnew]
    assert_body(w.client(new).get(ME), 200, me_json(w, new))
    assert_body(w.client().get(user_url(u.pk)), 200, w.user_json(new))


# -- concurrency ---------------------------------------------------------------------------------

def run_concurrently(w, jobs):
    """jobs: [(method, path, body)]; all start together; returns the responses in job order."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)
    admin = w.client()

    def run(i, method, path, body):
        barrier.wait()
        try:
            results[i] = send_json(admin, method, path, body)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a request did not finish within 30 s"
    return results


def membership_views(w):
    """(group name -> member pks per the group list, user pk -> group uuids per the user list)."""
    groups = w.client().get(GROUPS, {"page_size": "1000", "include_users": "false"}).json()
    users = w.client().get(USERS, {"page_size": "1000", "include_groups": "false"}).json()
    by_group = {g["pk"]: g["users"] for g in groups["results"]}
    by_user = {u["pk"]: u["groups"] for u in users["results"]}
    return by_group, by_user


def assert_membership_consistent(w):
    by_group, by_user = membership_views(w)
    for gid, members in by_group.items():
        assert len(members) == len(set(members)), f"group {gid} lists a member twice: {members}"
        assert sorted(members) == sorted(pk for pk, gs in by_user.items() if gid in gs), \
            f"group {gid}: its users and the users' groups disagree"
    for pk, gs in by_user.items():
        assert len(gs) == len(set(gs)), f"user {pk} lists a group twice: {gs}"
        assert all(g in by_group for g in gs), f"user {pk} is in a group that is not listed"
    return by_group, by_user


def test_concurrent_membership_writes_with_a_known_outcome(w):
    g = fresh_group(w, "conc")
    h = fresh_group(w, "conc-h")
    adders = [api_user(w, "ca") for _ in range(7)]
    removers = [api_user(w, "cr", groups=[g]) for _ in range(7)]
    patchers = [api_user(w, "cp") for _ in range(7)]
    gu, hu = w.groups[g].uuid, w.groups[h].uuid
    jobs = ([("POST", group_url(gu, "add_user"), {"pk": w.users[u].pk}) for u in adders] +
            [("POST", group_url(gu, "remove_user"), {"pk": w.users[u].pk}) for u in removers] +
            [("PATCH", user_url(w.users[u].pk), {"groups": [gu, hu], "name": f"P {u}"})
             for u in patchers])
    results = run_concurrently(w, jobs)
    for (method, path, _), resp in zip(jobs, results):
        assert not isinstance(resp, Exception), f"{method} {path}: {resp!r}"
        assert_status(resp, 200 if method == "PATCH" else 204)
    for u in adders:
        w.users[u].groups.append(g)
    for u in removers:
        w.users[u].groups.remove(g)
    for u in patchers:
        w.users[u].groups = [g, h]
        w.users[u].name = f"P {u}"
    by_group, _ = assert_membership_consistent(w)
    assert sorted(by_group[gu]) == sorted(w.users[u].pk for u in adders + patchers)
    assert sorted(by_group[hu]) == sorted(w.users[u].pk for u in patchers)
    assert_body(w.client().get(group_url(gu)), 200, group_full_json(w, g))
    assert_body(w.client().get(group_url(hu)), 200, group_full_json(w, h))
    for u in adders + removers + patchers:
        assert_body(w.client().get(user_url(w.users[u].pk)), 200, w.user_json(u))


def test_racing_membership_writes_leave_both_sides_in_agreement(w):
    """The same memberships written from several sides at once: the outcome is open, but every
    membership is either fully there or fully gone, and repeating the read gives the same."""
    g = fresh_group(w, "race")
    users = [api_user(w, "rr") for _ in range(5)]
    gu = w.groups[g].uuid
    pks = [w.users[u].pk for u in users]
    jobs = []
    for pk in pks:
        jobs += [("POST", group_url(gu, "add_user"), {"pk": pk}),
                 ("POST", group_url(gu, "remove_user"), {"pk": pk}),
                 ("PATCH", user_url(pk), {"groups": [gu]})]
    jobs += [("PATCH", group_url(gu), {"users": pks[:3]}),
             ("PATCH", group_url(gu), {"users": pks[2:]}),
             ("POST", group_url(gu, "add_user"), {"pk": pks[0]}),
             ("PATCH", user_url(pks[1]), {"groups": []}),
             ("PATCH", user_url(pks[4]), {"is_active": False})]
    results = run_concurrently(w, jobs)
    for (method, path, _), resp in zip(jobs, results):
        assert not isinstance(resp, Exception), f"{method} {path}: {resp!r}"
        assert_status(resp, 204 if path.endswith("_user/") else 200)
    first = assert_membership_consistent(w)
    assert assert_membership_consistent(w) == first
    # the group's users_obj agrees with its users, and every user object with the group
    group = w.client().get(group_url(gu)).json()
    assert sorted(m["pk"] for m in group["users_obj"]) == sorted(group["users"])
    for pk in pks:
        u = w.client().get(user_url(pk)).json()
        assert (gu in u["groups"]) == (pk in group["users"])
        assert [x["pk"] for x in u["groups_obj"]] == u["groups"]
    assert w.client().get(user_url(pks[4])).json()["is_active"] is False
