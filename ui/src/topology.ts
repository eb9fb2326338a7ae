// The topology diagram, built to stay readable from a demo to 1,000 services: the registry's
// servers at the centre (leader and followers), the services packed around them in a spiral
// with the ones in trouble nearest the centre, each drawn as a circle sized by its instance
// count with its health as a ring (and the worst status as a symbol: colour is never the
// only signal). Instances are drawn only when there are few of them or on a service's page.
// Zoom (wheel, buttons, + and -) and pan (drag); labels are placed in screen space after each
// zoom and a label that would overlap another label or a node is left out (the node keeps
// its name in its tooltip and accessible name, and zooming in makes room for it).
// The keyboard reaches the diagram with one Tab stop; the arrow keys move between nodes in
// the order of the list (trouble first), Enter opens the service.

import type { Status } from "./api";
import { h, s } from "./dom";
import { symbol } from "./status";

export interface DiagramNode {
  key: string;
  kind: "server" | "service" | "instance";
  x: number;
  y: number;
  r: number;
  status: Status;
  label: string; // drawn next to the node when it fits
  title: string; // tooltip, and the accessible name
  href?: string;
  attrs: Record<string, string>;
  counts?: Record<Status, number>; // the ring of a service
  parent?: DiagramNode; // an instance's service: a line joins them
  leader?: boolean;
}

export interface Scene {
  // A different key fits the new scene into view; the same key keeps the zoom and pan.
  key: string;
  nodes: DiagramNode[];
  centreLinks: boolean; // lines from the centre to the services
  fitFirst?: number; // the first view fits only the first nodes (the ones in trouble)
  empty?: string;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const MIN_ZOOM = 0.05;
const MAX_ZOOM = 8;
const LABEL_PX = 12;

export class Diagram {
  readonly element: HTMLElement;
  readonly svg: SVGSVGElement;
  private viewport: SVGElement;
  private labels: SVGElement;
  private pulses: SVGElement;
  private nodes: DiagramNode[] = [];
  private byKey = new Map<string, { node: DiagramNode; el: SVGElement; sig: string }>();
  private links: SVGElement = s("g", { class: "links" });
  private group: SVGElement = s("g", { class: "nodes" });
  private empty: SVGElement = s("g", { class: "empty-note" });
  private sceneKey = "";
  private k = 1;
  private tx = 0;
  private ty = 0;
  private fitted = false; // the view is the fitted one (refit when resized)
  private fittedTo: number | undefined;
  private width = 0;
  private height = 0;
  private focusKey = "";
  private labelTimer = 0;
  private zoomText: HTMLElement;
  private reduceMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;

  constructor(label: string) {
    this.svg = s("svg", {
      class: "topology",
      role: "group",
      "aria-label": label,
      "aria-roledescription": "diagram",
    }) as SVGSVGElement;
    this.viewport = s("g", { class: "viewport" });
    this.labels = s("g", { class: "labels", "aria-hidden": "true" });
    this.pulses = s("g", { class: "pulses", "aria-hidden": "true" });
    this.zoomText = h("span", { class: "zoom-level", "aria-live": "off" }, "100%");
    const button = (text: string, title: string, action: () => void, cls: string) =>
      h("button", { type: "button", class: cls, title, "aria-label": title, onclick: action }, text);
    this.element = h(
      "figure",
      { class: "topology-figure" },
      h(
        "div",
        { class: "zoom-bar" },
        button("+", "Zoom in", () => this.zoomBy(1.6), "zoom-in"),
        button("−", "Zoom out", () => this.zoomBy(1 / 1.6), "zoom-out"),
        button("Fit", "Fit the whole diagram", () => this.fit(), "zoom-fit"),
        this.zoomText,
        h("span", { class: "legend-hint" }, "Drag to pan, wheel or +/− to zoom. Tab to the diagram, arrows to move, Enter to open."),
      ),
      this.svg,
      h(
        "figcaption",
        { class: "legend" },
        h("span", { class: "badge passing" }, h("span", { class: "sym", "aria-hidden": "true" }, symbol.passing), " passing"),
        h("span", { class: "badge warning" }, h("span", { class: "sym", "aria-hidden": "true" }, symbol.warning), " warning"),
        h("span", { class: "badge critical" }, h("span", { class: "sym", "aria-hidden": "true" }, symbol.critical), " critical (dashed)"),
        h("span", {}, "Size: instances; ring: their health; ✕2 after a name: 2 critical"),
        h("span", { class: "legend-beat" }, h("span", { class: "dot", "aria-hidden": "true" }), " heartbeat"),
      ),
    );
    this.viewport.append(this.links, this.pulses, this.group, this.empty);
    this.svg.append(this.viewport, this.labels);
    this.wire();
    // The size is kept from the observer: reading clientWidth after a rebuild would force a
    // layout of the whole page (half a second at 1,000 services).
    new ResizeObserver((entries) => {
      const box = entries[entries.length - 1].contentRect;
      this.width = box.width;
      this.height = box.height;
      if (this.fitted) this.fit(this.fittedTo);
      else this.placeLabels();
    }).observe(this.svg);
  }

