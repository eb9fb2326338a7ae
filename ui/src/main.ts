import "./style.css";
import { ApiError, apiFetch, getJson, getToken, setToken, Store, worst } from "./api";
import type { Instance, Status } from "./api";
import { h } from "./dom";
import { badge, formatAge } from "./status";
import { Topology } from "./topology";

const store = new Store();
const main = document.getElementById("main")!;
const live = document.getElementById("live")!;
const announcer = document.getElementById("announce")!;
const banner = document.getElementById("acl-banner")!;
const notice = document.getElementById("notice")!;
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
  renderBanner();
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
        ? h("p", { class: "muted" }, aclHidden() ? "No services this token may read." : "No services registered yet.")
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
    const why = aclHidden()
      ? `This token cannot read service ${name}, or it has no instances: some services are hidden by ACLs.`
      : "This service has no instances (it was deregistered or never registered).";
    return [back, h("h1", {}, name), h("p", { class: aclHidden() ? "acl-note" : "muted" }, why)];
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
  const r = await apiFetch(`/v1/agent/service/deregister/${encodeURIComponent(inst.ID)}`, { method: "PUT" });
  if (r.ok) tell(`${inst.ID} deregistered`);
  else tell(`Could not deregister ${inst.ID}: ${refusal(r.status, await r.text())}`, true);
}

