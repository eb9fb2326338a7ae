// What the UI knows of the registry, read so that it scales to 1,000 services and 100,000
// instances (docs/ui.md "Data path"):
//
// - The overview keeps one summary per service (instance counts by status, tags), kept current
//   by one blocking query, /v1/concierge/summary, that answers with the services changed since
//   the index it was given: an update moves the changed services, not the catalog.
// - A service's instances and checks are read only while its page is open, with Consul's
//   blocking /v1/health/service/:name, and its heartbeat ages with
//   /v1/concierge/heartbeats?service=NAME.
// - A small catalog (a demo) is read whole from /v1/agent/services and /v1/agent/checks, so
//   the overview can draw every instance and its heartbeats.
// - A token that may read services but not operator:read (the summary) gets the same counts
//   computed from those two lists, read every 5 s.
//
// Every request carries the operator's ACL token (X-Consul-Token), if one was entered.

// The token lives in sessionStorage (docs/ui.md says why), never in a URL or a log.
const TOKEN_KEY = "concierge.token";

export function getToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return ""; // storage disabled
  }
}

export function setToken(token: string) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token cannot be kept
  }
}

// An answer other than 2xx: the status and the agent's own message.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly agentMessage: string,
    path: string,
  ) {
    super(status === 403 ? agentMessage : `${path}: ${status} ${agentMessage}`);
  }
  get denied() {
    return this.status === 403;
  }
}

// fetch() with the token as X-Consul-Token (a header: never in the query string).
export function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = getToken();
  if (token) headers.set("X-Consul-Token", token);
  return fetch(path, { cache: "no-store", ...init, headers });
}

export function isFiltered(r: Response) {
  return r.headers.get("X-Consul-Results-Filtered-By-ACLs") === "true";
}

export type Status = "passing" | "warning" | "critical";

export interface Check {
  CheckID: string;
  Name: string;
  Status: Status;
  Output: string;
  Notes?: string;
  ServiceID: string;
  ServiceName: string;
  Definition?: { TTL?: string; DeregisterCriticalServiceAfter?: string };
}

export interface Instance {
  ID: string;
  Service: string;
  Tags: string[];
  Meta: Record<string, string>;
  Address: string;
  Port: number;
  checks: Check[];
  status: Status;
}

// One service as the overview sees it.
export interface ServiceSummary {
  name: string;
  index: number;
  instances: number;
  passing: number;
  warning: number;
  critical: number;
  tags: string[];
  status: Status; // the worst of its instances
}

// A check that changed status (or an instance that came or went) while the UI watched.
export interface Transition {
  at: number; // Date.now()
  service: string;
  instance: string;
  check: string;
  from: Status | "absent";
  to: Status | "absent";
  reason: string; // the check's output: why it is in its new state
}

export interface Heartbeat {
  ageMs: number; // at `at`
  at: number; // performance.now() of the reading
}

export const rank: Record<Status, number> = { passing: 0, warning: 1, critical: 2 };

export function worst(statuses: Status[]): Status {
  let s: Status = "passing";
  for (const x of statuses) if (rank[x] > rank[s]) s = x;
  return s;
}

// Up to this many instances, the overview reads the whole catalog and draws every instance.
export const SMALL_CATALOG = 60;
const MAX_TRANSITIONS = 500;

function summarize(name: string, instances: Instance[], index = 0): ServiceSummary {
  const s: ServiceSummary = { name, index, instances: instances.length, passing: 0, warning: 0, critical: 0, tags: [], status: "passing" };
  const tags = new Set<string>();
  for (const i of instances) {
    s[i.status]++;
    for (const t of i.Tags) tags.add(t);
  }
  s.tags = [...tags].sort();
  s.status = s.critical ? "critical" : s.warning ? "warning" : "passing";
  return s;
}

function makeInstance(service: Omit<Instance, "checks" | "status">, checks: Check[]): Instance {
  const own = [...checks].sort((a, b) => a.CheckID.localeCompare(b.CheckID));
  return {
    ...service,
    Tags: service.Tags ?? [],
    Meta: service.Meta ?? {},
    checks: own,
    status: worst(own.map((c) => c.Status)),
  };
}

