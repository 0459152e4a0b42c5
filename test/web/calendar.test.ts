import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordDisplayName } from "../../src/core/people.js";
import type { Core } from "../../src/core/types.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "../api/helpers.js";
import { chromiumMissing, launchBrowser, screenshot, seriousViolations, signedInContext } from "./browser.js";

const missing = chromiumMissing();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BERLIN = "Europe/Berlin";

/** A person with a token whose Slack profile says they live in `zone` (the page shows times there). */
async function personIn(core: Core, name: string, zone: string, slackId: string) {
  const p = await personWithToken(core, name, { slackId });
  await recordDisplayName(core, slackId, name, zone);
  return p;
}

/** "YYYY-MM-DD" of an instant in a zone, by Intl (not by the page's code). */
const dateIn = (instant: number, zone: string) => new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(instant);
/** "HH:MM" of an instant in a zone. */
const timeIn = (instant: string, zone: string) => new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(instant));

/** The calendar of a pool on a day (or the week holding it), loaded, with its VMs' rows drawn. */
async function openCalendar(page: Page, pool: string, date: string, view: "day" | "week" = "day"): Promise<void> {
  await page.goto(`/calendar?pool=${pool}&view=${view}&date=${date}`);
  await page.locator(".cal-lane").first().waitFor();
}

const row = (page: Page, vm: string): Locator => page.locator(`.cal-lane[data-vm="${vm}"]`);

/** The x of an hour mark of the day view (its left edge is the hour's instant). */
async function hourX(page: Page, hour: string): Promise<number> {
  const box = await page.locator(".cal-hour", { hasText: new RegExp(`^${hour}$`) }).first().boundingBox();
  if (!box) throw new Error(`no hour mark ${hour}`);
  return box.x;
}

async function bookings(h: Harness, token: string, pool: string): Promise<{ label: string; from: string; to: string; state: string; vms: string[] }[]> {
  const res = await call(h, "GET", `/v1/reservations?pool=${pool}`, { token });
  expect(res.status).toBe(200);
  return res.body;
}

/** The last Sunday of March from now on: the night Europe/Berlin's clocks go from 02:00 to 03:00 (01:00 UTC). */
function nextSpringForward(): { date: string; changeAt: number } {
  for (let year = new Date().getUTCFullYear(); ; year++) {
    const lastOfMarch = new Date(Date.UTC(year, 2, 31));
    const day = 31 - lastOfMarch.getUTCDay();
    const changeAt = Date.UTC(year, 2, day, 1);
    if (changeAt - DAY > Date.now()) return { date: `${year}-03-${String(day).padStart(2, "0")}`, changeAt };
  }
}

