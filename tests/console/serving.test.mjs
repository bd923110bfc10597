// How tokend serves its console (docs/api.md §22), over plain HTTP and in Chromium: the
// redirect of /, index.html revalidated and the versioned files cached for a year, gzip when
// accepted, ETag and 304, the strict Content-Security-Policy and its companions on every
// console answer, 404 and 405, HEAD, nothing of it on /api/ or the metrics listener; in
// Chromium the first load stays under 100 KB compressed and raises no error or CSP violation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import zlib from "node:zlib";

import { startTokend, launchBrowser, openPage, rawRequest, checkAccessibility }
  from "./harness.mjs";

const CSP_REQUIRED = ["default-src 'self'", "script-src 'self'", "style-src 'self'",
  "frame-ancestors 'none'", "base-uri 'none'", "connect-src 'self'", "object-src 'none'"];
const YEAR = "public, max-age=31536000, immutable";
const BUDGET = 100 * 1024;

let server, browser, metricsPort;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  metricsPort = await freePort();
  server = await startTokend({ TOKEND_METRICS_LISTEN: `127.0.0.1:${metricsPort}` });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const get = (path, headers) => rawRequest(server, "GET", path, headers);

function assertGuarded(res, what) {
  const csp = res.headers["content-security-policy"];
  assert.ok(csp, `${what}: no Content-Security-Policy`);
  for (const d of CSP_REQUIRED) assert.ok(csp.includes(d), `${what}: CSP lacks ${d}: ${csp}`);
  assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"), csp);
  assert.equal(res.headers["x-content-type-options"], "nosniff", what);
  assert.equal(res.headers["referrer-policy"], "no-referrer", what);
}

// The versioned files index.html names (src= and href= under /if/admin/<build>/).
async function indexAssets() {
  const res = await get("/if/admin/");
  const html = res.body.toString("utf8");
  const urls = [...html.matchAll(/(?:src|href)="(\/if\/admin\/[0-9a-f]{16}\/[^"]+)"/g)]
    .map((m) => m[1]);
  assert.ok(urls.length > 0, `index.html names no versioned file: ${html}`);
  return urls;
}

test("GET and HEAD / redirect to /if/admin/, and so does /if/admin", async () => {
  for (const [method, path] of [["GET", "/"], ["HEAD", "/"], ["GET", "/if/admin"]]) {
    const res = await rawRequest(server, method, path);
    assert.equal(res.status, 302, `${method} ${path}`);
    assert.equal(res.headers.location, "/if/admin/");
    assertGuarded(res, `${method} ${path}`);
  }
});

test("/if/admin/ serves index.html, revalidated on every load, with the console's headers",
  async () => {
    const res = await get("/if/admin/");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(res.headers["cache-control"], "no-cache");
    assert.match(res.headers.etag, /^"[0-9a-f]{32}"$/);
    assert.match(res.body.toString(), /<html/i);
    assertGuarded(res, "/if/admin/");
    assert.equal(res.headers.allow, undefined, "Allow is a 405's");
    // its references are rewritten to the versioned folder, none left relative
    const html = res.body.toString();
    for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const v = m[1];
      assert.ok(/^(\/if\/admin\/[0-9a-f]{16}\/|\/api\/|#|data:|https?:)/.test(v),
                `index.html still has a relative reference: ${v}`);
    }
    const again = await get("/if/admin/", { "If-None-Match": res.headers.etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assertGuarded(again, "304 of /if/admin/");
  });

test("a deep link under /if/admin/ gets index.html; a file that is not there is 404",
  async () => {
    const index = await get("/if/admin/");
    const deep = await get("/if/admin/tokens/some-token");
    assert.equal(deep.status, 200);
    assert.deepEqual(deep.body, index.body);
    const [first] = await indexAssets();
    const build = first.split("/")[3];
    for (const path of ["/if/admin/app.js", `/if/admin/${build}/no-such-file.js`,
                        `/if/admin/${"0".repeat(16)}/${first.split("/").slice(4).join("/")}`,
                        `/if/admin/${build}/index.html`, `/if/admin/${build}/`]) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      assertGuarded(res, path);
    }
  });

test("versioned files: a year immutable, their type, gzip only when accepted, ETag and 304",
  async () => {
    const types = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8",
                    svg: "image/svg+xml", html: "text/html; charset=utf-8" };
    for (const url of await indexAssets()) {
      const raw = await get(url);
      assert.equal(raw.status, 200, url);
      assert.equal(raw.headers["cache-control"], YEAR, url);
      assertGuarded(raw, url);
      const ext = url.split(".").pop();
      if (types[ext]) assert.equal(raw.headers["content-type"], types[ext], url);
      assert.equal(raw.headers["content-encoding"], undefined, `${url} gzip without asking`);
      assert.equal(Number(raw.headers["content-length"]), raw.body.length);

      const gz = await get(url, { "Accept-Encoding": "br, gzip;q=0.8" });
      if (gz.headers["content-encoding"] === "gzip") {
        assert.deepEqual(zlib.gunzipSync(gz.body), raw.body, `${url}: gzip differs from raw`);
        assert.ok(gz.body.length < raw.body.length);
        assert.equal(gz.headers.vary, "Accept-Encoding");
        assert.notEqual(gz.headers.etag, raw.headers.etag, "one ETag per representation");
      } else {
        // only a file gzip does not shrink is sent raw to a gzip client
        assert.ok(zlib.gzipSync(raw.body, { level: 9 }).length >= raw.body.length - 20, url);
      }
      const refused = await get(url, { "Accept-Encoding": "gzip;q=0, identity" });
      assert.equal(refused.headers["content-encoding"], undefined, `${url}: gzip;q=0 ignored`);

      for (const r of [raw, gz]) {
        const nm = await get(url, { "Accept-Encoding": r === gz ? "gzip" : "identity",
                                    "If-None-Match": `"other", ${r.headers.etag}` });
        assert.equal(nm.status, 304, `${url} If-None-Match`);
        assert.equal(nm.headers.etag, r.headers.etag);
        assert.equal(nm.headers["cache-control"], YEAR);
      }
      const stale = await get(url, { "If-None-Match": '"0000"' });
      assert.equal(stale.status, 200);

      const head = await rawRequest(server, "HEAD", url);
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers["content-length"], raw.headers["content-length"]);
      assert.equal(head.headers.etag, raw.headers.etag);
    }
  });

