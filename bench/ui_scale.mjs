// The web UI at catalog size (issue 23), measured in Debian's chromium (playwright-core):
// 1,000 services x 100 instances = 100,000 instances registered by loadgen, then
//   - the first view: from navigation to the overview's counts, every service in the diagram
//     and the list's first screenful; and until the whole list is there,
//   - the bytes the page read for it, and per update afterwards (CDP Network events: the
//     bytes on the wire, headers included),
//   - the time from an instance turning critical (PUT /v1/agent/check/fail) to the page
//     showing its service critical, several rounds,
//   - a keystroke in the search box until the list is filtered,
//   - a service page (100 instances): time to show it, and its bytes,
//   - the page's JS heap after a garbage collection,
//   - for comparison, what the whole-catalog lists (/v1/agent/services + /v1/agent/checks)
//     weigh: what a UI that re-reads the catalog on every change would move.
// A benchmark, not a test: it prints figures (and JSON with --json) and asserts nothing.
//
//   CONCIERGE_BIN=build/release/src/cli/concierge LOADGEN_BIN=build/release/bench/loadgen \
//     node bench/ui_scale.mjs [--services 1000] [--per-service 100] [--rounds 10] [--json]
import { spawnSync } from "node:child_process";
import { logger, median, opt, runUiBench } from "./ui_bench.mjs";

const SERVICES = opt("services", 1000);
const PER_SERVICE = opt("per-service", 100);
const ROUNDS = opt("rounds", 10);
const N = SERVICES * PER_SERVICE;
const say = logger("ui_scale");

