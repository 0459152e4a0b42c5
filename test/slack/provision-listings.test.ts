import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
});