  // The picture's height in pixels (the CSS default is 560).
  setHeight(px: number) {
    const value = `${px}px`;
    if (this.svg.style.height !== value) this.svg.style.height = value;
  }

  // Shows a scene, keeping the elements of nodes that did not change (only moved): at 1,000
  // services an update changes a few nodes, and rebuilding all of them costs the browser
  // hundreds of milliseconds of style and layout.
  show(scene: Scene) {
    const refit = scene.key !== this.sceneKey;
    this.sceneKey = scene.key;
    this.nodes = scene.nodes;
    const before = this.byKey;
    this.byKey = new Map();
    const links = s("g", { class: "links" });
    const added: SVGElement[] = [];
    let hasFocus = false;
    for (const n of scene.nodes) {
      if (n.parent) {
        links.append(s("line", { x1: n.parent.x, y1: n.parent.y, x2: n.x, y2: n.y, class: `link-instance ${n.status}` }));
      } else if (n.kind === "service" && scene.centreLinks) {
        links.append(s("line", { x1: 0, y1: 0, x2: n.x, y2: n.y, class: "link-service" }));
      }
      const sig = signature(n);
      const old = refit ? undefined : before.get(n.key);
      let el: SVGElement;
      if (old && old.sig === sig) {
        el = old.el;
        if (old.node.x !== n.x || old.node.y !== n.y) el.setAttribute("transform", `translate(${n.x},${n.y})`);
        before.delete(n.key);
      } else {
        el = this.nodeElement(n);
        if (old) {
          old.el.replaceWith(el);
          before.delete(n.key);
        } else {
          added.push(el);
        }
      }
      if (n.key === this.focusKey) hasFocus = true;
      this.byKey.set(n.key, { node: n, el, sig });
    }
    const hadFocus = this.svg.contains(document.activeElement);
    for (const gone of before.values()) gone.el.remove();
    const focusable = scene.nodes.filter((n) => n.href);
    if (!hasFocus) this.focusKey = focusable[0]?.key ?? "";
    for (const { node, el } of this.byKey.values()) {
      if (!node.href) continue;
      const tabindex = node.key === this.focusKey ? "0" : "-1";
      if (el.getAttribute("tabindex") !== tabindex) el.setAttribute("tabindex", tabindex);
    }
    if (refit) this.group.replaceChildren(...added);
    else this.group.append(...added);
    this.links.replaceWith(links);
    this.links = links;
    const empty = scene.empty ? s("text", { y: 80, class: "empty" }, scene.empty) : null;
    this.empty.replaceChildren(...(empty ? [empty] : []));
    if (hadFocus && !this.svg.contains(document.activeElement)) {
      (this.byKey.get(this.focusKey)?.el as SVGElement | undefined)?.focus({ preventScroll: true });
    }
    if (refit) this.fit(scene.fitFirst);
    else if (this.fitted) this.fit(this.fittedTo);
    else this.placeLabels();
  }

