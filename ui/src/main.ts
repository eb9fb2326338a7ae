import "./style.css";
import { getJson, Store, worst } from "./api";
import type { Instance, Status } from "./api";
import { h } from "./dom";
import { badge, formatAge } from "./status";
import { Topology } from "./topology";

const store = new Store();
const main = document.getElementById("main")!;
const live = document.getElementById("live")!;
const announcer = document.getElementById("announce")!;
let leader = "";
const topology = new Topology(store, () => leader);
// Whether PUT /v1/agent/service/maintenance/:id exists; a GET answers 501 while it does not.
let maintenance: "unknown" | "supported" | "unsupported" = "unknown";

type Route = { view: "overview" } | { view: "service"; name: string } | { view: "node" };

function route(): Route {
  const hash = location.hash.replace(/^#/, "");
  const m = hash.match(/^\/service\/(.+)$/);
  if (m) return { view: "service", name: decodeURIComponent(m[1]) };
  if (hash === "/node") return { view: "node" };
  return { view: "overview" };
}

function render() {
  // Keep keyboard focus on the same control across re-renders.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.key;
  const r = route();
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    const current = a.dataset.nav === (r.view === "node" ? "node" : "overview");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  let content: Node[];
  if (!store.loaded) content = [h("p", { class: "muted" }, "Loading…")];
  else if (r.view === "service") content = serviceView(r.name);
  else if (r.view === "node") content = nodeView();
  else content = overview();
  main.replaceChildren(...content);
  if (focused) main.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  updateAges();
}

function counts(instances: Instance[]) {
  const c: Record<Status, number> = { passing: 0, warning: 0, critical: 0 };
  for (const i of instances) c[i.status]++;
  return c;
}

function overview(): Node[] {
  const all = [...store.services.values()].flat();
  const c = counts(all);
  topology.render();
  const rows = [...store.services.entries()].map(([name, instances]) => {
    const n = counts(instances);
    const tags = [...new Set(instances.flatMap((i) => i.Tags))];
    return h(
      "tr",
      { "data-service": name, "data-status": worst(instances.map((i) => i.status)) },
      h(
        "th",
        { scope: "row" },
        h("a", { href: `#/service/${encodeURIComponent(name)}`, "data-key": `row:${name}` }, name),
      ),
      h("td", { class: "num" }, String(instances.length)),
      h("td", {}, n.passing ? badge("passing", `${n.passing} passing`) : h("span", { class: "muted" }, "0 passing")),
      h("td", {}, n.warning ? badge("warning", `${n.warning} warning`) : h("span", { class: "muted" }, "0 warning")),
      h("td", {}, n.critical ? badge("critical", `${n.critical} critical`) : h("span", { class: "muted" }, "0 critical")),
      h("td", {}, ...tags.map((t) => h("span", { class: "tag" }, t))),
    );
  });
  return [
    h("h1", {}, "Overview"),
    h(
      "p",
      { class: "summary" },
      `${store.services.size} services, ${all.length} instances: `,
      badge("passing", `${c.passing} passing`),
      " ",
      badge("warning", `${c.warning} warning`),
      " ",
      badge("critical", `${c.critical} critical`),
    ),
    h("section", { "aria-labelledby": "topology-title" }, h("h2", { id: "topology-title" }, "Topology"), topology.element),
    h(
      "section",
      { "aria-labelledby": "services-title" },
      h("h2", { id: "services-title" }, "Services"),
      rows.length === 0
        ? h("p", { class: "muted" }, "No services registered yet.")
        : h(
            "table",
            { class: "services" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ...["Service", "Instances", "Passing", "Warning", "Critical", "Tags"].map((t) =>
                  h("th", { scope: "col" }, t),
                ),
              ),
            ),
            h("tbody", {}, ...rows),
          ),
    ),
  ];
}

