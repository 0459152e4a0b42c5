import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import { abandonJob, retryJob } from "../../src/core/provision/admin.js";
import { installationId } from "../../src/core/provision/installation.js";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Actor, Core } from "../../src/core/types.js";
import { providerFor, providerSettingsProblem } from "../../src/provision/providers.js";
import { ProviderError, type Provider } from "../../src/provision/provider.js";
import type { ProvisionSettings } from "../../src/provision/settings.js";
import { ProvisionWorker } from "../../src/provision/worker.js";
import { dockerSkipReason } from "../docker/prerequisites.js";
import { coreFor, freshDatabase, liveWait, TestClock, testLog } from "../helpers/db.js";
import { openDockerLab, type DockerLab } from "./docker-lab.js";

const skipReason = dockerSkipReason();
const operator: Actor = { person: "operator", source: "cli" };
const person = (n: number): Actor => ({ person: { slackUserId: `U000000${n}` }, source: "slack" });

const SETTINGS: ProvisionSettings = {
  concurrency: 4,
  maxAttempts: 2,
  backoffMs: 0,
  providerTimeoutMs: 60_000,
  sshTimeoutMs: 60_000,
  pollMs: 100,
  claimTimeoutMs: 10_000,
  imageRetentionMs: 7 * 86_400_000,
  listIntervalMs: 0,
  orphans: "delete",
};