  // Fits the first `first` nodes (all by default) into view, at most 1.5:1.
  fit(first?: number) {
    this.fittedTo = first;
    const w = this.width;
    const hgt = this.height;
    if (!w || !hgt) {
      this.fitted = true;
      return;
    }
    const b = bounds(first === undefined ? this.nodes : this.nodes.slice(0, first));
    const k = Math.min(1.5, (w - 40) / Math.max(1, b.x1 - b.x0), (hgt - 40) / Math.max(1, b.y1 - b.y0));
    this.k = clamp(k, MIN_ZOOM, MAX_ZOOM);
    this.tx = w / 2 - ((b.x0 + b.x1) / 2) * this.k;
    this.ty = hgt / 2 - ((b.y0 + b.y1) / 2) * this.k;
    this.apply(true);
    this.fitted = true;
  }

  // Zooms by `factor` about a point of the picture (its centre by default).
  zoomBy(factor: number, px = this.width / 2, py = this.height / 2) {
    const k = clamp(this.k * factor, MIN_ZOOM, MAX_ZOOM);
    this.tx = px - ((px - this.tx) * k) / this.k;
    this.ty = py - ((py - this.ty) * k) / this.k;
    this.k = k;
    this.fitted = false;
    this.apply(true);
  }

  // A dot travels from each instance that heartbeated to its service and the centre.
  beat(instanceKeys: string[]) {
    for (const key of instanceKeys) {
      const entry = this.byKey.get(key);
      if (!entry) continue;
      const n = entry.node;
      entry.el.classList.remove("beating");
      void (entry.el as SVGGraphicsElement).getBBox?.();
      entry.el.classList.add("beating");
      if (this.reduceMotion) continue;
      const p = n.parent;
      const path = p ? `M${n.x},${n.y} L${p.x},${p.y} L0,0` : `M${n.x},${n.y} L0,0`;
      const dot = s("circle", { r: 4, class: "beat" });
      const motion = s("animateMotion", { dur: "0.9s", begin: "indefinite", fill: "freeze", path });
      dot.append(motion);
      this.pulses.append(dot);
      (motion as unknown as { beginElement(): void }).beginElement();
      setTimeout(() => dot.remove(), 1000);
    }
  }

  private apply(zoomed: boolean) {
    const t = `translate(${this.tx},${this.ty}) scale(${this.k})`;
    this.viewport.setAttribute("transform", t);
    this.labels.setAttribute("transform", `translate(${this.tx},${this.ty})`);
    this.svg.dataset.zoom = this.k.toFixed(3);
    this.zoomText.textContent = `${Math.round(this.k * 100)}%`;
    if (zoomed) this.placeLabels();
    else {
      // Panning moves the labels with the picture; newly visible ones are placed after.
      clearTimeout(this.labelTimer);
      this.labelTimer = window.setTimeout(() => this.placeLabels(), 120);
    }
  }

  // Labels in screen pixels, greedily in the nodes' order (trouble first): below the node,
  // else above, right or left; left out where every place overlaps a node or a label.
  private placeLabels() {
    clearTimeout(this.labelTimer);
    const k = this.k;
    const w = this.width || 1200;
    const hgt = this.height || 600;
    const view: Box = { x0: -this.tx - 50, y0: -this.ty - 50, x1: -this.tx + w + 50, y1: -this.ty + hgt + 50 };
    const grid = new Grid(64);
    const visible = this.nodes.filter((n) => {
      const x = n.x * k;
      const y = n.y * k;
      return x + n.r * k > view.x0 && x - n.r * k < view.x1 && y + n.r * k > view.y0 && y - n.r * k < view.y1;
    });
    for (const n of visible) {
      const r = n.r * k;
      grid.add({ x0: n.x * k - r, y0: n.y * k - r, x1: n.x * k + r, y1: n.y * k + r });
    }
    const out: SVGElement[] = [];
    let shown = 0;
    for (const n of visible) {
      // A node smaller than a few pixels gets no label: it is a dot in a crowd.
      if (n.r * k < 3 && n.kind !== "server") continue;
      const tw = this.textWidth(n.label) + 6;
      const th = LABEL_PX + 3;
      const x = n.x * k;
      const y = n.y * k;
      const r = n.r * k + 3;
      const places: Array<[Box, string]> = [
        [{ x0: x - tw / 2, y0: y + r, x1: x + tw / 2, y1: y + r + th }, "middle"],
        [{ x0: x - tw / 2, y0: y - r - th, x1: x + tw / 2, y1: y - r }, "middle"],
        [{ x0: x + r, y0: y - th / 2, x1: x + r + tw, y1: y + th / 2 }, "start"],
        [{ x0: x - r - tw, y0: y - th / 2, x1: x - r, y1: y + th / 2 }, "end"],
      ];
      for (const [box, anchor] of places) {
        if (grid.hits(box)) continue;
        grid.add(box);
        const tx = anchor === "middle" ? (box.x0 + box.x1) / 2 : anchor === "start" ? box.x0 + 2 : box.x1 - 2;
        out.push(
          s(
            "text",
            { x: tx, y: box.y1 - 4, class: `label ${n.kind} ${n.status}`, style: `text-anchor: ${anchor}`, "data-label": n.key },
            n.label,
          ),
        );
        shown++;
        break;
      }
    }
    this.labels.replaceChildren(...out);
    this.svg.dataset.labels = String(shown);
  }

