// Browser test of the web UI (issue 11): Debian's chromium driven by playwright-core against
// the real agent. Registers instances through the API, sees them on the page and in the
// topology diagram, stops one's heartbeats and sees it turn critical (as text, not only
// colour), deregisters one through the UI's confirmation, and saves a screenshot of the
// diagram to docs/ui-topology.png.
//
//   CONCIERGE_BIN=build/release/src/cli/concierge node tests/ui/ui_test.mjs
//
// Installs what it needs when missing (apt-get install chromium; npm ci here for
// playwright-core, never a browser download) and exits 77 (skipped) only if chromium cannot
// be installed.
import { join } from "node:path";
import { api, browserTest, check, eventually, log, repo } from "./harness.mjs";

const screenshot = process.env.UI_SCREENSHOT ?? join(repo, "docs/ui-topology.png");

browserTest({ name: "ui" }, async ({ base, page }) => {
  const beating = new Set();
  let heartbeats;
  try {
    // The files: redirects, types, caching.
    let r = await fetch(base + "/", { redirect: "manual" });
    check(r.status === 302 && r.headers.get("location") === "/ui/", "/ redirects to /ui/");
    r = await fetch(base + "/ui/");
    const html = await r.text();
    check(r.status === 200 && r.headers.get("content-type").startsWith("text/html"), "/ui/ is HTML");
    const etag = r.headers.get("etag");
    r = await fetch(base + "/ui/", { headers: { "If-None-Match": etag } });
    check(r.status === 304, "/ui/ answers 304 to its ETag");
    const js = html.match(/src="(\/ui\/assets\/[^"]+\.js)"/)[1];
    r = await fetch(base + js);
    check(
      r.headers.get("content-type").startsWith("text/javascript") &&
        r.headers.get("cache-control").includes("immutable"),
      "hashed assets are JavaScript, cached as immutable",
    );

    // Instances: three of web, two of api, one of db, with 3 s TTLs.
    const instances = [
      ["web", "web-1", 8081, ["v2", "primary"]],
      ["web", "web-2", 8082, ["v2"]],
      ["web", "web-3", 8083, ["v2"]],
      ["api", "api-1", 9001, ["grpc"]],
      ["api", "api-2", 9002, ["grpc"]],
      ["db", "db-1", 5432, ["postgres"]],
    ];
    for (const [name, id, port, tags] of instances) {
      await api(base, "PUT", "/v1/agent/service/register", {
        Name: name,
        ID: id,
        Address: "10.0.0." + (port % 100),
        Port: port,
        Tags: tags,
        Meta: { version: "1.4.2", zone: port % 2 ? "eu-1a" : "eu-1b" },
        Check: { TTL: "3s", Status: "passing", DeregisterCriticalServiceAfter: "10m" },
      });
      beating.add(id);
    }
    await api(base, "PUT", "/v1/agent/check/warn/service:api-2?note=" + encodeURIComponent("queue depth 920 > 500"));
    heartbeats = setInterval(() => {
      for (const id of beating) {
        const verb = id === "api-2" ? "warn" : "pass";
        fetch(`${base}/v1/agent/check/${verb}/service:${id}`, { method: "PUT" }).catch(() => {});
      }
    }, 700);

    await page.goto(base + "/");
    check(page.url() === base + "/ui/", "the browser lands on /ui/");
    const web = page.locator('table.services tr[data-service="web"]');
    await web.getByText("3 passing").waitFor({ timeout: 10000 });
    check(true, "the services list shows web with 3 passing");
    await page.locator('table.services tr[data-service="api"]').getByText("1 warning").waitFor();
    check(true, "the services list shows api with 1 warning");
    for (const [, id] of instances) {
      await page.locator(`svg.topology [data-instance="${id}"]`).waitFor();
    }
    check(true, "the diagram shows every instance");
    await page.locator("#live.on").waitFor();
    check((await page.locator("#live").textContent()).includes("live"), "the page says it is live");

    // Heartbeats are drawn as they arrive.
    await page.locator("svg.topology circle.beat").first().waitFor({ state: "attached", timeout: 5000 });
    check(true, "heartbeats are drawn in the diagram as they arrive");

    // Stop web-3's heartbeats: critical after its 3 s TTL, in the list and the diagram.
    beating.delete("web-3");
    log("stopped heartbeats of web-3");
    let criticalAt = 0;
    await eventually(
      "the API to report web-3 critical",
      async () => {
        const entries = await api(base, "GET", "/v1/health/service/web");
        const e = entries.find((x) => x.Service.ID === "web-3");
        if (e && e.Checks.some((c) => c.Status === "critical")) criticalAt = Date.now();
        return criticalAt !== 0;
      },
      10000,
    );
    const node = page.locator('svg.topology [data-instance="web-3"][data-status="critical"]');
    await node.waitFor({ timeout: 3000 });
    const lag = Date.now() - criticalAt;
    log(`UI showed web-3 critical ${lag} ms after the API`);
    check(lag < 1500, "the diagram turns web-3 critical within a second of the change");
    check((await node.textContent()).includes("critical"), "the diagram says \"critical\" next to web-3");
    await web.getByText("1 critical").waitFor({ timeout: 2000 });
    check((await web.textContent()).includes("2 passing"), "the services list shows web: 2 passing, 1 critical");

    // The screenshot for docs/: healthy, warning and failed instances together.
    await page.waitForTimeout(1200);
    await page.locator("figure.topology-figure").screenshot({ path: screenshot });
    log(`screenshot: ${screenshot}`);

    // Keyboard: a service in the diagram opens with Enter.
    await page.locator('svg.topology [data-service="web"]').focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(/#\/service\/web$/);
    check(true, "Enter on a service in the diagram opens its page");
    const card = page.locator('article.instance[data-instance="web-3"]');
    await card.waitFor();
    check((await card.getAttribute("data-status")) === "critical", "the service page shows web-3 critical");
    check((await card.locator(".badge").first().textContent()).includes("critical"), "web-3's badge says critical");
    check((await card.textContent()).includes("eu-1a") && (await card.textContent()).includes("v2"), "the service page shows tags and meta");
    const age1 = await page.locator('[data-age="service:web-1"]').textContent();
    check(/just now|^[0-2]\.\d s ago/.test(age1), `web-1's last heartbeat is recent (${age1})`);
    const age3 = await page.locator('[data-age="service:web-3"]').textContent();
    check(/^\d+\.\d s ago|min/.test(age3) && parseFloat(age3) >= 3, `web-3's last heartbeat is old (${age3})`);

    // Maintenance: disabled with an explanation while the API answers 501.
    const maint = await fetch(base + "/v1/agent/service/maintenance/web-1");
    if (maint.status === 501) {
      const button = card.locator('[data-action="maintenance"]');
      check((await button.getAttribute("aria-disabled")) === "true", "the maintenance control is disabled (501)");
      check((await button.getAttribute("title")).includes("not supported"), "its tooltip says maintenance is not supported");
    }

    // Deregister behind a confirmation: Cancel keeps it, Deregister removes it.
    await card.locator('[data-action="deregister"]').click();
    const dialog = page.locator("dialog#confirm");
    await dialog.waitFor();
    check((await dialog.textContent()).includes("Deregister web-3?"), "a confirmation asks before deregistering");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await page.waitForTimeout(300);
    check((await api(base, "GET", "/v1/agent/services"))["web-3"] !== undefined, "Cancel keeps web-3");
    await card.locator('[data-action="deregister"]').focus();
    await page.keyboard.press("Enter");
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Deregister" }).click();
    await eventually("web-3 to leave the registry", async () => (await api(base, "GET", "/v1/agent/services"))["web-3"] === undefined, 5000);
    check(true, "confirming deregisters web-3 through the API");
    await card.waitFor({ state: "detached", timeout: 2000 });
    check(true, "web-3 disappears from the service page");
    await page.locator('nav a[data-nav="overview"]').click();
    await page.locator('svg.topology [data-instance="web-3"]').waitFor({ state: "detached", timeout: 3000 });
    check(true, "web-3 is gone from the diagram");
    await web.getByText("2 passing").waitFor({ timeout: 2000 });
    check(!(await web.textContent()).includes("1 critical"), "the services list shows web: 2 passing, none critical");

    // The node page: leader and peers.
    await page.locator('nav a[data-nav="node"]').click();
    await page.getByRole("heading", { name: "Peers (voters)" }).waitFor();
    const leader = await api(base, "GET", "/v1/status/leader");
    check((await page.locator("main").textContent()).includes(leader), `the node page shows the leader ${leader}`);
  } finally {
    clearInterval(heartbeats);
  }
});
