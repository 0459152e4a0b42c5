import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import type { Actor } from "../../src/core/types.js";
import { runProviderJobs, savedImage } from "../helpers/admin-fixtures.js";
import { call, personWithToken, startApiHarness, type Harness } from "../api/helpers.js";
import { chromiumMissing, launchBrowser, seriousViolations, signedInContext } from "./browser.js";

const missing = chromiumMissing();
const PATIENCE = { timeout: 20_000 };

describe.skipIf(missing !== null)("my saved images on the Mine page, in a real browser", () => {
  let h: Harness;
  let browser: Browser;
  beforeAll(async () => {
    // No provisioner: the provider's jobs are run through the core, as a provider that succeeds would.
    h = await startApiHarness({ PROVISION_WORKER: "off" });
    browser = await launchBrowser();
    const set = await setProvisioning(h.core, { person: "operator", source: "cli" }, "cloud", { provider: "command", image: "base", maxSize: 3, providerSettings: { command: "/bin/true" } }, () => null);
    if (!set.ok) throw new Error(JSON.stringify(set.refusal));
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("lists only my images, and Restore makes a VM of the pool from the one chosen", async () => {
    const ivy = await personWithToken(h.core, "ivy");
    const ivyActor: Actor = { person: { lookup: "ivy" }, source: "cli" };
    const image = await savedImage(h.core, ivyActor, "cloud");
    await personWithToken(h.core, "joe");
    const others = await savedImage(h.core, { person: { lookup: "joe" }, source: "cli" }, "cloud");
    const context = await signedInContext(browser, h.core, h.url, ivy.personId);
    const page = await context.newPage();
    await page.goto("/mine");
    const images = page.getByRole("region", { name: "My saved images" });
    await expect.poll(() => images.getByRole("row", { name: new RegExp(image) }).count(), PATIENCE).toBe(1);
    expect(await images.getByRole("row", { name: new RegExp(others) }).count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);

    await images.getByRole("button", { name: `Restore ${image}` }).click();
    // The request waits for the create: the provider's job is run meanwhile.
    await expect.poll(async () => {
      await runProviderJobs(h.core, "cloud");
      return page.getByRole("status").first().textContent();
    }, PATIENCE).toContain(`made from ${image}`);
    const me = await call(h, "GET", "/v1/me", { token: ivy.token });
    expect(me.body.holds.map((vm: { pool: string; restoredFrom?: string }) => vm.pool)).toEqual(["cloud"]);
    await context.close();
  });
});
