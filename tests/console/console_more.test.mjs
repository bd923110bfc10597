// More of the console in Chromium (issue 18): keyboard only, 200 % zoom, editing a user and a
// group, the events' user and token filters.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTokend, launchBrowser, openPage, api, checkAccessibility } from "./harness.mjs";

let server, browser;

before(async () => {
  server = await startTokend();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("signing in and opening a dialog by keyboard alone, focus always visible", async () => {
  const p = await openPage(browser, server);
  const page = p.page;
  await page.goto(p.url("/if/admin/"));
  await page.locator("#key:focus").waitFor(); // the page starts in the key field
  await page.keyboard.type(server.key);
  await page.keyboard.press("Enter");
  await page.locator("#tokens").waitFor();
  // Tab reaches "Create token"; Enter opens the dialog, Escape closes it
  let found = false;
  for (let i = 0; i < 20 && !found; i++) {
    await page.keyboard.press("Tab");
    found = await page.evaluate(() => document.activeElement.id === "create-token");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, "none", "the focused control shows no outline");
  }
  assert.ok(found, "Create token is not reachable by Tab");
  await page.keyboard.press("Enter");
  await page.getByRole("dialog", { name: "Create token" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.closest("dialog") !== null), true);
  await page.keyboard.press("Escape");
  await page.getByRole("dialog", { name: "Create token" }).waitFor({ state: "detached" });
  await p.check();
  await p.close();
});

test("at 200 % zoom (half the CSS width) nothing needs sideways scrolling but tables", async () => {
  const p = await openPage(browser, server, { viewport: { width: 640, height: 450 }, deviceScaleFactor: 2 });
  const page = p.page;
  await page.goto(p.url("/if/admin/"));
  await page.getByLabel("API key").fill(server.key);
  await page.getByRole("button", { name: "Sign in" }).click();
  for (const where of ["#/tokens", "#/users", "#/groups", "#/events", "#/account"]) {
    await page.evaluate((h) => { location.hash = h; }, where);
    await page.locator("#view h1").first().waitFor();
    await page.waitForTimeout(200);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    assert.ok(overflow <= 0, `${where} is ${overflow}px too wide at 200 %`);
    await checkAccessibility(page);
  }
  await p.check();
  await p.close();
});

test("editing a user and a group; events filtered by user and by token", async () => {
  await api(server, "POST", "/core/users/", { username: "erin", name: "Erin" });
  const erin = (await api(server, "GET", "/core/users/?username=erin")).body.results[0];
  await api(server, "POST", "/core/groups/", { name: "ops" });
  await api(server, "POST", "/core/tokens/", { identifier: "erin-tok", user: erin.pk, expiring: false });
  await api(server, "GET", "/core/tokens/erin-tok/view_key/");
  const p = await openPage(browser, server);
  const page = p.page;
  await page.goto(p.url("/if/admin/"));
  await page.getByLabel("API key").fill(server.key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Users" }).click();
  await page.locator('tr[data-username="erin"]').getByRole("button", { name: "Edit" }).click();
  const ud = page.getByRole("dialog", { name: "Edit erin" });
  await ud.getByLabel("Email").fill("erin@example.org");
  await ud.getByRole("button", { name: "Save" }).click();
  await ud.waitFor({ state: "detached" });
  assert.equal((await api(server, "GET", `/core/users/${erin.pk}/`)).body.email, "erin@example.org");

  await page.getByRole("link", { name: "Groups" }).click();
  await page.locator('tr[data-name="ops"]').getByRole("button", { name: "Edit" }).click();
  const gd = page.getByRole("dialog", { name: "Edit ops" });
  await gd.getByLabel("Members are superusers").check();
  await gd.getByLabel("Parent group (name; empty: none)").fill("authentik Admins");
  await gd.getByLabel("Members (usernames, comma-separated)").fill("erin");
  await gd.getByRole("button", { name: "Save" }).click();
  await gd.waitFor({ state: "detached" });
  const ops = (await api(server, "GET", "/core/groups/?name=ops")).body.results[0];
  assert.equal(ops.is_superuser, true);
  assert.equal(ops.parent_name, "authentik Admins");
  assert.deepEqual(ops.users, [erin.pk]);
  // a parent that does not exist: said beside the field
  await page.locator('tr[data-name="ops"]').getByRole("button", { name: "Edit" }).click();
  const gd2 = page.getByRole("dialog", { name: "Edit ops" });
  await gd2.getByLabel("Parent group (name; empty: none)").fill("no-such-group");
  await gd2.getByRole("button", { name: "Save" }).click();
  await gd2.locator("#group-form-parent-error").filter({ hasText: "no-such-group" }).waitFor();
  await gd2.getByRole("button", { name: "Cancel" }).click();

  await page.getByRole("link", { name: "Events" }).click();
  await page.locator("#ev-token").fill("erin-tok");
  await page.getByRole("button", { name: "Apply" }).click();
  const tok = (await api(server, "GET", "/core/tokens/erin-tok/")).body;
  const want = await api(server, "GET", `/events/events/?context_model_pk=${tok.pk}&page_size=20`);
  assert.ok(want.body.results.length >= 1);
  await page.locator("#events tbody tr").nth(want.body.results.length - 1).waitFor();
  assert.equal(await page.locator("#events tbody tr").count(), want.body.results.length);
  await page.locator("#ev-token").fill("");
  await page.locator("#ev-user").fill("akadmin");
  await page.getByRole("button", { name: "Apply" }).click();
  const byUser = await api(server, "GET", "/events/events/?username=akadmin&page_size=20");
  await page.getByText(`of ${byUser.body.pagination.count}`).waitFor();
  await p.check();
  await p.close();
});
