// Browser test of the web UI at catalog size (issue 23): 1,000 services. Finding one by typing
// its name, by tag and by status; filters in the URL; services in trouble first; the topology
// (services only, labels that do not overlap, zoom and pan, one Tab stop and arrow keys); a
// service page (instances, checks, tags, meta, TTL, heartbeat age, a transition with its
// reason); the node page (Raft index, self-preservation). Saves screenshots of the overview
// and of a service page.
//
//   CONCIERGE_BIN=build/release/src/cli/concierge node tests/ui/ui_scale_test.mjs
//
// Screenshots go to UI_SCREENSHOT_DIR (default docs/: ui-overview.png, ui-service.png).
import { join } from "node:path";
import { api, browserTest, check, eventually, log, registerMany, repo } from "./harness.mjs";

const shots = process.env.UI_SCREENSHOT_DIR ?? join(repo, "docs");
const SERVICES = 1000;
const words = ["checkout", "payments", "search", "catalog", "auth", "billing", "orders", "users", "cart", "ledger"];
const nameOf = (i) => `${words[i % words.length]}-${String(i).padStart(4, "0")}`;
// Services 7, 104, 201, ... have a critical instance; 13, 213, ... a warning one.
const criticalService = (i) => i % 97 === 7;
const warningService = (i) => i % 200 === 13;

