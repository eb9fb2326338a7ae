import "./style.css";
import { ApiError, apiFetch, getJson, getToken, rank, setToken, SMALL_CATALOG, Store } from "./api";
import type { Instance, ServiceSummary, Status, Transition } from "./api";
import { h } from "./dom";
import { confirmAction, refusal, say, tell } from "./feedback";
import { KvFolderPage, KvKeyPage, kvRouteOfHash } from "./kv";
import { badge, formatAge, symbol } from "./status";
import { Diagram, pack } from "./topology";
import type { DiagramNode, Scene } from "./topology";

const store = new Store();
const main = document.getElementById("main")!;
const live = document.getElementById("live")!;
const banner = document.getElementById("acl-banner")!;
// Whether PUT /v1/agent/service/maintenance/:id exists; a GET answers 501 while it does not.
let maintenance: "unknown" | "supported" | "unsupported" = "unknown";

// The registry's servers, for the centre of the diagram and the node page.
interface Server {
  address: string;
  node: string;
  leader: boolean;
}
let servers: Server[] = [];
let leader = "";

// --- Routes: #/?q=…&status=…, #/service/<name>, #/node, #/kv/<folder>/?q=… and #/kv/<key> ---

type StatusFilter = "any" | Status;
type Route =
  | { view: "overview"; q: string; status: StatusFilter }
  | { view: "service"; name: string; instance?: string }
  | { view: "node" }
  | { view: "kv"; key: string; q: string };

