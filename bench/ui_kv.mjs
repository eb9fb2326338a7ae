// The web UI's KV browser with a large folder (issue 23), measured in Debian's chromium
// (playwright-core): a folder of --keys keys (10,000 by default, written with /v1/txn), then
//   - the first view: from navigation to #/kv/cfg/ until the folder's count and its first 500
//     rows are shown, and the bytes of its listing,
//   - a key written into the folder by another client until the page counts it, several
//     rounds, and the bytes each update moves (the folder's blocking ?keys query answers
//     with the whole listing again: Consul's API has no delta),
//   - a key deleted elsewhere in the store: the folder's watcher wakes too (the KV store
//     keeps no tombstones, docs/kv.md) and reads the same listing again; its bytes,
//   - a key's page with a 512 KiB value (shown in part): time, bytes, whether a write to
//     another key wakes it (it should not), and what a delete of another key costs it,
//   - the page's JS heap after a garbage collection, for each page.
// A benchmark, not a test: it prints figures (and JSON with --json) and asserts nothing.
//
//   CONCIERGE_BIN=build/release/src/cli/concierge node bench/ui_kv.mjs [--keys 10000] [--rounds 10] [--json]
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ensureChromium, launchBrowser, loadPlaywright, startAgent } from "../tests/ui/harness.mjs";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const KEYS = opt("keys", 10000);
const ROUNDS = opt("rounds", 10);
const SHOWN = 500; // the rows a folder lists until asked for all (ui/src/kv.ts)

