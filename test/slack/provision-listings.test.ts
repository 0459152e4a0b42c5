import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { renderHome } from "../../src/slack/home/publish-home.js";
import { savedImage } from "../helpers/admin-fixtures.js";
import { ADMIN, slash, startHarness, textOf, type Harness } from "./harness.js";

// Issue 19 item 4: /vm instances and /vm jobs ask the core, which refuses them to
// non-admins (the command no longer checks who is an admin itself).
describe("/vm instances and /vm jobs", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ PROVISION_WORKER: "off" });
  });
  afterAll(async () => h?.stop());

  it("answer an admin, and tell anyone else the core's refusal", async () => {
    expect(textOf((await slash(h, "instances", ADMIN.id)).body)).toContain("No instances in provisioned pools.");
    expect(textOf((await slash(h, "jobs --failed", ADMIN.id)).body)).toContain("No failed provider jobs.");
    const instances = textOf((await slash(h, "instances", "U0ALICE01")).body);
    expect(instances).toContain("Only vmres admins");
    expect(instances).toContain("list instances");
    expect(textOf((await slash(h, "jobs", "U0ALICE01")).body)).toContain("list provider jobs");
  });

  it("show an admin's Home everyone's images, and a person's Home only their own", async () => {
    const operator = { person: "operator", source: "cli" } as const;
    expect((await setProvisioning(h.core, operator, "cloud", { provider: "command", image: "base", maxSize: 3, providerSettings: { command: "/bin/true" } }, () => null)).ok).toBe(true);
    const alices = await savedImage(h.core, { person: { slackUserId: "U0ALICE01" }, source: "slack" }, "cloud");
    const bobs = await savedImage(h.core, { person: { slackUserId: "U0BOB0001" }, source: "slack" }, "cloud");
    const admin = JSON.stringify(await renderHome(h.core, ADMIN.id));
    expect(admin).toContain("*Saved images* (admins, 2)");
    expect(admin).toContain(alices);
    expect(admin).toContain(bobs);
    const alice = JSON.stringify(await renderHome(h.core, "U0ALICE01"));
    expect(alice).toContain("*Your saved images*");
    expect(alice).toContain(alices);
    expect(alice).not.toContain(bobs);
    expect(alice).not.toContain("(admins");
  });
});