function route(): Route {
  const hash = location.hash.replace(/^#/, "");
  const m = hash.match(/^\/service\/([^/?]+)(?:\/([^?]+))?/);
  if (m) return { view: "service", name: decodeURIComponent(m[1]), instance: m[2] ? decodeURIComponent(m[2]) : undefined };
  if (hash === "/node") return { view: "node" };
  if (hash === "/kv" || hash.startsWith("/kv/")) return { view: "kv", ...kvRouteOfHash(hash.slice(4)) };
  const params = new URLSearchParams(hash.split("?")[1] ?? "");
  const st = params.get("status");
  const status: StatusFilter = st === "critical" || st === "warning" || st === "passing" ? st : "any";
  return { view: "overview", q: params.get("q") ?? "", status };
}

function overviewHash(q: string, status: StatusFilter) {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (status !== "any") params.set("status", status);
  const text = params.toString();
  return text ? `#/?${text}` : "#/";
}

// The overview's last filters, for the service page's way back.
let lastOverview = "#/";

// --- Finding services ---

// Trouble first: critical, then warning, most affected first; then by name.
function byTrouble(a: ServiceSummary, b: ServiceSummary) {
  return (
    rank[b.status] - rank[a.status] ||
    b.critical - a.critical ||
    b.warning - a.warning ||
    a.name.localeCompare(b.name)
  );
}

// Every word typed must match the name, a tag or a status ("critical", "tag:v2",
// "status:warning", "name:web" narrow to one of them).
function matches(sv: ServiceSummary, words: string[], status: StatusFilter) {
  if (status === "critical" && sv.critical === 0) return false;
  if (status === "warning" && sv.warning === 0) return false;
  if (status === "passing" && sv.status !== "passing") return false;
  for (const raw of words) {
    const [field, value] = raw.includes(":") ? (raw.split(/:(.*)/s, 2) as [string, string]) : ["", raw];
    const w = value.toLowerCase();
    const name = sv.name.toLowerCase().includes(w);
    const tag = sv.tags.some((t) => t.toLowerCase().includes(w));
    const st = (["passing", "warning", "critical"] as Status[]).some((x) => x.startsWith(w) && sv[x] > 0);
    const ok =
      field === "name" ? name : field === "tag" ? tag : field === "status" ? st : field ? name : name || tag || st;
    if (!ok) return false;
  }
  return true;
}

function words(q: string) {
  return q.trim().split(/\s+/).filter(Boolean);
}

// --- The diagram's pictures ---

function radiusOf(instances: number) {
  return Math.min(44, 8 + 3.2 * Math.sqrt(instances));
}

function countsText(c: { passing: number; warning: number; critical: number }) {
  const parts = (["critical", "warning", "passing"] as Status[]).filter((st) => c[st] > 0).map((st) => `${c[st]} ${st}`);
  return parts.join(", ") || "no instances";
}

// A service's label: its name, and its trouble as symbols (✕2: two critical instances).
function serviceLabel(sv: ServiceSummary) {
  let label = sv.name.length > 28 ? sv.name.slice(0, 27) + "…" : sv.name;
  if (sv.critical) label += ` ${symbol.critical}${sv.critical}`;
  if (sv.warning) label += ` ${symbol.warning}${sv.warning}`;
  return label;
}

function serverNodes(): { nodes: DiagramNode[]; reserved: number } {
  const list: Server[] = servers.length ? servers : [{ address: leader, node: "", leader: leader !== "" }];
  const node = (sv: Server, x: number, y: number, r: number): DiagramNode => {
    const role = sv.leader ? "leader" : "follower";
    return {
      key: `server:${sv.address}`,
      kind: "server",
      x,
      y,
      r,
      status: "passing",
      leader: sv.leader,
      label: list.length === 1 ? `${sv.leader ? "★ leader" : "no leader"} ${sv.address}` : `${sv.leader ? "★ leader" : "follower"} ${sv.node || sv.address}`,
      title: `Server ${sv.node || sv.address} (${sv.address}): ${role}`,
      attrs: { "data-server": sv.address, "data-role": role },
    };
  };
  if (list.length === 1) return { nodes: [node(list[0], 0, 0, 24)], reserved: 44 };
  const n = list.length;
  return {
    nodes: list.map((sv, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      return node(sv, 42 * Math.cos(a), 42 * Math.sin(a), 13);
    }),
    reserved: 70,
  };
}

const INSTANCE_R = 10;

function instanceNode(inst: Instance, x: number, y: number, r: number, parent?: DiagramNode): DiagramNode {
  return {
    key: `inst:${inst.ID}`,
    kind: "instance",
    x,
    y,
    r,
    status: inst.status,
    label: `${inst.ID} ${symbol[inst.status]} ${inst.status}`,
    title: `Instance ${inst.ID} of ${inst.Service} (${inst.Address}:${inst.Port}): ${inst.status}`,
    href: `#/service/${encodeURIComponent(inst.Service)}/${encodeURIComponent(inst.ID)}`,
    attrs: { "data-instance": inst.ID, "data-status": inst.status },
    parent,
  };
}

// Where each service was put, kept while the same services (of the same sizes) are shown
// under the same filters: a service that changes status changes colour where it is, rather
// than every node moving to make room for it nearer the centre (the map stays familiar, and
// the browser redraws one node, not a thousand). A new filter, a service that comes or goes,
// or one that changes size lays the picture out again, trouble first.
let layout: { key: string; sig: string; at: Map<string, { x: number; y: number }> } | null = null;

// `sizes` are the nodes' own radii; `radii` the room each takes (more for one in trouble, for
// its label), which is used when the picture is laid out but does not by itself relayout it.
function stablePack(key: string, names: string[], sizes: number[], radii: number[], gap: number, reserved: number) {
  const sig = names.map((n, i) => `${n}:${sizes[i].toFixed(1)}`).sort().join("|") + `|${gap}|${reserved}`;
  if (layout && layout.key === key && layout.sig === sig) return names.map((n) => layout!.at.get(n)!);
  const places = pack(radii, gap, reserved);
  layout = { key, sig, at: new Map(names.map((n, i) => [n, places[i]])) };
  return places;
}

// The overview: the servers, the services (trouble first, nearest the centre), and every
// instance when the catalog is small.
function overviewScene(list: ServiceSummary[], key: string): Scene {
  const { nodes, reserved } = serverNodes();
  const drawInstances = store.whole && store.totals().instances <= SMALL_CATALOG;
  const rings = list.map((sv) => {
    const r = radiusOf(sv.instances);
    // A service in trouble keeps room around it for its label, so that it is named at once.
    if (!drawInstances) return { r, ring: 0, foot: sv.status === "passing" ? r : r + 24 };
    const n = store.details.get(sv.name)?.length ?? 0;
    const ring = Math.max(r + 22 + INSTANCE_R, (n * (2 * INSTANCE_R + 10)) / (2 * Math.PI));
    return { r, ring, foot: ring + INSTANCE_R };
  });
  const places = stablePack(
    key,
    list.map((sv) => sv.name),
    rings.map((x) => (drawInstances ? x.foot : x.r)),
    rings.map((x) => x.foot),
    drawInstances ? 40 : 14,
    reserved,
  );
  const instances: DiagramNode[] = [];
  list.forEach((sv, i) => {
    const { x, y } = places[i];
    const svc: DiagramNode = {
      key: `svc:${sv.name}`,
      kind: "service",
      x,
      y,
      r: rings[i].r,
      status: sv.status,
      label: serviceLabel(sv),
      title: `Service ${sv.name}: ${sv.instances} instances, ${countsText(sv)}`,
      href: `#/service/${encodeURIComponent(sv.name)}`,
      attrs: { "data-service": sv.name, "data-status": sv.status },
      counts: { passing: sv.passing, warning: sv.warning, critical: sv.critical },
    };
    nodes.push(svc);
    if (!drawInstances) return;
    const insts = store.details.get(sv.name) ?? [];
    // Fanned out on the side away from the centre.
    const away = Math.atan2(y, x);
    const step = Math.min((2 * Math.PI) / Math.max(1, insts.length), (2 * INSTANCE_R + 18) / rings[i].ring);
    insts.forEach((inst, j) => {
      const a = away + (j - (insts.length - 1) / 2) * step;
      instances.push(instanceNode(inst, x + rings[i].ring * Math.cos(a), y + rings[i].ring * Math.sin(a), INSTANCE_R, svc));
    });
  });
  nodes.push(...instances);
  const total = store.summaries.size;
  return {
    key,
    nodes,
    centreLinks: list.length <= 40,
    // A large catalog opens on the services in trouble, readable; Fit shows all.
    fitFirst: list.length > 120 ? 60 : undefined,
    empty:
      list.length > 0
        ? undefined
        : total > 0
          ? "No service matches"
          : aclHidden()
            ? "No services this token may read"
            : "No services registered yet",
  };
}

const MAX_DRAWN = 300;

// A service's page: the service at the centre, its instances around it (trouble nearest).
function serviceScene(name: string, list: Instance[]): Scene {
  const sorted = [...list].sort((a, b) => rank[b.status] - rank[a.status] || a.ID.localeCompare(b.ID)).slice(0, MAX_DRAWN);
  const c = { passing: 0, warning: 0, critical: 0 };
  for (const i of list) c[i.status]++;
  const status: Status = c.critical ? "critical" : c.warning ? "warning" : "passing";
  const centre: DiagramNode = {
    key: `svc:${name}`,
    kind: "service",
    x: 0,
    y: 0,
    r: 30,
    status,
    label: name,
    title: `Service ${name}: ${list.length} instances, ${countsText(c)}`,
    attrs: { "data-service": name, "data-status": status },
    counts: c,
  };
  const r = sorted.length <= 40 ? 12 : 8;
  // An instance in trouble keeps room for its label, like a service on the overview.
  const places = pack(
    sorted.map((i) => (i.status === "passing" ? r : r + 18)),
    sorted.length <= 40 ? 46 : 20,
    44,
    1.4,
  );
  const lines = sorted.length <= 60;
  return {
    key: `service:${name}`,
    nodes: [centre, ...sorted.map((inst, i) => instanceNode(inst, places[i].x, places[i].y, r, lines ? centre : undefined))],
    centreLinks: false,
  };
}

// --- Views: built once, updated in place (the search box keeps its focus and caret) ---

interface View {
  readonly key: string;
  readonly nodes: Node[];
  update(): void;
  route?(r: Route): void;
  // Heartbeats arrived for these checks: draw them.
  beat?(checkIds: string[]): void;
  // The view is replaced: end what it runs (its blocking queries).
  dispose?(): void;
}

class OverviewView implements View {
  readonly key = "overview";
  readonly nodes: Node[];
  private diagram = new Diagram("Topology: the registry's servers and its services");
  private input: HTMLInputElement;
  private select: HTMLSelectElement;
  private summaryLine = h("p", { class: "summary" });
  private count = h("p", { class: "count", role: "status" });
  private list = h("div", { class: "list" });
  private rows = new Map<string, { sig: string; el: HTMLTableRowElement }>();
  private listToken = 0;
  private tbody = h("tbody", {});
  private table = h(
    "table",
    { class: "services" },
    h(
      "thead",
      {},
      h("tr", {}, ...["Service", "Instances", "Passing", "Warning", "Critical", "Tags"].map((t) => h("th", { scope: "col" }, t))),
    ),
    this.tbody,
  );
  private q = "";
  private status: StatusFilter = "any";
  private limit = 1000;
  private diagramTimer = 0;
  private checkToInstance = new Map<string, string>();

  constructor(r: Route & { view: "overview" }) {
    this.q = r.q;
    this.status = r.status;
    this.input = h("input", {
      type: "search",
      id: "search",
      placeholder: "Find a service by name, tag or status",
      "aria-describedby": "search-help",
      autocomplete: "off",
      spellcheck: "false",
    });
    this.input.value = this.q;
    this.input.addEventListener("input", () => this.filter(this.input.value, this.status));
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.input.value) {
        e.preventDefault();
        this.filter("", this.status);
        this.input.value = "";
      }
    });
    this.select = h(
      "select",
      { id: "status-filter" },
      h("option", { value: "any" }, "Any status"),
      h("option", { value: "critical" }, `${symbol.critical} With critical instances`),
      h("option", { value: "warning" }, `${symbol.warning} With warning instances`),
      h("option", { value: "passing" }, `${symbol.passing} All passing`),
    );
    this.select.value = this.status;
    this.select.addEventListener("change", () => this.filter(this.q, this.select.value as StatusFilter));
    this.nodes = [
      h("h1", {}, "Overview"),
      this.summaryLine,
      h(
        "form",
        { class: "finder", role: "search", onsubmit: (e: Event) => e.preventDefault() },
        h("label", { for: "search" }, "Find"),
        this.input,
        h("label", { for: "status-filter" }, "Status"),
        this.select,
        h("span", { id: "search-help", class: "muted small" }, "Words match names, tags and statuses; tag:v2, status:critical narrow to one."),
      ),
      this.count,
      h("section", { "aria-labelledby": "topology-title" }, h("h2", { id: "topology-title" }, "Topology"), this.diagram.element),
      h("section", { "aria-labelledby": "services-title" }, h("h2", { id: "services-title" }, "Services"), this.list),
    ];
    this.update();
  }

  beat(checkIds: string[]) {
    const keys = checkIds.map((id) => this.checkToInstance.get(id)).filter((x): x is string => !!x);
    if (keys.length) this.diagram.beat(keys);
  }

  route(r: Route) {
    if (r.view !== "overview") return;
    if (r.q !== this.q || r.status !== this.status) {
      this.input.value = r.q;
      this.select.value = r.status;
      this.filter(r.q, r.status, false);
    }
  }

  private filter(q: string, status: StatusFilter, write = true) {
    this.q = q;
    this.status = status;
    lastOverview = overviewHash(q, status);
    // The URL holds the filters (a link shares the view) without a history entry per key.
    if (write) history.replaceState(null, "", lastOverview);
    this.refresh(true);
  }

  update() {
    const t = store.totals();
    this.summaryLine.replaceChildren(
      `${t.services.toLocaleString("en")} services, ${t.instances.toLocaleString("en")} instances: `,
      badge("passing", `${t.passing.toLocaleString("en")} passing`),
      " ",
      badge("warning", `${t.warning.toLocaleString("en")} warning`),
      " ",
      badge("critical", `${t.critical.toLocaleString("en")} critical`),
    );
    this.refresh(false);
  }

  private refresh(typing: boolean) {
    const w = words(this.q);
    const shown = [...store.summaries.values()].filter((sv) => matches(sv, w, this.status)).sort(byTrouble);
    const total = store.summaries.size;
    const filtering = w.length > 0 || this.status !== "any";
    this.count.textContent = filtering
      ? `Showing ${shown.length.toLocaleString("en")} of ${total.toLocaleString("en")} services`
      : `${total.toLocaleString("en")} services, in trouble first`;
    for (const name of this.rows.keys()) if (!store.summaries.has(name)) this.rows.delete(name);
    this.renderList(shown, total);
    // While typing, the diagram follows a moment later; the list at once.
    clearTimeout(this.diagramTimer);
    const draw = () => {
      const scene = overviewScene(shown, `overview|${this.q}|${this.status}`);
      this.checkToInstance.clear();
      for (const n of scene.nodes) {
        if (n.kind !== "instance") continue;
        const inst = store.instance(n.attrs["data-instance"]);
        for (const c of inst?.checks ?? []) this.checkToInstance.set(c.CheckID, n.key);
      }
      this.diagram.show(scene);
    };
    if (typing && total > 100) this.diagramTimer = window.setTimeout(draw, 150);
    else draw();
  }

  private renderList(shown: ServiceSummary[], total: number) {
    if (shown.length === 0) {
      const text =
        total > 0
          ? "No service matches these filters."
          : aclHidden()
            ? "No services this token may read."
            : "No services registered yet.";
      this.list.replaceChildren(h("p", { class: "muted" }, text));
      return;
    }
    const rows = shown.slice(0, this.limit).map((sv) => this.row(sv));
    // Moves only the rows out of place: one service turning critical moves one row. The
    // first screenful goes in at once and the rest a chunk per frame: laying out a table of
    // 1,000 new rows at once held the first view for a second.
    const body = this.tbody;
    const wanted = new Set<Element>(rows);
    for (const el of [...body.children]) if (!wanted.has(el)) el.remove();
    const token = ++this.listToken;
    const place = (from: number) => {
      if (token !== this.listToken) return; // a newer list replaced this one
      const to = Math.min(rows.length, from + (from === 0 ? FIRST_ROWS : MORE_ROWS));
      let at: Element | null = body.children[from] ?? null;
      for (let i = from; i < to; i++) {
        if (at === rows[i]) {
          at = at.nextElementSibling;
          continue;
        }
        body.insertBefore(rows[i], at);
      }
      if (to < rows.length) requestAnimationFrame(() => setTimeout(() => place(to)));
    };
    place(0);
    const more =
      shown.length > this.limit
        ? h(
            "button",
            { type: "button", class: "more", onclick: () => ((this.limit = Infinity), this.refresh(false)) },
            `Show all ${shown.length.toLocaleString("en")} (${(shown.length - this.limit).toLocaleString("en")} more)`,
          )
        : null;
    if (this.list.firstChild !== this.table || this.list.childNodes.length > 1 || more) {
      this.list.replaceChildren(this.table, ...(more ? [more] : []));
    }
  }

  // Rows are built once per version of a service's summary.
  private row(sv: ServiceSummary) {
    const sig = `${sv.index}|${sv.instances}|${sv.passing}|${sv.warning}|${sv.critical}|${sv.tags.join(",")}`;
    const cached = this.rows.get(sv.name);
    if (cached && cached.sig === sig) return cached.el;
    const cell = (st: Status, n: number) => h("td", {}, n ? badge(st, `${n} ${st}`) : h("span", { class: "muted" }, `0 ${st}`));
    const el = h(
      "tr",
      { "data-service": sv.name, "data-status": sv.status },
      h("th", { scope: "row" }, h("a", { href: `#/service/${encodeURIComponent(sv.name)}`, "data-key": `row:${sv.name}` }, sv.name)),
      h("td", { class: "num" }, sv.instances.toLocaleString("en")),
      cell("passing", sv.passing),
      cell("warning", sv.warning),
      cell("critical", sv.critical),
      h("td", {}, ...sv.tags.slice(0, 8).map((t) => h("span", { class: "tag" }, t)), sv.tags.length > 8 ? h("span", { class: "muted" }, `+${sv.tags.length - 8}`) : null),
    );
    this.rows.set(sv.name, { sig, el });
    return el;
  }
}

