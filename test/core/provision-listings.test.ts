import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { addPerson } from "../../src/core/people.js";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { finishCreate, finishSave } from "../../src/core/provision/finish.js";
import { claimDueJobs } from "../../src/core/provision/jobs.js";
import { listImages, listInstances, listJobs, myImages } from "../../src/core/provision/queries.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Actor, Core } from "../../src/core/types.js";
import { coreFor, freshDatabase, TestClock } from "../helpers/db.js";

// Issue 19 item 4: the provisioned pools' listings take the viewer, and the core decides what
// each viewer sees (no adapter checks who is an admin before it lists).

const operator: Actor = { person: "operator", source: "cli" };
const as = (name: string): Actor => ({ person: { lookup: name }, source: "api" });
const POOL = "cloud";

let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;

/** Runs the pool's due jobs as a provider that always succeeds would. */
async function runJobs(): Promise<void> {
  for (const claim of await claimDueJobs(core.db.$client, "test-runner", 10, POOL)) {
    if (claim.kind === "create") await finishCreate(core, claim, { providerRef: `ref-${claim.instance?.name}`, ip: "198.51.100.40", sshUser: "root", sshPort: 22 });
    else if (claim.kind === "save") await finishSave(core, claim, `img-${claim.image?.name}`);
  }
}

/** A person's instance created, checked in with keep and saved: one image of theirs. */
async function imageOf(name: string): Promise<string> {
  const asked = await checkoutFromPool(core, as(name), { pool: POOL });
  if (!asked.ok || asked.value.kind !== "creating") throw new Error(`expected a create: ${JSON.stringify(asked)}`);
  await runJobs();
  const done = await checkin(core, as(name), asked.value.creating.instance, { keep: true });
  if (!done.ok || done.value.instance?.action !== "save") throw new Error(`expected a save: ${JSON.stringify(done)}`);
  await runJobs();
  return done.value.instance.image;
}

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 4 });
  core = coreFor(database, { clock: new TestClock().now });
  for (const [name, admin] of [["ann", false], ["bob", false], ["ada", true]] as const) {
    expect((await addPerson(core, operator, { name, kind: "person", admin })).ok).toBe(true);
  }
  const set = await setProvisioning(core, operator, POOL, { provider: "command", image: "base", maxSize: 3, providerSettings: { command: "/bin/true" } }, () => null);
  expect(set.ok, JSON.stringify(set)).toBe(true);
});
afterAll(async () => database.close());

describe("who sees the provisioned pools' instances, jobs and images", () => {
  it("shows instances and provider jobs to admins, and refuses them to anyone else as the core's not_admin", async () => {
    const asked = await checkoutFromPool(core, as("bob"), { pool: POOL });
    expect(asked.ok && asked.value.kind).toBe("creating");
    const instances = await listInstances(core, as("ada"));
    expect(instances.ok && instances.value.map((i) => [i.pool, i.state, i.forPerson])).toEqual([[POOL, "creating", "bob"]]);
    const jobs = await listJobs(core, as("ada"));
    expect(jobs.ok && jobs.value.map((j) => [j.kind, j.state])).toEqual([["create", "queued"]]);
    expect(await listInstances(core, as("bob"))).toEqual({ ok: false, refusal: { code: "not_admin", operation: "list instances" } });
    expect(await listJobs(core, as("bob"), { failed: true })).toEqual({ ok: false, refusal: { code: "not_admin", operation: "list provider jobs" } });
    expect((await listJobs(core, operator)).ok).toBe(true);
    await runJobs();
    expect((await checkin(core, as("bob"), asked.ok && asked.value.kind === "creating" ? asked.value.creating.instance : "", {})).ok).toBe(true);
  });

  it("shows a person their own images only, an admin everyone's, and refuses a person who names someone else", async () => {
    const ann = await imageOf("ann");
    const bob = await imageOf("bob");
    const names = (r: Awaited<ReturnType<typeof listImages>>) => (r.ok ? r.value.map((i) => i.name).sort() : r.refusal);
    expect(names(await listImages(core, as("ann")))).toEqual([ann]);
    expect(names(await listImages(core, as("ann"), { user: "ann" }))).toEqual([ann]);
    expect(await listImages(core, as("ann"), { user: "bob" })).toEqual({ ok: false, refusal: { code: "not_admin", operation: "list other people's images" } });
    expect(names(await listImages(core, as("ada")))).toEqual([ann, bob].sort());
    expect(names(await listImages(core, as("ada"), { user: "bob" }))).toEqual([bob]);
    expect(names(await listImages(core, as("ada"), { user: "nobody" }))).toMatchObject({ code: "unknown_person" });
    // An admin's own images are their own, not everyone's.
    expect(names(await myImages(core, as("ada")))).toEqual([]);
    expect(names(await myImages(core, as("bob")))).toEqual([bob]);
  });
});
