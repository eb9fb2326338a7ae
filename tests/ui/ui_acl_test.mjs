// Browser test of the web UI with ACLs on (default policy deny): without a token the page says
// access is denied; a token entered in the UI is kept in sessionStorage and sent as
// X-Consul-Token on every request (never in a URL); a read-only token sees its service, is
// told other services are hidden, and its deregister is refused with the agent's message; the
// management token sees everything and deregisters; logging out forgets the token.
//
//   CONCIERGE_BIN=build/release/src/cli/concierge node tests/ui/ui_acl_test.mjs
import { api, browserTest, check, enterToken, eventually, logOut } from "./harness.mjs";

// Refusals are what this test is about: the 403s are expected.
browserTest(
  { name: "ui-acl", agentArgs: ["-acl-enabled", "-acl-default-policy", "deny"], expected: (url, status) => status === 403 },
  async ({ base, page }) => {
    const root = (await api(base, "PUT", "/v1/acl/bootstrap")).SecretID;
    check(typeof root === "string" && root.length > 0, "bootstrapped a management token");
    for (const [name, id, port] of [
      ["web", "web-1", 8081],
      ["web", "web-2", 8082],
      ["db", "db-1", 5432],
    ]) {
      await api(base, "PUT", "/v1/agent/service/register", { Name: name, ID: id, Address: "10.0.0.1", Port: port }, root);
    }
    await api(base, "PUT", "/v1/acl/policy", { Name: "web-reader", Rules: '{"service": {"web": {"policy": "read"}}}' }, root);
    const reader = (await api(base, "PUT", "/v1/acl/token", { Description: "web reader", Policies: [{ Name: "web-reader" }] }, root)).SecretID;
    check(typeof reader === "string" && reader.length > 0, "created a token that may only read web");

    // Every request the page makes: the URL must never hold a secret; /v1 ones carry the token.
    const requests = [];
    page.on("request", (r) => requests.push({ url: r.url(), token: r.headers()["x-consul-token"] }));
    const banner = page.locator("#acl-banner");
    const notice = page.locator("#notice");
    const main = page.locator("main");
    const useToken = (secret) => enterToken(page, secret);

    // No token: anonymous, denied.
    await page.goto(base + "/ui/");
    await banner.getByText("Access denied").waitFor({ timeout: 10000 });
    const text = await banner.textContent();
    check(text.includes("Permission denied") && text.includes("Enter a token"), `without a token the page says access is denied (${text})`);
    check((await main.textContent()).includes("No services this token may read"), "the list says no service may be read, not that none exist");
    check((await page.locator("#token-button").textContent()).trim() === "Token…", "the header offers a token control");

    // A token the agent does not know is refused in the dialog and not kept.
    await useToken("00000000-0000-4000-8000-00000000dead");
    await page.locator("#token-error").getByText("ACL not found").waitFor({ timeout: 5000 });
    check(true, "an unknown token is refused with the agent's message (ACL not found)");
    await page.locator("#token-cancel").click();
    check((await page.evaluate(() => sessionStorage.length)) === 0, "the refused token is not kept");

    // The read-only token: web shows, db is hidden and said to be, deregister is refused.
    await useToken(reader);
    await page.locator('table.services tr[data-service="web"]').waitFor({ timeout: 5000 });
    check((await page.locator('table.services tr[data-service="db"]').count()) === 0, "with the web reader web shows up, db does not");
    await banner.getByText("Some services are hidden by ACLs").waitFor({ timeout: 5000 });
    check(true, "the page says some services are hidden by ACLs");
    check((await page.locator("#token-button").textContent()).includes("web reader"), "the header names the token in use");
    await page.goto(base + "/ui/#/service/db");
    await main.getByText("This token cannot read service db").waitFor({ timeout: 5000 });
    check(true, "db's page says the token cannot read it");
    await page.goto(base + "/ui/#/service/web");
    await page.reload();
    const card = page.locator('article.instance[data-instance="web-1"]');
    await card.waitFor({ timeout: 5000 });
    check(true, "the token survives a reload (sessionStorage) and web's page shows web-1");
    await card.locator('[data-action="deregister"]').click();
    await page.locator("dialog#confirm").getByRole("button", { name: "Deregister" }).click();
    await notice.getByText("Permission denied").waitFor({ timeout: 5000 });
    const refused = await notice.textContent();
    check(refused.includes("service:write") && refused.includes("web-1"), `the refused deregister shows the agent's message (${refused})`);
    check((await api(base, "GET", "/v1/agent/services", undefined, root))["web-1"] !== undefined, "web-1 is still registered");

    // The management token: everything, live, and the deregister works.
    await logOut(page);
    await banner.getByText("Access denied").waitFor({ timeout: 5000 });
    check((await page.evaluate(() => sessionStorage.length)) === 0, "logging out forgets the token");
    await useToken(root);
    await card.waitFor({ timeout: 5000 });
    await page.locator("#live.on").getByText("live").waitFor({ timeout: 5000 });
    check(await banner.isHidden(), "with the management token nothing is hidden and the page is live");
    await card.locator('[data-action="deregister"]').click();
    await page.locator("dialog#confirm").getByRole("button", { name: "Deregister" }).click();
    await eventually("web-1 to leave the registry", async () => (await api(base, "GET", "/v1/agent/services", undefined, root))["web-1"] === undefined, 5000);
    check(true, "deregister with the management token removes web-1");
    await card.waitFor({ state: "detached", timeout: 5000 });
    check((await notice.textContent()).includes("web-1 deregistered"), "the page says web-1 was deregistered");
    await page.locator('nav a[data-nav="node"]').click();
    await page.getByRole("heading", { name: "Peers (voters)" }).waitFor({ timeout: 5000 });
    check(true, "the node page shows the cluster with the management token");
    await logOut(page);
    await banner.getByText("Access denied").waitFor({ timeout: 5000 });
    await main.getByText("Access denied").waitFor({ timeout: 5000 });
    check(true, "logged out, the node page says access is denied");

    // The secrets never appear in a URL; every API request after a login carried a token.
    const leaked = requests.filter((r) => r.url.includes(root) || r.url.includes(reader));
    check(leaked.length === 0, `no request URL holds a token (${leaked.map((r) => r.url).join(" ")})`);
    const withToken = requests.filter((r) => r.url.includes("/v1/") && r.token);
    check(withToken.some((r) => r.url.includes("/v1/concierge/summary")) && withToken.some((r) => r.url.includes("/v1/agent/service/deregister/")),
      "the blocking query and the actions carried X-Consul-Token");
  },
);
