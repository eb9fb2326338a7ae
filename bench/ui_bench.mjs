// What the web UI's benchmarks (ui_scale.mjs, ui_kv.mjs) share: their options, medians, a log
// line, and a run with the agent and Debian's chromium (playwright-core) in which every read
// of the page is recorded from CDP's Network events: its URL and its bytes on the wire,
// headers included.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureChromium, launchBrowser, loadPlaywright, startAgent } from "../tests/ui/harness.mjs";

const args = process.argv.slice(2);

// The number after --name on the command line, or `def`.
export function opt(name, def) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

// A function that logs to stderr, each line named and timed (stdout is for --json).
export function logger(name) {
  return (...a) => console.error(`[${name} ${new Date().toISOString().slice(11, 19)}]`, ...a);
}

// Runs `body({ base, page, cdp, reads, bytesSince, heapMb })` against a fresh agent with a
// fresh browser profile; the figures it returns are printed as JSON with --json. The browser,
// the agent and the profile are cleaned up whatever happens; an error exits 1.
//   reads: every finished read of the page, { url, bytes }, in order;
//   bytesSince(mark, take): the bytes of reads[mark…] whose URL `take` accepts (default all);
//   heapMb(): the page's JS heap after a garbage collection, in MB.
export function runUiBench(name, body) {
  run(name, body).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

async function run(name, body) {
  const bin = process.env.CONCIERGE_BIN;
  if (!bin) throw new Error("set CONCIERGE_BIN");
  if (!ensureChromium()) throw new Error("chromium is not installed");
  const { chromium } = await loadPlaywright();
  const { agent, base } = await startAgent(bin);
  const profile = mkdtempSync(join(tmpdir(), `concierge-${name}-bench-`));
  let context;
  try {
    context = await launchBrowser(chromium, profile);
    const page = context.pages()[0] ?? (await context.newPage());
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    const urls = new Map();
    const reads = [];
    cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, e.request.url));
    cdp.on("Network.loadingFinished", (e) => reads.push({ url: urls.get(e.requestId) ?? "", bytes: e.encodedDataLength }));
    const bytesSince = (mark, take = () => true) => reads.slice(mark).filter((r) => take(r.url)).reduce((n, r) => n + r.bytes, 0);
    const heapMb = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      return +((await cdp.send("Runtime.getHeapUsage")).usedSize / 1048576).toFixed(1);
    };
    const out = await body({ base, page, cdp, reads, bytesSince, heapMb });
    if (args.includes("--json")) console.log(JSON.stringify(out, null, 2));
  } finally {
    if (context) await context.close().catch(() => {});
    agent.kill("SIGTERM");
    rmSync(profile, { recursive: true, force: true });
  }
}