describe.skipIf(skipReason !== null)("the provisioner against the test dockerd", () => {
  let lab: DockerLab;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let core: Core;
  let clock: TestClock;
  /** Steps that fail on purpose, by name (a provider that is down). */
  const failing = new Set<string>();
  let worker: ProvisionWorker;

  const pool = (purpose: string, change: Parameters<typeof setProvisioning>[3] = {}) => {
    const name = lab.pool(purpose);
    return setProvisioning(core, operator, name, { provider: "docker", image: lab.image.reference, maxSize: 3, providerSettings: lab.settings, ...change }, providerSettingsProblem).then((r) => {
      if (!r.ok) throw new Error(JSON.stringify(r.refusal));
      return name;
    });
  };
  /** Runs due jobs until none is left that can run now. */
  const drain = async () => {
    for (let i = 0; i < 20 && (await worker.runDue()) > 0; i++);
  };
  const rows = <T extends Record<string, unknown>>(query: ReturnType<typeof sql>) => core.db.execute<T>(query);

  beforeAll(async () => {
    lab = await openDockerLab();
    database = await freshDatabase({ poolSize: 4 });
    clock = new TestClock();
    core = coreFor(database, { clock: () => clock.now() });
    worker = new ProvisionWorker({
      core,
      log: testLog,
      instanceId: "test-worker",
      settings: SETTINGS,
      providerFor: (claim, installation) => {
        const real = providerFor(claim.pool, claim.provider, claim.providerSettings, SETTINGS.providerTimeoutMs, installation);
        const guarded = (step: keyof Provider) => (failing.has(step) ? Promise.reject(new ProviderError(`docker ${step}: daemon unreachable (test)`)) : null);
        return {
          ...real,
          create: (spec) => guarded("create") ?? real.create(spec),
          saveImage: (ref, name) => guarded("saveImage") ?? real.saveImage(ref, name),
        };
      },
    });
  }, 20 * 60_000);

  afterAll(async () => {
    await database?.close();
    await lab?.clean();
  }, 180_000);

  it("keeps min_idle instances ready, and a checkout takes one at once", async () => {
    const name = await pool("idle", { minIdle: 1 });
    await worker.maintain();
    await drain();
    const [ready] = await rows<{ name: string; state: string }>(sql`select name, state::text from vms where pool = ${name}`);
    expect(ready?.state).toBe("available");
    expect(await lab.containers(name)).toEqual([ready?.name]);

    const taken = await checkoutFromPool(core, person(1), { pool: name });
    expect(taken.ok && taken.value.kind).toBe("ready");
    // Topped up again in the background.
    await worker.maintain();
    await drain();
    expect((await lab.containers(name)).length).toBe(2);
  }, 180_000);

  it("serves the queue of a pool with no idle instances: creates one per person waiting, offered to them in turn", async () => {
    const name = await pool("queue", { maxSize: 1 });
    const first = await checkoutFromPool(core, person(4), { pool: name });
    expect(first.ok && first.value.kind).toBe("creating");
    await drain();
    // At max_size: the next person waits in the queue (nothing is created for them yet).
    const { joinQueue, waitOutcome } = await import("../../src/core/waitlist.js");
    const joined = await joinQueue(core, person(5), { pool: name, autoTake: true });
    expect(joined.ok).toBe(true);
    if (joined.ok) await liveWait(core, joined.value.waiterId);
    await worker.maintain();
    expect((await rows(sql`select 1 from instances where pool = ${name} and state = 'creating'`)).length).toBe(0);
    // The first instance goes (a plain check-in deletes it): the waiter's instance is created and lent to them.
    const [held] = await rows<{ name: string }>(sql`select name from vms where pool = ${name} and state = 'checked_out'`);
    expect((await checkin(core, person(4), held!.name)).ok).toBe(true);
    await drain();
    await worker.maintain();
    await drain();
    await sweepLeases(core);
    const outcome = joined.ok ? await waitOutcome(core, joined.value.waiterId) : null;
    expect(outcome?.state).toBe("taken");
    expect(outcome?.checkout?.pool).toBe(name);
    expect(await lab.containers(name)).toEqual([outcome?.checkout?.name]);
    // Given back, so the later tests' clock moves expire nothing of this one.
    expect((await checkin(core, person(5), outcome!.checkout!.name)).ok).toBe(true);
    await drain();
    expect(await lab.containers(name)).toEqual([]);
  }, 180_000);

  it("with reuse on, a check-in cleans the instance and returns it to the pool instead of deleting it", async () => {
    const name = await pool("reuse", { reuse: true });
    const asked = await checkoutFromPool(core, person(6), { pool: name });
    if (!asked.ok || asked.value.kind !== "creating") throw new Error("expected a create");
    await drain();
    const vm = asked.value.creating.instance;
    const done = await checkin(core, person(6), vm);
    expect(done).toMatchObject({ ok: true, value: { instance: { action: "clean" }, nextState: "cleaning" } });
    await drain();
    // Kept: the container is there and the VM is cleaned as a fixed one is (then available again); no delete job.
    expect(await lab.containers(name)).toEqual([vm]);
    const [row] = await rows<{ state: string; instance: string }>(sql`
      select v.state::text, i.state::text as instance from vms v join instances i on i.name = v.name where v.name = ${vm}`);
    expect(row).toEqual({ state: "cleaning", instance: "ready" });
    expect(await rows(sql`select 1 from provider_jobs where pool = ${name} and kind = 'delete'`)).toHaveLength(0);
    await rows(sql`update vms set state = 'available', cleanup_next_at = null where name = ${vm}`);
    const again = await checkoutFromPool(core, person(7), { pool: name });
    expect(again.ok && again.value.kind === "ready" && again.value.vm.name).toBe(vm);
    expect((await checkin(core, person(7), vm)).ok).toBe(true);
  }, 180_000);

  it("retries a failing create, then undoes it and tells the person and the admins; an admin cannot revive it", async () => {
    const name = await pool("fail");
    failing.add("create");
    try {
      const asked = await checkoutFromPool(core, person(2), { pool: name });
      if (!asked.ok || asked.value.kind !== "creating") throw new Error("expected a create");
      await drain();
      const [job] = await rows<{ state: string; attempts: number; last_error: string }>(sql`select state::text, attempts, last_error from provider_jobs where id = ${asked.value.creating.jobId}`);
      expect(job).toMatchObject({ state: "failed", attempts: 2 });
      expect(job?.last_error).toContain("daemon unreachable");
      const [notice] = await rows<{ payload: { person: { slackUserId: string }; job: string; error: string } }>(sql`select payload from outbox where kind = 'provision_failed'`);
      expect(notice?.payload).toMatchObject({ job: "create", person: { slackUserId: "U0000002" } });
      const [instance] = await rows<{ state: string }>(sql`select state::text from instances where name = ${asked.value.creating.instance}`);
      expect(instance?.state).toBe("deleted");
      expect(await lab.containers(name)).toEqual([]);
      const retried = await retryJob(core, operator, asked.value.creating.jobId);
      expect(retried.ok).toBe(false);
      // The person may ask again once the provider is back.
      failing.delete("create");
      const again = await checkoutFromPool(core, person(2), { pool: name });
      expect(again.ok && again.value.kind).toBe("creating");
      await drain();
      expect((await lab.containers(name)).length).toBe(1);
    } finally {
      failing.delete("create");
    }
  }, 180_000);

  it("a failed save keeps the instance until an admin retries it, and then the image is there", async () => {
    const name = await pool("save");
    const asked = await checkoutFromPool(core, person(3), { pool: name });
    if (!asked.ok || asked.value.kind !== "creating") throw new Error("expected a create");
    await drain();
    failing.add("saveImage");
    const done = await checkin(core, person(3), asked.value.creating.instance, { keep: true });
    if (!done.ok || done.value.instance?.action !== "save") throw new Error("expected a save");
    await drain();
    const saveJob = done.value.instance.jobId;
    const [job] = await rows<{ state: string }>(sql`select state::text from provider_jobs where id = ${saveJob}`);
    expect(job?.state).toBe("failed");
    expect(await lab.containers(name)).toEqual([asked.value.creating.instance]);
    failing.delete("saveImage");
    expect((await abandonJob(core, person(3), saveJob)).ok).toBe(false); // not an admin
    expect((await retryJob(core, operator, saveJob)).ok).toBe(true);
    await drain();
    expect(await lab.savedImages(name)).toEqual([done.value.instance.image]);
    expect(await lab.containers(name)).toEqual([]);
  }, 180_000);

  it("marks an image replaced by a newer save dirty and deletes it after IMAGE_RETENTION", async () => {
    const name = await pool("sweep");
    const save = async () => {
      const asked = await checkoutFromPool(core, person(4), { pool: name });
      if (!asked.ok || asked.value.kind !== "creating") throw new Error("expected a create");
      await drain();
      const done = await checkin(core, person(4), asked.value.creating.instance, { keep: true });
      if (!done.ok || done.value.instance?.action !== "save") throw new Error("expected a save");
      await drain();
      return done.value.instance.image;
    };
    const older = await save();
    const newer = await save();
    const states = await rows<{ name: string; state: string }>(sql`select name, state::text from images where pool = ${name} order by id`);
    expect(states).toEqual([{ name: older, state: "dirty" }, { name: newer, state: "ready" }]);
    await worker.maintain();
    await drain();
    expect(await lab.savedImages(name)).toEqual([older, newer].sort());
    clock.advance(7 * 86_400_000 + 60_000);
    await worker.maintain();
    await drain();
    expect(await lab.savedImages(name)).toEqual([newer]);
    const [gone] = await rows<{ state: string }>(sql`select state::text from images where name = ${older}`);
    expect(gone?.state).toBe("deleted");
  }, 240_000);

  it("saves an instance whose lease ended for its holder, so nothing of theirs is lost", async () => {
    const name = await pool("expire");
    const asked = await checkoutFromPool(core, person(5), { pool: name, forMs: 3_600_000 });
    if (!asked.ok || asked.value.kind !== "creating") throw new Error("expected a create");
    await drain();
    clock.advance(2 * 3_600_000);
    const swept = await sweepLeases(core);
    expect(swept.expired).toContain(asked.value.creating.instance);
    await drain();
    const [image] = await rows<{ state: string; owner: string }>(sql`
      select i.state::text, p.slack_user_id as owner from images i join people p on p.id = i.person_id where i.pool = ${name}`);
    expect(image).toEqual({ state: "ready", owner: "U0000005" });
    expect(await lab.containers(name)).toEqual([]);
  }, 180_000);

  it("finds a labelled container that vmres has no record of, deletes it and tells the admins", async () => {
    const name = await pool("stray");
    const ours = await installationId(core.db);
    await lab.docker.dockerOrThrow(["create", "--name", `${name}-999`, "--label", `vmres.pool=${name}`, "--label", `vmres.instance=${name}-999`, "--label", `vmres.installation=${ours}`, lab.image.reference]);
    expect(await worker.listProviders(true)).toContain(`${name}-999`);
    expect(await lab.containers(name)).toEqual([]);
    const [notice] = await rows<{ payload: { names: string[]; deleted: boolean } }>(sql`select payload from outbox where kind = 'unknown_instances' and payload->>'pool' = ${name}`);
    expect(notice?.payload).toMatchObject({ names: [`${name}-999`], deleted: true });
  }, 120_000);
});