  // The width of a label in pixels, measured in the page's font, bold (the widest a label is drawn).
  private widths = new Map<string, number>();
  private measure: CanvasRenderingContext2D | null = null;
  private textWidth(text: string) {
    const key = text;
    let w = this.widths.get(key);
    if (w === undefined) {
      if (!this.measure) {
        this.measure = document.createElement("canvas").getContext("2d");
        if (this.measure) this.measure.font = `700 ${LABEL_PX}px ${getComputedStyle(this.svg).fontFamily}`;
      }
      const ctx = this.measure;
      if (ctx) {
        w = ctx.measureText(text).width;
      } else {
        w = text.length * 7.5;
      }
      this.widths.set(key, w);
    }
    return w;
  }

  private nodeElement(n: DiagramNode): SVGElement {
    const g = s("g", {
      class: `${n.kind === "service" ? "svc" : n.kind === "instance" ? "inst" : "server"} ${n.status}${n.leader ? " leader" : ""}`,
      transform: `translate(${n.x},${n.y})`,
      role: n.href ? "link" : "img",
      "aria-label": n.title,
      "data-key": n.key,
      ...n.attrs,
    });
    g.append(s("title", {}, n.title));
    if (n.kind === "service") {
      g.append(s("circle", { r: n.r + 3, class: "halo" }), s("circle", { r: n.r, class: "body" }));
      g.append(...ring(n.r * 0.82, n.r * 0.3, n.counts ?? { passing: 1, warning: 0, critical: 0 }));
      g.append(glyph(n.status, n.r * 0.5));
    } else if (n.kind === "instance") {
      g.append(s("circle", { r: n.r + 4, class: "halo" }), s("circle", { r: n.r, class: "body" }));
      g.append(glyph(n.status, n.r * 0.9));
    } else {
      g.append(s("circle", { r: n.r, class: "body" }));
      g.append(s("text", { y: n.r * 0.32, class: "sym", "font-size": n.r * 0.9, "aria-hidden": "true" }, n.leader ? "★" : "●"));
    }
    return g;
  }

  private open(n: DiagramNode | undefined) {
    if (n?.href) location.hash = n.href;
  }

  private focusNode(n: DiagramNode) {
    const prev = this.byKey.get(this.focusKey);
    prev?.el.setAttribute("tabindex", "-1");
    this.focusKey = n.key;
    const entry = this.byKey.get(n.key)!;
    entry.el.setAttribute("tabindex", "0");
    (entry.el as SVGElement).focus({ preventScroll: true });
    // Bring it into view.
    const x = n.x * this.k + this.tx;
    const y = n.y * this.k + this.ty;
    const w = this.width;
    const hgt = this.height;
    if (x < 20 || y < 20 || x > w - 20 || y > hgt - 20) {
      this.tx += w / 2 - x;
      this.ty += hgt / 2 - y;
      this.fitted = false;
      this.apply(true);
    }
  }