runUiBench("ui_scale", async ({ base, page, reads, bytesSince, heapMb }) => {
  const loadgen = process.env.LOADGEN_BIN;
  if (!loadgen) throw new Error("set LOADGEN_BIN");
  const out = { services: SERVICES, instances: N };
  say(`agent at ${base}; registering ${N} instances in ${SERVICES} services`);
  const reg = spawnSync(
    loadgen,
    ["register", "--addr", base.replace("http://", ""), "--n", String(N), "--per-service", String(PER_SERVICE), "--ttl", "3600", "--conns", "16", "--depth", "4"],
    { encoding: "utf8" },
  );
  if (reg.status !== 0) throw new Error(`loadgen: ${reg.stderr}`);
  say(`registered: ${reg.stdout.trim()}`);

  // What the whole catalog weighs as the agent's two lists.
  const services = await (await fetch(`${base}/v1/agent/services`)).arrayBuffer();
  const checks = await (await fetch(`${base}/v1/agent/checks`)).arrayBuffer();
  out.whole_catalog_lists_bytes = services.byteLength + checks.byteLength;
  const full = await (await fetch(`${base}/v1/concierge/summary`)).arrayBuffer();
  out.summary_full_bytes = full.byteLength;
  // First view: the counts, every service in the diagram, and the list's first screenful
  // (the rest of the list follows a chunk per frame); then the whole list.
  const t0 = Date.now();
  await page.goto(`${base}/ui/`);
  await page.waitForFunction(
    (n) =>
      document.querySelector("main .summary")?.textContent.includes(`${n.toLocaleString("en")} services`) &&
      document.querySelectorAll("table.services tbody tr").length >= Math.min(n, 60) &&
      document.querySelectorAll("main svg.topology [data-service]").length === n,
    SERVICES,
    { polling: "raf", timeout: 120000 },
  );
  out.first_view_ms = Math.round(await page.evaluate(() => performance.now()));
  out.first_view_wall_ms = Date.now() - t0;
  await page.waitForFunction((n) => document.querySelectorAll("table.services tbody tr").length === n, SERVICES, {
    polling: "raf",
    timeout: 120000,
  });
  out.whole_list_ms = Math.round(await page.evaluate(() => performance.now()));
  out.first_view_bytes = bytesSince(0);
  say(`first view: ${out.first_view_ms} ms after navigation (${out.first_view_wall_ms} ms wall), the whole list at ${out.whole_list_ms} ms; ${out.first_view_bytes} bytes read`);
  await page.waitForTimeout(1500);

  // An instance turns critical: until its service's row says so.
  const lat = [];
  out.load_average = (await import("node:os")).loadavg()[0];
  const updateBytes = [];
  for (let r = 0; r < ROUNDS; r++) {
    const svc = (r * 97 + 13) % SERVICES;
    const inst = svc * PER_SERVICE + 50;
    const mark = reads.length;
    const sent = Date.now();
    const f = await fetch(`${base}/v1/agent/check/fail/service:i-${inst}?note=bench`, { method: "PUT" });
    if (!f.ok) throw new Error(`fail: ${f.status}`);
    // Both the list's row and the diagram's node say critical.
    const shown = await page.waitForFunction(
      (name) =>
        document.querySelector(`table.services tr[data-service="${name}"][data-status="critical"]`) !== null &&
        document.querySelector(`main svg.topology [data-service="${name}"][data-status="critical"]`) !== null &&
        Date.now(),
      `i-svc-${svc}`,
      { polling: "raf", timeout: 10000 },
    );
    lat.push((await shown.jsonValue()) - sent);
    await page.waitForTimeout(300);
    updateBytes.push(bytesSince(mark, (u) => u.includes("/v1/concierge/summary")));
    await fetch(`${base}/v1/agent/check/pass/service:i-${inst}`, { method: "PUT" });
    await page.waitForTimeout(300);
  }
  out.critical_to_shown_ms = { median: median(lat), max: Math.max(...lat), rounds: lat };
  out.bytes_per_update = { median: median(updateBytes), max: Math.max(...updateBytes) };
  say(`critical -> shown: median ${median(lat)} ms, max ${Math.max(...lat)} ms; bytes per update: median ${median(updateBytes)}`);

  // A keystroke in the search box: the list is filtered (the diagram follows 150 ms later).
  out.search_keystroke_ms = await page.evaluate(async () => {
    const input = document.querySelector("input[type=search]");
    const times = [];
    for (const q of ["i-svc-4", "i-svc-41", "i-svc-417", ""]) {
      const t = performance.now();
      input.value = q;
      input.dispatchEvent(new Event("input"));
      await new Promise((r) => requestAnimationFrame(() => r()));
      times.push(Math.round(performance.now() - t));
      await new Promise((r) => setTimeout(r, 400));
    }
    return times;
  });
  say(`search keystroke to filtered list: ${out.search_keystroke_ms.join(", ")} ms`);

  // The JS heap of the overview, after a collection.
  out.js_heap_overview_mb = await heapMb();
  say(`JS heap (overview): ${out.js_heap_overview_mb} MB`);

  // A service page of 100 instances.
  const mark = reads.length;
  const ts = Date.now();
  await page.evaluate(() => (location.hash = "#/service/i-svc-500"));
  await page.waitForFunction((n) => document.querySelectorAll("article.instance").length === Math.min(n, 100), PER_SERVICE, {
    polling: "raf",
    timeout: 20000,
  });
  out.service_page_ms = Date.now() - ts;
  await page.waitForTimeout(1200);
  out.service_page_bytes = bytesSince(mark, (u) => u.includes("/v1/health/service/"));
  out.heartbeat_poll_bytes = reads.slice(mark).filter((r) => r.url.includes("/v1/concierge/heartbeats")).map((r) => r.bytes)[0] ?? 0;
  out.js_heap_service_page_mb = await heapMb();
  say(`service page (${PER_SERVICE} instances): ${out.service_page_ms} ms, ${out.service_page_bytes} bytes; heartbeat ages poll ${out.heartbeat_poll_bytes} bytes/s; heap ${out.js_heap_service_page_mb} MB`);
  say(`for comparison: the whole catalog as /v1/agent/services + /v1/agent/checks = ${out.whole_catalog_lists_bytes} bytes; the full summary = ${out.summary_full_bytes} bytes`);
  return out;
});