const MAX_CARDS = 100;
const FIRST_ROWS = 60;
const MORE_ROWS = 200;

class ServicePage implements View {
  readonly key: string;
  readonly nodes: Node[];
  private diagram: Diagram;
  private heading: HTMLElement;
  private summaryLine = h("p", { class: "summary" });
  private tagsLine = h("p", { class: "tags" });
  private body = h("div", {});
  private drawnNote = h("p", { class: "muted small" });
  private transitions = h("div", {});
  private cards = h("div", { class: "cards" });
  private figure: HTMLElement;
  private showAll = false;
  private focusInstance = "";
  private checkToInstance = new Map<string, string>();

  constructor(readonly name: string, instance: string | undefined) {
    this.key = `service:${name}`;
    this.focusInstance = instance ?? "";
    this.diagram = new Diagram(`Service ${name} and its instances`);
    this.heading = h("h1", {}, name);
    this.figure = h(
      "section",
      { "aria-labelledby": "svc-topology-title" },
      h("h2", { id: "svc-topology-title" }, "Instances"),
      this.diagram.element,
      this.drawnNote,
    );
    this.nodes = [h("p", {}, h("a", { href: lastOverview, class: "back" }, "← All services")), this.heading, this.body];
    store.watchService(name);
    this.update();
  }

