// The picture from the project's story: the registry at the centre, services around it,
// their instances around them coloured by health (and marked with a symbol and a word),
// heartbeats travelling to the registry as they arrive, a failed instance turning red and a
// deregistered one fading away. Plain SVG, laid out on circles.

import type { Instance, Status, Store } from "./api";
import { worst } from "./api";
import { h, s } from "./dom";
import { symbol } from "./status";

interface Point {
  x: number;
  y: number;
}

const R_SERVICES = 180; // registry centre to service centre, at least
const SERVICE_GAP = 250; // between neighbouring services, at least
const R_INSTANCES = 122; // service centre to instance centre, at least
const INSTANCE_SPACING = 80; // along the arc, between neighbours, at most
const MIN_SPACING = 56; // below this, the instances move further out
const HALF_W = 500; // the smallest picture: 1000 x 730
const HALF_H = 365;
const INSTANCE_RADIUS = 20;
const MAX_INSTANCES = 10; // per service; the rest are counted
const LEAVE_MS = 1500;

interface Ghost {
  inst: Instance;
  at: Point;
  dir: Point;
  until: number;
}

export class Topology {
  readonly element: HTMLElement;
  private svg: SVGElement;
  private positions = new Map<string, { inst: Point; service: Point }>();
  private known = new Map<string, Instance>();
  private ghosts = new Map<string, Ghost>();
  private pulses: SVGElement;
  private reduceMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;

  constructor(
    private store: Store,
    private leader: () => string,
  ) {
    this.svg = s("svg", {
      viewBox: "-500 -365 1000 730",
      class: "topology",
      role: "group",
      "aria-label": "Topology: the registry, its services and their instances",
    });
    this.pulses = s("g", { class: "pulses", "aria-hidden": "true" });
    this.element = h(
      "figure",
      { class: "topology-figure" },
      this.svg,
      h(
        "figcaption",
        { class: "legend" },
        h("span", { class: "badge passing" }, h("span", { class: "sym", "aria-hidden": "true" }, "✓"), " passing"),
        h("span", { class: "badge warning" }, h("span", { class: "sym", "aria-hidden": "true" }, "!"), " warning"),
        h("span", { class: "badge critical" }, h("span", { class: "sym", "aria-hidden": "true" }, "✕"), " critical (dashed)"),
        h("span", { class: "legend-beat" }, h("span", { class: "dot", "aria-hidden": "true" }), " heartbeat arriving"),
        h("span", { class: "legend-hint" }, "Tab to an instance, Enter to open its service."),
      ),
    );
    store.onBeat((ids) => this.beat(ids));
  }

