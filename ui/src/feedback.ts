// What the page tells the operator outside a view: the outcome of an action (a notice, shown
// until dismissed), announcements for screen readers, confirmations, and refusals in words.
import { getToken } from "./api";
import { h } from "./dom";
import { symbol } from "./status";

const announcer = document.getElementById("announce")!;
const notice = document.getElementById("notice")!;

export function say(text: string) {
  announcer.textContent = text;
}

// The outcome of an action, shown (and announced) until dismissed or the next one.
export function tell(text: string, error = false) {
  notice.setAttribute("role", error ? "alert" : "status");
  notice.className = `notice ${error ? "error" : "ok"}`;
  notice.replaceChildren(
    h("span", { class: "sym", "aria-hidden": "true" }, error ? symbol.critical : symbol.passing),
    h("span", {}, text),
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", onclick: () => (notice.hidden = true) }, "×"),
  );
  notice.hidden = false;
  if (!error) say(text);
}

// An action's refusal in words: the agent's own message, and what to do about a 403.
export function refusal(status: number, body: string) {
  const message = body.trim() || `HTTP ${status}`;
  if (status !== 403) return message;
  return getToken() ? message : `${message} (no token in use: enter one with the Token… button)`;
}

// Asks in a modal dialog; true if the operator pressed `ok`.
export function confirmAction(title: string, text: string, ok: string): Promise<boolean> {
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