  private wire() {
    const svg = this.svg;
    const nodeOf = (target: EventTarget | null) => {
      const el = (target as Element | null)?.closest?.("[data-key]");
      return el ? this.byKey.get(el.getAttribute("data-key")!)?.node : undefined;
    };
    svg.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const rect = svg.getBoundingClientRect();
        this.zoomBy(Math.exp(-e.deltaY * 0.0015), e.clientX - rect.left, e.clientY - rect.top);
      },
      { passive: false },
    );
    let drag: { x: number; y: number; tx: number; ty: number; moved: boolean } | null = null;
    let suppressClick = false;
    svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false };
    });
    svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      if (!drag.moved) svg.setPointerCapture(e.pointerId);
      drag.moved = true;
      svg.classList.add("panning");
      this.tx = drag.tx + dx;
      this.ty = drag.ty + dy;
      this.fitted = false;
      this.apply(false);
    });
    const end = () => {
      suppressClick = drag?.moved ?? false;
      drag = null;
      svg.classList.remove("panning");
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("click", (e) => {
      if (suppressClick) {
        suppressClick = false;
        return;
      }
      this.open(nodeOf(e.target));
    });
    svg.addEventListener("focusin", (e) => {
      const n = nodeOf(e.target);
      if (n && n.key !== this.focusKey) {
        this.byKey.get(this.focusKey)?.el.setAttribute("tabindex", "-1");
        this.focusKey = n.key;
        this.byKey.get(n.key)?.el.setAttribute("tabindex", "0");
      }
    });
    svg.addEventListener("keydown", (e) => {
      const focusable = this.nodes.filter((n) => n.href);
      const i = focusable.findIndex((n) => n.key === this.focusKey);
      const go = (j: number) => {
        e.preventDefault();
        const n = focusable[clamp(j, 0, focusable.length - 1)];
        if (n) this.focusNode(n);
      };
      switch (e.key) {
        case "ArrowRight":
        case "ArrowDown":
          return go(i + 1);
        case "ArrowLeft":
        case "ArrowUp":
          return go(i - 1);
        case "Home":
          return go(0);
        case "End":
          return go(focusable.length - 1);
        case "+":
        case "=":
          e.preventDefault();
          return this.zoomBy(1.6);
        case "-":
          e.preventDefault();
          return this.zoomBy(1 / 1.6);
        case "Enter":
        case " ":
          e.preventDefault();
          return this.open(nodeOf(e.target));
      }
    });
  }
}

// The status symbol (✓, !, ✕) drawn as strokes, not text: a thousand nodes' glyphs would
// each need text layout (and font fallback for the symbols) on the first view.
function glyph(status: Status, size: number): SVGElement {
  const shapes: Record<Status, number[][]> = {
    passing: [[-0.45, 0, -0.12, 0.33, 0.45, -0.3]],
    warning: [[0, -0.45, 0, 0.12], [0, 0.4, 0, 0.42]],
    critical: [[-0.35, -0.35, 0.35, 0.35], [0.35, -0.35, -0.35, 0.35]],
  };
  const at = (v: number) => (v * size).toFixed(2);
  const d = shapes[status]
    .map((xy) => xy.map((v, i) => (i % 2 === 0 ? `${i === 0 ? "M" : "L"}${at(v)}` : at(v))).join(" "))
    .join(" ");
  return s("path", { d, class: "sym", "stroke-width": (size * 0.2).toFixed(2), "aria-hidden": "true" });
}

// What a node looks like, apart from where it is.
function signature(n: DiagramNode) {
  const c = n.counts;
  return [n.kind, n.r, n.status, n.title, n.href ?? "", n.leader ? 1 : 0, c ? `${c.passing}/${c.warning}/${c.critical}` : "", JSON.stringify(n.attrs)].join("|");
}

// The health ring: one arc per status, as long as its share of the instances.
function ring(radius: number, width: number, counts: Record<Status, number>): SVGElement[] {
  const total = counts.passing + counts.warning + counts.critical;
  if (total === 0) return [];
  const out: SVGElement[] = [];
  let a = -Math.PI / 2;
  for (const st of ["critical", "warning", "passing"] as Status[]) {
    const n = counts[st];
    if (n === 0) continue;
    const sweep = (2 * Math.PI * n) / total;
    const cls = `ring ${st}`;
    if (n === total) {
      out.push(s("circle", { r: radius, class: cls, "stroke-width": width }));
    } else {
      const x0 = radius * Math.cos(a);
      const y0 = radius * Math.sin(a);
      const x1 = radius * Math.cos(a + sweep);
      const y1 = radius * Math.sin(a + sweep);
      const large = sweep > Math.PI ? 1 : 0;
      out.push(s("path", { d: `M${x0},${y0} A${radius},${radius} 0 ${large} 1 ${x1},${y1}`, class: cls, "stroke-width": width }));
    }
    a += sweep;
  }
  return out;
}