function serviceView(name: string): Node[] {
  const instances = store.services.get(name) ?? [];
  const back = h("p", {}, h("a", { href: "#/" }, "← All services"));
  if (instances.length === 0) {
    return [back, h("h1", {}, name), h("p", { class: "muted" }, "This service has no instances (it was deregistered or never registered).")];
  }
  const c = counts(instances);
  const cards = instances.map((inst) => {
    const meta = Object.entries(inst.Meta);
    return h(
      "article",
      { class: `instance ${inst.status}`, "data-instance": inst.ID, "data-status": inst.status, "aria-labelledby": `inst-${inst.ID}` },
      h(
        "header",
        {},
        h("h2", { id: `inst-${inst.ID}` }, inst.ID),
        badge(inst.status),
        h("span", { class: "addr" }, `${inst.Address}:${inst.Port}`),
        h("span", { class: "spacer" }),
        maintenanceButton(inst),
        h(
          "button",
          { class: "danger", "data-key": `dereg:${inst.ID}`, "data-action": "deregister", onclick: () => void deregister(inst) },
          "Deregister…",
        ),
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Tags"),
        h("dd", {}, ...(inst.Tags.length ? inst.Tags.map((t) => h("span", { class: "tag" }, t)) : [h("span", { class: "muted" }, "none")])),
        h("dt", {}, "Meta"),
        h("dd", {}, ...(meta.length ? meta.map(([k, v]) => h("span", { class: "tag meta" }, `${k}=${v}`)) : [h("span", { class: "muted" }, "none")])),
      ),
      h(
        "table",
        { class: "checks" },
        h("caption", { class: "visually-hidden" }, `Checks of ${inst.ID}`),
        h("thead", {}, h("tr", {}, ...["Check", "Status", "TTL", "Last heartbeat", "Output"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          ...(inst.checks.length
            ? inst.checks.map((ch) =>
                h(
                  "tr",
                  { "data-check": ch.CheckID },
                  h("th", { scope: "row" }, ch.Name || ch.CheckID, h("div", { class: "muted small" }, ch.CheckID)),
                  h("td", {}, badge(ch.Status)),
                  h("td", {}, ch.Definition?.TTL ?? "—"),
                  h("td", { "data-age": ch.CheckID }, "—"),
                  h("td", {}, ch.Output ? h("pre", {}, ch.Output) : h("span", { class: "muted" }, "no output")),
                ),
              )
            : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No checks: always passing."))]),
        ),
      ),
    );
  });
  return [
    back,
    h("h1", {}, name),
    h(
      "p",
      { class: "summary" },
      `${instances.length} instances: `,
      badge("passing", `${c.passing} passing`),
      " ",
      badge("warning", `${c.warning} warning`),
      " ",
      badge("critical", `${c.critical} critical`),
    ),
    ...cards,
  ];
}

function maintenanceButton(inst: Instance) {
  const unsupported = maintenance === "unsupported";
  const note = "Maintenance mode is not supported by this agent yet (the API answers 501)";
  return h(
    "button",
    {
      "data-key": `maint:${inst.ID}`,
      "data-action": "maintenance",
      "aria-disabled": unsupported ? "true" : null,
      title: unsupported ? note : "Put this instance in maintenance mode",
      "aria-describedby": unsupported ? "maint-note" : null,
      onclick: () => {
        if (!unsupported) void toggleMaintenance(inst);
      },
    },
    "Maintenance…",
    unsupported ? h("span", { id: "maint-note", class: "visually-hidden" }, ` ${note}`) : null,
  );
}

function confirmAction(title: string, text: string, ok: string): Promise<boolean> {
  const dialog = document.getElementById("confirm") as HTMLDialogElement;
  document.getElementById("confirm-title")!.textContent = title;
  document.getElementById("confirm-text")!.textContent = text;
  document.getElementById("confirm-ok")!.textContent = ok;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

async function deregister(inst: Instance) {
  const ok = await confirmAction(
    `Deregister ${inst.ID}?`,
    `This removes instance ${inst.ID} of ${inst.Service} (${inst.Address}:${inst.Port}) and its checks from the registry. A running instance that registers again comes back.`,
    "Deregister",
  );
  if (!ok) return;
  const r = await fetch(`/v1/agent/service/deregister/${encodeURIComponent(inst.ID)}`, { method: "PUT" });
  say(r.ok ? `${inst.ID} deregistered` : `Could not deregister ${inst.ID}: ${await r.text()}`);
}

async function toggleMaintenance(inst: Instance) {
  const ok = await confirmAction(
    `Maintenance mode for ${inst.ID}?`,
    `While in maintenance, ${inst.ID} is reported critical and taken out of discovery.`,
    "Enable maintenance",
  );
  if (!ok) return;
  const r = await fetch(
    `/v1/agent/service/maintenance/${encodeURIComponent(inst.ID)}?enable=true&reason=${encodeURIComponent("from the web UI")}`,
    { method: "PUT" },
  );
  if (r.status === 501) maintenance = "unsupported";
  say(r.ok ? `${inst.ID} is in maintenance` : `Could not enable maintenance: ${await r.text()}`);
  render();
}

// The last node page, shown while it is read again (it is re-read on every change).
let lastNode: HTMLElement | null = null;

function nodeView(): Node[] {
  const box = h("div", {}, ...(lastNode ? [...lastNode.cloneNode(true).childNodes] : [h("p", { class: "muted" }, "Loading…")]));
  void fillNode(box);
  return [h("h1", {}, "Node and cluster"), box];
}

async function fillNode(box: HTMLElement) {
  try {
    const [ldr, peers, self] = await Promise.all([
      getJson<string>("/v1/status/leader"),
      getJson<string[]>("/v1/status/peers"),
      getJson<{ Config: Record<string, string | boolean>; Stats?: { registry?: Record<string, string> } }>("/v1/agent/self"),
    ]);
    let members: Array<Record<string, unknown>> | null = null;
    try {
      members = await getJson<Array<Record<string, unknown>>>("/v1/agent/members");
    } catch {
      members = null; // not served by a single in-memory agent
    }
    leader = ldr;
    const cfg = self.Config;
    const stats = self.Stats?.registry ?? {};
    const row = (k: string, v: Node | string) => [h("dt", {}, k), h("dd", {}, v)];
    box.replaceChildren(
      h(
        "section",
        { "aria-labelledby": "agent-title" },
        h("h2", { id: "agent-title" }, "This agent"),
        h(
          "dl",
          { class: "facts" },
          ...row("Node", String(cfg.NodeName ?? "")),
          ...row("Datacenter", String(cfg.Datacenter ?? "")),
          ...row("Version", String(cfg.Version ?? "")),
          ...row("Leader", ldr ? ldr : badge("critical", "no leader")),
          ...Object.entries(stats).flatMap(([k, v]) => row(k.replace(/_/g, " "), v)),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "peers-title" },
        h("h2", { id: "peers-title" }, "Peers (voters)"),
        h("ul", { class: "peers" }, ...peers.map((p) => h("li", {}, p, p === ldr ? h("span", { class: "tag" }, "leader") : null))),
      ),
      members
        ? h(
            "section",
            { "aria-labelledby": "members-title" },
            h("h2", { id: "members-title" }, "Members"),
            h(
              "table",
              {},
              h("thead", {}, h("tr", {}, ...["Name", "Address", "Status"].map((t) => h("th", { scope: "col" }, t)))),
              h(
                "tbody",
                {},
                ...members.map((m) =>
                  h("tr", {}, h("td", {}, String(m.Name ?? "")), h("td", {}, `${m.Addr ?? ""}:${m.Port ?? ""}`), h("td", {}, m.Status === 1 ? badge("passing", "alive") : badge("critical", `status ${String(m.Status)}`))),
                ),
              ),
            ),
          )
        : "",
    );
    lastNode = box;
  } catch (e) {
    box.replaceChildren(h("p", { role: "alert" }, `Could not read the cluster: ${String(e)}`));
  }
}

function updateAges() {
  for (const el of main.querySelectorAll<HTMLElement>("[data-age]")) {
    el.textContent = formatAge(store.heartbeatAge(el.dataset.age!));
  }
}

function say(text: string) {
  announcer.textContent = text;
}

// Announce health transitions to screen readers.
let previous = new Map<string, Status>();
store.onChange(() => {
  live.textContent = store.connected ? "● live" : "reconnecting…";
  live.className = `live ${store.connected ? "on" : "off"}`;
  const next = new Map<string, Status>();
  const changes: string[] = [];
  for (const list of store.services.values()) {
    for (const i of list) {
      next.set(i.ID, i.status);
      const before = previous.get(i.ID);
      if (before && before !== i.status) changes.push(`${i.ID} is now ${i.status}`);
    }
  }
  for (const id of previous.keys()) if (!next.has(id)) changes.push(`${id} left the registry`);
  if (previous.size > 0 && changes.length) say(changes.join(". "));
  previous = next;
  render();
});
window.addEventListener("hashchange", () => {
  render();
  main.focus({ preventScroll: true });
});
setInterval(updateAges, 500);

async function probeMaintenance() {
  try {
    const r = await fetch("/v1/agent/service/maintenance/_probe", { cache: "no-store" });
    maintenance = r.status === 501 ? "unsupported" : "supported";
  } catch {
    maintenance = "unknown";
  }
}

void (async () => {
  try {
    leader = await getJson<string>("/v1/status/leader");
  } catch {
    leader = "";
  }
  await probeMaintenance();
  render();
  store.start();
})();
