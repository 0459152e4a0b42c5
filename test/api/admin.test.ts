import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Actor } from "../../src/core/types.js";
import { failDueJob, savedImage, vmInCleaning } from "../helpers/admin-fixtures.js";
import { addVms, call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

// The admin API the web page's admin view needs: provider jobs, instances, images,
// ending a cleanup by hand, and making someone an admin. Who may do what is the core's.

const operator: Actor = { person: "operator", source: "cli" };
const as = (name: string): Actor => ({ person: { lookup: name }, source: "cli" });
const CLOUD = "cloud";

describe("the admin API", () => {
  let h: Harness;
  let admin: string;
  let ann: string;

  beforeAll(async () => {
    // No provisioner here: the tests run the provider's jobs through the core, one step at a time.
    h = await startApiHarness({ PROVISION_WORKER: "off" });
    admin = (await personWithToken(h.core, "ada", { admin: true })).token;
    ann = (await personWithToken(h.core, "ann")).token;
    await personWithToken(h.core, "bob");
    const set = await setProvisioning(h.core, operator, CLOUD, { provider: "command", image: "base", maxSize: 4, providerSettings: { command: "/bin/true" } }, () => null);
    expect(set.ok, JSON.stringify(set)).toBe(true);
  });
  afterAll(async () => h?.stop());

  it("lists images as the core decides: a person their own, an admin everyone's; a person naming someone else is refused", async () => {
    const annImage = await savedImage(h.core, as("ann"), CLOUD);
    const bobImage = await savedImage(h.core, as("bob"), CLOUD);
    const mine = await call(h, "GET", "/v1/images", { token: ann });
    expect(mine.status).toBe(200);
    expect(mine.body.map((i: { name: string }) => i.name)).toEqual([annImage]);
    expect(mine.body[0]).toMatchObject({ pool: CLOUD, owner: "ann", state: "ready", createdAt: expect.stringMatching(/Z$/) });
    expect((await call(h, "GET", "/v1/images?user=me", { token: ann })).body.map((i: { name: string }) => i.name)).toEqual([annImage]);
    const others = await call(h, "GET", "/v1/images?user=bob", { token: ann });
    expect(others.status).toBe(403);
    expect(others.body).toMatchObject({ code: "not_admin" });
    const all = await call(h, "GET", "/v1/images", { token: admin });
    expect(all.body.map((i: { name: string }) => i.name).sort()).toEqual([annImage, bobImage].sort());
  });

  it("deletes an image (an admin anyone's; a person only their own), then retries and abandons its failed delete job", async () => {
    const image = await savedImage(h.core, as("bob"), CLOUD);
    const before = await snapshot(h.core);
    const notHers = await call(h, "DELETE", `/v1/images/${image}`, { token: ann });
    expect(notHers.status).toBe(404);
    expect(notHers.body).toMatchObject({ code: "unknown_image", image });
    expect(await snapshot(h.core)).toBe(before);
    const bad = await call(h, "DELETE", "/v1/images/Not_An_Image", { token: admin });
    expect(bad.status).toBe(422);

    const deleted = await call(h, "DELETE", `/v1/images/${image}`, { token: admin });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ image, pool: CLOUD });
    const job = await failDueJob(h.core, CLOUD);
    expect(job.kind).toBe("delete_image");

    const failed = await call(h, "GET", "/v1/provider-jobs?failed=true", { token: admin });
    expect(failed.status).toBe(200);
    expect(failed.body).toEqual([expect.objectContaining({ id: job.id, kind: "delete_image", state: "failed", image, lastError: "provider unreachable (test)", attempts: 1 })]);
    expect((await call(h, "GET", "/v1/provider-jobs", { token: admin })).body.length).toBeGreaterThan(1);

    const retried = await call(h, "POST", `/v1/provider-jobs/${job.id}/retry`, { token: admin });
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ id: job.id, kind: "delete_image", action: "retried" });
    const notFailed = await call(h, "POST", `/v1/provider-jobs/${job.id}/abandon`, { token: admin });
    expect(notFailed.status).toBe(409);
    expect(notFailed.body).toMatchObject({ code: "job_not_failed" });
    expect((await failDueJob(h.core, CLOUD)).id).toBe(job.id);
    const abandoned = await call(h, "POST", `/v1/provider-jobs/${job.id}/abandon`, { token: admin });
    expect(abandoned.body).toEqual({ id: job.id, kind: "delete_image", action: "abandoned" });
    expect((await call(h, "POST", "/v1/provider-jobs/999999/retry", { token: admin })).body).toMatchObject({ code: "unknown_job" });
  });

  it("lists instances to admins, with what each is for", async () => {
    // Asked through the core: the API's checkout would wait for the create, which no provisioner runs here.
    const asked = await checkoutFromPool(h.core, as("ann"), { pool: CLOUD });
    expect(asked.ok && asked.value.kind).toBe("creating");
    const listed = await call(h, "GET", "/v1/instances", { token: admin });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual(expect.arrayContaining([expect.objectContaining({ pool: CLOUD, state: "creating", forPerson: "ann", vmState: null })]));
    const all = await call(h, "GET", "/v1/instances?all=true", { token: admin });
    expect(all.body.length).toBeGreaterThan(listed.body.length);
  });

  it("ends a cleanup by hand on record, and refuses a VM that is not in cleaning or a missing reason without changing anything", async () => {
    await addVms(h.core, "lab", 1);
    const vm = await vmInCleaning(h.core, as("ann"), "lab");
    const before = await snapshot(h.core);
    const noReason = await call(h, "POST", `/v1/vms/${vm}/cleanup-done`, { token: admin, body: {} });
    expect(noReason.status).toBe(400);
    const blank = await call(h, "POST", `/v1/vms/${vm}/cleanup-done`, { token: admin, body: { reason: "   " } });
    expect(blank.status).toBe(422);
    expect(await snapshot(h.core)).toBe(before);
    const done = await call(h, "POST", `/v1/vms/${vm}/cleanup-done`, { token: admin, body: { reason: "wiped /tmp by hand" } });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ vm, to: "available", reason: "wiped /tmp by hand" });
    const history = await call(h, "GET", `/v1/vms/${vm}/events?limit=1`, { token: admin });
    expect(history.body[0]).toMatchObject({ kind: "cleanup_done_by_hand", actor: "ada", source: "api" });
    const again = await call(h, "POST", `/v1/vms/${vm}/cleanup-done`, { token: admin, body: { reason: "again" } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: "wrong_state", state: "available" });
  });

  it("makes a person an admin and no longer one; the built-ins keep what they are", async () => {
    const made = await call(h, "PATCH", "/v1/people/bob", { token: admin, body: { admin: true } });
    expect(made.status).toBe(200);
    expect(made.body).toMatchObject({ person: { name: "bob" }, admin: true, changed: true });
    expect((await call(h, "PATCH", "/v1/people/bob", { token: admin, body: { admin: true } })).body.changed).toBe(false);
    expect((await call(h, "PATCH", "/v1/people/bob", { token: admin, body: { admin: false } })).body).toMatchObject({ admin: false, changed: true });
    expect((await call(h, "PATCH", "/v1/people/system", { token: admin, body: { admin: false } })).status).toBe(422);
    expect((await call(h, "PATCH", "/v1/people/nobody", { token: admin, body: { admin: true } })).status).toBe(404);
  });

  it("refuses every admin endpoint to a person who is not an admin, changing nothing", async () => {
    await addVms(h.core, "lab2", 1);
    const vm = await vmInCleaning(h.core, as("bob"), "lab2");
    const before = await snapshot(h.core);
    const attempts: [string, string, unknown?][] = [
      ["GET", "/v1/instances"],
      ["GET", "/v1/provider-jobs"],
      ["GET", "/v1/provider-jobs?failed=true"],
      ["POST", "/v1/provider-jobs/1/retry"],
      ["POST", "/v1/provider-jobs/1/abandon"],
      ["POST", `/v1/vms/${vm}/cleanup-done`, { reason: "mine anyway" }],
      ["PATCH", "/v1/people/ann", { admin: true }],
      ["GET", "/v1/people"],
      ["POST", "/v1/people", { name: "eve" }],
      ["POST", `/v1/vms/${vm}/cleanup`],
      ["PATCH", `/v1/vms/${vm}`, { state: "maintenance" }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await call(h, method, path, { token: ann, body });
      expect([method, path, res.status, res.body?.code]).toEqual([method, path, 403, "not_admin"]);
    }
    expect(await snapshot(h.core)).toBe(before);
  });
});