  render() {
    const now = performance.now();
    const current = new Map<string, Instance>();
    for (const list of this.store.services.values()) for (const i of list) current.set(i.ID, i);
    // Instances that left since the last picture fade out where they were.
    for (const [id, inst] of this.known) {
      const pos = this.positions.get(id);
      if (!current.has(id) && pos && !this.ghosts.has(id)) {
        this.ghosts.set(id, { inst, at: pos.inst, dir: unit(pos.service, pos.inst), until: now + LEAVE_MS });
        setTimeout(() => this.render(), LEAVE_MS + 50);
      }
    }
    for (const [id, g] of this.ghosts) if (g.until <= now || current.has(id)) this.ghosts.delete(id);
    this.known = current;
    this.positions.clear();

    const links = s("g", { class: "links" });
    const nodes = s("g", { class: "nodes" });
    const names = [...this.store.services.keys()];
    const k = names.length;
    // Services on an ellipse (the picture is wider than tall), far enough apart that each
    // one's fan of instances fits between its neighbours.
    const ry = k <= 2 ? R_SERVICES : Math.max(R_SERVICES, SERVICE_GAP / 2 / Math.sin(Math.PI / k));
    const rx = k <= 2 ? ry : ry * 1.35;
    const gap = k <= 1 ? Infinity : 2 * ry * Math.sin(Math.PI / k);
    let halfW = HALF_W;
    let halfH = HALF_H;
    const extend = (p: Point, dx: number, dy: number) => {
      halfW = Math.max(halfW, Math.abs(p.x) + dx);
      halfH = Math.max(halfH, Math.abs(p.y) + dy);
    };
    names.forEach((name, idx) => {
      const instances = this.store.services.get(name) ?? [];
      const angle = -Math.PI / 2 + (2 * Math.PI * idx) / Math.max(1, k);
      const sc = { x: rx * Math.cos(angle), y: ry * Math.sin(angle) };
      extend(sc, 80, 40);
      const status = worst(instances.map((i) => i.status));
      links.append(s("line", { x1: 0, y1: 0, x2: sc.x, y2: sc.y, class: "link-service" }));
      const shown = instances.slice(0, MAX_INSTANCES);
      const n = shown.length;
      let r = R_INSTANCES;
      let step = 0;
      for (let tries = 0; n > 1 && tries < 8; tries++) {
        // The widest fan whose sides stay clear of the neighbouring services' fans.
        const clear = (gap / 2 - 28) / r;
        const fan = clear >= 1 || k <= 2 ? 1.5 * Math.PI : 2 * Math.asin(Math.max(0.2, clear));
        step = Math.min(INSTANCE_SPACING / r, fan / (n - 1));
        if (step * r >= MIN_SPACING) break;
        r *= 1.25;
      }
      shown.forEach((inst, j) => {
        const a = Math.atan2(sc.y, sc.x) + (j - (n - 1) / 2) * step;
        const p = polar(sc, r, a);
        extend(p, 110, 62);
        this.positions.set(inst.ID, { inst: p, service: sc });
        links.append(
          s("line", { x1: sc.x, y1: sc.y, x2: p.x, y2: p.y, class: `link-instance ${inst.status}` }),
        );
        nodes.append(this.instanceNode(inst, p, unit(sc, p)));
      });
      nodes.append(this.serviceNode(name, instances, sc, status));
    });
    for (const [id, g] of this.ghosts) nodes.append(this.instanceNode(g.inst, g.at, g.dir, id));

    const centre = s(
      "g",
      { class: "registry", "aria-label": `Registry, leader ${this.leader() || "unknown"}` },
      s("circle", { r: 62 }),
      s("text", { y: -6, class: "registry-name" }, "Concierge"),
      s("text", { y: 14, class: "registry-sub" }, "registry"),
      s("text", { y: 30, class: "registry-sub" }, this.leader()),
    );
    const empty =
      k === 0
        ? s("text", { y: 110, class: "empty" }, this.store.filtered || this.store.denied ? "No services this token may read" : "No services registered yet")
        : null;
    // Heartbeat dots travel under the nodes, visible along the links.
    this.svg.setAttribute("viewBox", `${-halfW} ${-halfH} ${2 * halfW} ${2 * halfH}`);
    this.svg.replaceChildren(links, this.pulses, centre, nodes, ...(empty ? [empty] : []));
  }

  private serviceNode(name: string, instances: Instance[], at: Point, status: Status) {
    const count = (st: Status) => instances.filter((i) => i.status === st).length;
    const parts = (["passing", "warning", "critical"] as Status[])
      .filter((st) => count(st) > 0)
      .map((st) => `${count(st)} ${st}`);
    const summary = parts.join(", ") || "no instances";
    const short = (["passing", "warning", "critical"] as Status[])
      .filter((st) => count(st) > 0)
      .map((st) => `${count(st)}${symbol[st]}`)
      .join("  ");
    const more = instances.length > MAX_INSTANCES ? ` +${instances.length - MAX_INSTANCES}` : "";
    const g = s(
      "g",
      {
        class: `svc ${status}`,
        transform: `translate(${at.x},${at.y})`,
        tabindex: 0,
        role: "link",
        "data-key": `svc:${name}`,
        "data-service": name,
        "aria-label": `Service ${name}: ${summary}`,
      },
      s("title", {}, `${name}: ${summary}`),
      s("rect", { x: -64, y: -24, width: 128, height: 48, rx: 10 }),
      s("text", { y: -4, class: "svc-name" }, clip(name, 16)),
      s("text", { y: 14, class: "svc-counts" }, short + more),
    );
    link(g, `#/service/${encodeURIComponent(name)}`);
    return g;
  }

