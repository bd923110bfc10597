// The console suite's harness: a real tokend on a fresh SQLite database with a known superuser
// key (the compatibility suite's startTokend), Debian's Chromium driven by playwright-core, and
// per page the record of what went wrong in it (console errors, uncaught exceptions, CSP
// violations, failed requests, HTTP errors) so every test can assert that nothing did.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";

import { startTokend } from "../compat/tokend.mjs";

export { startTokend };

export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

// Headless Chromium. As root (CI, the box) its sandbox cannot start: --no-sandbox there only.
export async function launchBrowser() {
  const args = process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [];
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// A page in a context of its own (its own sessionStorage) on the server's origin, recording
// its problems. options: { viewport, colorScheme, locale, timezoneId } (playwright's
// newContext options). Returns { context, page, problems, responses, url(path), check(allowed),
// close() }.
//   problems: { console: [...], exceptions: [...], csp: [...], failed: [...], http: [...] }
//   responses: every response of the page: { url, status, headers, method }
//   check({ httpStatuses: [401], ... }): asserts no problem; HTTP errors whose status is listed
//   are expected (a wrong key's 401) and so are Chromium's "Failed to load resource" console
//   lines for them. Call it at the end of every test that uses the page.
export async function openPage(browser, server, options = {}) {
  const origin = `http://127.0.0.1:${server.port}`;
  const context = await browser.newContext({ baseURL: origin, ...options });
  const page = await context.newPage();
  const problems = { console: [], exceptions: [], csp: [], failed: [], http: [] };
  const responses = [];
  // CSP violations as the page sees them (the event carries the directive and the culprit);
  // an init script is not subject to the page's CSP.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}` +
        (e.sourceFile ? ` at ${e.sourceFile}:${e.lineNumber}` : ""));
    });
  });
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "assert")
      problems.console.push({ text: msg.text(), url: msg.location().url || "" });
  });
  page.on("pageerror", (err) => problems.exceptions.push(String(err && err.stack || err)));
  page.on("requestfailed", (req) => {
    problems.failed.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  page.on("response", (res) => {
    const entry = { url: res.url(), status: res.status(), headers: res.headers(),
                    method: res.request().method() };
    responses.push(entry);
    if (res.status() >= 400) problems.http.push(entry);
  });
  return {
    context, page, problems, responses, origin,
    url: (p) => origin + p,
    async cspViolations() {
      const pages = context.pages();
      const all = [];
      for (const p of pages) {
        try {
          all.push(...(await p.evaluate(() => window.__cspViolations || [])));
        } catch {
          // a closed or navigating page: its violations also reached the console
        }
      }
      return all;
    },
    async check({ httpStatuses = [] } = {}) {
      const csp = await this.cspViolations();
      const http = problems.http.filter((r) => !httpStatuses.includes(r.status));
      const expectedUrls = new Set(problems.http.filter((r) => httpStatuses.includes(r.status))
        .map((r) => r.url));
      const console = problems.console.filter((m) =>
        !(m.text.startsWith("Failed to load resource") && expectedUrls.has(m.url)));
      assert.deepEqual({ console, exceptions: problems.exceptions, csp, failed: problems.failed,
                         http: http.map((r) => `${r.method} ${r.url} ${r.status}`) },
                       { console: [], exceptions: [], csp: [], failed: [], http: [] },
                       "the page had problems");
    },
    async close() {
      await context.close();
    },
  };
}

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// axe-core's check of the page as it is now: asserts no violation of the listed impacts
// (default: serious and critical) and returns every violation found, for a closer look. axe is
// evaluated through the DevTools protocol, which the page's CSP does not apply to.
export async function checkAccessibility(page, { impacts = ["serious", "critical"] } = {}) {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(AXE);
  const { violations } = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = violations.filter((v) => impacts.includes(v.impact)).map((v) =>
    `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`);
  assert.deepEqual(bad, [], `accessibility violations on ${page.url()}`);
  return violations;
}

// One HTTP request to the server without any decoding (node's fetch would gunzip): { status,
// headers, body: Buffer }. headers: request headers.
export function rawRequest(server, method, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, method, path, headers,
                               agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers,
                                    body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

// A call of the API with a key (default: the superuser's): { status, body (parsed JSON or
// null) }. For setting up what a console test then looks at.
export async function api(server, method, path, body, key = server.key) {
  const res = await fetch(`http://127.0.0.1:${server.port}/api/v3${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`,
               ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