// What changed between two readings of a service's instances.
function diff(service: string, before: Instance[], after: Instance[], at: number): Transition[] {
  const out: Transition[] = [];
  const old = new Map(before.map((i) => [i.ID, i]));
  for (const inst of after) {
    const prev = old.get(inst.ID);
    old.delete(inst.ID);
    if (!prev) {
      out.push({ at, service, instance: inst.ID, check: "", from: "absent", to: inst.status, reason: "registered" });
      continue;
    }
    const prevChecks = new Map(prev.checks.map((c) => [c.CheckID, c.Status]));
    for (const c of inst.checks) {
      const was = prevChecks.get(c.CheckID);
      if (was && was !== c.Status) {
        out.push({ at, service, instance: inst.ID, check: c.CheckID, from: was, to: c.Status, reason: c.Output || c.Notes || "" });
      }
    }
  }
  for (const gone of old.values()) {
    out.push({ at, service, instance: gone.ID, check: "", from: gone.status, to: "absent", reason: "deregistered" });
  }
  return out;
}

type Listener = () => void;

export class Store {
  index = 0;
  loaded = false;
  connected = false;
  // "live": the blocking summary; "polling": the lists every 5 s (no operator:read).
  mode: "live" | "polling" = "live";
  // The agent's 403 message for the live data (summary, heartbeats), if refused.
  denied = "";
  heartbeatsDenied = "";
  // Whether the last lists left out services this token may not read.
  filtered = false;
  summaries = new Map<string, ServiceSummary>();
  // Instances and checks, for the services known in detail: every service of a small catalog,
  // and the service whose page is open.
  details = new Map<string, Instance[]>();
  // Whether `details` holds the whole catalog (small enough to draw every instance).
  whole = false;
  heartbeats = new Map<string, Heartbeat>();
  transitions: Transition[] = [];
  // The summaries that changed in the last update (all of them after a full one).
  changed: string[] = [];
  private abort = new AbortController();
  private listeners: Listener[] = [];
  private beatListeners: Array<(checkIds: string[]) => void> = [];
  // The service whose page is open: read in detail while it is.
  private watched = "";
  private watchAbort = new AbortController();
  private serviceFiltered = new Map<string, boolean>();

  onChange(f: Listener) {
    this.listeners.push(f);
  }
  // Called with the checks whose heartbeat arrived since the last reading.
  onBeat(f: (checkIds: string[]) => void) {
    this.beatListeners.push(f);
  }

  instance(id: string): Instance | undefined {
    for (const list of this.details.values()) {
      const inst = list.find((i) => i.ID === id);
      if (inst) return inst;
    }
    return undefined;
  }

  totals() {
    const c = { services: this.summaries.size, instances: 0, passing: 0, warning: 0, critical: 0 };
    for (const s of this.summaries.values()) {
      c.instances += s.instances;
      c.passing += s.passing;
      c.warning += s.warning;
      c.critical += s.critical;
    }
    return c;
  }

  // Whether the token may not read this service (its health answer was filtered).
  serviceHidden(name: string) {
    return this.serviceFiltered.get(name) === true;
  }

  // Milliseconds since the check's last heartbeat, as of now.
  heartbeatAge(checkId: string): number | undefined {
    const h = this.heartbeats.get(checkId);
    if (!h) return undefined;
    return h.ageMs + (performance.now() - h.at);
  }

  start() {
    void this.watch();
    void this.pollHeartbeats();
  }

  // Read `name` in detail (its page is open), or stop ("").
  watchService(name: string) {
    if (name === this.watched) return;
    this.watchAbort.abort();
    this.watchAbort = new AbortController();
    if (this.watched && !this.whole) this.details.delete(this.watched);
    this.watched = name;
    if (name && this.mode === "polling" && this.loaded && !this.details.has(name)) this.details.set(name, []);
    if (name) void this.watchOne(name, this.watchAbort.signal);
  }

  // The token changed: drop what the old one showed and re-read now, ending the parked queries.
  reset() {
    this.abort.abort();
    this.abort = new AbortController();
    this.index = 0;
    this.loaded = false;
    this.mode = "live"; // until the summary says otherwise
    this.denied = "";
    this.heartbeatsDenied = "";
    this.filtered = false;
    this.summaries = new Map();
    this.details = new Map();
    this.whole = false;
    this.heartbeats = new Map();
    this.serviceFiltered = new Map();
    const watched = this.watched;
    this.watched = "";
    this.watchService(watched);
    this.emit();
  }

