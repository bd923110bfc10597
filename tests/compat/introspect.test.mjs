// A standard RFC 7662 client against tokend's POST /api/v3/tokend/introspect/ (extensions
// contract X4): openid-client 5.7.0 (panva; an OpenID Certified relying-party library whose
// Client#introspect implements RFC 7662), changing nothing in it. The issuer is described by
// hand (tokend publishes no discovery document) with only `introspection_endpoint`; the client
// authenticates as `none` (openid-client then adds `client_id` to the form, which tokend ignores)
// and its requests carry the caller's Bearer token through openid-client's documented
// `custom.http_options` hook. Checked: the form body it sends is understood, and it reads
// active, scope, exp, client_id, username, sub, token_type, jti and is_superuser as tokend sends
// them, {active: false} for keys that do not qualify, and an error with the status for a caller
// that may not introspect.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { Issuer, custom, errors } from "openid-client";
import { startTokend } from "./tokend.mjs";

const FAR = "2099-01-01T00:00:00Z";
const FAR_UNIX = Date.parse(FAR) / 1000; // 4070908800

let t;
const keys = {};

function newKey() {
  return crypto.randomBytes(30).toString("hex");
}

function makeToken(identifier, user, { intent = "api", expires = FAR, expiring = true } = {}) {
  const key = newKey();
  t.cli("token", "create", identifier, "--user", user, "--intent", intent, "--expires", expires,
        "--expiring", String(expiring), "--key", key);
  keys[identifier] = key;
  return key;
}

async function get(path) {
  const res = await fetch(`${t.basePath}${path}`, { headers: { Authorization: `Bearer ${t.key}` } });
  assert.equal(res.status, 200, path);
  return res.json();
}

function introspector(callerKey) {
  const issuer = new Issuer({
    issuer: `http://127.0.0.1:${t.port}`,
    introspection_endpoint: `${t.basePath}/tokend/introspect/`,
  });
  const client = new issuer.Client({ client_id: "tokend-compat", token_endpoint_auth_method: "none" });
  client[custom.http_options] = (url, options) => ({
    headers: { ...options.headers, Authorization: `Bearer ${callerKey}` },
  });
  return client;
}

let rs; // the resource server's client: a service account's token
let alice;

before(async () => {
  t = await startTokend();
  t.cli("user", "create", "rs", "--type", "service_account", "--path", "goauthentik.io/service-accounts");
  t.cli("user", "create", "alice", "--name", "Alice Example", "--email", "alice@example.com");
  t.cli("user", "create", "bob", "--name", "Bob Plain");
  rs = introspector(makeToken("rs-key", "rs", { expiring: false }));
  makeToken("alice-scoped", "alice");
  t.cli("token", "set", "alice-scoped", "--scopes", "orders:write,billing:read");
  makeToken("alice-plain", "alice", { expiring: false });
  makeToken("alice-app", "alice", { intent: "app_password" });
  makeToken("alice-old", "alice", { expires: "2020-01-01T00:00:00Z" });
  makeToken("alice-recovery", "alice", { intent: "recovery" });
  makeToken("alice-net", "alice");
  t.cli("token", "set", "alice-net", "--networks", "10.0.0.0/8");
  makeToken("bob-key", "bob", { expiring: false });
  alice = (await get("/core/users/?username=alice")).results[0];
});

after(async () => { await t.stop(); });

async function tokenPk(identifier) {
  return (await get(`/core/tokens/${identifier}/`)).pk;
}

describe("openid-client reads tokend's introspection answers", () => {
  test("an active token with scopes and an expiry", async () => {
    const got = await rs.introspect(keys["alice-scoped"]);
    assert.deepEqual(got, {
      active: true,
      scope: "billing:read orders:write",
      client_id: "alice-scoped",
      username: "alice",
      sub: alice.uid,
      token_type: "api",
      exp: FAR_UNIX,
      jti: await tokenPk("alice-scoped"),
      is_superuser: false,
    });
    assert.deepEqual(Object.keys(got), ["active", "scope", "client_id", "username", "sub",
                                        "token_type", "exp", "jti", "is_superuser"]);
    // what a resource server does with them
    assert.equal(got.active, true);
    assert.deepEqual(got.scope.split(" "), ["billing:read", "orders:write"]);
    assert.equal(new Date(got.exp * 1000).toISOString(), "2099-01-01T00:00:00.000Z");
    assert.ok(got.exp > Date.now() / 1000);
  });

  test("the token_type_hint is sent and ignored", async () => {
    for (const hint of ["access_token", "refresh_token"]) {
      const got = await rs.introspect(keys["alice-scoped"], hint);
      assert.equal(got.active, true, hint);
      assert.equal(got.client_id, "alice-scoped");
    }
  });

  test("no scopes and no expiry: the claims are absent", async () => {
    const got = await rs.introspect(keys["alice-plain"], "access_token");
    assert.equal(got.active, true);
    assert.equal(got.scope, undefined);
    assert.equal(got.exp, undefined);
    assert.equal("scope" in got || "exp" in got, false);
    assert.equal(got.token_type, "api");
    assert.equal(got.sub, alice.uid);
  });

  test("an app password is active, with its intent as token_type", async () => {
    const got = await rs.introspect(keys["alice-app"]);
    assert.equal(got.active, true);
    assert.equal(got.token_type, "app_password");
    assert.equal(got.client_id, "alice-app");
    assert.equal(got.exp, FAR_UNIX);
  });

  test("keys that do not qualify are {active: false} and nothing else", async () => {
    for (const k of ["no-such-key-" + newKey(), keys["alice-old"], keys["alice-recovery"]]) {
      assert.deepEqual(await rs.introspect(k), { active: false });
      assert.deepEqual(await rs.introspect(k, "access_token"), { active: false });
    }
  });

  test("client_ip in the introspection body is checked against allowed_networks", async () => {
    assert.equal((await rs.introspect(keys["alice-net"], undefined,
                                      { introspectBody: { client_ip: "10.1.2.3" } })).active, true);
    assert.deepEqual(await rs.introspect(keys["alice-net"], undefined,
                                         { introspectBody: { client_ip: "192.0.2.1" } }),
                     { active: false });
  });

  test("a caller that may not introspect gets an error carrying the 403", async () => {
    for (const caller of [introspector(keys["bob-key"]), introspector("no-such-key-" + newKey())]) {
      await assert.rejects(caller.introspect(keys["alice-scoped"]), (err) => {
        assert.ok(err instanceof errors.OPError, `${err}`);
        assert.equal(err.response.statusCode, 403);
        assert.match(err.message, /expected 200 OK, got: 403 Forbidden/);
        return true;
      });
    }
  });
});
