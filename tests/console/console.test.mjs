// The console in Chromium as a user drives it (issue 18): sign-in (a wrong and an expired key
// refused in words), the tokens page against the API's own answer, create with the key shown
// once, view key, rotate, edit with a field error shown beside its field, revoke and bulk revoke,
// users and a user's page, groups, events with secret_view standing out, a plain user's
// restricted view, a phone-sized screen; on every page no console error, no CSP violation and no
// serious accessibility problem. Screenshots of the main pages go to docs/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startTokend, launchBrowser, openPage, api, checkAccessibility } from "./harness.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SHOTS = path.join(ROOT, "docs", "screenshots");
let server, browser;

before(async () => {
  server = await startTokend();
  browser = await launchBrowser();
  for (let i = 0; i < 25; i++) {
    const r = await api(server, "POST", "/core/tokens/", { identifier: `seeded-${String(i).padStart(2, "0")}`,
      description: i % 2 ? "deploy bot" : "reporting", expiring: i % 3 !== 0 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signedIn(key = server.key, options = {}) {
  const p = await openPage(browser, server, { viewport: { width: 1280, height: 900 }, ...options });
  await p.page.goto(p.url("/if/admin/"));
  await p.page.getByLabel("API key").fill(key);
  await p.page.getByRole("button", { name: "Sign in" }).click();
  await p.page.locator("header.top").waitFor({ state: "visible" });
  return p;
}

async function tokensShown(page) {
  await page.locator("#tokens").waitFor();
  return page.locator("#tokens tbody tr[data-identifier]").evaluateAll((rows) =>
    rows.map((r) => r.getAttribute("data-identifier")));
}

test("a wrong key is refused in words and the form stays", async () => {
  const p = await openPage(browser, server);
  await p.page.goto(p.url("/if/admin/"));
  await p.page.getByLabel("API key").fill("not-a-key-" + "x".repeat(50));
  await p.page.getByRole("button", { name: "Sign in" }).click();
  await p.page.getByText("That key is not valid").waitFor();
  assert.equal(await p.page.locator("header.top").isVisible(), false);
  assert.equal(await p.page.evaluate(() => sessionStorage.length), 0);
  await p.check({ httpStatuses: [403] });
  await p.close();
});

test("an expired key gets the same clear message", async () => {
  // an API token's expiry is the server's TOKEND_DEFAULT_TOKEN_DURATION (docs/api.md §6.2): a
  // server of its own whose tokens live two seconds
  const short = await startTokend({ TOKEND_DEFAULT_TOKEN_DURATION: "seconds=2" });
  try {
    await api(short, "POST", "/core/users/", { username: "olga", name: "Olga" });
    const olga = (await api(short, "GET", "/core/users/?username=olga")).body.results[0];
    const r = await api(short, "POST", "/core/tokens/", { identifier: "olga-api", user: olga.pk });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const k = (await api(short, "GET", "/core/tokens/olga-api/view_key/")).body.key;
    assert.equal((await api(short, "GET", "/core/users/me/", undefined, k)).status, 200);
    await new Promise((done) => setTimeout(done, 2500));
    const p = await openPage(browser, short);
    await p.page.goto(p.url("/if/admin/"));
    await p.page.getByLabel("API key").fill(k);
    await p.page.getByRole("button", { name: "Sign in" }).click();
    await p.page.locator("#key-error").filter({ hasText: "expired" }).waitFor();
    assert.equal(await p.page.locator("header.top").isVisible(), false);
    await p.check({ httpStatuses: [403] });
    await p.close();
  } finally {
    await short.stop();
  }
});

test("the tokens page shows what the API lists, pages and searches on the server", async () => {
  const p = await signedIn();
  const page = p.page;
  const want = await api(server, "GET", "/core/tokens/?page_size=20&ordering=identifier");
  assert.deepEqual(await tokensShown(page), want.body.results.map((t) => t.identifier));
  await page.getByText(`of ${want.body.pagination.count}`).waitFor();
  await page.screenshot({ path: path.join(SHOTS, "tokens.png") });
  await checkAccessibility(page);
  await page.getByRole("button", { name: "Next" }).click();
  const second = await api(server, "GET", "/core/tokens/?page_size=20&page=2&ordering=identifier");
  await page.getByText(`page 2 of ${second.body.pagination.total_pages}`).waitFor();
  assert.deepEqual(await tokensShown(page), second.body.results.map((t) => t.identifier));
  await page.getByLabel("Search").fill("deploy");
  await page.getByRole("button", { name: "Apply" }).click();
  const found = await api(server, "GET", "/core/tokens/?page_size=20&search=deploy&ordering=identifier");
  await page.getByText(`of ${found.body.pagination.count}`).waitFor();
  assert.deepEqual(await tokensShown(page), found.body.results.map((t) => t.identifier));
  // sorted by the column, descending on a second click
  await page.getByRole("button", { name: /^Identifier/ }).click();
  await page.locator("th[aria-sort=descending]").waitFor();
  const desc = await api(server, "GET", "/core/tokens/?page_size=20&search=deploy&ordering=-identifier");
  assert.deepEqual(await tokensShown(page), desc.body.results.map((t) => t.identifier));
  // never used: the tokend list
  await page.getByLabel("Search").fill("");
  await page.getByLabel("Never used").check();
  await page.getByRole("button", { name: "Apply" }).click();
  const never = await api(server, "GET", "/tokend/tokens/?page_size=20&never_used=true&ordering=-identifier");
  await page.getByText(`of ${never.body.pagination.count}`).waitFor();
  await p.check();
  await p.close();
});

test("create shows the key once, with a copy button; a bad field is named beside it", async () => {
  const p = await signedIn();
  const page = p.page;
  await page.getByRole("button", { name: "Create token" }).click();
  const dlg = page.getByRole("dialog", { name: "Create token" });
  await dlg.getByLabel("Identifier", { exact: true }).fill("made-in-console");
  await dlg.getByLabel("Description").fill("from the browser");
  await dlg.getByLabel("Rate limit").fill("often");
  await dlg.getByRole("button", { name: "Create" }).click();
  // the token is created, its settings refused: the edit dialog names the field
  await page.getByRole("dialog", { name: "Edit made-in-console" }).waitFor();
  const edit = page.getByRole("dialog", { name: "Edit made-in-console" });
  await edit.getByLabel("Rate limit").fill("often");
  await edit.getByRole("button", { name: "Save" }).click();
  await edit.locator("#edit-form-rate_limit-error").filter({ hasText: /./ }).waitFor();
  await edit.getByLabel("Rate limit").fill("10/minute");
  await edit.getByLabel("Scopes").fill("tokens:read");
  await edit.getByRole("button", { name: "Save" }).click();
  await edit.waitFor({ state: "detached" });
  const ext = await api(server, "GET", "/tokend/tokens/made-in-console/");
  assert.equal(ext.body.rate_limit, "10/minute");
  assert.deepEqual(ext.body.scopes, ["tokens:read"]);

  await page.getByRole("button", { name: "Create token" }).click();
  const dlg2 = page.getByRole("dialog", { name: "Create token" });
  await dlg2.getByLabel("Identifier", { exact: true }).fill("second-from-console");
  await dlg2.getByRole("button", { name: "Create" }).click();
  const shown = page.getByRole("dialog", { name: "Token second-from-console created" });
  await shown.waitFor();
  await shown.getByRole("button", { name: "Copy" }).waitFor();
  const keyText = (await shown.locator("#new-key").textContent()).trim();
  const viaApi = await api(server, "GET", "/core/tokens/second-from-console/view_key/");
  assert.equal(keyText, viaApi.body.key);
  await page.screenshot({ path: path.join(SHOTS, "create-key.png") });
  await checkAccessibility(page);
  await shown.getByRole("button", { name: "Done" }).click();
  // the duplicate identifier: the API's message beside the field
  await page.getByRole("button", { name: "Create token" }).click();
  const dup = page.getByRole("dialog", { name: "Create token" });
  await dup.getByLabel("Identifier", { exact: true }).fill("second-from-console");
  await dup.getByRole("button", { name: "Create" }).click();
  await dup.locator("#create-form-identifier-error").filter({ hasText: /exists/ }).waitFor();
  await dup.getByRole("button", { name: "Cancel" }).click();
  await p.check({ httpStatuses: [400] });
  await p.close();
});

test("view key, rotate with grace, revoke one and bulk revoke", async () => {
  for (const id of ["rot-me", "bulk-a", "bulk-b", "gone-me"]) {
    assert.equal((await api(server, "POST", "/core/tokens/", { identifier: id, expiring: false })).status, 201);
  }
  const p = await signedIn();
  const page = p.page;
  await page.getByLabel("Search").fill("rot-me");
  await page.getByRole("button", { name: "Apply" }).click();
  const row = page.locator('tr[data-identifier="rot-me"]');
  await row.getByRole("button", { name: "View key" }).click();
  const old = (await api(server, "GET", "/core/tokens/rot-me/view_key/")).body.key;
  const kd = page.getByRole("dialog", { name: "Key of rot-me" });
  assert.equal((await kd.locator("#new-key").textContent()).trim(), old);
  await kd.getByRole("button", { name: "Done" }).click();
  await row.getByRole("button", { name: "Rotate" }).click();
  const rd = page.getByRole("dialog", { name: "Rotate rot-me" });
  await rd.getByLabel(/Grace window/).fill("hours=1");
  await rd.getByRole("button", { name: "Rotate" }).click();
  const nd = page.getByRole("dialog", { name: "New key of rot-me" });
  const fresh = (await nd.locator("#new-key").textContent()).trim();
  assert.notEqual(fresh, old);
  assert.equal((await api(server, "GET", "/core/users/me/", undefined, fresh)).status, 200);
  assert.equal((await api(server, "GET", "/core/users/me/", undefined, old)).status, 200); // grace
  await nd.getByRole("button", { name: "Done" }).click();

  await page.getByLabel("Search").fill("gone-me");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.locator('tr[data-identifier="gone-me"]').getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("dialog", { name: "Revoke token" }).getByRole("button", { name: "Revoke gone-me" }).click();
  await page.getByText("No tokens.").waitFor();
  assert.equal((await api(server, "GET", "/core/tokens/gone-me/")).status, 404);

  await page.getByLabel("Search").fill("bulk");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByLabel("Select bulk-a").check();
  await page.getByLabel("Select bulk-b").check();
  await page.getByRole("button", { name: "Revoke selected" }).click();
  const bd = page.getByRole("dialog", { name: "Revoke tokens" });
  await bd.getByText("bulk-a, bulk-b").waitFor();
  await bd.getByRole("button", { name: "Revoke" }).click();
  await page.getByText("No tokens.").waitFor();
  assert.equal((await api(server, "GET", "/core/tokens/?search=bulk")).body.pagination.count, 0);
  await p.check();
  await p.close();
});

test("users: create, the user's page with their tokens, deactivate, delete; groups", async () => {
  const p = await signedIn();
  const page = p.page;
  await page.getByRole("link", { name: "Users" }).click();
  await page.getByRole("button", { name: "Create user" }).click();
  const ud = page.getByRole("dialog", { name: "Create user" });
  await ud.getByLabel("Username").fill("carol");
  await ud.getByLabel("Name", { exact: true }).fill("Carol Console");
  await ud.getByRole("button", { name: "Create" }).click();
  await page.locator('tr[data-username="carol"]').waitFor();
  const carol = (await api(server, "GET", "/core/users/?username=carol")).body.results[0];
  await api(server, "POST", "/core/tokens/", { identifier: "carol-api", user: carol.pk });
  await page.locator('tr[data-username="carol"]').getByRole("link", { name: "carol" }).click();
  await page.getByRole("heading", { name: "User carol" }).waitFor();
  await page.locator("#user-tokens").getByText("carol-api").waitFor();
  await page.screenshot({ path: path.join(SHOTS, "user.png") });
  await checkAccessibility(page);
  await page.getByRole("button", { name: "Deactivate" }).click();
  await page.getByRole("button", { name: "Activate" }).waitFor();
  assert.equal((await api(server, "GET", `/core/users/${carol.pk}/`)).body.is_active, false);

  await page.getByRole("link", { name: "Groups" }).click();
  await page.getByRole("button", { name: "Create group" }).click();
  const gd = page.getByRole("dialog", { name: "Create group" });
  await gd.getByLabel("Name", { exact: true }).fill("console-team");
  await gd.getByLabel("Members (usernames, comma-separated)").fill("carol");
  await gd.getByRole("button", { name: "Create" }).click();
  await page.locator('tr[data-name="console-team"]').getByText("carol").waitFor();
  const g = (await api(server, "GET", "/core/groups/?name=console-team")).body.results[0];
  assert.deepEqual(g.users, [carol.pk]);
  await checkAccessibility(page);

  await page.getByRole("link", { name: "Users" }).click();
  await page.locator('tr[data-username="carol"]').getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: "Delete user" }).getByRole("button", { name: "Delete carol" }).click();
  await page.locator('tr[data-username="carol"]').waitFor({ state: "detached" });
  assert.equal((await api(server, "GET", `/core/users/${carol.pk}/`)).status, 404);
  await p.check();
  await p.close();
});

test("events: filtered by action, a key view stands out", async () => {
  await api(server, "GET", "/core/tokens/seeded-01/view_key/");
  const p = await signedIn();
  const page = p.page;
  await page.getByRole("link", { name: "Events" }).click();
  await page.locator("#events").waitFor();
  await page.getByLabel("Action").selectOption("secret_view");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.locator("#events tr.loud").first().waitFor();
  const want = await api(server, "GET", "/events/events/?action=secret_view&page_size=20");
  assert.equal(await page.locator("#events tbody tr.loud").count(), want.body.results.length);
  await page.screenshot({ path: path.join(SHOTS, "events.png") });
  await checkAccessibility(page);
  await p.check();
  await p.close();
});

test("a plain user sees only their own tokens and account, also on a phone", async () => {
  await api(server, "POST", "/core/users/", { username: "paul", name: "Paul" });
  const paul = (await api(server, "GET", "/core/users/?username=paul")).body.results[0];
  await api(server, "POST", "/core/tokens/", { identifier: "paul-api", user: paul.pk, expiring: false });
  const k = (await api(server, "GET", "/core/tokens/paul-api/view_key/")).body.key;
  const p = await signedIn(k, { viewport: { width: 390, height: 844 }, colorScheme: "dark" });
  const page = p.page;
  assert.deepEqual(await tokensShown(page), ["paul-api"]);
  for (const name of ["Users", "Groups", "Events"]) {
    assert.equal(await page.getByRole("link", { name }).isVisible(), false);
  }
  assert.equal(await page.locator("#tok-owner").count(), 0);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
  await checkAccessibility(page);
  await page.getByRole("link", { name: "Account" }).click();
  await page.getByRole("heading", { name: "Your account" }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("API key").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await p.check();
  await p.close();
});
