// Starts and stops a real tokend for the compatibility suite: a fresh database (SQLite in a
// temporary directory, or a fresh PostgreSQL database when TOKEND_TEST_POSTGRES_URL is set),
// a free loopback port, a known bootstrap key.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";

const BIN = process.env.TOKEND_BIN || new URL("../../build/debug/tokend", import.meta.url).pathname;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
  });
}

// extraEnv: more settings, over the defaults (the console suite's metrics listener).
export async function startTokend(extraEnv = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tokend-compat-"));
  const key = crypto.randomBytes(30).toString("hex");
  let database = "sqlite:" + path.join(dir, "tokend.db");
  let dropdb = null;
  const pg = process.env.TOKEND_TEST_POSTGRES_URL;
  if (pg) {
    const name = "compat_" + crypto.randomBytes(6).toString("hex");
    execFileSync("createdb", ["--maintenance-db=" + pg, name]);
    database = pg.replace(/\/[^/]*$/, "/" + name);
    dropdb = () => execFileSync("dropdb", ["--if-exists", "--maintenance-db=" + pg, name]);
  }
  const port = await freePort();
  const env = { ...process.env, TOKEND_DATABASE: database, TOKEND_LISTEN: `127.0.0.1:${port}`,
                TOKEND_BOOTSTRAP_TOKEN: key, TOKEND_SECRET_KEY: "compat-" + key,
                // suites run side by side: no metrics listener on the shared default port
                TOKEND_METRICS_LISTEN: "off", ...extraEnv };
  const proc = spawn(BIN, ["serve"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr.on("data", (d) => { log += d; });
  const deadline = Date.now() + 10000;
  while (!(await canConnect(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`tokend did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port, key, env,
    log: () => log,
    basePath: `http://127.0.0.1:${port}/api/v3`,
    cli(...args) {
      return execFileSync(BIN, args, { env }).toString().trim();
    },
    async stop() {
      proc.kill("SIGTERM");
      const code = await new Promise((r) => proc.once("exit", (c) => r(c)));
      try { if (dropdb) dropdb(); } finally { rmSync(dir, { recursive: true, force: true }); }
      if (code !== 0) throw new Error(`tokend exited ${code}: ${log}`);
      if (/AddressSanitizer|runtime error:/.test(log)) throw new Error(`sanitizer report: ${log}`);
    },
  };
}
