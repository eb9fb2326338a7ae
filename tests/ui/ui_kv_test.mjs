// Browser test of the web UI's KV browser (issue 23) with ACLs on: folders by "/", reading a
// value (text, binary, large), creating, editing with check-and-set and a conflicting edit
// refused, deleting a key and a folder behind a confirmation, a lock's session, live updates
// when another client writes, the arrow keys, and a read-only token that sees but is refused
// an edit (and a key it may not read). Saves a screenshot of a key's page.
//
//   CONCIERGE_BIN=build/release/src/cli/concierge node tests/ui/ui_kv_test.mjs
//
// The screenshot goes to UI_SCREENSHOT_DIR (default docs/: ui-kv.png).
import { join } from "node:path";
import { api, browserTest, check, enterToken, fail, log, repo } from "./harness.mjs";

const shots = process.env.UI_SCREENSHOT_DIR ?? join(repo, "docs");

// A KV write with a raw body, as `concierge kv put` or curl makes it: "true" or "false".
async function kvPut(base, token, key, body, query = "") {
  const r = await fetch(`${base}/v1/kv/${key}${query}`, { method: "PUT", headers: { "X-Consul-Token": token }, body });
  const text = await r.text();
  if (!r.ok) fail(`PUT /v1/kv/${key}${query}: ${r.status} ${text}`);
  return text.trim() === "true";
}

// The entry of a key, or null.
async function kvGet(base, token, key) {
  const r = await fetch(`${base}/v1/kv/${key}`, { headers: { "X-Consul-Token": token } });
  if (r.status === 404) return null;
  if (!r.ok) fail(`GET /v1/kv/${key}: ${r.status} ${await r.text()}`);
  const [e] = await r.json();
  return { ...e, text: Buffer.from(e.Value ?? "", "base64").toString("utf8") };
}

// Missing keys answer 404 (an empty folder, a deleted key) and the read-only token's refusals
// 403: both are what the test is about.
const expected = (url, status) => status === 403 || (status === 404 && url.includes("/v1/kv/"));