// Places circles in order on a spiral out from the centre (outside `reserved`), each at the
// first place where it overlaps nothing placed before: the first items end up nearest the
// centre. `stretch` widens the spiral to the picture's shape.
export function pack(radii: number[], gap: number, reserved: number, stretch = 1.6): Array<{ x: number; y: number }> {
  const out: Array<{ x: number; y: number }> = [];
  if (radii.length === 0) return out;
  const maxR = Math.max(...radii);
  const minR = Math.min(...radii);
  const cell = 2 * maxR + gap;
  const grid = new Map<number, number[]>();
  const keyOf = (cx: number, cy: number) => (cx + 32768) * 65536 + (cy + 32768);
  const fits = (x: number, y: number, r: number) => {
    const reach = Math.ceil((r + maxR + gap) / cell);
    const cx = Math.floor(x / cell);
    const cy = Math.floor(y / cell);
    for (let i = cx - reach; i <= cx + reach; i++) {
      for (let j = cy - reach; j <= cy + reach; j++) {
        const list = grid.get(keyOf(i, j));
        if (!list) continue;
        for (const idx of list) {
          const p = out[idx];
          const d = r + radii[idx] + gap;
          const dx = p.x - x;
          const dy = p.y - y;
          if (dx * dx + dy * dy < d * d) return false;
        }
      }
    }
    return true;
  };
  // One turn of the spiral moves out by the smallest item's diameter.
  const perTurn = 2 * minR + gap;
  let theta = 0;
  radii.forEach((r, idx) => {
    // Start a little behind the last item: room left next to it by a bigger one is used,
    // without walking the whole (full) turn again.
    const rho0 = reserved + r + (perTurn * theta) / (2 * Math.PI);
    theta = Math.max(0, theta - Math.min(2 * Math.PI, (6 * (maxR + gap)) / rho0));
    for (;;) {
      const rho = reserved + r + (perTurn * theta) / (2 * Math.PI);
      const x = rho * Math.cos(theta) * stretch;
      const y = rho * Math.sin(theta);
      if (fits(x, y, r)) {
        out[idx] = { x, y };
        const key = keyOf(Math.floor(x / cell), Math.floor(y / cell));
        const list = grid.get(key);
        if (list) list.push(idx);
        else grid.set(key, [idx]);
        break;
      }
      theta += Math.max(0.005, (0.5 * Math.min(r, minR + gap / 2)) / rho);
    }
  });
  return out;
}

class Grid {
  private cells = new Map<string, Box[]>();
  constructor(private size: number) {}
  private range(b: Box, f: (key: string) => boolean | void): boolean {
    for (let i = Math.floor(b.x0 / this.size); i <= Math.floor(b.x1 / this.size); i++) {
      for (let j = Math.floor(b.y0 / this.size); j <= Math.floor(b.y1 / this.size); j++) {
        if (f(`${i},${j}`)) return true;
      }
    }
    return false;
  }
  add(b: Box) {
    this.range(b, (key) => {
      const list = this.cells.get(key) ?? [];
      list.push(b);
      this.cells.set(key, list);
    });
  }
  hits(b: Box) {
    return this.range(b, (key) => (this.cells.get(key) ?? []).some((o) => o.x0 < b.x1 && b.x0 < o.x1 && o.y0 < b.y1 && b.y0 < o.y1));
  }
}

function bounds(nodes: DiagramNode[]): Box {
  if (nodes.length === 0) return { x0: -200, y0: -120, x1: 200, y1: 120 };
  const b = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const n of nodes) {
    // Room for a label under the node.
    b.x0 = Math.min(b.x0, n.x - n.r - 30);
    b.x1 = Math.max(b.x1, n.x + n.r + 30);
    b.y0 = Math.min(b.y0, n.y - n.r - 8);
    b.y1 = Math.max(b.y1, n.y + n.r + 22);
  }
  return b;
}

function clamp(v: number, lo: number, hi: number) {
  return Math.max(lo, Math.min(hi, v));
}
