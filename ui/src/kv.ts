// The KV browser (docs/ui.md "Keys and values"): a folder is a key prefix ending in "/"
// (#/kv/app/db/), listed with GET /v1/kv/<prefix>?keys&separator=/; a key (#/kv/app/db/url)
// is read with GET /v1/kv/<key>. Each page keeps what it shows current with a blocking query
// on its own prefix or key. Writes are check-and-set (?cas=<ModifyIndex>, ?cas=0 to create),
// so a concurrent edit is refused and said to be, never overwritten.
import { apiFetch, getToken, isFiltered, sleep } from "./api";
import { h } from "./dom";
import { confirmAction, refusal, say, tell } from "./feedback";
import { symbol } from "./status";

// Of a value, this many bytes are shown; up to this many of text can be edited in the page.
const PREVIEW_BYTES = 16 * 1024;
const EDIT_BYTES = 64 * 1024;
// A folder lists this many entries until asked for all.
const LIST_LIMIT = 500;

interface KvEntry {
  Key: string;
  Flags: number;
  Value: string | null; // base64
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Session?: string;
}

// A key in a URL path (the API's and the page's): each segment percent-encoded, "/" kept.
function kvPath(key: string) {
  return key.split("/").map(encodeURIComponent).join("/");
}

function kvHash(key: string) {
  return `#/kv/${kvPath(key)}`;
}

// The key or folder a hash names (#/kv/ is the root folder, ""), and a folder's filter
// (#/kv/app/?q=db). A "?" in a key is percent-encoded, so the first one starts the query.
export function kvRouteOfHash(rest: string): { key: string; q: string } {
  const at = rest.indexOf("?");
  const q = at < 0 ? "" : (new URLSearchParams(rest.slice(at + 1)).get("q") ?? "");
  return { key: keyOfPath(at < 0 ? rest : rest.slice(0, at)), q };
}

function keyOfPath(path: string) {
  return path
    .split("/")
    .map((seg) => {
      try {
        return decodeURIComponent(seg);
      } catch {
        return seg;
      }
    })
    .join("/");
}

function parentOf(key: string) {
  const trimmed = key.endsWith("/") ? key.slice(0, -1) : key;
  const at = trimmed.lastIndexOf("/");
  return at < 0 ? "" : trimmed.slice(0, at + 1);
}