describe.skipIf(missing !== null)("the bookings calendar, in a real browser", { timeout: 120_000 }, () => {
  let h: Harness;
  let browser: Browser;
  let ann: { token: string; personId: number };
  let context: BrowserContext;
  let page: Page;
  const tomorrow = dateIn(Date.now() + DAY, BERLIN);

  beforeAll(async () => {
    // A booking across the next spring-forward night may be up to a year ahead.
    h = await startApiHarness({ MAX_BOOKING_AHEAD: "400d" });
    browser = await launchBrowser();
    await addVms(h.core, "gpu", 3);
    await addVms(h.core, "lab", 6);
    ann = await personIn(h.core, "ann", BERLIN, "U0ANN");
    context = await signedInContext(browser, h.core, h.url, ann.personId);
    page = await context.newPage();
  }, 120_000);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await h?.stop();
  });

  it("books a range dragged across a VM's row, and its bar appears with label and owner", async () => {
    await openCalendar(page, "gpu", tomorrow);
    const box = (await row(page, "gpu-1").boundingBox())!;
    const y = box.y + box.height / 2;
    await page.mouse.move((await hourX(page, "10")) + 1, y);
    await page.mouse.down();
    await page.mouse.move((await hourX(page, "12")) + 1, y, { steps: 5 });
    await page.mouse.up();
    // The drag filled the form (in ann's zone) and put the focus on the label.
    await expect.poll(() => page.getByLabel("VM", { exact: true }).inputValue()).toBe("gpu-1");
    expect(await page.getByLabel("From", { exact: true }).inputValue()).toBe(`${tomorrow}T10:00`);
    expect(await page.getByLabel("To", { exact: true }).inputValue()).toBe(`${tomorrow}T12:00`);
    expect(await page.getByLabel("Label", { exact: true }).evaluate((input) => input === input.ownerDocument.activeElement)).toBe(true);
    await page.keyboard.type("demo");
    await page.getByLabel("Note", { exact: true }).fill("release demo");
    await page.getByRole("button", { name: "Book", exact: true }).click();

    const bar = row(page, "gpu-1").locator(".cal-booking");
    await expect.poll(() => bar.textContent()).toContain("demo · ann");
    expect(await page.getByRole("status").textContent()).toContain("Booked demo");
    const [booked] = await bookings(h, ann.token, "gpu");
    expect(booked).toMatchObject({ label: "demo", vms: ["gpu-1"], state: "booked" });
    expect([timeIn(booked!.from, BERLIN), timeIn(booked!.to, BERLIN)]).toEqual(["10:00", "12:00"]);
  });

  it("refuses a range that does not fit inline, saying what is free and the nearest range, and books that with one click", async () => {
    await openCalendar(page, "gpu", tomorrow);
    await page.getByLabel("VM", { exact: true }).selectOption("");
    await page.getByLabel("How many", { exact: true }).fill("3");
    await page.getByLabel("From", { exact: true }).fill(`${tomorrow}T11:00`);
    await page.getByLabel("To", { exact: true }).fill(`${tomorrow}T12:00`);
    await page.getByLabel("Label", { exact: true }).fill("crowd");
    await page.getByRole("button", { name: "Book", exact: true }).click();

    const alert = page.getByRole("alert");
    await expect.poll(() => alert.textContent()).toContain("Only 2 of the 3 VMs asked for are free in gpu");
    expect(await alert.textContent()).toContain("The nearest range that fits:");
    expect(await bookings(h, ann.token, "gpu")).toHaveLength(1);
    expect(await seriousViolations(page)).toEqual([]);

    // demo holds gpu-1 until 12:00: the same hour right after it is the nearest fit.
    await alert.getByRole("button", { name: /^Book .* instead$/ }).click();
    await expect.poll(async () => (await bookings(h, ann.token, "gpu")).map((b) => b.label)).toEqual(["demo", "crowd"]);
    const crowd = (await bookings(h, ann.token, "gpu")).find((b) => b.label === "crowd")!;
    expect([timeIn(crowd.from, BERLIN), timeIn(crowd.to, BERLIN), crowd.vms.length]).toEqual(["12:00", "13:00", 3]);
    await expect.poll(() => page.locator(".cal-booking", { hasText: "crowd" }).count()).toBe(3);
    expect(await alert.count()).toBe(0);
  });

  it("cancels a booking of mine after asking, and its bar goes", async () => {
    await openCalendar(page, "gpu", tomorrow);
    await expect.poll(() => row(page, "gpu-1").locator(".cal-booking", { hasText: "demo" }).count()).toBe(1);
    await page.getByRole("button", { name: "Cancel demo" }).click();
    // Asked first: nothing is cancelled yet, and the focus is on the answer.
    expect((await bookings(h, ann.token, "gpu")).map((b) => b.label)).toContain("demo");
    const yes = page.getByRole("button", { name: "Yes, cancel demo" });
    expect(await yes.evaluate((b) => b === b.ownerDocument.activeElement)).toBe(true);
    await yes.click();
    await expect.poll(() => row(page, "gpu-1").locator(".cal-booking", { hasText: "demo" }).count()).toBe(0);
    expect((await bookings(h, ann.token, "gpu")).map((b) => b.label)).toEqual(["crowd"]);
  });

  it("takes a wrong address or form without harm: the first pool and today instead, and what is wrong said, nothing booked", async () => {
    await page.goto("/calendar?pool=nope&view=year&date=2027-02-30");
    await page.locator(".cal-lane").first().waitFor();
    expect(await page.getByLabel("Pool", { exact: true }).inputValue()).toBe("gpu");
    expect(page.url()).toContain(`view=day&date=${dateIn(Date.now(), BERLIN)}`);
    const before = await bookings(h, ann.token, "gpu");
    await page.getByLabel("From", { exact: true }).fill(`${tomorrow}T12:00`);
    await page.getByLabel("To", { exact: true }).fill(`${tomorrow}T11:00`);
    await page.getByLabel("Label", { exact: true }).fill("backwards");
    await page.getByRole("button", { name: "Book", exact: true }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("To: the end must be after the start");
    await page.getByLabel("To", { exact: true }).fill(`${tomorrow}T13:00`);
    await page.getByLabel("Label", { exact: true }).fill("Not A Label");
    await page.getByRole("button", { name: "Book", exact: true }).click();
    // The core's own words for a label it refuses.
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/^label: /);
    expect(await bookings(h, ann.token, "gpu")).toEqual(before);
  });

  it("draws a pool of 1,000 VMs a screenful at a time: the rows in view, the others as they are scrolled to", async () => {
    await addVms(h.core, "many", 1000);
    await openCalendar(page, "many", tomorrow, "week");
    expect(await page.locator("table.cal").getAttribute("aria-rowcount")).toBe("1001");
    const drawn = await page.locator(".cal-lane").count();
    expect(drawn).toBeGreaterThan(5);
    expect(drawn).toBeLessThan(100);
    expect(await row(page, "many-1000").count()).toBe(0);
    await page.locator(".cal-scroll").evaluate((scroller) => scroller.scrollTo({ top: scroller.scrollHeight }));
    await row(page, "many-1000").waitFor();
    expect(await page.locator(".cal-lane").count()).toBeLessThan(100);
    expect(await page.locator('tr[aria-rowindex="1001"] th').textContent()).toBe("many-1000");
  });

  it("draws a booking across a DST change as long as it really lasts (5 h from 00:00 to 06:00 on a 23-hour day)", async () => {
    const { date, changeAt } = nextSpringForward();
    await openCalendar(page, "gpu", date);
    await page.getByLabel("VM", { exact: true }).selectOption("gpu-2");
    await page.getByLabel("From", { exact: true }).fill(`${date}T00:00`);
    await page.getByLabel("To", { exact: true }).fill(`${date}T06:00`);
    await page.getByLabel("Label", { exact: true }).fill("night");
    await page.getByRole("button", { name: "Book", exact: true }).click();

    const bar = row(page, "gpu-2").locator(".cal-booking", { hasText: "night" });
    await bar.waitFor();
    const night = (await bookings(h, ann.token, "gpu")).find((b) => b.label === "night")!;
    // Berlin's midnight is 23:00 UTC the day before (+01:00); 06:00 is 04:00 UTC (+02:00 after the change).
    expect([Date.parse(night.from), Date.parse(night.to)]).toEqual([changeAt - 2 * HOUR, changeAt + 3 * HOUR]);

    // The day has 23 hours: no 02 on its clock.
    const marks = await page.locator(".cal-hour").allTextContents();
    expect(marks).toHaveLength(23);
    expect(marks.slice(0, 4)).toEqual(["00", "01", "03", "04"]);
    const perHour = (await hourX(page, "04")) - (await hourX(page, "03"));
    expect(perHour).toBeGreaterThan(10);
    const width = (await bar.boundingBox())!.width;
    expect(Math.abs(width - 5 * perHour)).toBeLessThan(1.5);
    // Where it starts and ends: the 00 and 06 marks.
    expect(Math.abs((await bar.boundingBox())!.x - (await hourX(page, "00")))).toBeLessThan(1.5);
    expect(Math.abs((await bar.boundingBox())!.x + width - (await hourX(page, "06")))).toBeLessThan(1.5);
  });

  it("shows a week of a pool with bookings, leases and now, and axe-core finds nothing serious (the README's picture)", async () => {
    const people = await Promise.all(["gina", "hugo", "ines"].map((name, i) => personIn(h.core, name, BERLIN, `U0P${i}`)));
    const [gina, hugo, ines] = people as [(typeof people)[number], (typeof people)[number], (typeof people)[number]];
    const base = Math.ceil(Date.now() / HOUR) * HOUR;
    const at = (hours: number) => new Date(base + hours * HOUR).toISOString();
    const book = async (token: string, vms: string[], from: number, to: number, label: string) =>
      expect((await call(h, "POST", "/v1/reservations", { token, body: { pool: "lab", vms, from: at(from), to: at(to), label } })).status).toBe(201);
    await book(gina.token, ["lab-3", "lab-4"], 30, 52, "release-test");
    await book(hugo.token, ["lab-5"], 6, 20, "perf-run");
    await book(ines.token, ["lab-6"], 44, 70, "training");
    await book(gina.token, ["lab-3"], 60, 66, "bisect");
    await book(ann.token, ["lab-2"], 54, 60, "ann-demo");
    for (const [who, lease] of [[hugo, "20h"], [ines, "9h"]] as const) {
      expect((await call(h, "POST", "/v1/checkouts", { token: who.token, body: { pool: "lab", for: lease } })).status).toBe(201);
    }

    const context = await signedInContext(browser, h.core, h.url, gina.personId);
    const page = await context.newPage();
    await page.setViewportSize({ width: 1440, height: 900 });
    await openCalendar(page, "lab", dateIn(base + DAY, BERLIN), "week");
    await expect.poll(() => page.locator(".cal-bar").count()).toBeGreaterThan(2);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, "calendar");
    // The day view, and the keyboard's way through the toolbar, too.
    await page.getByRole("button", { name: "Day", exact: true }).click();
    await expect.poll(() => page.locator(".cal-hour").count()).toBeGreaterThan(22);
    expect(await seriousViolations(page)).toEqual([]);
    const shownDay = new URL(page.url()).searchParams.get("date")!;
    await page.getByRole("button", { name: "Next day" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("date")).not.toBe(shownDay);
    expect(Date.parse(new URL(page.url()).searchParams.get("date")!) - Date.parse(shownDay)).toBe(DAY);
    await page.getByRole("button", { name: "Today" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("date")).toBe(dateIn(Date.now(), BERLIN));
    await context.close();
  });
});

