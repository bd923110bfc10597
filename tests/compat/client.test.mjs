// authentik's official TypeScript client (@goauthentik/api 2024.8.3) against tokend, changing
// nothing but its base URL and token: every token method, the users and groups methods tokend
// implements, the events list, and the error paths (ResponseError with the right status).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Configuration, CoreApi, EventsApi, ResponseError, IntentEnum, UserTypeEnum,
} from "@goauthentik/api";
import { startTokend } from "./tokend.mjs";

let t, core, events, anon;

function client(token) {
  return new CoreApi(new Configuration({ basePath: t.basePath, accessToken: token }));
}

async function status(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ResponseError, `expected ResponseError, got ${e}`);
    return [e.response.status, await e.response.json().catch(() => null)];
  }
  assert.fail("expected the call to fail");
}

before(async () => {
  t = await startTokend();
  core = client(t.key);
  events = new EventsApi(new Configuration({ basePath: t.basePath, accessToken: t.key }));
  anon = new CoreApi(new Configuration({ basePath: t.basePath }));
});

after(async () => { await t.stop(); });

describe("tokens", () => {
  test("create, retrieve, list with every parameter, update, view and set the key, delete", async () => {
    const created = await core.coreTokensCreate({
      tokenRequest: { identifier: "compat-1", intent: IntentEnum.AppPassword,
                      description: "made by the official client", expiring: true,
                      expires: new Date(Date.now() + 10 * 60 * 1000) },
    });
    assert.equal(created.identifier, "compat-1");
    assert.equal(created.intent, IntentEnum.AppPassword);
    assert.ok(created.expires instanceof Date && !isNaN(created.expires.getTime()));
    assert.equal(created.userObj.username, "akadmin");
    assert.equal(created.userObj.isSuperuser, true);
    assert.ok(Array.isArray(created.userObj.groupsObj));
    assert.equal(created.userObj.groupsObj[0].name, "authentik Admins");
    assert.equal(typeof created.userObj.groupsObj[0].numPk, "number");
    assert.equal(created.managed, undefined); // the client maps a JSON null to undefined
    assert.equal(created.key, undefined);

    const got = await core.coreTokensRetrieve({ identifier: "compat-1" });
    assert.equal(got.pk, created.pk);
    assert.equal(got.description, "made by the official client");

    const list = await core.coreTokensList({
      identifier: "compat-1", intent: "app_password", expiring: true, userUsername: "akadmin",
      description: "made by the official client", ordering: "-expires,identifier", page: 1,
      pageSize: 5, search: "OFFICIAL",
    });
    assert.equal(list.pagination.count, 1);
    assert.equal(list.results[0].identifier, "compat-1");
    assert.deepEqual(list.pagination, { next: 0, previous: 0, count: 1, current: 1,
                                        totalPages: 1, startIndex: 1, endIndex: 1 });
    const byExpiry = await core.coreTokensList({ expires: got.expires });
    assert.ok(byExpiry.results.some((x) => x.identifier === "compat-1"));
    const none = await core.coreTokensList({ managed: "nothing-like-this" });
    assert.equal(none.pagination.count, 0);
    assert.deepEqual(none.results, []);

    const put = await core.coreTokensUpdate({
      identifier: "compat-1",
      tokenRequest: { identifier: "compat-1b", intent: IntentEnum.AppPassword, description: "put" },
    });
    assert.equal(put.identifier, "compat-1b");
    const patched = await core.coreTokensPartialUpdate({
      identifier: "compat-1b", patchedTokenRequest: { description: "patched", expiring: false },
    });
    assert.equal(patched.description, "patched");
    assert.equal(patched.expiring, false);
    assert.equal(patched.intent, IntentEnum.AppPassword);

    const view = await core.coreTokensViewKeyRetrieve({ identifier: "compat-1b" });
    assert.match(view.key, /^[A-Za-z0-9]{60}$/);
    await core.coreTokensSetKeyCreate({ identifier: "compat-1b",
                                        tokenSetKeyRequest: { key: "a key set by the client" } });
    assert.equal((await core.coreTokensViewKeyRetrieve({ identifier: "compat-1b" })).key,
                 "a key set by the client");
    assert.deepEqual(await core.coreTokensUsedByList({ identifier: "compat-1b" }), []);

    await core.coreTokensDestroy({ identifier: "compat-1b" });
    const [s, body] = await status(core.coreTokensRetrieve({ identifier: "compat-1b" }));
    assert.equal(s, 404);
    assert.deepEqual(body, { detail: "Not found." });
  });

  test("an API token made through the client authenticates the client", async () => {
    await core.coreTokensCreate({ tokenRequest: { identifier: "compat-api", expiring: false } });
    const { key } = await core.coreTokensViewKeyRetrieve({ identifier: "compat-api" });
    const me = await client(key).coreUsersMeRetrieve();
    assert.equal(me.user.username, "akadmin");
    assert.ok(me.user.systemPermissions.length > 0);
  });

  test("error paths are ResponseErrors with authentik's statuses and bodies", async () => {
    let [s, body] = await status(anon.coreTokensList());
    assert.equal(s, 403);
    assert.deepEqual(body, { detail: "Authentication credentials were not provided." });
    [s, body] = await status(client("not-a-key").coreTokensList());
    assert.equal(s, 403);
    assert.deepEqual(body, { detail: "Token invalid/expired" });
    [s, body] = await status(core.coreTokensCreate({ tokenRequest: { identifier: "bad id" } }));
    assert.equal(s, 400);
    assert.deepEqual(body, { identifier: [
      "Enter a valid \"slug\" consisting of letters, numbers, underscores or hyphens."] });
    [s, body] = await status(core.coreTokensList({ intent: "bogus" }));
    assert.equal(s, 400);
    [s, body] = await status(core.coreTokensList({ page: 99 }));
    assert.equal(s, 404);
    assert.deepEqual(body, { detail: "Invalid page." });
    [s] = await status(core.coreTokensSetKeyCreate({ identifier: "compat-api",
                                                     tokenSetKeyRequest: { key: "" } }));
    assert.equal(s, 400);
    [s] = await status(core.coreTokensUsedByList({ identifier: "nope" }));
    assert.equal(s, 404);
  });

  test("a plain user sees only their own tokens and cannot view others' keys", async () => {
    t.cli("user", "create", "compat-plain", "--name", "Plain User");
    const key = t.cli("token", "create", "compat-plain-api", "--user", "compat-plain",
                      "--expiring", "false");
    const plain = client(key);
    const list = await plain.coreTokensList();
    assert.deepEqual(list.results.map((x) => x.identifier), ["compat-plain-api"]);
    let [s] = await status(plain.coreTokensRetrieve({ identifier: "compat-api" }));
    assert.equal(s, 404);
    [s] = await status(plain.coreTokensViewKeyRetrieve({ identifier: "compat-plain-api" }));
    assert.equal(s, 403);
    [s] = await status(plain.coreTokensUsedByList({ identifier: "compat-plain-api" }));
    assert.equal(s, 403);
    [s] = await status(plain.coreUsersList());
    assert.equal(s, 403);
    const mine = await plain.coreTokensCreate({ tokenRequest: { identifier: "compat-plain-2" } });
    assert.equal(mine.userObj.username, "compat-plain");
    const view = await plain.coreTokensViewKeyRetrieve({ identifier: "compat-plain-2" });
    assert.match(view.key, /^[A-Za-z0-9]{60}$/);
  });
});