  private emit() {
    for (const f of this.listeners) f();
  }

  private async watch() {
    for (;;) {
      const signal = this.abort.signal;
      try {
        const r = await apiFetch(`/v1/concierge/summary?index=${this.index}&wait=60s`, { signal });
        if (r.status === 403 || r.status === 404) {
          // No operator:read (or an agent without the summary): no live updates, but the
          // lists may still show what the token may read (they are filtered, not refused).
          this.denied = r.status === 403 ? (await r.text()).trim() : "";
          this.mode = "polling";
          await this.readLists(signal, true);
          this.connected = true;
          this.emit();
          await sleep(5000, signal);
          continue;
        }
        if (!r.ok) throw new ApiError(r.status, await r.text(), "/v1/concierge/summary");
        const body = (await r.json()) as SummaryAnswer;
        if (signal.aborted) continue;
        this.mode = "live";
        this.denied = "";
        this.applySummary(body);
        // A small catalog is read whole, to draw every instance; a large one is not.
        const total = this.totals().instances;
        if (total <= SMALL_CATALOG && this.changed.length > 0) await this.readLists(signal, false);
        else if (total > SMALL_CATALOG && this.whole) this.dropWhole();
        if (signal.aborted) continue;
        this.connected = true;
        this.loaded = true;
        this.emit();
      } catch {
        if (signal.aborted) continue; // reset(): start over with the new token
        if (this.connected) {
          this.connected = false;
          this.emit();
        }
        await sleep(1000, signal);
      }
    }
  }

  private applySummary(body: SummaryAnswer) {
    if (body.Full) this.summaries = new Map();
    this.changed = [];
    for (const s of body.Services) {
      const status: Status = s.Critical ? "critical" : s.Warning ? "warning" : "passing";
      this.summaries.set(s.Name, {
        name: s.Name,
        index: s.Index,
        instances: s.Instances,
        passing: s.Passing,
        warning: s.Warning,
        critical: s.Critical,
        tags: s.Tags ?? [],
        status,
      });
      this.changed.push(s.Name);
    }
    if (body.Full) this.summaries = new Map([...this.summaries].sort((a, b) => a[0].localeCompare(b[0])));
    this.index = body.Index;
  }

  private dropWhole() {
    this.whole = false;
    for (const name of [...this.details.keys()]) if (name !== this.watched) this.details.delete(name);
  }

  // The whole catalog from the agent's lists: details of every service, and (when the summary
  // is not available) the summaries computed from them.
  private async readLists(signal: AbortSignal, summaries: boolean) {
    const filtered = { any: false };
    const [services, checks] = await Promise.all([
      getJson<Record<string, Omit<Instance, "checks" | "status">>>("/v1/agent/services", filtered, signal),
      getJson<Record<string, Check>>("/v1/agent/checks", filtered, signal),
    ]);
    if (signal.aborted) return;
    this.filtered = filtered.any;
    const byInstance = new Map<string, Check[]>();
    for (const c of Object.values(checks)) {
      const list = byInstance.get(c.ServiceID) ?? [];
      list.push(c);
      byInstance.set(c.ServiceID, list);
    }
    const next = new Map<string, Instance[]>();
    for (const s of Object.values(services)) {
      const list = next.get(s.Service) ?? [];
      list.push(makeInstance(s, byInstance.get(s.ID) ?? []));
      next.set(s.Service, list);
    }
    const names = [...next.keys()].sort();
    const now = Date.now();
    if (summaries) {
      const before = this.summaries;
      this.summaries = new Map(names.map((n) => [n, summarize(n, next.get(n)!)]));
      this.changed = names.filter((n) => JSON.stringify(before.get(n)) !== JSON.stringify(this.summaries.get(n)));
    }
    // Polling, the lists are the only source: every service's details come from them (a
    // health query may be filtered where the lists are not: it also needs node:read).
    // Live, the open service's come from its own blocking query.
    const own = (n: string) => n === this.watched && this.mode === "live";
    for (const n of names) {
      const list = next.get(n)!.sort((a, b) => a.ID.localeCompare(b.ID));
      if (own(n)) continue;
      if (this.loaded) this.record(diff(n, this.details.get(n) ?? [], list, now));
      this.details.set(n, list);
    }
    for (const n of [...this.details.keys()]) {
      if (!next.has(n) && !own(n)) {
        if (this.loaded) this.record(diff(n, this.details.get(n)!, [], now));
        this.details.delete(n);
      }
    }
    // What the lists leave out, this token may not read (or it is gone).
    if (this.mode === "polling" && this.watched && !next.has(this.watched)) this.details.set(this.watched, []);
    this.whole = true;
    this.loaded = true;
  }

