import type { Status } from "./api";
import { h } from "./dom";

// Status is always shown as a symbol and a word as well as a colour.
export const symbol: Record<Status, string> = { passing: "✓", warning: "!", critical: "✕" };

export function badge(status: Status, text: string = status) {
  return h(
    "span",
    { class: `badge ${status}`, "data-status": status },
    h("span", { class: "sym", "aria-hidden": "true" }, symbol[status]),
    " ",
    text,
  );
}

export function formatAge(ms: number | undefined): string {
  if (ms === undefined) return "—";
  if (ms < 1000) return "just now";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s ago`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s ago`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min ago`;
}