describe("users and groups", () => {
  test("users: create, list with filters, retrieve, update, me, used_by, delete", async () => {
    const group = await core.coreGroupsCreate({ groupRequest: { name: "compat-team",
                                                                attributes: { settings: { theme: "dark" } } } });
    const user = await core.coreUsersCreate({ userRequest: {
      username: "compat-user", name: "Compat User", email: "compat@example.com",
      groups: [group.pk], attributes: { level: 3 }, path: "compat/users",
    } });
    assert.equal(user.username, "compat-user");
    assert.deepEqual(user.groups, [group.pk]);
    assert.equal(user.type, UserTypeEnum.Internal);
    assert.match(user.uid, /^[0-9a-f]{64}$/);
    assert.ok(user.avatar.startsWith("data:image/svg+xml;base64,"));

    const list = await core.coreUsersList({
      username: "compat-user", email: "compat@example.com", name: "Compat User", isActive: true,
      isSuperuser: false, path: "compat/users", pathStartswith: "compat/",
      groupsByName: ["compat-team"], groupsByPk: [group.pk], type: [UserTypeEnum.Internal],
      attributes: JSON.stringify({ level: 3 }), includeGroups: false, search: "compat",
      ordering: "-username", page: 1, pageSize: 10, uuid: user.uuid,
    });
    assert.equal(list.pagination.count, 1);
    assert.equal(list.results[0].groupsObj, null);

    assert.equal((await core.coreUsersRetrieve({ id: user.pk })).email, "compat@example.com");
    const upd = await core.coreUsersUpdate({ id: user.pk, userRequest: { username: "compat-user",
                                                                         name: "Renamed" } });
    assert.equal(upd.name, "Renamed");
    const pat = await core.coreUsersPartialUpdate({ id: user.pk,
                                                    patchedUserRequest: { isActive: false } });
    assert.equal(pat.isActive, false);
    await core.coreTokensCreate({ tokenRequest: { identifier: "compat-user-tok", user: user.pk } });
    const used = await core.coreUsersUsedByList({ id: user.pk });
    assert.equal(used.length, 1);
    assert.equal(used[0].modelName, "token");
    assert.equal(used[0].action, "cascade");

    const [s, body] = await status(core.coreUsersRecoveryCreate({ id: user.pk }));
    assert.equal(s, 400);
    assert.deepEqual(body, { non_field_errors: "No recovery flow set." });

    await core.coreUsersDestroy({ id: user.pk });
    const [s2] = await status(core.coreUsersRetrieve({ id: user.pk }));
    assert.equal(s2, 404);
    const gone = await core.coreTokensList({ identifier: "compat-user-tok" });
    assert.equal(gone.pagination.count, 0);
  });

  test("service accounts", async () => {
    const sa = await core.coreUsersServiceAccountCreate({ userServiceAccountRequest: {
      name: "compat-robot", createGroup: true, expiring: false } });
    assert.equal(sa.username, "compat-robot");
    assert.equal(typeof sa.userPk, "number");
    assert.match(sa.token, /^[A-Za-z0-9]{60}$/);
    assert.match(sa.groupPk, /^[0-9a-f-]{36}$/);
    const tok = await core.coreTokensRetrieve({ identifier: "service-account-compat-robot-password" });
    assert.equal(tok.intent, IntentEnum.AppPassword);
    assert.equal(tok.expiring, false);
    const [s] = await status(core.coreUsersServiceAccountCreate({
      userServiceAccountRequest: { name: "compat-robot" } }));
    assert.equal(s, 400);
  });

  test("groups: list with filters, retrieve, update, members, used_by, delete", async () => {
    const parent = await core.coreGroupsCreate({ groupRequest: { name: "compat-parent" } });
    const child = await core.coreGroupsCreate({ groupRequest: { name: "compat-child",
                                                                parent: parent.pk } });
    assert.equal(child.parentName, "compat-parent");
    const u = await core.coreUsersCreate({ userRequest: { username: "compat-member", name: "" } });
    await core.coreGroupsAddUserCreate({ groupUuid: child.pk, userAccountRequest: { pk: u.pk } });
    const list = await core.coreGroupsList({ name: "compat-child", isSuperuser: false,
                                             membersByPk: [u.pk], membersByUsername: ["compat-member"],
                                             includeUsers: true, search: "child", ordering: "name",
                                             page: 1, pageSize: 5 });
    assert.equal(list.pagination.count, 1);
    assert.deepEqual(list.results[0].users, [u.pk]);
    assert.equal(list.results[0].usersObj[0].username, "compat-member");
    const got = await core.coreGroupsRetrieve({ groupUuid: child.pk });
    assert.equal(got.parent, parent.pk);
    const upd = await core.coreGroupsUpdate({ groupUuid: child.pk,
                                              groupRequest: { name: "compat-child-2", isSuperuser: true } });
    assert.equal(upd.isSuperuser, true);
    const me = await core.coreGroupsPartialUpdate({ groupUuid: child.pk,
                                                    patchedGroupRequest: { attributes: { a: 1 } } });
    assert.deepEqual(me.attributes, { a: 1 });
    const [s, body] = await status(core.coreGroupsPartialUpdate({
      groupUuid: parent.pk, patchedGroupRequest: { parent: child.pk } }));
    assert.equal(s, 400);
    assert.ok(body.parent);
    const used = await core.coreGroupsUsedByList({ groupUuid: parent.pk });
    assert.equal(used[0].modelName, "group");
    await core.coreGroupsRemoveUserCreate({ groupUuid: child.pk, userAccountRequest: { pk: u.pk } });
    assert.deepEqual((await core.coreGroupsRetrieve({ groupUuid: child.pk })).users, []);
    await core.coreGroupsDestroy({ groupUuid: child.pk });
    const [s2] = await status(core.coreGroupsRetrieve({ groupUuid: child.pk }));
    assert.equal(s2, 404);
  });
});

describe("events", () => {
  test("the audit log lists what the client did", async () => {
    await core.coreTokensCreate({ tokenRequest: { identifier: "compat-audited" } });
    const tok = await core.coreTokensRetrieve({ identifier: "compat-audited" });
    await core.coreTokensViewKeyRetrieve({ identifier: "compat-audited" });
    const list = await events.eventsEventsList({ username: "akadmin", contextModelPk: tok.pk,
                                                 ordering: "-created", page: 1, pageSize: 10 });
    const actions = list.results.map((e) => e.action);
    assert.ok(actions.includes("model_created"));
    const views = await events.eventsEventsList({ action: "secret_view" });
    const mine = views.results.filter((e) => e.context.secret?.name === "compat-audited" ||
                                             String(e.context.secret?.name).startsWith("compat-audited"));
    assert.equal(mine.length, 1);
    assert.ok(mine[0].created instanceof Date);
    assert.equal(mine[0].user.username, "akadmin");
  });
});