  beat(checkIds: string[]) {
    const keys = checkIds.map((id) => this.checkToInstance.get(id)).filter((x): x is string => !!x);
    if (keys.length) this.diagram.beat(keys);
  }

  route(r: Route) {
    if (r.view === "service" && r.instance) this.focusInstance = r.instance;
  }

  update() {
    const instances = store.details.get(this.name);
    if (!instances) {
      this.body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
      return;
    }
    if (instances.length === 0) {
      const hidden = store.serviceHidden(this.name) || aclHidden();
      const why = hidden
        ? `This token cannot read service ${this.name}, or it has no instances: some services are hidden by ACLs.`
        : "This service has no instances (it was deregistered or never registered).";
      this.body.replaceChildren(h("p", { class: hidden ? "acl-note" : "muted" }, why));
      return;
    }
    const c = { passing: 0, warning: 0, critical: 0 };
    for (const i of instances) c[i.status]++;
    this.summaryLine.replaceChildren(
      `${instances.length.toLocaleString("en")} instances: `,
      badge("passing", `${c.passing} passing`),
      " ",
      badge("warning", `${c.warning} warning`),
      " ",
      badge("critical", `${c.critical} critical`),
    );
    const tags = [...new Set(instances.flatMap((i) => i.Tags))].sort();
    this.tagsLine.replaceChildren("Tags: ", ...(tags.length ? tags.map((t) => h("span", { class: "tag" }, t)) : [h("span", { class: "muted" }, "none")]));
    const scene = serviceScene(this.name, instances);
    this.checkToInstance.clear();
    for (const i of instances) for (const ch of i.checks) this.checkToInstance.set(ch.CheckID, `inst:${i.ID}`);
    this.drawnNote.textContent =
      instances.length > MAX_DRAWN
        ? `The ${MAX_DRAWN} instances most in trouble are drawn; all ${instances.length.toLocaleString("en")} are listed below.`
        : "";
    this.renderTransitions();
    const sorted = [...instances].sort((a, b) => rank[b.status] - rank[a.status] || a.ID.localeCompare(b.ID));
    const cards = (this.showAll ? sorted : sorted.slice(0, MAX_CARDS)).map((inst) => instanceCard(inst));
    const more =
      sorted.length > MAX_CARDS && !this.showAll
        ? h("button", { type: "button", class: "more", onclick: () => ((this.showAll = true), this.update()) }, `Show all ${sorted.length.toLocaleString("en")} instances`)
        : null;
    // The cards are rebuilt: the control that had the focus gets it back.
    const focused = this.cards.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.key : undefined;
    this.cards.replaceChildren(...cards, ...(more ? [more] : []));
    if (focused) this.cards.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
    if (this.body.firstChild !== this.summaryLine) {
      this.body.replaceChildren(
        this.summaryLine,
        this.tagsLine,
        this.figure,
        h("section", { "aria-labelledby": "transitions-title" }, h("h2", { id: "transitions-title" }, "Recent transitions"), this.transitions),
        h("section", { "aria-labelledby": "cards-title" }, h("h2", { id: "cards-title" }, "Instances, checks and heartbeats"), this.cards),
      );
    }
    this.diagram.setHeight(instances.length <= 12 ? 300 : instances.length <= 60 ? 420 : 560);
    this.diagram.show(scene);
    updateAges();
    if (this.focusInstance) {
      const card = this.cards.querySelector<HTMLElement>(`article[data-instance="${CSS.escape(this.focusInstance)}"]`);
      this.focusInstance = "";
      if (card) {
        card.scrollIntoView({ block: "center" });
        card.focus({ preventScroll: true });
      }
    }
  }

