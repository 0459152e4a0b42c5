import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { expect } from "vitest";
import { claimDueCleanups } from "../../src/core/cleanup/claim-due-cleanups.js";
import type { CleanupClaim } from "../../src/core/cleanup/claim.js";
import { quarantine } from "../../src/core/cleanup/quarantine.js";
import { finishCreate, finishDelete, finishDeleteImage, finishSave } from "../../src/core/provision/finish.js";
import { claimDueJobs, failJob } from "../../src/core/provision/jobs.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Actor, Core } from "../../src/core/types.js";

// What an admin page and the admin API have to show, made through the core as the
// workers would make it: a VM in cleaning, a quarantined VM, a saved image, a failed job.

/** Someone checks a VM of the pool out and in: it waits in cleaning (no cleanup worker runs in these tests). */
export async function vmInCleaning(core: Core, actor: Actor, pool: string): Promise<string> {
  const out = await checkout(core, actor, { pool });
  if (!out.ok) throw new Error(`checkout: ${JSON.stringify(out.refusal)}`);
  const back = await checkin(core, actor, out.value.name);
  if (!back.ok) throw new Error(`checkin: ${JSON.stringify(back.refusal)}`);
  return out.value.name;
}

/** A VM whose cleanup failed for good: quarantined with `error`, as the cleanup worker leaves it. */
export async function quarantinedVm(core: Core, actor: Actor, pool: string, error: string): Promise<string> {
  const vm = await vmInCleaning(core, actor, pool);
  // The claim skips a row another transaction holds locked (SKIP LOCKED, as workers claim), and
  // the service under test may lock it for a moment (a sweep, a delivery): claim until it is ours.
  const found: { claim?: CleanupClaim } = {};
  await expect
    .poll(async () => {
      found.claim ??= (await claimDueCleanups(core.db.$client, "test-worker", 100)).find((c) => c.vm === vm);
      return found.claim !== undefined;
    }, { message: `a cleanup claim for ${vm}` })
    .toBe(true);
  const claim = found.claim;
  if (!claim) throw new Error(`no cleanup claim for ${vm}`);
  await core.db.$client.begin((tx) => quarantine(tx, claim, { reason: "cleanup failed", error }));
  return vm;
}

/** Runs a provisioned pool's due jobs as a provider that always succeeds would (the provisioner is off in these tests). */
export async function runProviderJobs(core: Core, pool: string): Promise<void> {
  for (const claim of await claimDueJobs(core.db.$client, "test-provider", 10, pool)) {
    if (claim.kind === "create") await finishCreate(core, claim, { providerRef: `ref-${claim.instance?.name}`, ip: "198.51.100.40", sshUser: "root", sshPort: 22 });
    else if (claim.kind === "save") await finishSave(core, claim, `img-${claim.image?.name}`);
    else if (claim.kind === "delete") await finishDelete(core, claim);
    else await finishDeleteImage(core, claim);
  }
}

/** A person's instance created, checked in with keep and saved: the name of their image. */
export async function savedImage(core: Core, actor: Actor, pool: string): Promise<string> {
  const asked = await checkoutFromPool(core, actor, { pool });
  if (!asked.ok || asked.value.kind !== "creating") throw new Error(`expected a create: ${JSON.stringify(asked)}`);
  await runProviderJobs(core, pool);
  const done = await checkin(core, actor, asked.value.creating.instance, { keep: true });
  if (!done.ok || done.value.instance?.action !== "save") throw new Error(`expected a save: ${JSON.stringify(done)}`);
  await runProviderJobs(core, pool);
  return done.value.instance.image;
}

/** The pool's next due job fails on its one attempt, as a provider that is down would leave it: its id and kind. */
export async function failDueJob(core: Core, pool: string): Promise<{ id: number; kind: string }> {
  const [claim] = await claimDueJobs(core.db.$client, "test-provider", 1, pool);
  if (!claim) throw new Error(`no due job in ${pool}`);
  await failJob(core.db.$client, claim, "provider unreachable (test)", { maxAttempts: 1, retryDelayMs: () => 0 });
  return { id: claim.id, kind: claim.kind };
}