function bytesText(n: number) {
  if (n < 1024) return `${n.toLocaleString("en")} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// A value's bytes, and its text if it is UTF-8 without control characters other than tab and
// line breaks (anything else is shown as binary, never decoded into garbage).
function decodeValue(b64: string | null): { bytes: Uint8Array; text: string | null } {
  const raw = atob(b64 ?? "");
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  try {
    // ignoreBOM: a byte order mark is kept, so that saving the text leaves the bytes as they were.
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return { bytes, text: /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text };
  } catch {
    return { bytes, text: null };
  }
}

// The way to the page's folder: "All keys / app / db /", each a link.
function crumbs(key: string) {
  const parts = key.split("/");
  const links: Node[] = [h("a", { href: "#/kv/" }, "All keys")];
  let prefix = "";
  // Every segment but the last: a folder's last is "" (after its "/"), a key's is its name.
  for (const seg of parts.slice(0, -1)) {
    prefix += `${seg}/`;
    links.push(document.createTextNode(" / "), h("a", { href: kvHash(prefix) }, seg || "(empty)"));
  }
  return h("nav", { class: "crumbs", "aria-label": "Folders" }, ...links, " /");
}

// The line above a KV page's heading: where it is, and whether it is live.
function head(key: string, live: HTMLElement) {
  return h("div", { class: "kv-head" }, crumbs(key), live);
}

// Where the KV pages say they are live (their own blocking query), or not.
function liveNote() {
  return h("span", { class: "kv-live muted small", role: "status" }, "connecting…");
}

function setLive(el: HTMLElement, on: boolean) {
  el.textContent = on ? "● live" : "reconnecting…";
  el.classList.toggle("off", !on);
}

// A write's outcome: "true", "false" (its condition failed), or the agent's refusal.
type Written = { ok: true; index: number } | { ok: false; conflict: boolean; denied: boolean; message: string };
async function write(path: string, init: RequestInit): Promise<Written> {
  try {
    const r = await apiFetch(path, init);
    const body = await r.text();
    if (r.ok && body.trim() === "true") return { ok: true, index: Number(r.headers.get("X-Consul-Index") ?? 0) };
    if (r.ok) return { ok: false, conflict: true, denied: false, message: "" };
    return { ok: false, conflict: false, denied: r.status === 403, message: refusal(r.status, body) };
  } catch (e) {
    return { ok: false, conflict: false, denied: false, message: `the agent cannot be reached (${String(e)})` };
  }
}

// A blocking query, again and again: `path` with ?index=, until the page goes. `seen` gets
// each answer (a 404 is an answer: nothing there); the agent's refusals go to `failed`, and
// are retried like a lost connection. `live` says which it is.
async function follow(
  path: string,
  signal: AbortSignal,
  live: HTMLElement,
  seen: (r: Response) => Promise<void>,
  failed: (message: string, denied: boolean) => void,
) {
  let index = 0;
  const sep = path.includes("?") ? "&" : "?";
  while (!signal.aborted) {
    try {
      const r = await apiFetch(`${path}${sep}index=${index}&wait=60s`, { signal });
      if (!r.ok && r.status !== 404) {
        setLive(live, false);
        failed(refusal(r.status, await r.text()), r.status === 403);
        await sleep(r.status === 403 ? 10000 : 2000, signal);
        index = 0;
        continue;
      }
      const next = Number(r.headers.get("X-Consul-Index") ?? 0);
      await seen(r);
      setLive(live, true);
      // An index that went back (a restart, a restore) starts over, as Consul's clients do.
      index = next >= index ? next : 0;
      if (index === 0) await sleep(1000, signal);
    } catch {
      if (signal.aborted) return;
      setLive(live, false);
      await sleep(1000, signal);
    }
  }
}

// --- A folder: its keys and subfolders, a new key, deleting ---

export class KvFolderPage {
  readonly key: string;
  readonly nodes: Node[];
  private abort = new AbortController();
  private live = liveNote();
  private count = h("p", { class: "count" });
  private note = h("p", { class: "acl-note", hidden: true });
  private list = h("div", { class: "list" });
  private form: HTMLFormElement;
  private nameInput: HTMLInputElement;
  private valueInput: HTMLTextAreaElement;
  private formError = h("p", { class: "error", role: "alert" });
  private newButton: HTMLButtonElement;
  private keys: string[] | null = null;
  private shownSig = "";
  private limit = LIST_LIMIT;
  private filter: HTMLInputElement;

  constructor(
    readonly prefix: string,
    private q: string,
  ) {
    this.key = `kv:${prefix}`;
    // Finding a key among thousands: the names in this folder containing what is typed.
    this.filter = h("input", {
      type: "search",
      id: "kv-filter",
      placeholder: "Names containing…",
      autocomplete: "off",
      spellcheck: "false",
    });
    this.filter.value = q;
    this.filter.addEventListener("input", () => this.setFilter(this.filter.value, true));
    this.filter.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.filter.value) {
        e.preventDefault();
        this.filter.value = "";
        this.setFilter("", true);
      }
    });
    this.nameInput = h("input", { id: "kv-new-name", type: "text", autocomplete: "off", spellcheck: "false", required: true });
    this.valueInput = h("textarea", { id: "kv-new-value", rows: 6, spellcheck: "false" });
    this.form = h(
      "form",
      { class: "kv-editor", hidden: true, "aria-labelledby": "kv-new-title", onsubmit: (e: Event) => void this.create(e) },
      h("h2", { id: "kv-new-title" }, "New key"),
      h("label", { for: "kv-new-name" }, `Name (under ${prefix || "the root"}; end it with / for a folder)`),
      this.nameInput,
      h("label", { for: "kv-new-value" }, "Value"),
      this.valueInput,
      this.formError,
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "button", onclick: () => this.closeForm() }, "Cancel"),
        h("button", { type: "submit", id: "kv-create" }, "Create"),
      ),
    );
    this.form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this.closeForm();
      }
    });
    this.newButton = h("button", { type: "button", id: "kv-new", "aria-expanded": "false", onclick: () => this.openForm() }, "New key…");
    this.nodes = [
      head(prefix, this.live),
      h("h1", {}, prefix ? `Keys under ${prefix}` : "Key/value"),
      h(
        "div",
        { class: "kv-toolbar" },
        this.newButton,
        h(
          "form",
          { class: "finder", role: "search", onsubmit: (e: Event) => e.preventDefault() },
          h("label", { for: "kv-filter" }, "Find in this folder"),
          this.filter,
        ),
      ),
      this.form,
      this.note,
      this.count,
      this.list,
    ];
    this.list.addEventListener("keydown", (e) => this.arrows(e));
    this.render();
    void follow(
      `/v1/kv/${kvPath(prefix)}?keys&separator=/`,
      this.abort.signal,
      this.live,
      async (r) => {
        const keys = r.status === 404 ? [] : ((await r.json()) as string[]);
        if (this.abort.signal.aborted) return;
        const next = keys.filter((k) => k !== prefix);
        if (this.keys) this.announce(this.keys, next);
        this.keys = next;
        this.note.hidden = !isFiltered(r);
        this.note.textContent = `Some keys here are hidden by ACLs: this token cannot read them.${getToken() ? "" : " No token is in use: enter one with the Token… button."}`;
        this.render();
      },
      (message, denied) => {
        this.note.hidden = false;
        this.note.textContent = denied ? `Access denied: ${message}` : `Could not list ${prefix || "the keys"}: ${message}`;
      },
    );
  }

  update() {
    // The folder follows its own blocking query, not the registry's.
  }

  // Back and forward between filters of the same folder.
  route(r: { view: string; q?: string }) {
    if (r.view === "kv" && r.q !== undefined && r.q !== this.q) {
      this.filter.value = r.q;
      this.setFilter(r.q, false);
    }
  }

  // Entries another client added or removed, for screen readers (the list changes silently).
  private announce(before: string[], after: string[]) {
    const old = new Set(before);
    const added = after.filter((k) => !old.has(k));
    const now = new Set(after);
    const removed = before.filter((k) => !now.has(k));
    const part = (list: string[], what: string) =>
      list.length === 0 ? "" : list.length === 1 ? `${list[0]} ${what}` : `${list.length.toLocaleString("en")} entries ${what}`;
    const text = [part(added, "added"), part(removed, "removed")].filter(Boolean).join(", ");
    if (text) say(`In ${this.prefix || "the root"}: ${text}`);
  }

  // The filter is kept in the URL (a link shares it) without a history entry per keystroke.
  private setFilter(q: string, write: boolean) {
    this.q = q;
    if (write) history.replaceState(null, "", `${kvHash(this.prefix)}${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    this.render();
  }

  dispose() {
    this.abort.abort();
  }

  private render() {
    if (this.keys === null) {
      this.count.textContent = "Loading…";
      return;
    }
    const sig = `${this.limit}|${this.q}|${this.keys.join("\n")}`;
    if (sig === this.shownSig) return;
    this.shownSig = sig;
    const folders = this.keys.filter((k) => k.endsWith("/")).length;
    const keys = this.keys.length - folders;
    const where = this.prefix || "the root";
    const q = this.q.toLowerCase();
    const matching = q ? this.keys.filter((k) => k.slice(this.prefix.length).toLowerCase().includes(q)) : this.keys;
    this.count.textContent =
      this.keys.length === 0
        ? ""
        : `${q ? `Showing ${matching.length.toLocaleString("en")} of ` : ""}${keys.toLocaleString("en")} ${keys === 1 ? "key" : "keys"} and ${folders.toLocaleString("en")} ${folders === 1 ? "folder" : "folders"} in ${where}`;
    if (this.keys.length > 0 && matching.length === 0) {
      this.list.replaceChildren(h("p", { class: "muted" }, `No name in ${where} contains “${this.q}”.`));
      return;
    }
    if (this.keys.length === 0) {
      const text = !this.note.hidden ? `No key under ${where} that this token may read.` : this.prefix ? `No keys under ${this.prefix} (any more).` : "No keys yet.";
      this.list.replaceChildren(h("p", { class: "muted" }, text, " ", "Create one with New key…"));
      return;
    }
    const focused = this.list.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.key : undefined;
    const rows = matching.slice(0, this.limit).map((k) => this.row(k));
    const more =
      matching.length > this.limit
        ? h("button", { type: "button", class: "more", onclick: () => ((this.limit = Infinity), this.render()) }, `Show all ${matching.length.toLocaleString("en")}`)
        : null;
    this.list.replaceChildren(
      h(
        "table",
        { class: "kv-list" },
        h("caption", { class: "visually-hidden" }, `Keys and folders in ${where}; arrow keys move between them`),
        h("thead", {}, h("tr", {}, ...["Name", "Kind", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ...rows),
      ),
      ...(more ? [more] : []),
    );
    if (focused) this.list.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }

  private row(key: string) {
    const folder = key.endsWith("/");
    const name = key.slice(this.prefix.length);
    return h(
      "tr",
      { "data-kv": key, "data-kind": folder ? "folder" : "key" },
      h("th", { scope: "row" }, h("a", { href: kvHash(key), "data-key": `kv:${key}`, "data-row": "" }, folder ? `▸ ${name}` : name)),
      h("td", { class: "muted" }, folder ? "folder" : "key"),
      h(
        "td",
        { class: "actions" },
        h(
          "button",
          { type: "button", class: "danger", "data-key": `kvdel:${key}`, "data-action": "delete", "aria-label": `Delete ${key}…`, onclick: () => void deleteFromList(key) },
          "Delete…",
        ),
      ),
    );
  }

  // Up and down (Home, End) move between the entries' links.
  private arrows(e: KeyboardEvent) {
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) return;
    const links = [...this.list.querySelectorAll<HTMLElement>("a[data-row]")];
    if (links.length === 0) return;
    const at = links.indexOf(document.activeElement as HTMLElement);
    if (at < 0 && (e.key === "ArrowUp" || e.key === "ArrowDown") && !(document.activeElement instanceof HTMLButtonElement)) return;
    const row = (document.activeElement as HTMLElement).closest("tr");
    const from = at >= 0 ? at : links.findIndex((l) => l.closest("tr") === row);
    const to = e.key === "Home" ? 0 : e.key === "End" ? links.length - 1 : Math.max(0, Math.min(links.length - 1, from + (e.key === "ArrowDown" ? 1 : -1)));
    e.preventDefault();
    links[to].focus();
  }

  private openForm() {
    this.form.hidden = false;
    this.newButton.setAttribute("aria-expanded", "true");
    this.formError.textContent = "";
    this.nameInput.focus();
  }

  private closeForm() {
    this.form.hidden = true;
    this.newButton.setAttribute("aria-expanded", "false");
    this.newButton.focus();
  }

  private async create(e: Event) {
    e.preventDefault();
    const name = this.nameInput.value;
    if (!name) {
      this.formError.textContent = "Give the key a name.";
      return;
    }
    const key = this.prefix + name;
    const value = name.endsWith("/") ? "" : this.valueInput.value;
    this.formError.textContent = "Creating…";
    // cas=0: only if there is no such key yet (someone may have made it meanwhile).
    const r = await write(`/v1/kv/${kvPath(key)}?cas=0`, { method: "PUT", body: value });
    if (r.ok) {
      this.formError.textContent = "";
      this.nameInput.value = "";
      this.valueInput.value = "";
      this.form.hidden = true;
      this.newButton.setAttribute("aria-expanded", "false");
      tell(`Created ${key}`);
      if (!key.endsWith("/")) location.hash = kvHash(key);
      return;
    }
    this.formError.textContent = r.conflict ? `✕ Not created: ${key} already exists (open it to edit it).` : `✕ Could not create ${key}: ${r.message}`;
  }
}

async function deleteFromList(key: string) {
  if (key.endsWith("/")) {
    // Say how much goes: the keys under the folder this token can see.
    let n = -1;
    let hidden = false;
    try {
      const r = await apiFetch(`/v1/kv/${kvPath(key)}?keys`);
      n = r.status === 404 ? 0 : r.ok ? ((await r.json()) as string[]).length : -1;
      hidden = isFiltered(r);
    } catch {
      n = -1;
    }
    const keys = `${n.toLocaleString("en")} ${n === 1 ? "key" : "keys"}`;
    const what = n < 0 ? "every key under it" : hidden ? `at least ${keys} under it (more are hidden from this token)` : `the ${keys} under it`;
    const ok = await confirmAction(`Delete the folder ${key}?`, `This deletes ${what}: every key whose name starts with ${key}. It cannot be undone.`, "Delete folder");
    if (!ok) return;
    const r = await write(`/v1/kv/${kvPath(key)}?recurse`, { method: "DELETE" });
    if (r.ok) tell(`Deleted the folder ${key}${n >= 0 && !hidden ? ` (${keys})` : ""}`);
    else tell(`Could not delete ${key}: ${r.message || "refused"}`, true);
    return;
  }
  // A key: read first, to say what goes and to delete only that version of it.
  let entry: KvEntry | null = null;
  try {
    const r = await apiFetch(`/v1/kv/${kvPath(key)}`);
    if (r.status === 404) {
      tell(`${key} is gone already`);
      return;
    }
    if (r.ok) entry = ((await r.json()) as KvEntry[])[0] ?? null;
  } catch {
    entry = null; // asked without the details
  }
  await deleteKey(key, entry);
}

// Deletes a key after a confirmation; given the entry the operator saw, only that version of
// it (?cas=<ModifyIndex>): a key changed since is not deleted. Null if cancelled.
async function deleteKey(key: string, e: KvEntry | null): Promise<Written | null> {
  const what = e
    ? `and its value (${bytesText(decodeValue(e.Value).bytes.length)}), only if nobody changed it since modify index ${e.ModifyIndex}`
    : "and its value";
  if (!(await confirmAction(`Delete ${key}?`, `This deletes the key ${key} ${what}. It cannot be undone.`, "Delete"))) return null;
  const r = await write(`/v1/kv/${kvPath(key)}${e ? `?cas=${e.ModifyIndex}` : ""}`, { method: "DELETE" });
  if (r.ok) {
    tell(`Deleted ${key}`);
    return r;
  }
  tell(r.conflict ? `Not deleted: ${key} was changed by someone else meanwhile; look at it again first.` : `Could not delete ${key}: ${r.message}`, true);
  return r;
}

// --- A key: its value and fields, editing, deleting ---

export class KvKeyPage {
  readonly key: string;
  readonly nodes: Node[];
  private abort = new AbortController();
  private live = liveNote();
  private body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  private entry: KvEntry | null = null;
  private gone = false;
  private shownIndex = -1;
  // While editing: the ModifyIndex the edit started from (the CAS), and the editor.
  // `crlf`: the value's line breaks were \r\n, which a textarea turns into \n; they are saved
  // as \r\n again, so that an edit changes only what was edited.
  private editing: { from: number; flags: number; crlf: boolean; editor: HTMLTextAreaElement; changed: HTMLElement; error: HTMLElement } | null = null;
  private editorBox = h("div", {});
  private sessions = new Map<string, string>();
  // The agent's refusal of a write to this key with this token (a read-only token): the page
  // then offers no more writes, and says why.
  private refused = "";
  // The last version seen, and the index of this page's own last write (not announced).
  private seen = 0;
  private own = 0;
  private saving = false;

  constructor(readonly name: string) {
    this.key = `kv:${name}`;
    this.nodes = [head(name, this.live), h("h1", { class: "kv-key" }, name), this.body, this.editorBox];
    void follow(
      `/v1/kv/${kvPath(name)}`,
      this.abort.signal,
      this.live,
      async (r) => {
        const entries = r.status === 404 ? [] : ((await r.json()) as KvEntry[]);
        if (this.abort.signal.aborted) return;
        this.entry = entries[0] ?? null;
        this.gone = this.entry === null;
        const now = this.entry?.ModifyIndex ?? 0;
        if (this.seen && now !== this.seen && now !== this.own && !this.saving) say(now ? `${name} was changed by another client` : `${name} was deleted`);
        this.seen = now;
        this.render();
      },
      (message, denied) => {
        this.shownIndex = -1;
        this.body.replaceChildren(h("p", { role: "alert", class: "acl-note" }, denied ? `Access denied: ${message}` : `Could not read ${name}: ${message}`));
      },
    );
  }

  update() {
    // The key follows its own blocking query.
  }

  dispose() {
    this.abort.abort();
  }

  private render() {
    const e = this.entry;
    if (this.editing) this.markChanged();
    if (!e) {
      this.shownIndex = -1;
      this.body.replaceChildren(h("p", { class: "muted", "data-kv-missing": "" }, `There is no key ${this.name}${this.gone ? " (it was deleted, or never existed)" : ""}.`));
      return;
    }
    if (e.ModifyIndex === this.shownIndex) return;
    this.shownIndex = e.ModifyIndex;
    const { bytes, text } = decodeValue(e.Value);
    const holder = e.Session ? this.sessionText(e.Session) : null;
    const row = (k: string, v: Node | string) => [h("dt", {}, k), h("dd", {}, v)];
    const editable = text !== null && bytes.length <= EDIT_BYTES && !this.refused;
    const why = this.refused
      ? `This token may not change ${this.name}: ${this.refused}`
      : text === null
        ? "Binary values cannot be edited here: use concierge kv put."
        : `Values over ${bytesText(EDIT_BYTES)} cannot be edited here: use concierge kv put.`;
    const focused = this.body.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.key : undefined;
    this.body.replaceChildren(
      h(
        "dl",
        { class: "facts" },
        ...row("Size", h("span", { "data-kv": "size" }, `${bytesText(bytes.length)}, ${text === null ? "binary" : "text (UTF-8)"}`)),
        ...row("Flags", h("span", { "data-kv": "flags" }, String(e.Flags))),
        ...row("Modify index", h("span", { "data-kv": "modify-index" }, String(e.ModifyIndex))),
        ...row("Create index", String(e.CreateIndex)),
        ...row("Lock", h("span", { "data-kv": "lock" }, h("span", { class: "tag" }, holder ? `● held by session ${holder} (lock index ${e.LockIndex})` : `○ not held (lock index ${e.LockIndex})`))),
      ),
      h(
        "div",
        { class: "kv-actions" },
        h(
          "button",
          {
            type: "button",
            id: "kv-edit",
            "data-key": "kv-edit",
            "aria-disabled": editable ? null : "true",
            title: editable ? "Edit the value (saved only if nobody changed it meanwhile)" : why,
            onclick: () => {
              if (editable && !this.editing) this.edit(e, text);
            },
          },
          "Edit…",
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            id: "kv-delete",
            "data-key": "kv-delete",
            "aria-disabled": this.refused ? "true" : null,
            title: this.refused ? why : null,
            onclick: () => {
              if (!this.refused) void this.remove();
            },
          },
          "Delete…",
        ),
        editable ? null : h("span", { class: this.refused ? "acl-note small" : "muted small", id: "kv-why" }, why),
      ),
      h("section", { "aria-labelledby": "kv-value-title" }, h("h2", { id: "kv-value-title" }, "Value"), valueView(bytes, text)),
    );
    if (focused) this.body.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }

  // The holder of the key's lock: its ID, and its name when this token may read it.
  private sessionText(id: string) {
    const known = this.sessions.get(id);
    if (known !== undefined) return known;
    this.sessions.set(id, id);
    void (async () => {
      try {
        const r = await apiFetch(`/v1/session/info/${encodeURIComponent(id)}`, { signal: this.abort.signal });
        if (!r.ok) return;
        const list = (await r.json()) as Array<{ Name?: string }> | null;
        const name = list?.[0]?.Name;
        if (!name) return;
        this.sessions.set(id, `${id} “${name}”`);
        this.shownIndex = -1;
        this.render();
      } catch {
        // the ID alone says who holds it
      }
    })();
    return id;
  }

  private edit(e: KvEntry, text: string) {
    const editor = h("textarea", { id: "kv-editor", rows: Math.min(24, Math.max(6, text.split("\n").length + 1)), spellcheck: "false" });
    editor.value = text;
    const changed = h("p", { class: "kv-changed", role: "status" });
    const error = h("p", { class: "error", role: "alert" });
    const crlf = text.includes("\r\n");
    this.editing = { from: e.ModifyIndex, flags: e.Flags, crlf, editor, changed, error };
    const form = h(
      "form",
      { class: "kv-editor", "aria-labelledby": "kv-edit-title", onsubmit: (ev: Event) => void this.save(ev) },
      h("h2", { id: "kv-edit-title" }, `Edit ${this.name}`),
      h("label", { for: "kv-editor" }, "Value"),
      editor,
      h("p", { class: "muted small" }, `Saved only if nobody changed ${this.name} since you opened it (modify index ${e.ModifyIndex}); its flags (${e.Flags})${crlf ? " and its CRLF line breaks" : ""} are kept.`),
      changed,
      error,
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "button", id: "kv-cancel", onclick: () => this.stopEditing() }, "Cancel"),
        h("button", { type: "submit", id: "kv-save" }, "Save"),
      ),
    );
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.preventDefault();
        this.stopEditing();
      }
    });
    this.editorBox.replaceChildren(form);
    editor.focus();
  }

  private stopEditing() {
    this.editing = null;
    this.editorBox.replaceChildren();
    document.getElementById("kv-edit")?.focus();
  }

  // Someone else wrote or deleted the key while it was being edited: say so before Save.
  private markChanged() {
    const ed = this.editing!;
    const now = this.entry?.ModifyIndex;
    if (now === ed.from) {
      ed.changed.textContent = "";
      ed.changed.classList.remove("warning");
      return;
    }
    const what = now === undefined ? "deleted it" : `changed it (modify index ${ed.from} → ${now})`;
    ed.changed.replaceChildren(
      h("span", { class: "sym", "aria-hidden": "true" }, symbol.warning),
      ` Someone else ${what} while you were editing: saving will be refused. Copy your text, then Cancel to see theirs.`,
    );
    ed.changed.classList.add("warning");
  }

  private async save(ev: Event) {
    ev.preventDefault();
    const ed = this.editing;
    if (!ed) return;
    ed.error.textContent = "Saving…";
    // Its own write wakes the page's query too, maybe before the answer: not announced.
    this.saving = true;
    const r = await write(`/v1/kv/${kvPath(this.name)}?cas=${ed.from}&flags=${ed.flags}`, {
      method: "PUT",
      body: ed.crlf ? ed.editor.value.replace(/\r?\n/g, "\r\n") : ed.editor.value,
    });
    this.saving = false;
    if (this.editing !== ed) return;
    if (r.ok) {
      this.own = r.index;
      this.editing = null;
      this.editorBox.replaceChildren();
      tell(`Saved ${this.name}`);
      document.getElementById("kv-edit")?.focus();
      return;
    }
    const now = this.entry ? `modify index ${this.entry.ModifyIndex}` : "deleted";
    const message = r.conflict
      ? `Not saved: ${this.name} was changed by someone else since you opened it (modify index ${ed.from}; now ${now}). Your text is still here: copy it, then Cancel to see the current value.`
      : `Could not save ${this.name}: ${r.message}`;
    ed.error.textContent = `✕ ${message}`;
    tell(message, true);
    if (r.denied) this.refuse(r.message);
  }

  private async remove() {
    if (!this.entry) return;
    const r = await deleteKey(this.name, this.entry);
    if (r?.ok) location.hash = kvHash(parentOf(this.name));
    else if (r?.denied) this.refuse(r.message);
  }

  private refuse(message: string) {
    this.refused = message;
    this.shownIndex = -1;
    this.render();
  }
}

