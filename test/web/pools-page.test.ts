import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVms, personWithToken, startApiHarness, type Harness } from "../api/helpers.js";
import { chromiumMissing, launchBrowser, seriousViolations, signedInContext } from "./browser.js";

const missing = chromiumMissing();

describe.skipIf(missing !== null)("the web page's Pools page, in a real browser", () => {
  let h: Harness;
  let browser: Browser;
  beforeAll(async () => {
    h = await startApiHarness();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("sends a visitor with no session to the sign-in page, keeping where they were going", async () => {
    const res = await fetch(`${h.url}/vms`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?next=%2Fvms");
  });

  it("shows a signed-in person each pool with its VMs counted, and axe-core finds nothing serious", async () => {
    await addVms(h.core, "linux", 3);
    const ann = await personWithToken(h.core, "ann");
    const context = await signedInContext(browser, h.core, h.url, ann.personId);
    const page = await context.newPage();
    await page.goto("/");
    const row = page.getByRole("row", { name: /linux/ });
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    expect(await row.getByRole("cell").allTextContents()).toEqual(["3", "0", "0", "0", "0", "3", "empty", "none", "Check out"]);
    await expect.poll(() => page.getByText("Signed in as").textContent(), { timeout: 20_000 }).toContain("ann");
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });

  it("refuses the admin page to a person who is not an admin (the page itself, not only its menu)", async () => {
    const bob = await personWithToken(h.core, "bob");
    const context = await signedInContext(browser, h.core, h.url, bob.personId);
    const page = await context.newPage();
    const res = await page.goto("/admin");
    expect(res?.status()).toBe(403);
    expect(await page.getByRole("heading").textContent()).toBe("Admins only");
    await context.close();
  });
});
