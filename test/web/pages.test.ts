import { sql } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import { cliFor } from "../helpers/cli.js";
import { addPoolVms } from "../helpers/db.js";
import { addVms, call, personWithToken, snapshot, startApiHarness, type Harness } from "../api/helpers.js";
import { dmsTo, textOf, waitForDm } from "../slack/harness.js";
import { chromiumMissing, launchBrowser, screenshot, seriousViolations, signedInContext } from "./browser.js";

/**
 * The Pools, VMs and Mine pages in a real browser, against the whole service: what a person does
 * on the page is what Slack, the CLI and the API see, since the page only calls /v1.
 */
const missing = chromiumMissing();

/** The Slack user of the person who checks out, so the checkout's DM can be read from the fake Slack. */
const ANN_SLACK = "U0WEBANN1";

/** How long a poll waits for the page to show something: the machine running the tests may be loaded. */
const PATIENCE = { timeout: 20_000 };

/** What the page's clipboard holds (the test's tsconfig has no DOM types). */
const readClipboard = (page: Page): Promise<string> =>
  page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());

/** A VM's row on the VMs page, by its row header (the VM's name). */
const vmRow = (page: Page, name: string) => page.locator("table.vms > tbody > tr", { has: page.getByRole("rowheader", { name, exact: true }) });