  // What changed while the page was open, newest first, with the check's output as the reason.
  private renderTransitions() {
    const list = store.transitions.filter((t) => t.service === this.name).slice(-50).reverse();
    if (list.length === 0) {
      this.transitions.replaceChildren(h("p", { class: "muted" }, "No status changes seen yet: they are recorded while the UI watches this service. The reason for each check's current state is its output, below."));
      return;
    }
    const state = (st: Transition["from"]) => (st === "absent" ? h("span", { class: "muted" }, "absent") : badge(st));
    this.transitions.replaceChildren(
      h(
        "table",
        { class: "transitions" },
        h("thead", {}, h("tr", {}, ...["When", "Instance", "Check", "Change", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          ...list.map((t) =>
            h(
              "tr",
              { "data-transition": `${t.instance}:${t.to}` },
              h("td", { "data-since": String(t.at), title: new Date(t.at).toLocaleString() }, formatAge(Date.now() - t.at)),
              h("td", {}, t.instance),
              h("td", {}, t.check || "—"),
              h("td", {}, state(t.from), " → ", state(t.to)),
              h("td", {}, t.reason ? h("pre", {}, t.reason) : h("span", { class: "muted" }, "no output")),
            ),
          ),
        ),
      ),
    );
  }
}

function instanceCard(inst: Instance) {
  const meta = Object.entries(inst.Meta);
  return h(
    "article",
    { class: `instance ${inst.status}`, "data-instance": inst.ID, "data-status": inst.status, "data-key": `card:${inst.ID}`, "aria-labelledby": `inst-${inst.ID}`, tabindex: -1 },
    h(
      "header",
      {},
      h("h3", { id: `inst-${inst.ID}` }, inst.ID),
      badge(inst.status),
      h("span", { class: "addr" }, `${inst.Address}:${inst.Port}`),
      h("span", { class: "spacer" }),
      maintenanceButton(inst),
      h("button", { class: "danger", "data-key": `dereg:${inst.ID}`, "data-action": "deregister", onclick: () => void deregister(inst) }, "Deregister…"),
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
}

class NodePage implements View {
  readonly key = "node";
  readonly nodes: Node[];
  private box = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  private reading = false;

  constructor() {
    this.nodes = [h("h1", {}, "Node and cluster"), this.box];
    this.update();
  }

  // Re-read on every change (the registry counters move with it), one reading at a time.
  update() {
    if (this.reading) return;
    this.reading = true;
    void fillNode(this.box).finally(() => (this.reading = false));
  }
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
  currentView?.update();
}

// The servers and their leader: Raft's configuration in a cluster, else this agent alone.
async function readCluster() {
  const [ldr, peers] = await Promise.all([getJson<string>("/v1/status/leader"), getJson<string[]>("/v1/status/peers")]);
  leader = ldr;
  let next: Server[] = peers.map((p) => ({ address: p, node: "", leader: p === ldr }));
  if (peers.length > 1) {
    try {
      const conf = await getJson<{ Servers: Array<{ Address: string; Node: string; Leader: boolean }> }>("/v1/operator/raft/configuration");
      next = conf.Servers.map((sv) => ({ address: sv.Address, node: sv.Node, leader: sv.Leader }));
    } catch {
      // the peers and the leader are enough to draw
    }
  }
  servers = next;
}

type SelfInfo = { Config: Record<string, string | boolean>; Stats?: { registry?: Record<string, string> } };

async function fillNode(box: HTMLElement) {
  try {
    const [self] = await Promise.all([getJson<SelfInfo>("/v1/agent/self"), readCluster()]);
    let members: Array<Record<string, unknown>> | null = null;
    try {
      members = await getJson<Array<Record<string, unknown>>>("/v1/agent/members");
    } catch {
      members = null; // not served by a single in-memory agent
    }
    const cfg = self.Config;
    const stats = { ...(self.Stats?.registry ?? {}) };
    const row = (k: string, v: Node | string) => [h("dt", {}, k), h("dd", {}, v)];
    const preserving = stats.self_preservation === "true";
    const held = stats.expiries_held ?? "0";
    const raftIndex = stats.index ?? "";
    for (const k of ["self_preservation", "expiries_held", "index"]) delete stats[k];
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
          ...row("Leader", leader ? leader : badge("critical", "no leader")),
          ...row("Raft index (applied)", h("span", { "data-stat": "index" }, raftIndex)),
          ...row(
            "Self-preservation",
            h(
              "span",
              { "data-stat": "self-preservation" },
              preserving
                ? badge("warning", `on: holding ${held} expiries back (too many TTLs would expire at once)`)
                : badge("passing", "off: expiries run as due"),
            ),
          ),
          ...Object.entries(stats).flatMap(([k, v]) => row(k.replace(/_/g, " "), v)),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "peers-title" },
        h("h2", { id: "peers-title" }, "Peers (voters)"),
        h(
          "table",
          { class: "servers" },
          h("thead", {}, h("tr", {}, ...["Server", "Raft address", "Role"].map((t) => h("th", { scope: "col" }, t)))),
          h(
            "tbody",
            {},
            ...servers.map((sv) =>
              h(
                "tr",
                { "data-server": sv.address },
                h("td", {}, sv.node || "—"),
                h("td", {}, sv.address),
                h("td", {}, sv.leader ? h("span", { class: "tag leader" }, "★ leader") : h("span", { class: "tag" }, "follower")),
              ),
            ),
          ),
        ),
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
                  h(
                    "tr",
                    {},
                    h("td", {}, String(m.Name ?? "")),
                    h("td", {}, `${m.Addr ?? ""}:${m.Port ?? ""}`),
                    h("td", {}, m.Status === 1 ? badge("passing", "alive") : badge("critical", `status ${String(m.Status)}`)),
                  ),
                ),
              ),
            ),
          )
        : "",
    );
  } catch (e) {
    const text =
      e instanceof ApiError && e.denied
        ? `Access denied: ${e.agentMessage}. The node page needs agent:read on this agent's node.`
        : `Could not read the cluster: ${String(e)}`;
    box.replaceChildren(h("p", { role: "alert", class: "acl-note" }, text));
  }
}

