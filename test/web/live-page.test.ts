import { sql } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "../api/helpers.js";
import { testEnv } from "../slack/harness.js";
import { chromiumMissing, launchBrowser, screenshot, seriousViolations, signedInContext } from "./browser.js";

const missing = chromiumMissing();

/** The Pools page's counts for a pool: free now, checked out, cleaning, total (of its columns: free, checked out, held, cleaning, out of service, total, …). */
const countsOf = async (page: Page, pool: string) => {
  const cells = await page.getByRole("row", { name: new RegExp(`^${pool}\\b`) }).getByRole("cell").allTextContents();
  return [cells[0], cells[1], cells[3], cells[5]];
};

/** Opens the Pools page and waits until it shows `pool` and its live stream is open. */
async function poolsPage(page: Page, pool: string): Promise<void> {
  await page.goto("/");
  await page.getByRole("row", { name: new RegExp(`^${pool}\\b`) }).waitFor();
  await page.locator("html[data-live=open]").waitFor();
  // Set once: still there later means the page was not reloaded.
  await page.evaluate(() => ((globalThis as { loadedOnce?: boolean }).loadedOnce = true));
}

const notReloaded = (page: Page) => page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce === true);

describe.skipIf(missing !== null)("live updates in a real browser", () => {
  let h: Harness;
  let replica: RunningService;
  let browser: Browser;
  beforeAll(async () => {
    h = await startApiHarness();
    await addVms(h.core, "linux", 3);
    await addVms(h.core, "gpu", 2);
    const config = loadConfig({ ...testEnv(h.fake, h.database.url), API_RATE_LIMIT: "100000/min" }, null);
    replica = await startService(config, createLogger("silent", "replica-2"));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await replica?.stop();
    await h?.stop();
  });

  it("shows the second person's Pools page the first person's checkout without reload", async () => {
    const ann = await personWithToken(h.core, "ann");
    const bob = await personWithToken(h.core, "bob");
    const context = await signedInContext(browser, h.core, h.url, bob.personId);
    const page = await context.newPage();
    await poolsPage(page, "linux");
    expect(await countsOf(page, "linux")).toEqual(["3", "0", "0", "3"]);

    const out = await call(h, "POST", "/v1/checkouts", { token: ann.token, body: { pool: "linux" } });
    expect(out.status).toBe(201);
    const committed = performance.now();
    // Waited on as an event; how long it took is printed (issue 21: within a second; measured 71–229 ms).
    await expect.poll(() => countsOf(page, "linux"), { timeout: 10_000, interval: 20 }).toEqual(["2", "1", "0", "3"]);
    console.log(`live update: checkout answered → bob's page shows it in ${Math.round(performance.now() - committed)} ms`);
    expect(await notReloaded(page)).toBe(true);
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });

  it("shows a page served by one replica a checkout made through the other, without reload", async () => {
    const cat = await personWithToken(h.core, "cat");
    const dan = await personWithToken(h.core, "dan");
    const replicaUrl = `http://127.0.0.1:${replica.port}`;
    const context = await signedInContext(browser, h.core, replicaUrl, dan.personId);
    const page = await context.newPage();
    await poolsPage(page, "gpu");
    expect(await countsOf(page, "gpu")).toEqual(["2", "0", "0", "2"]);
    const out = await call(h, "POST", "/v1/checkouts", { token: cat.token, body: { pool: "gpu" } });
    expect(out.status).toBe(201);
    const committed = performance.now();
    await expect.poll(() => countsOf(page, "gpu"), { timeout: 10_000, interval: 20 }).toEqual(["1", "1", "0", "2"]);
    console.log(`live update across replicas: ${Math.round(performance.now() - committed)} ms`);
    expect(await notReloaded(page)).toBe(true);
    await context.close();
  });

  it("stays live after the service lost its listening database connection: the next change still shows without reload", async () => {
    const eve = await personWithToken(h.core, "eve");
    const fay = await personWithToken(h.core, "fay");
    await addVms(h.core, "arm", 2);
    const context = await signedInContext(browser, h.core, h.url, fay.personId);
    const page = await context.newPage();
    await poolsPage(page, "arm");
    // Cut the LISTEN connection (as a database failover would): postgres.js listens again by itself
    // (what was missed meanwhile is covered by the resync test in live.test.ts).
    await h.core.db.execute(sql`select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'listen%' and datname = current_database()`);
    const out = await call(h, "POST", "/v1/checkouts", { token: eve.token, body: { pool: "arm" } });
    expect(out.status).toBe(201);
    await expect.poll(() => countsOf(page, "arm"), { timeout: 10_000 }).toEqual(["1", "1", "0", "2"]);
    expect(await notReloaded(page)).toBe(true);
    await context.close();
  });
});

describe.skipIf(missing !== null)("signing in and out in a real browser", () => {
  let h: Harness;
  let browser: Browser;
  beforeAll(async () => {
    h = await startApiHarness();
    await addVms(h.core, "linux", 1);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("signs in with the keyboard alone, shows a wrong token inline, and axe-core finds nothing serious on the sign-in page", async () => {
    const gus = await personWithToken(h.core, "gus");
    const context = await browser.newContext({ baseURL: h.url });
    const page = await context.newPage();
    await page.goto("/mine");
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel("API token").fill("vmres_wrong");
    await page.keyboard.press("Enter");
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("alert").textContent()).toContain("not a vmres API token");
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, "sign-in");
    await page.getByLabel("API token").fill(gus.token);
    await page.keyboard.press("Enter");
    await page.waitForURL((url) => url.pathname === "/mine");
    await page.getByText("Signed in as").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((url) => url.pathname === "/login");
    // The session is over: the page sends the person back to sign in.
    await page.goto("/");
    expect(new URL(page.url()).pathname).toBe("/login");
    await context.close();
  });
});
