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
import { loadavg } from "node:os";
import { logger, median, opt, runUiBench } from "./ui_bench.mjs";

const KEYS = opt("keys", 10000);
const ROUNDS = opt("rounds", 10);
const SHOWN = 500; // the rows a folder lists until asked for all (ui/src/kv.ts)
const say = logger("ui_kv");

// Writes keys 128 to a transaction (the most one may hold).
async function seed(base, keys, value) {
  const b64 = Buffer.from(value).toString("base64");
  for (let i = 0; i < keys.length; i += 128) {
    const ops = keys.slice(i, i + 128).map((Key) => ({ KV: { Verb: "set", Key, Value: b64 } }));
    const r = await fetch(`${base}/v1/txn`, { method: "PUT", body: JSON.stringify(ops) });
    if (!r.ok) throw new Error(`txn: ${r.status} ${await r.text()}`);
  }
}

runUiBench("ui_kv", async ({ base, page, reads, bytesSince, heapMb }) => {
  const out = { keys: KEYS };
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
  out.first_view_listing_bytes = bytesSince(0, (u) => u.includes("/v1/kv/cfg/"));
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
    perUpdate.push(bytesSince(mark, (u) => u.includes("/v1/kv/cfg/")));
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
    wakes.push(bytesSince(mark, (u) => u.includes("/v1/kv/cfg/")));
  }
  out.delete_elsewhere_bytes = median(wakes);
  say(`a key deleted outside the folder: ${median(wakes)} bytes read again by the folder page`);

  // A key's page with a 512 KiB value.
  let mark = reads.length;
  const ts = Date.now();
  await page.evaluate(() => (location.hash = "#/kv/blob"));
  await page.locator('[data-kv="truncated"]').waitFor({ timeout: 30000 });
  out.key_page_ms = Date.now() - ts;
  out.key_page_bytes = bytesSince(mark, (u) => u.includes("/v1/kv/blob"));
  out.key_page_value_chars_shown = (await page.locator('[data-kv="value"]').textContent()).length;
  out.js_heap_key_page_mb = await heapMb();
  mark = reads.length;
  await fetch(`${base}/v1/kv/cfg/unrelated`, { method: "PUT", body: "1" });
  await page.waitForTimeout(500);
  out.key_page_wakes_on_other_write = reads.slice(mark).filter((r) => r.url.includes("/v1/kv/blob")).length;
  mark = reads.length;
  await fetch(`${base}/v1/kv/cfg/unrelated`, { method: "DELETE" });
  await page.waitForTimeout(500);
  out.key_page_bytes_on_other_delete = bytesSince(mark, (u) => u.includes("/v1/kv/blob"));
  say(
    `key page (${blob.length}-byte value): ${out.key_page_ms} ms, ${out.key_page_bytes} bytes, ${out.key_page_value_chars_shown} characters shown; ` +
      `heap ${out.js_heap_key_page_mb} MB; reads after a write to another key: ${out.key_page_wakes_on_other_write}; ` +
      `bytes read again after a delete of another key: ${out.key_page_bytes_on_other_delete}`,
  );
  return out;
});