function updateAges() {
  for (const el of main.querySelectorAll<HTMLElement>("[data-age]")) {
    el.textContent = formatAge(store.heartbeatAge(el.dataset.age!));
  }
  for (const el of main.querySelectorAll<HTMLElement>("[data-since]")) {
    el.textContent = formatAge(Date.now() - Number(el.dataset.since));
  }
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
  store.reset();
  setView(null);
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
  // The KV pages read keys, not the registry: they say themselves what the token may not do.
  const registry = route().view !== "kv";
  if (registry && store.denied) {
    lines.push(`Access denied: ${store.denied}.`);
    lines.push(
      token
        ? "This token cannot follow changes live (that needs operator:read): the lists are read again every 5 s."
        : "Without a token the agent treats this page as anonymous. Enter a token to see the registry.",
    );
  }
  if (registry && store.filtered) lines.push("Some services are hidden by ACLs: this token cannot read them.");
  if (registry && store.heartbeatsDenied && !store.denied) lines.push(`Heartbeat ages are hidden: ${store.heartbeatsDenied}.`);
  const key = lines.join("\n") + (token ? "+" : "-");
  if (key === bannerKey) return;
  bannerKey = key;
  banner.hidden = lines.length === 0;
  const parts: Node[] = lines.map((l) => h("p", {}, l));
  if (lines.length && !token) parts.push(h("button", { type: "button", onclick: openTokenDialog }, "Enter a token…"));
  banner.replaceChildren(...parts);
}