browserTest({ name: "ui-scale" }, async ({ base, page }) => {
  // 1,000 services with 1 to 3 instances each; each service's first instance has a TTL check.
  const regs = [];
  for (let i = 0; i < SERVICES; i++) {
    const n = 1 + (i % 3);
    for (let j = 0; j < n; j++) {
      const status = j === 0 && criticalService(i) ? "critical" : j === 0 && warningService(i) ? "warning" : "passing";
      regs.push({
        Name: nameOf(i),
        ID: `${nameOf(i)}-${j}`,
        Address: `10.${(i >> 8) & 255}.${i & 255}.${j + 1}`,
        Port: 8000 + j,
        Tags: [`team-${i % 17}`, j === 0 ? "canary" : "stable"],
        Meta: { zone: `eu-${1 + (j % 3)}` },
        ...(j === 0 ? { Check: { TTL: "10m", Status: status } } : {}),
      });
    }
  }
  const started = Date.now();
  await registerMany(base, regs.length, (i) => regs[i]);
  log(`registered ${regs.length} instances of ${SERVICES} services in ${Date.now() - started} ms`);
  const critical = [...Array(SERVICES).keys()].filter(criticalService).map(nameOf);
  const warning = [...Array(SERVICES).keys()].filter(warningService).map(nameOf);

  await page.goto(base + "/ui/");
  const rows = page.locator("table.services tbody tr");
  await page.locator(".summary").getByText("1,000 services").waitFor({ timeout: 15000 });
  check(true, "the overview counts 1,000 services");
  await eventually("every service in the list", async () => (await rows.count()) === SERVICES, 10000);
  check(true, "the list shows all 1,000 services");

  // Trouble first, in the list and nearest the centre of the diagram.
  const first = await rows.evaluateAll((trs) => trs.slice(0, 20).map((tr) => tr.dataset.status));
  check(first.slice(0, critical.length).every((s) => s === "critical"), `the services with critical instances come first (${first.join(" ")})`);
  check(first.slice(critical.length, critical.length + warning.length).every((s) => s === "warning"), "then the ones with warnings");

  // The topology: services only (no instance at this size), one Tab stop.
  const svg = page.locator("main svg.topology");
  check((await svg.locator("[data-service]").count()) === SERVICES, "the diagram has a node per service");
  check((await svg.locator("[data-instance]").count()) === 0, "no instance is drawn for a catalog this size");
  check((await svg.locator('[tabindex="0"]').count()) === 1, "the diagram is one Tab stop");
  const overlaps = async () =>
    await page.evaluate(() => {
      const boxes = [...document.querySelectorAll("main svg.topology text.label")].map((t) => t.getBoundingClientRect());
      let n = 0;
      for (let i = 0; i < boxes.length; i++)
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i];
          const b = boxes[j];
          if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) n++;
        }
      return { labels: boxes.length, overlapping: n };
    });
  let o = await overlaps();
  check(o.labels > 0 && o.overlapping === 0, `labels drawn do not overlap (${o.labels} labels)`);
  const firstLabels = await svg.locator("text.label.service").evaluateAll((ts) => ts.slice(0, 3).map((t) => t.textContent));
  check(firstLabels.some((t) => t.includes("✕")), `the first labels are of services in trouble, with ✕ (${firstLabels.join(", ")})`);
  await page.screenshot({ path: join(shots, "ui-overview.png") });
  log(`screenshot: ${join(shots, "ui-overview.png")}`);

  // Zoom: the buttons, the keyboard and the wheel; more room gives more labels, still apart.
  const zoomOf = async () => Number(await svg.getAttribute("data-zoom"));
  const z0 = await zoomOf();
  await page.getByRole("button", { name: "Zoom out" }).click();
  check((await zoomOf()) < z0, `Zoom out zooms out (${z0} -> ${await zoomOf()})`);
  await page.getByRole("button", { name: "Fit the whole diagram" }).click();
  const zFit = await zoomOf();
  const labelsFit = Number(await svg.getAttribute("data-labels"));
  await page.getByRole("button", { name: "Zoom in" }).click();
  await page.getByRole("button", { name: "Zoom in" }).click();
  const zIn = await zoomOf();
  check(Math.abs(zIn / zFit - 2.56) < 0.01, `Zoom in twice zooms by 1.6² (${zFit} -> ${zIn})`);
  const box = await svg.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -300);
  await eventually("the wheel to zoom in", async () => (await zoomOf()) > zIn, 2000);
  check(true, `the wheel zooms in about the pointer (${zIn} -> ${await zoomOf()})`);
  const transform = async () => await svg.locator("g.viewport").getAttribute("transform");
  const t0 = await transform();
  await page.mouse.move(box.x + 300, box.y + 200);
  await page.mouse.down();
  await page.mouse.move(box.x + 420, box.y + 260, { steps: 5 });
  await page.mouse.up();
  check((await transform()) !== t0, "dragging pans the diagram");
  await page.waitForTimeout(200);
  o = await overlaps();
  const labelsIn = Number(await svg.getAttribute("data-labels"));
  check(o.overlapping === 0, `zoomed in, the labels still do not overlap (${labelsIn} labels; ${labelsFit} when fitted)`);

  // Keyboard: arrows move between services, Enter opens one.
  await svg.locator('[tabindex="0"]').focus();
  const before = await page.evaluate(() => document.activeElement.dataset.service);
  await page.keyboard.press("ArrowRight");
  const after = await page.evaluate(() => document.activeElement.dataset.service);
  check(before && after && before !== after, `ArrowRight moves from ${before} to ${after}`);
  check((await svg.locator('[tabindex="0"]').count()) === 1, "still one Tab stop after moving");
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`#/service/${after}$`));
  check(true, `Enter opens ${after}'s page`);
  await page.goBack();

  // Search: typing one service's name narrows the list to it, as one types.
  const search = page.getByRole("searchbox");
  check((await search.count()) === 1, "the overview has a search box (role searchbox)");
  const target = nameOf(417);
  const t = Date.now();
  await search.fill("");
  await search.pressSequentially(target, { delay: 20 });
  await eventually("the list to narrow to one service", async () => (await rows.count()) === 1, 5000);
  log(`typing ${target} narrowed the list in ${Date.now() - t} ms (including typing)`);
  check((await rows.first().getAttribute("data-service")) === target, `typing "${target}" narrows the list to ${target}`);
  await eventually("the diagram to narrow too", async () => (await svg.locator("[data-service]").count()) === 1, 3000);
  check(true, "the diagram shows that one service");
  check(page.url().includes(`q=${target}`), `the filter is in the URL (${page.url()})`);
  await page.reload();
  await rows.first().waitFor({ timeout: 10000 });
  await eventually("the reloaded page to apply the filter", async () => (await rows.count()) === 1, 5000);
  check((await search.inputValue()) === target, "a reload (or a shared link) keeps the filter");

  // By tag, by status word, and with the status filter.
  await search.fill("tag:team-3");
  const team3 = [...Array(SERVICES).keys()].filter((i) => i % 17 === 3).length;
  await eventually("the tag filter", async () => (await rows.count()) === team3, 5000);
  check(true, `tag:team-3 finds the ${team3} services of team 3`);
  await search.fill("payments critical");
  const paymentsCritical = critical.filter((n) => n.startsWith("payments")).length;
  await eventually("name and status words", async () => (await rows.count()) === paymentsCritical, 5000);
  check(true, `"payments critical" finds ${paymentsCritical} services`);
  await search.fill("");
  await page.locator("#status-filter").selectOption("critical");
  await eventually("the status filter", async () => (await rows.count()) === critical.length, 5000);
  const statuses = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.status));
  check(statuses.every((s) => s === "critical"), `the status filter shows only the ${critical.length} services with critical instances`);
  check(page.url().includes("status=critical"), "the status filter is in the URL");
  check((await page.locator("main .count").textContent()).includes(`Showing ${critical.length} of 1,000`), "the page says how many are shown");
  await page.goto(`${base}/ui/#/?status=warning&q=${encodeURIComponent(warning[0])}`);
  await eventually("a link with filters", async () => (await rows.count()) === 1, 5000);
  check((await page.locator("#status-filter").inputValue()) === "warning", "a link with ?status=warning&q=... opens with those filters");

  // A service page: instances, checks, tags, meta, TTL, heartbeat age; a transition appears
  // with its reason when an instance turns critical while the page is open.
  const svc = nameOf(419); // 3 instances, the first with a TTL check
  await page.goto(`${base}/ui/#/service/${svc}`);
  const card = page.locator(`article.instance[data-instance="${svc}-0"]`);
  await card.waitFor({ timeout: 5000 });
  check((await page.locator("article.instance").count()) === 3, "the service page lists its 3 instances");
  const cardText = await card.textContent();
  check(cardText.includes("team-") && cardText.includes("canary") && cardText.includes("zone=eu-1"), "it shows tags and meta");
  check(cardText.includes("10m0s") || cardText.includes("10m"), `it shows the TTL (${cardText.match(/\d+m\S*/)?.[0]})`);
  await eventually("a heartbeat age", async () => /ago|just now/.test(await card.locator(`[data-age="service:${svc}-0"]`).textContent()), 3000);
  check(true, `it shows the time since the last heartbeat (${await card.locator(`[data-age="service:${svc}-0"]`).textContent()})`);
  check((await page.locator("main svg.topology [data-instance]").count()) === 3, "the opened service's instances are drawn");
  const reason = "disk full on /var (98%)";
  await api(base, "PUT", `/v1/agent/check/fail/service:${svc}-0?note=${encodeURIComponent(reason)}`);
  const row = page.locator(`table.transitions tr[data-transition="${svc}-0:critical"]`);
  await row.waitFor({ timeout: 3000 });
  const rowText = await row.textContent();
  check(rowText.includes("passing") && rowText.includes("critical") && rowText.includes(reason), `the transition shows passing → critical and its reason (${rowText})`);
  await page.locator(`main svg.topology [data-instance="${svc}-0"][data-status="critical"]`).waitFor({ timeout: 3000 });
  check((await card.getAttribute("data-status")) === "critical", "the instance turns critical on the page");
  check((await card.locator(".badge").first().textContent()).includes("✕"), "its status has a symbol and a word (✕ critical)");
  // The keyboard in the service's diagram: Enter on an instance focuses its card.
  await page.locator('main svg.topology [tabindex="0"]').focus();
  check((await page.evaluate(() => document.activeElement.dataset.instance)) === `${svc}-0`, "the diagram's Tab stop is the instance in trouble");
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`#/service/${svc}/${svc}-0$`));
  await eventually("the card to take the focus", async () => (await page.evaluate(() => document.activeElement.dataset.instance)) === `${svc}-0` && (await page.evaluate(() => document.activeElement.tagName)) === "ARTICLE", 3000);
  check(true, "Enter on it focuses its card");
  await page.waitForTimeout(300);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, "ui-service.png") });
  log(`screenshot: ${join(shots, "ui-service.png")}`);

  // Back to the overview: the summary counted the new critical instance.
  await page.locator("a.back").click();
  await search.waitFor();
  check((await search.inputValue()) === warning[0], "the way back keeps the overview's filters");
  await search.fill("");
  await page.locator("#status-filter").selectOption("critical");
  await eventually("the new critical service in the filter", async () => (await rows.count()) === critical.length + 1, 5000);
  check(true, `${svc} is now among the services with critical instances`);

  // The node page: servers, leader, Raft index, self-preservation.
  await page.locator('nav a[data-nav="node"]').click();
  await page.getByRole("heading", { name: "Peers (voters)" }).waitFor();
  const stat = await page.locator('[data-stat="index"]').textContent();
  check(Number(stat) > regs.length, `the node page shows the Raft index (${stat})`);
  check((await page.locator('[data-stat="self-preservation"]').textContent()).includes("off"), "and self-preservation (off)");
  check((await page.locator("table.servers").textContent()).includes("leader"), "and the leader among the servers");
});