function say(...a) {
  console.error(`[ui_kv ${new Date().toISOString().slice(11, 19)}]`, ...a);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

// Writes keys 128 to a transaction (the most one may hold).
async function seed(base, keys, value) {
  const b64 = Buffer.from(value).toString("base64");
  for (let i = 0; i < keys.length; i += 128) {
    const ops = keys.slice(i, i + 128).map((Key) => ({ KV: { Verb: "set", Key, Value: b64 } }));
    const r = await fetch(`${base}/v1/txn`, { method: "PUT", body: JSON.stringify(ops) });
    if (!r.ok) throw new Error(`txn: ${r.status} ${await r.text()}`);
  }
}

async function main() {
  const bin = process.env.CONCIERGE_BIN;
  if (!bin) throw new Error("set CONCIERGE_BIN");
  if (!ensureChromium()) throw new Error("chromium is not installed");
  const { chromium } = await loadPlaywright();
  const { agent, base } = await startAgent(bin);
  const profile = mkdtempSync(join(tmpdir(), "concierge-ui-kv-bench-"));
  let context;
  const out = { keys: KEYS };
  try {
    const t = Date.now();
    const names = Array.from({ length: KEYS }, (_, i) => `cfg/key-${String(i).padStart(6, "0")}`);
    await seed(base, names, "value");
    await seed(base, Array.from({ length: ROUNDS }, (_, i) => `other/key-${i}`), "x");
    const blob = "0123456789abcdef\n".repeat(Math.floor((512 * 1024) / 17));
    const put = await fetch(`${base}/v1/kv/blob`, { method: "PUT", body: blob });
    if (!put.ok) throw new Error(`blob: ${put.status} ${await put.text()}`);
    say(`agent at ${base}; ${KEYS} keys in cfg/ and a ${blob.length}-byte value in ${Date.now() - t} ms`);
    const listing = await (await fetch(`${base}/v1/kv/cfg/?keys&separator=/`)).arrayBuffer();
    out.listing_bytes = listing.byteLength;

    context = await launchBrowser(chromium, profile);
    const page = context.pages()[0] ?? (await context.newPage());
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    const urls = new Map();
    const reads = []; // {url, bytes}
    cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, e.request.url));
    cdp.on("Network.loadingFinished", (e) => reads.push({ url: urls.get(e.requestId) ?? "", bytes: e.encodedDataLength }));
    const since = (i, part) => reads.slice(i).filter((r) => r.url.includes(part));
    const bytes = (list) => list.reduce((n, r) => n + r.bytes, 0);
    const heapMb = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      return +((await cdp.send("Runtime.getHeapUsage")).usedSize / 1048576).toFixed(1);
    };
    const counted = (n) =>
      page.waitForFunction((k) => document.querySelector("main p.count")?.textContent.startsWith(`${k.toLocaleString("en")} keys`) && Date.now(), n, {
        polling: "raf",
        timeout: 30000,
      });

    // First view of the folder.
    await page.goto(`${base}/ui/#/kv/cfg/`);
    await page.waitForFunction(
      ([k, shown]) =>
        document.querySelector("main p.count")?.textContent.startsWith(`${k.toLocaleString("en")} keys`) &&
        document.querySelectorAll("table.kv-list tbody tr").length === shown,
      [KEYS, Math.min(KEYS, SHOWN)],
      { polling: "raf", timeout: 60000 },
    );
    out.first_view_ms = Math.round(await page.evaluate(() => performance.now()));
    out.first_view_listing_bytes = bytes(since(0, "/v1/kv/cfg/"));
    out.js_heap_folder_mb = await heapMb();
    say(`folder of ${KEYS} keys: first view ${out.first_view_ms} ms after navigation; listing ${out.first_view_listing_bytes} bytes on the wire; heap ${out.js_heap_folder_mb} MB`);
    await page.waitForTimeout(500);

    // Another client writes into the folder: until the page counts the new key.
    out.load_average = loadavg()[0];
    const lat = [];
    const perUpdate = [];
    for (let r = 0; r < ROUNDS; r++) {
      const mark = reads.length;
      const sent = Date.now();
      const w = await fetch(`${base}/v1/kv/cfg/new-${r}`, { method: "PUT", body: "1" });
      if (!w.ok) throw new Error(`put: ${w.status}`);
      const shown = await counted(KEYS + r + 1);
      lat.push((await shown.jsonValue()) - sent);
      await page.waitForTimeout(300);
      perUpdate.push(bytes(since(mark, "/v1/kv/cfg/")));
    }
    out.write_to_shown_ms = { median: median(lat), max: Math.max(...lat), rounds: lat };
    out.bytes_per_update = median(perUpdate);
    say(`a key written into the folder -> counted: median ${median(lat)} ms, max ${Math.max(...lat)} ms; ${median(perUpdate)} bytes per update`);

    // A delete elsewhere: the folder's watcher wakes and reads the same listing.
    const wakes = [];
    for (let r = 0; r < ROUNDS; r++) {
      const mark = reads.length;
      await fetch(`${base}/v1/kv/other/key-${r}`, { method: "DELETE" });
      await page.waitForTimeout(400);
      wakes.push(bytes(since(mark, "/v1/kv/cfg/")));
    }
    out.delete_elsewhere_bytes = median(wakes);
    say(`a key deleted outside the folder: ${median(wakes)} bytes read again by the folder page`);

    // A key's page with a 512 KiB value.
    let mark = reads.length;
    const ts = Date.now();
    await page.evaluate(() => (location.hash = "#/kv/blob"));
    await page.locator('[data-kv="truncated"]').waitFor({ timeout: 30000 });
    out.key_page_ms = Date.now() - ts;
    out.key_page_bytes = bytes(since(mark, "/v1/kv/blob"));
    out.key_page_value_chars_shown = (await page.locator('[data-kv="value"]').textContent()).length;
    out.js_heap_key_page_mb = await heapMb();
    mark = reads.length;
    await fetch(`${base}/v1/kv/cfg/unrelated`, { method: "PUT", body: "1" });
    await page.waitForTimeout(500);
    out.key_page_wakes_on_other_write = since(mark, "/v1/kv/blob").length;
    mark = reads.length;
    await fetch(`${base}/v1/kv/cfg/unrelated`, { method: "DELETE" });
    await page.waitForTimeout(500);
    out.key_page_bytes_on_other_delete = bytes(since(mark, "/v1/kv/blob"));
    say(
      `key page (${blob.length}-byte value): ${out.key_page_ms} ms, ${out.key_page_bytes} bytes, ${out.key_page_value_chars_shown} characters shown; ` +
        `heap ${out.js_heap_key_page_mb} MB; reads after a write to another key: ${out.key_page_wakes_on_other_write}; ` +
        `bytes read again after a delete of another key: ${out.key_page_bytes_on_other_delete}`,
    );
    if (args.includes("--json")) console.log(JSON.stringify(out, null, 2));
  } finally {
    if (context) await context.close().catch(() => {});
    agent.kill("SIGTERM");
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
