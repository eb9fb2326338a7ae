// What the UI knows of the registry, kept current with one blocking query
// (/v1/concierge/changes) that wakes on any change, and heartbeat ages polled once a second.

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

  private emit() {
    for (const f of this.listeners) f();
  }

  private async watch() {
    for (;;) {
      try {
        const r = await fetch(`/v1/concierge/changes?index=${this.index}&wait=60s`, {
          cache: "no-store",
        });
        if (!r.ok) throw new Error(`changes: ${r.status}`);
        const { Index } = (await r.json()) as { Index: number };
        const changed = Index !== this.index || !this.loaded;
        this.index = Index;
        if (changed) await this.refresh();
        if (!this.connected) {
          this.connected = true;
          this.emit();
        }
      } catch {
        if (this.connected) {
          this.connected = false;
          this.emit();
        }
        await sleep(1000);
      }
    }
  }

  async refresh() {
    const [services, checks] = await Promise.all([
      getJson<Record<string, Omit<Instance, "checks" | "status">>>("/v1/agent/services"),
      getJson<Record<string, Check>>("/v1/agent/checks"),
    ]);
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
          const ages = await getJson<Record<string, number>>("/v1/concierge/heartbeats");
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
        } catch {
          // The changes watch reports the lost connection.
        }
      }
      await sleep(1000);
    }
  }
}

export async function getJson<T>(path: string): Promise<T> {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

export function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
