// What the UI knows of the registry, kept current with one blocking query
// (/v1/concierge/changes) that wakes on any change, and heartbeat ages polled once a second.
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

export interface Heartbeat {
  ageMs: number; // at `at`
  at: number; // performance.now() of the reading
}

const rank: Record<Status, number> = { passing: 0, warning: 1, critical: 2 };

export function worst(statuses: Status[]): Status {
  let s: Status = "passing";
  for (const x of statuses) if (rank[x] > rank[s]) s = x;
  return s;
}

export class Store {
  index = 0;
  loaded = false;
  connected = false;
  // The agent's 403 message for the live data (changes, heartbeats), if refused.
  denied = "";
  heartbeatsDenied = "";
  // Whether the last lists left out services this token may not read.
  filtered = false;
  private abort = new AbortController();
  services = new Map<string, Instance[]>();
  heartbeats = new Map<string, Heartbeat>();
  private listeners: Array<() => void> = [];
  private beatListeners: Array<(checkIds: string[]) => void> = [];

  onChange(f: () => void) {
    this.listeners.push(f);
  }
  // Called with the checks whose heartbeat arrived since the last reading.
  onBeat(f: (checkIds: string[]) => void) {
    this.beatListeners.push(f);
  }

  instance(id: string): Instance | undefined {
    for (const list of this.services.values()) {
      const inst = list.find((i) => i.ID === id);
      if (inst) return inst;
    }
    return undefined;
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

  // The token changed: drop what the old one showed and re-read now, ending the parked query.
  reset() {
    this.abort.abort();
    this.abort = new AbortController();
    this.index = 0;
    this.loaded = false;
    this.denied = "";
    this.heartbeatsDenied = "";
    this.filtered = false;
    this.services = new Map();
    this.heartbeats = new Map();
    this.emit();
  }

  private emit() {
    for (const f of this.listeners) f();
  }

  private async watch() {
    for (;;) {
      const signal = this.abort.signal;
      try {
        const r = await apiFetch(`/v1/concierge/changes?index=${this.index}&wait=60s`, { signal });
        if (r.status === 403) {
          // No operator:read: no live updates, but the lists may still show what the token
          // may read (they are filtered, not refused). Read them again every few seconds.
          this.denied = (await r.text()).trim();
          await this.refresh(signal);
          this.connected = true;
          this.emit();
          await sleep(5000, signal);
          continue;
        }
        if (!r.ok) throw new ApiError(r.status, await r.text(), "/v1/concierge/changes");
        const { Index } = (await r.json()) as { Index: number };
        if (signal.aborted) continue;
        const changed = Index !== this.index || !this.loaded || this.denied !== "";
        this.denied = "";
        this.index = Index;
        if (changed) await this.refresh(signal);
        if (!this.connected) {
          this.connected = true;
          this.emit();
        }
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

  async refresh(signal?: AbortSignal) {
    const filtered = { any: false };
    const [services, checks] = await Promise.all([
      getJson<Record<string, Omit<Instance, "checks" | "status">>>("/v1/agent/services", filtered, signal),
      getJson<Record<string, Check>>("/v1/agent/checks", filtered, signal),
    ]);
    if (signal?.aborted) return;
    this.filtered = filtered.any;
    const byInstance = new Map<string, Check[]>();
    for (const c of Object.values(checks)) {
      const list = byInstance.get(c.ServiceID) ?? [];
      list.push(c);
      byInstance.set(c.ServiceID, list);
    }
    const next = new Map<string, Instance[]>();
    for (const s of Object.values(services)) {
      const own = (byInstance.get(s.ID) ?? []).sort((a, b) => a.CheckID.localeCompare(b.CheckID));
      const inst: Instance = {
        ...s,
        Tags: s.Tags ?? [],
        Meta: s.Meta ?? {},
        checks: own,
        status: worst(own.map((c) => c.Status)),
      };
      const list = next.get(s.Service) ?? [];
      list.push(inst);
      next.set(s.Service, list);
    }
    for (const list of next.values()) list.sort((a, b) => a.ID.localeCompare(b.ID));
    this.services = new Map([...next.entries()].sort((a, b) => a[0].localeCompare(b[0])));
    this.loaded = true;
    this.emit();
  }

  // Soft state (DESIGN.md decision 1): heartbeats change no index, so they are read here.
  private async pollHeartbeats() {
    for (;;) {
      if (document.visibilityState === "visible") {
        try {
          const signal = this.abort.signal;
          const ages = await getJson<Record<string, number>>("/v1/concierge/heartbeats", undefined, signal);
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
          // A lost connection is reported by the changes watch; a refusal is shown.
          if (e instanceof ApiError && e.denied) this.heartbeatsDenied = e.agentMessage;
        }
      }
      await sleep(1000);
    }
  }
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