browserTest({ name: "ui-kv", agentArgs: ["-acl-enabled", "-acl-default-policy", "deny"], expected }, async ({ base, page }) => {
  const root = (await api(base, "PUT", "/v1/acl/bootstrap")).SecretID;
  await api(base, "PUT", "/v1/acl/policy", { Name: "app-reader", Rules: '{"key_prefix": {"app/": {"policy": "read"}}}' }, root);
  const reader = (await api(base, "PUT", "/v1/acl/token", { Description: "app reader", Policies: [{ Name: "app-reader" }] }, root)).SecretID;
  check(typeof reader === "string", "bootstrapped ACLs and created a token that may only read app/");

  await kvPut(base, root, "app/config", "port = 8080\nmode = blue\n", "?flags=42");
  await kvPut(base, root, "app/db/url", "postgres://db:5432/app");
  await kvPut(base, root, "app/db/password", "s3cret");
  await kvPut(base, root, "bin", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe]));
  await kvPut(base, root, "big", "0123456789abcdef\n".repeat(12000));
  log("seeded app/config, app/db/url, app/db/password, bin (binary) and big (200 KB)");

  const requests = [];
  page.on("request", (r) => requests.push({ url: r.url(), token: r.headers()["x-consul-token"] }));
  const notice = page.locator("#notice");
  const main = page.locator("main");
  const useToken = async (secret) => {
    await enterToken(page, secret);
    await page.locator("#token-dialog").waitFor({ state: "hidden" });
  };
  const row = (key) => page.locator(`table.kv-list tr[data-kv="${key}"]`);

  await page.goto(base + "/ui/");
  await useToken(root);

  // The navigation leads to the root folder, in the URL.
  await page.locator('nav a[data-nav="kv"]').click();
  await page.waitForURL(/#\/kv\/$/);
  await row("app/").waitFor({ timeout: 5000 });
  check((await page.locator('nav a[data-nav="kv"]').getAttribute("aria-current")) === "page", "Key/value in the navigation leads to #/kv/ and is marked current");
  const rootRows = await page.locator("table.kv-list tbody tr").evaluateAll((trs) => trs.map((tr) => `${tr.dataset.kv}:${tr.dataset.kind}`));
  check(rootRows.join(" ") === "app/:folder big:key bin:key", `the root lists the folder app/ and the keys big and bin (${rootRows.join(" ")})`);

  // Finding in a folder: the filter narrows the list as you type, is kept in the URL and
  // survives a reload; Escape clears it.
  await page.locator("#kv-filter").fill("bi");
  await page.waitForURL(/#\/kv\/\?q=bi$/);
  await row("app/").waitFor({ state: "detached" });
  check((await page.locator("table.kv-list tbody tr").count()) === 2 && (await page.locator("main p.count").textContent()).startsWith("Showing 2 of"),
    "typing bi in the folder's filter lists big and bin, and is in the URL");
  await page.reload();
  await row("big").waitFor({ timeout: 5000 });
  check((await page.locator("#kv-filter").inputValue()) === "bi" && (await row("app/").count()) === 0, "the filter survives a reload");
  await page.locator("#kv-filter").press("Escape");
  await row("app/").waitFor();
  await page.waitForURL(/#\/kv\/$/);
  check(true, "Escape clears the filter");

  // Keyboard: the arrow keys, Home and End move between entries; Enter opens one.
  await page.locator("table.kv-list a[data-row]").first().focus();
  await page.keyboard.press("End");
  check((await page.evaluate(() => document.activeElement.textContent)) === "bin", "End moves to the last entry");
  await page.keyboard.press("ArrowUp");
  check((await page.evaluate(() => document.activeElement.textContent)) === "big", "ArrowUp moves to the one before");
  await page.keyboard.press("Home");
  await page.keyboard.press("Enter");
  await page.waitForURL(/#\/kv\/app\/$/);
  await row("app/db/").waitFor();
  check((await row("app/config").getAttribute("data-kind")) === "key", "Enter opens app/: the folder app/db/ and the key app/config");

  // A key: its value decoded, flags, modify index, lock.
  await row("app/config").locator("a").click();
  await page.waitForURL(/#\/kv\/app\/config$/);
  await main.locator('[data-kv="value"]').getByText("mode = blue").waitFor();
  let entry = await kvGet(base, root, "app/config");
  check((await main.locator('[data-kv="flags"]').textContent()) === "42", "app/config shows its value and its flags (42)");
  check((await main.locator('[data-kv="modify-index"]').textContent()) === String(entry.ModifyIndex), `and its modify index (${entry.ModifyIndex})`);
  check((await main.locator('[data-kv="lock"]').textContent()).includes("not held"), "and that no session holds its lock");

  // A session takes the lock: the page shows the holder, live.
  const session = (await api(base, "PUT", "/v1/session/create", { Name: "deployer", TTL: "60s" }, root)).ID;
  check(await kvPut(base, root, "app/config", "port = 8080\nmode = blue\n", `?acquire=${session}&flags=42`), "a session named deployer acquires app/config");
  await main.locator('[data-kv="lock"]').getByText(session).waitFor({ timeout: 5000 });
  await main.locator('[data-kv="lock"]').getByText("deployer").waitFor({ timeout: 5000 });
  check(true, "the page shows the session holding the lock, with its name, without a reload");
  check(await kvPut(base, root, "app/config", "port = 8080\nmode = blue\n", `?release=${session}&flags=42`), "the session releases it");
  await main.locator('[data-kv="lock"]').getByText("not held").waitFor({ timeout: 5000 });

  // The editor with the keyboard: Enter on Edit… opens it with the focus in the text, Escape
  // closes it and gives the focus back.
  await page.locator("#kv-edit").focus();
  await page.keyboard.press("Enter");
  await page.locator("#kv-editor:focus").waitFor();
  await page.keyboard.press("Escape");
  await page.locator("#kv-editor").waitFor({ state: "detached" });
  check((await page.evaluate(() => document.activeElement.id)) === "kv-edit", "Enter opens the editor focused, Escape closes it back to Edit…");

  // Edit: saved with ?cas, flags kept.
  await page.locator("#kv-edit").click();
  await page.locator("#kv-editor").fill("port = 8080\nmode = green\n");
  await page.locator("#kv-save").click();
  await notice.getByText("Saved app/config").waitFor({ timeout: 5000 });
  entry = await kvGet(base, root, "app/config");
  check(entry.text.includes("mode = green") && entry.Flags === 42, "Save writes the new value and keeps the flags");
  await main.locator('[data-kv="modify-index"]').getByText(String(entry.ModifyIndex)).waitFor({ timeout: 5000 });
  check((await main.locator('[data-kv="value"]').textContent()).includes("mode = green"), "the page shows the saved value and its new modify index");
  check(requests.some((r) => /\/v1\/kv\/app\/config\?cas=\d+&flags=42$/.test(r.url)), "the edit was sent with ?cas=<modify index>");

  // A concurrent edit: another client writes while the editor is open; Save is refused.
  await page.locator("#kv-edit").click();
  await page.locator("#kv-editor").fill("port = 8080\nmode = red\n");
  await kvPut(base, root, "app/config", "port = 8080\nmode = purple (from the CLI)\n", "?flags=42");
  await page.locator(".kv-changed").getByText("Someone else changed it").waitFor({ timeout: 5000 });
  check(true, "the editor says someone else changed the key meanwhile");
  check((await page.locator("#announce").textContent()) === "app/config was changed by another client", "and screen readers are told");
  await notice.locator(".dismiss").click();
  await page.screenshot({ path: join(shots, "ui-kv.png") });
  log(`screenshot: ${join(shots, "ui-kv.png")}`);
  await page.locator("#kv-save").click();
  await notice.getByText("Not saved").waitFor({ timeout: 5000 });
  const conflict = await notice.textContent();
  check(conflict.includes("changed by someone else") && conflict.includes("✕"), `the conflicting save is refused with a clear message (${conflict})`);
  check((await kvGet(base, root, "app/config")).text.includes("purple"), "and the other client's value is kept, not overwritten");
  check((await page.locator("#kv-editor").inputValue()).includes("mode = red"), "the refused text stays in the editor");
  await page.locator("#kv-cancel").click();
  check((await main.locator('[data-kv="value"]').textContent()).includes("purple"), "Cancel shows the current value");

  // A Windows file with a byte order mark: an edit changes only what was edited (a textarea
  // turns \r\n into \n and a decoder drops the mark unless told not to).
  await kvPut(base, root, "app/win.ini", "\ufeff[core]\r\nmode = blue\r\n");
  await page.goto(base + "/ui/#/kv/app/win.ini");
  await page.locator("#kv-edit").click();
  await page.locator("#kv-editor").fill((await page.locator("#kv-editor").inputValue()).replace("blue", "green"));
  await page.locator("#kv-save").click();
  await notice.getByText("Saved app/win.ini").waitFor({ timeout: 5000 });
  const ini = Buffer.from(await (await fetch(`${base}/v1/kv/app/win.ini?raw`, { headers: { "X-Consul-Token": root } })).arrayBuffer()).toString("utf8");
  check(ini === "\ufeff[core]\r\nmode = green\r\n", `an edit keeps CRLF line breaks and the byte order mark (${JSON.stringify(ini)})`);
  await page.goto(base + "/ui/#/kv/app/config");
  await main.locator('[data-kv="value"]').getByText("purple").waitFor();

  // Live folder: a key written elsewhere appears.
  await page.locator('nav.crumbs a', { hasText: "app" }).click();
  await page.waitForURL(/#\/kv\/app\/$/);
  await row("app/db/").waitFor();
  await kvPut(base, root, "app/from-cli", "1");
  await row("app/from-cli").waitFor({ timeout: 5000 });
  check(true, "a key another client writes appears in the open folder without a reload");
  await page.locator("#announce").getByText("In app/: app/from-cli added").waitFor({ timeout: 2000 });
  check(true, "and screen readers are told it was added");

  // Any UTF-8 in a key: it goes through the URL and back.
  const odd = "app/héllo wörld?#%";
  await kvPut(base, root, odd.split("/").map(encodeURIComponent).join("/"), "κόσμε");
  await row(odd).locator("a").click();
  await main.locator('[data-kv="value"]').getByText("κόσμε").waitFor({ timeout: 5000 });
  check((await page.locator("h1").textContent()) === odd, `a key named ${odd} opens from its folder and shows its value`);
  await page.goBack();
  await row("app/db/").waitFor();

  // Create: a new key (cas=0), and one that exists is refused.
  await page.locator("#kv-new").click();
  await page.locator("#kv-new-name").fill("feature/flag");
  await page.locator("#kv-new-value").fill("on");
  await page.locator("#kv-create").click();
  await page.waitForURL(/#\/kv\/app\/feature\/flag$/);
  await main.locator('[data-kv="value"]').getByText("on").waitFor();
  check((await kvGet(base, root, "app/feature/flag")).text === "on", "New key… creates app/feature/flag and opens it");
  await page.goBack();
  await page.waitForURL(/#\/kv\/app\/$/);
  await page.locator("#kv-new").click();
  await page.locator("#kv-new-name").fill("config");
  await page.locator("#kv-new-value").fill("clobber");
  await page.locator("#kv-create").click();
  await page.locator(".kv-editor .error").getByText("already exists").waitFor({ timeout: 5000 });
  check(!(await kvGet(base, root, "app/config")).text.includes("clobber"), "creating a key that exists is refused and does not overwrite it");
  await page.keyboard.press("Escape");

  // Delete a key: Cancel keeps it; confirming deletes it and goes to its folder.
  await page.goto(base + "/ui/#/kv/app/feature/flag");
  await page.locator("#kv-delete").click();
  const dialog = page.locator("dialog#confirm");
  await dialog.waitFor();
  check((await dialog.textContent()).includes("Delete app/feature/flag?"), "deleting a key asks for confirmation first");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  check((await kvGet(base, root, "app/feature/flag")) !== null, "Cancel keeps the key");
  await page.locator("#kv-delete").click();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await page.waitForURL(/#\/kv\/app\/feature\/$/);
  check((await kvGet(base, root, "app/feature/flag")) === null, "confirming deletes it, and the page goes to its folder");

  // Delete a folder: the confirmation counts its keys; ?recurse removes them.
  await page.locator('nav.crumbs a', { hasText: "app" }).click();
  await row("app/db/").locator('[data-action="delete"]').click();
  await dialog.waitFor();
  const question = (await dialog.textContent()).replace(/\s+/g, " ").trim();
  check(question.includes("Delete the folder app/db/?") && question.includes("2 keys"), `deleting a folder asks first and says how many keys go (${question})`);
  await dialog.getByRole("button", { name: "Delete folder" }).click();
  await row("app/db/").waitFor({ state: "detached", timeout: 5000 });
  check((await kvGet(base, root, "app/db/url")) === null && (await kvGet(base, root, "app/db/password")) === null, "confirming deletes every key under app/db/");
  const fromCli = await kvGet(base, root, "app/from-cli");
  await row("app/from-cli").locator('[data-action="delete"]').click();
  await dialog.getByText(`modify index ${fromCli.ModifyIndex}`).waitFor();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await row("app/from-cli").waitFor({ state: "detached", timeout: 5000 });
  check((await kvGet(base, root, "app/from-cli")) === null, "a key deleted from its folder's list is confirmed with its modify index, then gone");

  // Binary and large values: said to be, never garbled or rendered whole.
  await page.goto(base + "/ui/#/kv/bin");
  await main.locator("[data-binary]").waitFor({ timeout: 5000 });
  check((await main.locator('[data-kv="size"]').textContent()) === "11 bytes, binary", "a binary value is shown as binary with its size");
  check((await main.locator("[data-binary]").textContent()).includes("89 50 4e 47"), "with its first bytes in hex");
  check((await page.locator("#kv-edit").getAttribute("aria-disabled")) === "true", "and it cannot be edited as text");
  await page.goto(base + "/ui/#/kv/big");
  await main.locator('[data-kv="truncated"]').waitFor({ timeout: 5000 });
  const shown = (await main.locator('[data-kv="value"]').textContent()).length;
  check(shown < 17 * 1024, `a 200 KB value is not rendered whole (${shown} characters shown; ${await main.locator('[data-kv="truncated"]').textContent()})`);

  // The read-only token: sees app/, is refused an edit with the agent's message, and is told
  // what it may not read.
  await useToken(reader);
  await page.goto(base + "/ui/#/kv/");
  await row("app/").waitFor({ timeout: 5000 });
  await main.locator(".acl-note").getByText("hidden by ACLs").waitFor({ timeout: 5000 });
  check((await row("bin").count()) === 0, "the reader sees app/ but not bin, and is told keys are hidden");
  await page.goto(base + "/ui/#/kv/bin");
  await main.getByText("Access denied").waitFor({ timeout: 5000 });
  check((await main.textContent()).includes("Permission denied"), "a key it may not read says access is denied, with the agent's message");
  await page.goto(base + "/ui/#/kv/app/config");
  await main.locator('[data-kv="value"]').getByText("purple").waitFor({ timeout: 5000 });
  await page.locator("#kv-edit").click();
  await page.locator("#kv-editor").fill("mode = reader was here\n");
  await page.locator("#kv-save").click();
  await notice.getByText("Permission denied").waitFor({ timeout: 5000 });
  const refused = await notice.textContent();
  check(refused.includes("Could not save app/config") && refused.includes("key:write"), `the reader's edit is refused with the agent's message (${refused})`);
  check((await kvGet(base, root, "app/config")).text.includes("purple"), "and the value is unchanged");
  await page.locator("#kv-why").getByText("This token may not change app/config").waitFor({ timeout: 5000 });
  check((await page.locator("#kv-edit").getAttribute("aria-disabled")) === "true" && (await page.locator("#kv-delete").getAttribute("aria-disabled")) === "true",
    "after the refusal the page offers no more writes to this token, and says why");
  check(await page.locator("#acl-banner").isHidden(), "the registry's banner (no operator:read) is not shown on the KV pages");

  // Secrets stay in headers.
  const leaked = requests.filter((r) => r.url.includes(root) || r.url.includes(reader));
  check(leaked.length === 0, "no request URL holds a token");
  const kv = requests.filter((r) => r.url.includes("/v1/kv/"));
  check(kv.length > 0 && kv.every((r) => r.token), `every KV request carried X-Consul-Token (${kv.length})`);
});