describe.skipIf(missing !== null)("the Pools, VMs and Mine pages, in a real browser", { timeout: 120_000 }, () => {
  let h: Harness;
  let browser: Browser;
  beforeAll(async () => {
    h = await startApiHarness();
    browser = await launchBrowser();
    await addVms(h.core, "linux", 4);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  const signIn = async (personId: number): Promise<Page> => {
    const context = await signedInContext(browser, h.core, h.url, personId);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: h.url });
    return context.newPage();
  };

  it("checks out from the Pools page, shows the VM under Mine with its SSH line, extends and checks in; the DM, the CLI and the API see the same", async () => {
    const ann = await personWithToken(h.core, "ann", { slackId: ANN_SLACK });
    const page = await signIn(ann.personId);
    await page.goto("/");
    const row = page.getByRole("row", { name: /^linux/ });
    await expect.poll(() => row.getByRole("cell").allTextContents(), PATIENCE).toEqual(["4", "0", "0", "0", "0", "4", "empty", "none", "Check out"]);
    expect(await seriousViolations(page)).toEqual([]);

    await row.getByRole("button", { name: "Check out: pool linux" }).click();
    const dialog = page.getByRole("dialog", { name: "Check out a VM of pool linux" });
    await dialog.getByLabel("Lease").fill("2h");
    await dialog.getByLabel("Note (optional)").fill("web page test");
    expect(await seriousViolations(page)).toEqual([]);
    await dialog.getByRole("button", { name: "Check out" }).click();

    await page.waitForURL("**/mine");
    const me = await call(h, "GET", "/v1/me", { token: ann.token });
    expect(me.body.holds).toHaveLength(1);
    const held = me.body.holds[0];
    expect(held).toMatchObject({ pool: "linux", note: "web page test" });
    expect(Date.parse(held.endsAt) - Date.parse(held.startedAt)).toBe(2 * 3_600_000);
    const news = page.locator(".news");
    await expect.poll(() => news.textContent(), PATIENCE).toContain(`${held.name} is yours`);
    expect(await news.textContent()).toContain(held.ssh);
    expect(await news.textContent()).toContain(held.ip);
    const card = page.getByRole("article", { name: held.name });
    expect(await card.locator("code.ssh").textContent()).toBe(held.ssh);

    // The same checkout, as Slack and the CLI tell it.
    const [dm] = await waitForDm(h.fake, ANN_SLACK);
    expect(textOf(dm!.body)).toContain(held.name);
    expect(textOf(dm!.body)).toContain(held.ssh);
    const vmres = cliFor({ env: { VMRES_URL: h.url, VMRES_TOKEN: ann.token } });
    const listed = await vmres(["list", "--user", "ann"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(held.name);

    // Copy: the clipboard holds the SSH line, and a status region says so.
    await card.getByRole("button", { name: `Copy the SSH line of ${held.name}` }).click();
    await expect.poll(() => card.getByRole("status").textContent(), PATIENCE).toBe("Copied");
    expect(await readClipboard(page)).toBe(held.ssh);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, "mine");

    // Extend by a duration; a lease past the pool's longest is the core's refusal, shown inline, and changes nothing.
    await card.getByLabel(`Extend ${held.name} by`).fill("1h");
    await card.getByRole("button", { name: "Extend" }).click();
    await expect.poll(() => page.locator("main > p[role=status]").textContent(), PATIENCE).toContain(`The lease of ${held.name} now ends`);
    const extended = (await call(h, "GET", `/v1/vms/${held.name}`, { token: ann.token })).body;
    expect(Date.parse(extended.endsAt) - Date.parse(held.endsAt)).toBe(3_600_000);
    const before = await snapshot(h.core);
    await card.getByLabel(`Extend ${held.name} by`).fill("400d");
    await card.getByRole("button", { name: "Extend" }).click();
    await expect.poll(() => card.getByRole("alert").count(), PATIENCE).toBe(1);
    expect(await card.getByRole("alert").textContent()).toMatch(/\S/);
    expect(await snapshot(h.core)).toBe(before);

    // Check in asks first; "Keep it" keeps it.
    await card.getByRole("button", { name: `Check in ${held.name}` }).click();
    await card.getByRole("button", { name: "Keep it" }).click();
    expect((await call(h, "GET", "/v1/me", { token: ann.token })).body.holds).toHaveLength(1);
    await card.getByRole("button", { name: `Check in ${held.name}` }).click();
    await card.getByRole("button", { name: "Yes, check in" }).click();
    await expect.poll(() => page.locator("main > p[role=status]").textContent(), PATIENCE).toContain(`Checked in ${held.name}`);
    await expect.poll(() => page.getByText("You hold no VM.").count(), PATIENCE).toBe(1);
    expect((await call(h, "GET", "/v1/me", { token: ann.token })).body.holds).toEqual([]);
    const after = await vmres(["list", "--user", "ann"]);
    expect(after.stdout).not.toContain(held.name);
    expect(dmsTo(h.fake, ANN_SLACK).length).toBeGreaterThanOrEqual(1);
    await page.context().close();
  });

  it("shows the core's refusal inside the checkout dialog and changes nothing", async () => {
    const cat = await personWithToken(h.core, "cat");
    const page = await signIn(cat.personId);
    await page.goto("/");
    await page.getByRole("button", { name: "Check out: pool linux" }).click();
    const dialog = page.getByRole("dialog", { name: "Check out a VM of pool linux" });
    await dialog.getByLabel("Lease").fill("soon");
    const before = await snapshot(h.core);
    await dialog.getByRole("button", { name: "Check out" }).click();
    await expect.poll(() => dialog.getByRole("alert").textContent(), PATIENCE).toContain("a duration like 90m, 4h, 2d or 1d12h");
    expect(await snapshot(h.core)).toBe(before);
    expect(new URL(page.url()).pathname).toBe("/");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => dialog.count(), PATIENCE).toBe(0);
    await page.context().close();
  });

  it("two people: the second sees who holds the first's VM but no Check in for it, and a forged check-in is the core's refusal", async () => {
    const dan = await personWithToken(h.core, "dan");
    const eve = await personWithToken(h.core, "eve");
    const out = await call(h, "POST", "/v1/checkouts", { token: dan.token, body: { pool: "linux", note: "dan's build" } });
    expect(out.status).toBe(201);
    const page = await signIn(eve.personId);
    await page.goto("/vms?pool=linux");
    const row = vmRow(page, out.body.vm);
    await expect.poll(() => row.getByRole("cell").nth(2).textContent(), PATIENCE).toBe("dan");
    expect(await row.getByRole("cell").nth(4).textContent()).toBe("dan's build");
    expect(await page.getByRole("button", { name: /Check in/ }).count()).toBe(0);
    await page.goto("/mine");
    await expect.poll(() => page.getByText("You hold no VM.").count(), PATIENCE).toBe(1);
    expect(await page.getByRole("button", { name: /Check in/ }).count()).toBe(0);

    // A request the page would never send, made with eve's own session and CSRF token.
    const before = await snapshot(h.core);
    const forged = await page.evaluate(async (id) => {
      const session = (await (await fetch("/web/session")).json()) as { csrfToken: string };
      const res = await fetch(`/v1/checkouts/${id}`, { method: "DELETE", headers: { "x-csrf-token": session.csrfToken } });
      return { status: res.status, body: (await res.json()) as { code: string } };
    }, out.body.id);
    expect(forged).toMatchObject({ status: 403, body: { code: "not_holder" } });
    expect(await snapshot(h.core)).toBe(before);
    expect((await call(h, "GET", `/v1/vms/${out.body.vm}`, { token: dan.token })).body.holder.name).toBe("dan");
    expect((await call(h, "DELETE", `/v1/checkouts/${out.body.id}`, { token: dan.token })).status).toBe(200);
    await page.context().close();
  });

  it("joins the queue when no VM is free, and takes the VM offered on the Mine page", async () => {
    const [only] = await addVms(h.core, "tiny", 1);
    const fred = await personWithToken(h.core, "fred");
    const gus = await personWithToken(h.core, "gus");
    const held = await call(h, "POST", "/v1/checkouts", { token: fred.token, body: { pool: "tiny" } });
    expect(held.status).toBe(201);
    const page = await signIn(gus.personId);
    await page.goto("/");
    await page.getByRole("button", { name: "Join the queue: pool tiny" }).click();
    await page.getByRole("dialog", { name: "Join the queue of pool tiny" }).getByRole("button", { name: "Join the queue" }).click();
    await page.waitForURL("**/mine");
    await expect.poll(() => page.locator(".news").textContent(), PATIENCE).toContain("You joined the queue of pool tiny: number 1");
    const place = page.getByRole("row", { name: /^tiny/ });
    await expect.poll(() => place.getByRole("cell").nth(1).textContent(), PATIENCE).toBe("waiting");

    // fred gives it back; no cleanup worker runs here, so the VM is made available by hand and swept to gus.
    expect((await call(h, "DELETE", `/v1/checkouts/${held.body.id}`, { token: fred.token })).status).toBe(200);
    await h.core.db.execute(sql`update vms set state = 'available', cleanup_next_at = null where name = ${only}`);
    await sweepLeases(h.core);
    expect((await call(h, "GET", "/v1/queues", { token: gus.token })).body).toEqual([expect.objectContaining({ state: "offered", offeredVm: only })]);
    await page.reload();
    await expect.poll(() => page.getByRole("button", { name: "Take it" }).count(), PATIENCE).toBe(1);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole("button", { name: "Take it" }).click();
    await expect.poll(() => page.getByRole("article", { name: only }).count(), PATIENCE).toBe(1);
    const me = await call(h, "GET", "/v1/me", { token: gus.token });
    expect(me.body.holds.map((v: { name: string }) => v.name)).toEqual([only]);
    expect(me.body.queues).toEqual([]);
    await page.context().close();
  });

  it("offers to join the queue instead when the last free VM went to someone else before the checkout was sent", async () => {
    const [last] = await addVms(h.core, "race", 1);
    const kay = await personWithToken(h.core, "kay");
    const lee = await personWithToken(h.core, "lee");
    const page = await signIn(lee.personId);
    await page.goto("/");
    await page.getByRole("button", { name: "Check out: pool race" }).click();
    const dialog = page.getByRole("dialog", { name: "Check out a VM of pool race" });
    expect((await call(h, "POST", "/v1/checkouts", { token: kay.token, body: { pool: "race" } })).body.vm).toBe(last);
    await dialog.getByRole("button", { name: "Check out" }).click();
    await expect.poll(() => dialog.getByRole("alert").textContent(), PATIENCE).toMatch(/race/);
    await dialog.getByRole("button", { name: "Join the queue instead" }).click();
    await page.waitForURL("**/mine");
    await expect.poll(() => page.locator(".news").textContent(), PATIENCE).toContain("You joined the queue of pool race: number 1");
    expect((await call(h, "GET", "/v1/queues", { token: lee.token })).body).toEqual([expect.objectContaining({ pool: "race", state: "waiting" })]);
    await page.context().close();
  });

  it("makes a token shown once with a Copy button, that works on the API, and revokes it after asking", async () => {
    const hal = await personWithToken(h.core, "hal");
    const page = await signIn(hal.personId);
    await page.goto("/mine");
    const tokens = page.getByRole("region", { name: "My API tokens" });
    await tokens.getByLabel("Label").fill("laptop");
    await tokens.getByLabel("Lifetime").fill("7d");
    await tokens.getByRole("button", { name: "Make a token" }).click();
    const secret = tokens.locator(".secret");
    await expect.poll(() => secret.count(), PATIENCE).toBe(1);
    const value = (await secret.textContent()) ?? "";
    expect((await call(h, "GET", "/v1/me", { token: value })).body.person.name).toBe("hal");
    await tokens.getByRole("button", { name: "Copy the new token" }).click();
    expect(await readClipboard(page)).toBe(value);
    const row = tokens.getByRole("row", { name: /^laptop/ });
    await expect.poll(() => row.count(), PATIENCE).toBe(1);
    expect(await seriousViolations(page)).toEqual([]);

    // A bad lifetime is refused inline; nothing is made.
    const before = await snapshot(h.core);
    await tokens.getByLabel("Lifetime").fill("forever");
    await tokens.getByRole("button", { name: "Make a token" }).click();
    await expect.poll(() => tokens.getByRole("alert").count(), PATIENCE).toBe(1);
    expect(await snapshot(h.core)).toBe(before);

    await row.getByRole("button", { name: "Revoke the token laptop" }).click();
    await row.getByRole("button", { name: "Yes, revoke" }).click();
    await expect.poll(() => tokens.getByRole("status").first().textContent(), PATIENCE).toContain("Revoked the token laptop");
    expect((await call(h, "GET", "/v1/me", { token: value })).status).toBe(401);
    // The list is read again after the revocation: wait for it, not for the status line alone.
    await expect.poll(() => tokens.getByRole("row", { name: /^laptop/ }).count(), PATIENCE).toBe(0);
    await page.context().close();
  });

  it("pages 1,000 VMs 100 at a time, keeps the filter in the URL, and opens a VM's history", async () => {
    const names = await addPoolVms(h.core, "big", 1000);
    const ivy = await personWithToken(h.core, "ivy");
    const page = await signIn(ivy.personId);
    await page.goto("/vms?pool=big");
    const body = page.locator("table.vms > tbody > tr");
    await expect.poll(() => body.count(), PATIENCE).toBe(100);
    const top = page.getByRole("navigation", { name: "Pages of VMs (top)" });
    expect(await top.textContent()).toContain("1–100 of 1000 VMs (page 1 of 10)");
    const firstName = async () => (await page.locator("table.vms > tbody > tr > th").first().textContent()) ?? "";
    const sorted = [...names].sort();
    expect(await firstName()).toBe(sorted[0]);

    // The pager works from the keyboard.
    await top.getByRole("button", { name: "Next" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(firstName, PATIENCE).toBe(sorted[100]);
    expect(await body.count()).toBe(100);
    expect(new URL(page.url()).search).toBe("?pool=big&page=2");
    await page.reload();
    await expect.poll(firstName, PATIENCE).toBe(sorted[100]);
    await page.getByRole("navigation", { name: "Pages of VMs (bottom)" }).getByRole("button", { name: "Previous" }).click();
    await expect.poll(firstName, PATIENCE).toBe(sorted[0]);

    await page.getByLabel("State").selectOption("checked_out");
    await expect.poll(() => page.getByText("No VM matches this filter.").count(), PATIENCE).toBe(1);
    expect(new URL(page.url()).search).toBe("?pool=big&state=checked_out");
    await page.getByLabel("State").selectOption("");

    await page.getByRole("button", { name: `History of ${sorted[0]}`, exact: true }).click();
    const history = page.getByRole("region", { name: `History of ${sorted[0]}`, exact: true });
    await expect.poll(() => history.getByRole("listitem").count(), PATIENCE).toBeGreaterThan(0);
    expect(await history.textContent()).toContain("operator");
    expect(await page.getByRole("button", { name: `History of ${sorted[0]}`, exact: true }).getAttribute("aria-expanded")).toBe("true");
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  });

  it("shows the VMs page with a filter by tag and a holder, and the Pools page with a booking, for the screenshots", async () => {
    const jo = await personWithToken(h.core, "jo");
    const out = await call(h, "POST", "/v1/checkouts", { token: jo.token, body: { pool: "linux", for: "3h", note: "release build" } });
    expect(out.status).toBe(201);
    const hour = 3_600_000;
    const from = new Date(Math.ceil(Date.now() / hour) * hour + 24 * hour);
    const booked = await call(h, "POST", "/v1/reservations", { token: jo.token, body: { pool: "linux", count: 2, from: from.toISOString(), to: new Date(from.getTime() + 4 * hour).toISOString(), label: "release-test" } });
    expect(booked.status).toBe(201);
    const page = await signIn(jo.personId);
    await page.goto("/");
    const linux = page.getByRole("row", { name: /^linux/ });
    await expect.poll(() => linux.getByRole("cell").nth(7).textContent(), PATIENCE).toMatch(/^release-test by jo: 2 VMs, /);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, "pools");
    await page.goto("/vms?pool=linux");
    await expect.poll(() => page.locator("table.vms > tbody > tr").count(), PATIENCE).toBe(4);
    await page.getByLabel("Tag").fill("gpu");
    await page.getByLabel("Tag").press("Enter");
    await expect.poll(() => page.getByText("No VM matches this filter.").count(), PATIENCE).toBe(1);
    expect(new URL(page.url()).search).toBe("?pool=linux&tag=gpu");
    await page.getByLabel("Tag").fill("");
    await page.getByLabel("Tag").press("Enter");
    await expect.poll(() => page.locator("table.vms > tbody > tr").count(), PATIENCE).toBe(4);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, "vms");
    expect((await call(h, "DELETE", `/v1/checkouts/${out.body.id}`, { token: jo.token })).status).toBe(200);
    await page.context().close();
  });
});

