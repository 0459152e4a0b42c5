import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drainVm } from "../../src/core/admin.js";
import { checkout } from "../../src/core/checkout.js";
import { markPoolBlocked } from "../../src/core/cleanup/blocked-pools.js";
import { isAdmin } from "../../src/core/people.js";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { findVm, vmHistory } from "../../src/core/queries.js";
import { createToken } from "../../src/core/tokens.js";
import type { Actor } from "../../src/core/types.js";
import { failDueJob, quarantinedVm, savedImage, vmInCleaning } from "../helpers/admin-fixtures.js";
import { addVms, personWithToken, snapshot, startApiHarness, type Harness } from "../api/helpers.js";
import { isDmTo, textOf } from "../slack/harness.js";
import { chromiumMissing, launchBrowser, screenshot, seriousViolations, signedInContext } from "./browser.js";

const missing = chromiumMissing();
const operator: Actor = { person: "operator", source: "cli" };
const HAL = "U0HAL0001";
const hal: Actor = { person: { slackUserId: HAL }, source: "slack" };

describe.skipIf(missing !== null)("the admin page, in a real browser", () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;

  const stateOf = async (vm: string) => (await findVm(h.core, operator, vm))?.state;
  const historyOf = async (vm: string) => {
    const history = await vmHistory(h.core, operator, vm, 1);
    if (!history.ok) throw new Error(JSON.stringify(history.refusal));
    return history.value;
  };

  beforeAll(async () => {
    // No provisioner: the provider's jobs are run (or failed) through the core, step by step.
    h = await startApiHarness({ PROVISION_WORKER: "off" });
    browser = await launchBrowser();
    await addVms(h.core, "lab", 4);
    const ada = await personWithToken(h.core, "ada", { admin: true });
    const context = await signedInContext(browser, h.core, h.url, ada.personId);
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("lets an admin drain a VM by name, then mark it repaired", async () => {
    await page.goto("/admin");
    await page.getByLabel("VM name").fill("lab-1");
    await page.getByRole("button", { name: "Drain", exact: true }).click();
    await expect.poll(() => page.getByText("lab-1 is drained (available → maintenance).").count()).toBe(1);
    expect(await stateOf("lab-1")).toBe("maintenance");

    const row = page.getByRole("row", { name: /lab-1/ }).filter({ hasText: "maintenance" });
    await expect.poll(() => row.count()).toBe(1);
    await page.getByRole("button", { name: "lab-1 is repaired" }).click();
    await expect.poll(() => page.getByText("lab-1 is available again.").count()).toBe(1);
    expect(await stateOf("lab-1")).toBe("available");
    await expect.poll(() => page.getByRole("button", { name: "lab-1 is repaired" }).count()).toBe(0);
  });

  it("shows a drain the core refuses where it was asked, in the core's words, changing nothing", async () => {
    await page.getByLabel("VM name").fill("no-such-vm");
    await page.getByRole("button", { name: "Drain", exact: true }).click();
    await expect.poll(() => page.locator("section[aria-labelledby=drain] .error").textContent()).toContain("no-such-vm");
  });

  it("retries a quarantined VM's cleanup, showing its last cleanup error first", async () => {
    const vm = await quarantinedVm(h.core, hal, "lab", "rm: cannot remove '/tmp/x': Read-only file system");
    await page.reload();
    const row = page.getByRole("row", { name: new RegExp(vm) }).filter({ hasText: "quarantined" });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain("Read-only file system");
    await page.getByRole("button", { name: `Retry cleanup of ${vm}` }).click();
    await expect.poll(() => page.locator("section[aria-labelledby=attention] [role=status]").textContent()).toBe(`${vm} is being cleaned again (quarantined → cleaning).`);
    expect(await stateOf(vm)).toBe("cleaning");
  });

  it("force-checks-in someone's VM after asking twice, on record, and the holder's DM says so", async () => {
    const out = await checkout(h.core, hal, { pool: "lab" });
    if (!out.ok) throw new Error(JSON.stringify(out.refusal));
    const vm = out.value.name;
    await page.reload();
    await page.getByRole("button", { name: `Force check-in of ${vm}` }).click();
    // Asked first: nothing has happened yet, and Cancel has the focus.
    expect(await stateOf(vm)).toBe("checked_out");
    expect(await page.locator(":focus").textContent()).toBe("Cancel");
    await page.getByRole("button", { name: "Yes, check it in" }).click();
    await expect.poll(() => page.locator("section[aria-labelledby=checkouts] [role=status]").textContent()).toMatch(new RegExp(`^${vm} is checked in from .*, on record; they are told\\.$`));
    expect(await stateOf(vm)).not.toBe("checked_out");
    expect((await historyOf(vm))[0]).toMatchObject({ actor: "ada", source: "web" });
    const dm = await h.fake.waitFor((c) => c.method === "chat.postMessage" && isDmTo(c.body.channel, HAL) && textOf(c.body).includes("was checked in by an admin"));
    expect(textOf(dm[0]!.body)).toContain(vm);
  });

  it("ends a cleanup that cannot run, with the reason on record; an empty reason is asked for before anything is sent", async () => {
    await addVms(h.core, "keyless", 1);
    await markPoolBlocked(h.core.db.$client, "keyless", "cleanup blocked: cannot read SSH private key file /nope");
    const vm = await vmInCleaning(h.core, hal, "keyless");
    await page.reload();
    const end = page.getByRole("button", { name: `End cleanup of ${vm}` });
    await expect.poll(() => end.count()).toBe(1);
    await end.click();
    expect(await stateOf(vm)).toBe("cleaning"); // the reason is required: the browser asks for it
    await page.getByLabel("Reason (on record)").fill("wiped /tmp by hand");
    await end.click();
    await expect.poll(() => page.locator("section[aria-labelledby=blocked] [role=status]").textContent()).toBe(`${vm}'s cleanup is ended by hand: available.`);
    expect(await stateOf(vm)).toBe("available");
    const [last] = await historyOf(vm);
    expect(last).toMatchObject({ kind: "cleanup_done_by_hand", actor: "ada", source: "web", detail: { reason: "wiped /tmp by hand" } });
  });

  it("retries a failed provider job, and deletes someone's image after asking", async () => {
    const set = await setProvisioning(h.core, operator, "cloud", { provider: "command", image: "base", maxSize: 3, providerSettings: { command: "/bin/true" } }, () => null);
    expect(set.ok).toBe(true);
    const image = await savedImage(h.core, hal, "cloud");
    await page.reload();
    const imageRow = page.getByRole("row", { name: new RegExp(image) });
    await expect.poll(() => imageRow.count()).toBe(1);
    await page.getByRole("button", { name: `Delete image ${image}` }).click();
    await page.getByRole("button", { name: "Yes, delete it" }).click();
    await expect.poll(() => page.locator("section[aria-labelledby=images] [role=status]").textContent()).toBe(`Deleting image ${image} (pool cloud).`);
    const job = await failDueJob(h.core, "cloud");
    expect(job.kind).toBe("delete_image");
    await page.reload();
    await page.getByLabel("Only failed jobs").check();
    await page.getByRole("button", { name: `Retry job ${job.id}` }).click();
    await expect.poll(() => page.locator("section[aria-labelledby=jobs] [role=status]").textContent()).toBe(`Job ${job.id} (delete_image) is queued again.`);
    await expect.poll(() => page.getByRole("button", { name: `Retry job ${job.id}` }).count()).toBe(0);
  });

  it("adds a service, makes a person an admin, and revokes a token after asking", async () => {
    await page.reload();
    await page.getByLabel("Name", { exact: true }).fill("ci-runner");
    await page.getByLabel("Kind").selectOption("service");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await expect.poll(() => page.locator("section[aria-labelledby=people] [role=status]").textContent()).toBe("ci-runner is added.");
    await page.getByRole("button", { name: "Make ci-runner an admin" }).click();
    await expect.poll(() => page.locator("section[aria-labelledby=people] [role=status]").textContent()).toBe("ci-runner is an admin now.");
    expect(await isAdmin(h.core, { person: { lookup: "ci-runner" }, source: "cli" })).toBe(true);
    const token = await createToken(h.core, operator, { user: "ci-runner", label: "pipeline" });
    if (!token.ok) throw new Error(JSON.stringify(token.refusal));
    await page.reload();
    await page.getByRole("button", { name: `Revoke token ${token.value.id} of ci-runner` }).click();
    await page.getByRole("button", { name: "Yes, revoke it" }).click();
    await expect.poll(() => page.locator("section[aria-labelledby=tokens] [role=status]").textContent()).toBe(`Token ${token.value.id} of ci-runner is revoked.`);
    const res = await fetch(`${h.url}/v1/me`, { headers: { authorization: `Bearer ${token.value.token}` } });
    expect(res.status).toBe(401);
  });

  it("has nothing axe-core calls serious, with rows and actions in its tables, and is saved as a screenshot", async () => {
    expect((await drainVm(h.core, operator, "lab-4")).ok).toBe(true);
    expect((await checkout(h.core, hal, { pool: "lab", note: "release tests" })).ok).toBe(true);
    await savedImage(h.core, { person: { lookup: "ada" }, source: "cli" }, "cloud");
    await page.reload();
    await expect.poll(() => page.getByRole("button", { name: "lab-4 is repaired" }).count()).toBe(1);
    await expect.poll(() => page.getByRole("heading", { name: "Tokens" }).count()).toBe(1);
    await expect.poll(() => page.getByText("Loading…").count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, "admin");
  });

  it("is refused to a person who is not an admin: the page, its menu entry, and the API behind it", async () => {
    const bob = await personWithToken(h.core, "bob");
    const before = await snapshot(h.core);
    const context = await signedInContext(browser, h.core, h.url, bob.personId);
    const theirs = await context.newPage();
    const res = await theirs.goto("/admin");
    expect(res?.status()).toBe(403);
    await theirs.goto("/");
    await expect.poll(() => theirs.getByText("Signed in as").count()).toBe(1);
    expect(await theirs.getByRole("link", { name: "Admin" }).count()).toBe(0);
    // The page's own client, with bob's session and CSRF token: each admin call refused by the core.
    const answers = await theirs.evaluate(async () => {
      const session = (await (await fetch("/web/session")).json()) as { csrfToken: string };
      const csrf = { "x-csrf-token": session.csrfToken };
      const calls: [string, string, unknown?][] = [
        ["GET", "/v1/instances"],
        ["GET", "/v1/provider-jobs"],
        ["POST", "/v1/provider-jobs/1/retry"],
        ["POST", "/v1/vms/lab-2/cleanup-done", { reason: "mine" }],
        ["PATCH", "/v1/vms/lab-2", { state: "maintenance" }],
        ["PATCH", "/v1/people/bob", { admin: true }],
        ["GET", "/v1/people"],
      ];
      const out: [string, number, string][] = [];
      for (const [method, path, body] of calls) {
        const init = body === undefined ? { method, headers: csrf } : { method, headers: { ...csrf, "content-type": "application/json" }, body: JSON.stringify(body) };
        const res = await fetch(path, init);
        out.push([path, res.status, ((await res.json()) as { code: string }).code]);
      }
      return out;
    });
    for (const [path, status, code] of answers) expect([path, status, code]).toEqual([path, 403, "not_admin"]);
    expect(await snapshot(h.core)).toBe(before);
    await context.close();
  });
});