async function toggleMaintenance(inst: Instance) {
  const ok = await confirmAction(
    `Maintenance mode for ${inst.ID}?`,
    `While in maintenance, ${inst.ID} is reported critical and taken out of discovery.`,
    "Enable maintenance",
  );
  if (!ok) return;
  const r = await apiFetch(
    `/v1/agent/service/maintenance/${encodeURIComponent(inst.ID)}?enable=true&reason=${encodeURIComponent("from the web UI")}`,
    { method: "PUT" },
  );
  if (r.status === 501) maintenance = "unsupported";
  if (r.ok) tell(`${inst.ID} is in maintenance`);
  else tell(`Could not enable maintenance: ${refusal(r.status, await r.text())}`, true);
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
    const text =
      e instanceof ApiError && e.denied
        ? `Access denied: ${e.agentMessage}. The node page needs agent:read on this agent's node.`
        : `Could not read the cluster: ${String(e)}`;
    box.replaceChildren(h("p", { role: "alert", class: "acl-note" }, text));
    lastNode = null;
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

// The outcome of an action, shown (and announced) until dismissed or the next one.
function tell(text: string, error = false) {
  notice.setAttribute("role", error ? "alert" : "status");
  notice.className = `notice ${error ? "error" : "ok"}`;
  notice.replaceChildren(
    h("span", {}, text),
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", onclick: () => (notice.hidden = true) }, "×"),
  );
  notice.hidden = false;
  if (!error) say(text);
}

// An action's refusal in words: the agent's own message, and what to do about a 403.
function refusal(status: number, body: string) {
  const message = body.trim() || `HTTP ${status}`;
  if (status !== 403) return message;
  return getToken() ? message : `${message} (no token in use: enter one with the Token… button)`;
}

// ACL token: kept in sessionStorage, sent as X-Consul-Token by apiFetch (api.ts).
let whoami = ""; // the token's description (or AccessorID), from /v1/acl/token/self
let tokenProblem = ""; // the agent's refusal of the stored token, if any
const tokenButton = document.getElementById("token-button") as HTMLButtonElement;
const tokenDialog = document.getElementById("token-dialog") as HTMLDialogElement;
const tokenInput = document.getElementById("token-input") as HTMLInputElement;
const tokenError = document.getElementById("token-error")!;

type Identity = { ok: true; name: string } | { ok: false; message: string };

// Who the agent says a token is; the secret goes in the header only.
async function identify(token: string): Promise<Identity> {
  try {
    const r = await fetch("/v1/acl/token/self", { cache: "no-store", headers: { "X-Consul-Token": token } });
    const body = await r.text();
    if (r.ok) {
      const t = JSON.parse(body) as { AccessorID?: string; Description?: string };
      return { ok: true, name: t.Description || t.AccessorID || "token" };
    }
    if (r.status === 401) return { ok: false, message: `${body.trim()}: this agent runs without ACLs and needs no token` };
    return { ok: false, message: body.trim() || `HTTP ${r.status}` };
  } catch (e) {
    return { ok: false, message: `the agent cannot be reached (${String(e)})` };
  }
}

function updateTokenButton() {
  const token = getToken();
  tokenButton.textContent = token ? `Token: ${whoami || "set"}` : "Token…";
  tokenButton.title = token ? "The ACL token in use: change it or log out" : "Enter an ACL token";
  tokenButton.classList.toggle("set", token !== "");
}

function openTokenDialog() {
  const token = getToken();
  document.getElementById("token-state")!.textContent = token
    ? `In use: ${whoami || "a token"}.`
    : "No token: requests are made as the anonymous token.";
  (document.getElementById("token-logout") as HTMLButtonElement).disabled = !token;
  tokenInput.value = "";
  tokenError.textContent = "";
  tokenDialog.showModal();
  tokenInput.focus();
}

function tokenChanged() {
  updateTokenButton();
  lastNode = null;
  store.reset();
  render();
}

async function useToken(e: Event) {
  e.preventDefault();
  const token = tokenInput.value.trim();
  if (!token) {
    tokenError.textContent = "Paste a token's SecretID.";
    return;
  }
  tokenError.textContent = "Checking…";
  const who = await identify(token);
  if (!who.ok) {
    tokenError.textContent = `The agent refused this token: ${who.message}`;
    return;
  }
  tokenInput.value = ""; // the secret stays in storage only
  setToken(token);
  whoami = who.name;
  tokenProblem = "";
  tokenDialog.close();
  tokenChanged();
  tell(`Using the token “${whoami}”`);
}

function logOut() {
  tokenInput.value = "";
  setToken("");
  whoami = "";
  tokenProblem = "";
  tokenDialog.close();
  tokenChanged();
  tell("Logged out: requests are made as the anonymous token");
}

tokenButton.addEventListener("click", openTokenDialog);
document.getElementById("token-form")!.addEventListener("submit", (e) => void useToken(e));
document.getElementById("token-cancel")!.addEventListener("click", () => tokenDialog.close());
document.getElementById("token-logout")!.addEventListener("click", logOut);

// Whether ACLs hide part of the registry from this page.
function aclHidden() {
  return store.filtered || store.denied !== "";
}

// What the token may not see, above the page; rebuilt only when it changes (it is an alert).
let bannerKey = "";
function renderBanner() {
  const lines: string[] = [];
  const token = getToken();
  if (tokenProblem) lines.push(`The token in use was refused: ${tokenProblem}. Log out or enter another token.`);
  if (store.denied) {
    lines.push(`Access denied: ${store.denied}.`);
    lines.push(
      token
        ? "This token cannot follow changes live (that needs operator:read): the lists are read again every 5 s."
        : "Without a token the agent treats this page as anonymous. Enter a token to see the registry.",
    );
  }
  if (store.filtered) lines.push("Some services are hidden by ACLs: this token cannot read them.");
  if (store.heartbeatsDenied && !store.denied) lines.push(`Heartbeat ages are hidden: ${store.heartbeatsDenied}.`);
  const key = lines.join("\n") + (token ? "+" : "-");
  if (key === bannerKey) return;
  bannerKey = key;
  banner.hidden = lines.length === 0;
  const parts: Node[] = lines.map((l) => h("p", {}, l));
  if (lines.length && !token) parts.push(h("button", { type: "button", onclick: openTokenDialog }, "Enter a token…"));
  banner.replaceChildren(...parts);
}

// Announce health transitions to screen readers.
let previous = new Map<string, Status>();
store.onChange(() => {
  live.textContent = !store.connected ? "reconnecting…" : store.denied ? "● polling" : "● live";
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
    const r = await apiFetch("/v1/agent/service/maintenance/_probe");
    maintenance = r.status === 501 ? "unsupported" : "supported";
  } catch {
    maintenance = "unknown";
  }
}

void (async () => {
  if (getToken()) {
    const who = await identify(getToken());
    if (who.ok) whoami = who.name;
    else tokenProblem = who.message;
  }
  updateTokenButton();
  try {
    leader = await getJson<string>("/v1/status/leader");
  } catch {
    leader = "";
  }
  await probeMaintenance();
  render();
  store.start();
})();
