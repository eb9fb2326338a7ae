// What the browser tests of the web UI share: a test's setup and cleanup (browserTest),
// chromium and playwright-core (installed when missing), the agent on a free port, and small
// assertions.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const chromiumPath = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
export const SKIP = 77;

export function log(...args) {
  console.log(`[ui_test ${new Date().toISOString().slice(11, 23)}]`, ...args);
}

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

export function check(cond, message) {
  if (!cond) fail(message);
  log(`ok: ${message}`);
}

export function ensureChromium() {
  if (existsSync(chromiumPath)) return true;
  log(`${chromiumPath} is missing: installing Debian's chromium`);
  const root = process.getuid?.() === 0;
  const sudo = root ? [] : ["sudo"];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args) => {
    const cmd = [...sudo, ...args];
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: "inherit", env });
    return r.status === 0;
  };
  run(["apt-get", "update", "-qq"]);
  run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]);
  return existsSync(chromiumPath);
}

export async function loadPlaywright() {
  const modulePath = join(here, "node_modules/playwright-core/index.mjs");
  if (!existsSync(modulePath)) {
    log("playwright-core is missing: npm ci in tests/ui");
    const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: here, stdio: "inherit" });
    if (r.status !== 0) fail("npm ci in tests/ui failed (is the npm registry reachable?)");
  }
  return await import(modulePath);
}

export function startAgent(bin, extraArgs = []) {
  return new Promise((resolvePort, reject) => {
    const agent = spawn(bin, ["agent", "-dev", "-http-addr", "127.0.0.1:0", "-dns-port", "-1", ...extraArgs], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${buffered}`)), 20000);
    const onData = (chunk) => {
      buffered += chunk.toString();
      const m = buffered.match(/HTTP API listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolvePort({ agent, base: `http://127.0.0.1:${m[1]}` });
      }
    };
    agent.stdout.on("data", onData);
    agent.stderr.on("data", onData);
    agent.on("exit", (code) => reject(new Error(`agent exited with ${code}:\n${buffered}`)));
  });
}

export async function api(base, method, path, body, token) {
  const r = await fetch(base + path, {
    method,
    headers: token ? { "X-Consul-Token": token } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) fail(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function eventually(what, f, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await f()) return;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Debian's chromium, headless, with a fresh profile.
export async function launchBrowser(chromium, profile) {
  return await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    viewport: { width: 1200, height: 1000 },
  });
}

// Registers many instances quickly: `make(i)` returns the registration body of the i-th;
// `inFlight` requests at a time (Node's fetch keeps the connections alive).
export async function registerMany(base, count, make, inFlight = 32) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const r = await fetch(base + "/v1/agent/service/register", { method: "PUT", body: JSON.stringify(make(i)) });
      if (!r.ok) fail(`register #${i}: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

// Failed requests every test expects: the maintenance probe (501 until that API exists) and
// /v1/agent/members (404 without a cluster).
export const expectedEverywhere = (url) => /\/v1\/agent\/service\/maintenance\/|\/v1\/agent\/members$/.test(url);

// One browser test from start to end: CONCIERGE_BIN checked, chromium and playwright-core
// installed when missing (exit 77 if chromium cannot be), the agent started with `agentArgs`,
// chromium on a fresh profile, and `body({ agent, base, page, context })` run. The page's
// errors are collected (uncaught exceptions, console errors, and answers of 400 or more whose
// URL and status `expected` does not accept) and must be none. The browser, the agent and the
// profile are cleaned up whatever happens; a failure exits 1.
export function browserTest({ name, agentArgs = [], expected = () => false }, body) {
  run(name, agentArgs, expected, body).catch((e) => {
    if (!process.exitCode) console.error(e);
    process.exit(1);
  });
}

async function run(name, agentArgs, expected, body) {
  const bin = process.env.CONCIERGE_BIN;
  if (!bin || !existsSync(bin)) fail("set CONCIERGE_BIN to the concierge binary");
  if (!ensureChromium()) {
    console.log(`SKIP: ${chromiumPath} is not installed and apt-get could not install chromium`);
    process.exit(SKIP);
  }
  const { chromium } = await loadPlaywright();
  const { agent, base } = await startAgent(bin, agentArgs);
  log(`agent at ${base}`);
  const profile = mkdtempSync(join(tmpdir(), `concierge-${name}-profile-`));
  let context;
  try {
    context = await launchBrowser(chromium, profile);
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
    });
    page.on("response", (r) => {
      if (r.status() >= 400 && !expectedEverywhere(r.url()) && !expected(r.url(), r.status())) errors.push(`${r.status()} ${r.url()}`);
    });
    await body({ agent, base, page, context });
    check(errors.length === 0, `no errors in the page (${errors.join("; ")})`);
    log("PASS");
  } finally {
    if (context) await context.close().catch(() => {});
    agent.kill("SIGTERM");
    rmSync(profile, { recursive: true, force: true });
  }
}

// Enters a token in the page's token dialog (a token the agent refuses leaves it open).
export async function enterToken(page, secret) {
  await page.locator("#token-button").click();
  await page.locator("#token-input").fill(secret);
  await page.locator("#token-save").click();
}

export async function logOut(page) {
  await page.locator("#token-button").click();
  await page.locator("#token-logout").click();
}