test("methods other than GET and HEAD: 405 with Allow", async () => {
  const [asset] = await indexAssets();
  for (const path of ["/", "/if/admin/", asset, "/if/admin/tokens"]) {
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const res = await rawRequest(server, method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.allow, "GET, HEAD", `${method} ${path}`);
      assert.equal(JSON.parse(res.body).detail, `Method "${method}" not allowed.`);
      assertGuarded(res, `${method} ${path}`);
    }
  }
});

test("a refused method's body is never read: 405 at once, the connection closed", async () => {
  // 1 MB announced, none sent: only an answer from the headers alone can come back
  const answer = await new Promise((resolve, reject) => {
    const c = net.connect(server.port, "127.0.0.1", () => {
      c.write("POST /if/admin/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n" +
              "Content-Length: 1000000\r\n\r\n");
    });
    let data = "";
    c.setTimeout(5000, () => { c.destroy(); resolve(data || "timeout"); });
    c.on("data", (d) => { data += d; });
    c.on("end", () => resolve(data));
    c.on("error", reject);
  });
  assert.match(answer, /^HTTP\/1\.1 405 /, answer);
  assert.match(answer, /\r\nAllow: GET, HEAD\r\n/i, answer);
  assert.match(answer, /\r\nConnection: close\r\n/i, answer);
  assert.match(answer, /\r\nContent-Security-Policy: default-src 'self'/i, answer);
});

test("the API, the probes and the metrics listener are untouched by the console", async () => {
  const apiMiss = await get("/api/v3/no-such-thing/");
  assert.equal(apiMiss.status, 404);
  assert.equal(apiMiss.headers["content-security-policy"], undefined);
  const schema = await get("/api/v3/schema/");
  assert.equal(schema.status, 200);
  assert.equal(schema.headers["content-security-policy"], undefined);
  const live = await get("/-/health/live/");
  assert.equal(live.status, 200);
  const other = await get("/ifx/admin/");
  assert.equal(other.status, 404);
  // the metrics listener: /metrics only
  for (const path of ["/", "/if/admin/"]) {
    const res = await new Promise((resolve, reject) => {
      const req = net.connect(metricsPort, "127.0.0.1", () => {
        req.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      let data = "";
      req.on("data", (d) => { data += d; });
      req.on("end", () => resolve(data));
      req.on("error", reject);
    });
    assert.match(res, /^HTTP\/1\.1 404/, `metrics listener ${path}: ${res}`);
  }
});

test("in Chromium: / lands on the console, no error, no CSP violation, under 100 KB gzip",
  async () => {
    const p = await openPage(browser, server);
    try {
      await p.page.goto(p.url("/"), { waitUntil: "networkidle" });
      assert.equal(new URL(p.page.url()).pathname, "/if/admin/");
      await checkAccessibility(p.page);
      await p.check();
      // every file the first load fetched from tokend, at its gzip size
      const urls = [...new Set(p.responses.filter((r) => r.status === 200 &&
        r.url.startsWith(p.origin + "/if/admin/")).map((r) => new URL(r.url).pathname))];
      assert.ok(urls.length >= 2, `the first load fetched only ${urls}`);
      let total = 0;
      for (const u of urls) {
        const res = await get(u, { "Accept-Encoding": "gzip" });
        total += res.body.length;
      }
      assert.ok(total < BUDGET, `first load is ${total} bytes compressed (${urls.join(", ")})`);
      // the browser was sent gzip for what gzip shrinks
      const js = p.responses.filter((r) => r.url.endsWith(".js"));
      assert.ok(js.length > 0, "the first load fetched no module");
      for (const r of js) {
        // as a gzip client gets it: compressed unless gzip does not shrink the file
        const alone = await get(new URL(r.url).pathname, { "Accept-Encoding": "gzip" });
        assert.equal(r.headers["content-encoding"], alone.headers["content-encoding"], r.url);
      }
    } finally {
      await p.close();
    }
  });

test("the CSP really is in force, and the harness sees what it blocks", async () => {
  const p = await openPage(browser, server);
  try {
    await p.page.goto(p.url("/if/admin/"), { waitUntil: "networkidle" });
    const ran = await p.page.evaluate(() => {
      window.__inline = false;
      const s = document.createElement("script");
      s.textContent = "window.__inline = true";
      document.head.append(s);
      document.body.setAttribute("style", "color: red");
      return new Promise((r) => setTimeout(() => r(window.__inline), 100));
    });
    assert.equal(ran, false, "an inline script ran");
    const csp = await p.cspViolations();
    assert.ok(csp.some((v) => v.startsWith("script-src")), `no script violation seen: ${csp}`);
    assert.ok(csp.some((v) => v.startsWith("style-src")), `no style violation seen: ${csp}`);
    await assert.rejects(() => p.check(), /the page had problems/);
  } finally {
    await p.close();
  }
});