describe.skipIf(missing !== null)("the bookings calendar with HIDE_HOLDERS", { timeout: 120_000 }, () => {
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    h = await startApiHarness({ HIDE_HOLDERS: "true" });
    browser = await launchBrowser();
    await addVms(h.core, "shared", 3);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("shows others' bookings and leases as booked and checked out, never who; one's own with one's name", async () => {
    const erin = await personIn(h.core, "erin", BERLIN, "U0ERIN");
    const frank = await personIn(h.core, "frank", BERLIN, "U0FRANK");
    const start = Math.ceil((Date.now() + DAY) / HOUR) * HOUR;
    const at = (hours: number) => new Date(start + hours * HOUR).toISOString();
    expect((await call(h, "POST", "/v1/reservations", { token: erin.token, body: { pool: "shared", vms: ["shared-1"], from: at(0), to: at(3), label: "erins", note: "secret plan" } })).status).toBe(201);
    expect((await call(h, "POST", "/v1/reservations", { token: frank.token, body: { pool: "shared", vms: ["shared-2"], from: at(1), to: at(4), label: "franks" } })).status).toBe(201);
    expect((await call(h, "POST", "/v1/checkouts", { token: erin.token, body: { pool: "shared", for: "30h" } })).status).toBe(201);

    const context = await signedInContext(browser, h.core, h.url, frank.personId);
    const page = await context.newPage();
    await openCalendar(page, "shared", dateIn(start, BERLIN), "week");
    await expect.poll(() => page.locator(".cal-bar").count()).toBe(3);
    const texts = await page.locator(".cal-bar .cal-bar-text").allTextContents();
    expect(texts.sort()).toEqual(["erins · booked", "franks · frank", "lease · checked out"]);
    expect(await page.locator("main").textContent()).not.toContain("erin ");
    expect(await page.locator("main").textContent()).not.toContain("secret plan");
    expect(await page.locator(".cal-list").getByRole("row", { name: /erins/ }).getByRole("cell").first().textContent()).toBe("booked");
    // Only one's own booking can be cancelled.
    expect(await page.getByRole("button", { name: /^Cancel/ }).allTextContents()).toEqual(["Cancel franks"]);
    await context.close();
  });
});