// A value as it can be shown: text (its first PREVIEW_BYTES when longer), or what binary
// bytes are, with the first of them in hex.
function valueView(bytes: Uint8Array, text: string | null) {
  if (bytes.length === 0) return h("p", { class: "muted", "data-kv": "value" }, "Empty.");
  if (text === null) {
    const hex = [...bytes.slice(0, 32)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    return h(
      "div",
      { "data-kv": "value", "data-binary": "" },
      h("p", {}, h("strong", {}, "Binary"), `: ${bytesText(bytes.length)}, not UTF-8 text, so not shown as text.`),
      h("p", { class: "muted small" }, `First ${Math.min(32, bytes.length)} bytes: `, h("code", {}, hex)),
    );
  }
  if (bytes.length <= PREVIEW_BYTES) return h("pre", { class: "kv-value", "data-kv": "value" }, text);
  const head = new TextDecoder().decode(bytes.slice(0, PREVIEW_BYTES)).replace(/\uFFFD$/, "");
  return h(
    "div",
    {},
    h("p", { class: "muted small", "data-kv": "truncated" }, `Showing the first ${bytesText(PREVIEW_BYTES)} of ${bytesText(bytes.length)}.`),
    h("pre", { class: "kv-value", "data-kv": "value" }, head, h("span", { class: "muted" }, " …")),
  );
}