  // Labels go on the side away from the service (`dir` points away from it), so that its
  // link does not cross them.
  private instanceNode(inst: Instance, at: Point, dir: Point, ghost?: string) {
    const st = inst.status;
    const label = ghost ? "deregistered" : st;
    const R = INSTANCE_RADIUS;
    const side = Math.abs(dir.x) > 0.6;
    const anchor = side ? (dir.x > 0 ? "start" : "end") : "middle";
    const x = side ? Math.sign(dir.x) * (R + 6) : 0;
    const [y1, y2] = side ? [-2, 12] : dir.y < 0 ? [-R - 22, -R - 8] : [R + 16, R + 30];
    const style = `text-anchor: ${anchor}`;
    const g = s(
      "g",
      {
        class: `inst ${st}${ghost ? " leaving" : ""}`,
        transform: `translate(${at.x},${at.y})`,
        tabindex: ghost ? null : 0,
        role: ghost ? null : "link",
        "data-key": ghost ? null : `inst:${inst.ID}`,
        "data-instance": ghost ? null : inst.ID,
        "data-status": label,
        "aria-label": `Instance ${inst.ID} of ${inst.Service}: ${label}`,
      },
      s("title", {}, `${inst.ID} (${inst.Address}:${inst.Port}): ${label}`),
      s("circle", { r: INSTANCE_RADIUS + 6, class: "halo" }),
      s("circle", { r: INSTANCE_RADIUS, class: "body" }),
      s("text", { y: 6, class: "inst-sym", "aria-hidden": "true" }, symbol[st]),
      s("text", { x, y: y1, style, class: "inst-id" }, clip(inst.ID, 18)),
      s("text", { x, y: y2, style, class: `inst-status ${st}` }, label),
    );
    if (!ghost) link(g, `#/service/${encodeURIComponent(inst.Service)}`);
    return g;
  }

  // A dot travels from the instance through its service to the registry.
  private beat(checkIds: string[]) {
    const seen = new Set<string>();
    for (const id of checkIds) {
      const hb = this.store.heartbeats.get(id);
      if (!hb) continue;
      let instId: string | undefined;
      for (const list of this.store.services.values())
        for (const i of list) if (i.checks.some((c) => c.CheckID === id)) instId = i.ID;
      if (!instId || seen.has(instId)) continue;
      seen.add(instId);
      const pos = this.positions.get(instId);
      if (!pos) continue;
      const node = this.svg.querySelector(`[data-instance="${CSS.escape(instId)}"]`);
      node?.classList.remove("beating");
      void (node as SVGGraphicsElement | null)?.getBBox?.();
      node?.classList.add("beating");
      if (this.reduceMotion) continue;
      const dot = s("circle", { r: 5, class: "beat" });
      const motion = s("animateMotion", {
        dur: "0.9s",
        begin: "indefinite",
        fill: "freeze",
        path: `M${pos.inst.x},${pos.inst.y} L${pos.service.x},${pos.service.y} L0,0`,
      });
      dot.append(motion);
      this.pulses.append(dot);
      (motion as unknown as { beginElement(): void }).beginElement();
      setTimeout(() => dot.remove(), 1000);
    }
  }
}

function polar(c: Point, r: number, a: number): Point {
  return { x: c.x + r * Math.cos(a), y: c.y + r * Math.sin(a) };
}

function unit(from: Point, to: Point): Point {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const d = Math.hypot(dx, dy) || 1;
  return { x: dx / d, y: dy / d };
}

function clip(text: string, n: number) {
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

function link(g: SVGElement, href: string) {
  g.addEventListener("click", () => (location.hash = href));
  g.addEventListener("keydown", (e) => {
    const key = (e as KeyboardEvent).key;
    if (key === "Enter" || key === " ") {
      e.preventDefault();
      location.hash = href;
    }
  });
}