// --- Rendering: one view per route, updated in place, at most once a frame ---

let currentView: View | null = null;

function viewKey(r: Route) {
  return r.view === "service" ? `service:${r.name}` : r.view === "kv" ? `kv:${r.key}` : r.view;
}

function setView(view: View | null) {
  currentView?.dispose?.();
  currentView = view;
}

function newView(r: Route): View {
  if (r.view === "service") return new ServicePage(r.name, r.instance);
  if (r.view === "node") return new NodePage();
  if (r.view === "kv") return r.key === "" || r.key.endsWith("/") ? new KvFolderPage(r.key, r.q) : new KvKeyPage(r.key);
  return new OverviewView(r);
}

function render() {
  const r = route();
  for (const a of document.querySelectorAll<HTMLAnchorElement>("header nav a")) {
    const current = a.dataset.nav === (r.view === "node" || r.view === "kv" ? r.view : "overview");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  renderBanner();
  if (r.view !== "service") store.watchService("");
  if (!store.loaded && r.view === "overview") {
    main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    setView(null);
    return;
  }
  if (currentView?.key === viewKey(r)) {
    currentView.route?.(r);
    currentView.update();
    return;
  }
  // Keep keyboard focus on the same control across a rebuild.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.key;
  const view = newView(r);
  setView(view);
  main.replaceChildren(...view.nodes);
  if (focused) main.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  updateAges();
}

let frame = 0;
function scheduleRender() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    render();
  });
}