  // The open service's instances, with Consul's blocking health query on it alone.
  private async watchOne(name: string, signal: AbortSignal) {
    let index = 0;
    while (!signal.aborted) {
      try {
        const path = `/v1/health/service/${encodeURIComponent(name)}?index=${index}&wait=60s`;
        const r = await apiFetch(path, { signal });
        if (!r.ok) throw new ApiError(r.status, (await r.text()).trim(), path);
        const entries = (await r.json()) as HealthEntry[];
        if (signal.aborted) return;
        index = Number(r.headers.get("X-Consul-Index") ?? 0);
        this.serviceFiltered.set(name, isFiltered(r));
        const list = entries
          .map((e) => makeInstance({ ...e.Service, Address: e.Service.Address || e.Node?.Address || "" }, e.Checks.filter((c) => c.ServiceID === e.Service.ID)))
          .sort((a, b) => a.ID.localeCompare(b.ID));
        if (this.mode === "polling") continue; // the lists are read instead (readLists)
        const before = this.details.get(name);
        if (before) this.record(diff(name, before, list, Date.now()));
        this.details.set(name, list);
        this.emit();
      } catch {
        if (signal.aborted) return;
        await sleep(1000, signal);
      }
    }
  }

  private record(t: Transition[]) {
    if (t.length === 0) return;
    this.transitions.push(...t);
    if (this.transitions.length > MAX_TRANSITIONS) this.transitions.splice(0, this.transitions.length - MAX_TRANSITIONS);
  }

  // Soft state (DESIGN.md decision 1): heartbeats change no index, so they are read here;
  // all of them for a small catalog, else only the open service's.
  private async pollHeartbeats() {
    for (;;) {
      const path = this.watched && !this.whole
        ? `/v1/concierge/heartbeats?service=${encodeURIComponent(this.watched)}`
        : this.whole
          ? "/v1/concierge/heartbeats"
          : "";
      if (document.visibilityState === "visible" && path && !this.denied) {
        try {
          const signal = this.abort.signal;
          const ages = await getJson<Record<string, number>>(path, undefined, signal);
          if (signal.aborted) continue;
          this.heartbeatsDenied = "";
          const now = performance.now();
          const beats: string[] = [];
          const next = new Map<string, Heartbeat>();
          for (const [id, ageMs] of Object.entries(ages)) {
            const before = this.heartbeats.get(id);
            // A heartbeat arrived if the age is clearly less than the old one plus the time since.
            if (before && ageMs + 150 < before.ageMs + (now - before.at)) beats.push(id);
            next.set(id, { ageMs, at: now });
          }
          this.heartbeats = next;
          if (beats.length > 0) for (const f of this.beatListeners) f(beats);
        } catch (e) {
          // A lost connection is reported by the summary watch; a refusal is shown.
          if (e instanceof ApiError && e.denied) this.heartbeatsDenied = e.agentMessage;
        }
      }
      await sleep(1000);
    }
  }
}

interface SummaryAnswer {
  Index: number;
  Full: boolean;
  Services: Array<{ Name: string; Index: number; Instances: number; Passing: number; Warning: number; Critical: number; Tags?: string[] }>;
}

interface HealthEntry {
  Node?: { Address?: string };
  Service: Omit<Instance, "checks" | "status">;
  Checks: Check[];
}

// GET path as JSON; `filtered.any` becomes true if the agent left entries out (ACLs).
export async function getJson<T>(path: string, filtered?: { any: boolean }, signal?: AbortSignal): Promise<T> {
  const r = await apiFetch(path, { signal });
  if (!r.ok) throw new ApiError(r.status, (await r.text()).trim(), path);
  if (filtered && isFiltered(r)) filtered.any = true;
  return (await r.json()) as T;
}

// Waits ms, or less if signal aborts.
export function sleep(ms: number, signal?: AbortSignal) {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