describe.skipIf(missing !== null)("the VMs page with HIDE_HOLDERS", { timeout: 120_000 }, () => {
  let h: Harness;
  let browser: Browser;
  beforeAll(async () => {
    h = await startApiHarness({ HIDE_HOLDERS: "true" });
    browser = await launchBrowser();
    await addVms(h.core, "linux", 2);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("shows someone else's VM as held by someone hidden, without their name or note; the holder sees their own", async () => {
    const kim = await personWithToken(h.core, "kim");
    const lou = await personWithToken(h.core, "lou");
    const out = await call(h, "POST", "/v1/checkouts", { token: kim.token, body: { pool: "linux", note: "kim's secret" } });
    expect(out.status).toBe(201);
    const context = await signedInContext(browser, h.core, h.url, lou.personId);
    const page = await context.newPage();
    await page.goto("/vms");
    const row = vmRow(page, out.body.vm);
    await expect.poll(() => row.getByRole("cell").nth(2).textContent(), PATIENCE).toBe("hidden");
    expect(await row.getByRole("cell").nth(4).textContent()).toBe("");
    expect(await page.locator("main").textContent()).not.toContain("kim");
    // The history names holders, so it is refused to non-admins, and the page says why.
    await row.getByRole("button", { name: `History of ${out.body.vm}` }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), PATIENCE).toContain("HIDE_HOLDERS");
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();

    const own = await signedInContext(browser, h.core, h.url, kim.personId);
    const mine = await own.newPage();
    await mine.goto("/vms");
    const kimsRow = vmRow(mine, out.body.vm);
    await expect.poll(() => kimsRow.getByRole("cell").nth(2).textContent(), PATIENCE).toBe("kim");
    await own.close();
  });
});