// Announce health transitions to screen readers: instances where the UI reads them, and
// services whose worst status changed.
let announced = 0;
let previous = new Map<string, Status>();
store.onChange(() => {
  live.textContent = !store.connected ? "reconnecting…" : store.mode === "polling" ? "● polling" : "● live";
  live.className = `live ${store.connected ? "on" : "off"}`;
  const changes: string[] = [];
  for (const t of store.transitions.slice(announced)) {
    if (t.to === "absent") changes.push(`${t.instance} left the registry`);
    else if (t.from !== "absent") changes.push(`${t.instance} is now ${t.to}`);
  }
  announced = store.transitions.length;
  const next = new Map<string, Status>();
  for (const sv of store.summaries.values()) {
    next.set(sv.name, sv.status);
    const before = previous.get(sv.name);
    if (before && before !== sv.status && changes.length < 5) changes.push(`service ${sv.name} is now ${sv.status}: ${countsText(sv)}`);
  }
  if (previous.size > 0 && changes.length) say(changes.slice(0, 10).join(". "));
  previous = next;
  scheduleRender();
});
store.onBeat((ids) => currentView?.beat?.(ids));
window.addEventListener("hashchange", () => {
  const before = currentView?.key;
  render();
  if (currentView?.key !== before) main.focus({ preventScroll: true });
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

// The data first; who the token is, the servers and the maintenance API meanwhile.
store.start();
render();
void (async () => {
  const identity = getToken() ? identify(getToken()) : Promise.resolve(null);
  const [who] = await Promise.all([identity, readCluster().catch(() => (leader = "")), probeMaintenance()]);
  if (who?.ok) whoami = who.name;
  else if (who) tokenProblem = who.message;
  updateTokenButton();
  renderBanner();
  scheduleRender();
})();
