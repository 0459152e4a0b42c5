import type { PgSql } from "../../db/client.js";
import { clockAt } from "../clock.js";
import { recordEvent } from "../events.js";
import { leaseParams } from "../leases.js";
import { openCheckout } from "../open-checkout.js";
import type { Core } from "../types.js";
import { completeJob, type JobClaim } from "./jobs.js";

/** Where a created instance answers. */
export interface CreatedInstance {
  providerRef: string;
  ip: string;
  sshUser: string;
  sshPort: number;
}

/** How a finish went: done, or the claim was lost (another process finishes it). */
export type Finished = "done" | "lost";

/**
 * The instance is up and SSH answers: it becomes a VM row (the one path for
 * lending), and if it was created for a person, their checkout, in the same
 * transaction as the job's completion. A ready instance for anyone is
 * `available`; the next checkout takes it.
 */
export async function finishCreate(core: Core, claim: JobClaim, made: CreatedInstance): Promise<Finished> {
  const instance = claim.instance;
  if (!instance) throw new Error(`create job ${claim.id} names no instance`);
  return core.db.$client.begin(async (tx) => {
    if (!(await completeJob(tx, claim))) return "lost";
    const [vm] = await tx<{ id: number }[]>`
      insert into vms (name, ip, ssh_user, ssh_port, pool, state)
      values (${instance.name}, ${made.ip}::inet, ${made.sshUser}, ${made.sshPort}, ${claim.pool}, 'available')
      returning id`;
    if (!vm) throw new Error(`instance ${instance.name}: no VM row`);
    const [row] = await tx<{ for_person_id: number | null; request: { note: string | null; forMs: number | null } | null; at: string }[]>`
      update instances set state = 'ready', vm_id = ${vm.id}, provider_ref = ${made.providerRef}, state_changed_at = now(), last_error = null
      where id = ${instance.id} returning for_person_id, request, coalesce(${clockAt(core)}::timestamptz, now())::text as at`;
    await recordEvent(tx, { vmId: vm.id, vmName: instance.name, actor: "system", source: "worker", kind: "instance_created", detail: { job: claim.id, from: instance.source } });
    if (row?.for_person_id != null) await lendTo(tx, core, vm.id, row.for_person_id, claim.pool, row.request, row.at);
    return "done";
  });
}

/** The checkout of a VM created for its person: the one writer of a checkout's start, as for any checkout. */
async function lendTo(
  tx: PgSql,
  core: Core,
  vmId: number,
  personId: number,
  pool: string,
  request: { note: string | null; forMs: number | null } | null,
  at: string,
): Promise<void> {
  const [person] = await tx<{ id: number; name: string; slack_user_id: string | null }[]>`select id, name, slack_user_id from people where id = ${personId}`;
  if (!person) throw new Error(`instance for person ${personId}: no such person`);
  const forS = request?.forMs == null ? null : Math.ceil(request.forMs / 1000);
  const opened = await openCheckout(tx, leaseParams(core), vmId, at, { forS }, {
    person: { id: person.id, name: person.name, slackUserId: person.slack_user_id },
    pool,
    note: request?.note ?? null,
    source: "worker",
    detail: { created: true },
  });
  if (!opened) throw new Error(`instance VM ${vmId}: could not be lent to person ${personId}`);
}

/**
 * Saved: the image is ready and owned by its person; their earlier images of
 * the pool become dirty (the sweep deletes them after IMAGE_RETENTION); the
 * instance, stopped and deleted by the provider, is gone.
 */
export async function finishSave(core: Core, claim: JobClaim, imageRef: string): Promise<Finished> {
  const { image, instance } = claim;
  if (!image || !instance) throw new Error(`save job ${claim.id} names no image or instance`);
  return core.db.$client.begin(async (tx) => {
    if (!(await completeJob(tx, claim))) return "lost";
    const [saved] = await tx<{ person_id: number; pool: string }[]>`
      update images set state = 'ready', provider_ref = ${imageRef}, last_error = null where id = ${image.id} returning person_id, pool`;
    if (saved) {
      await tx`
        update images set state = 'dirty', dirty_at = coalesce(${clockAt(core)}::timestamptz, now())
        where person_id = ${saved.person_id} and pool = ${saved.pool} and state = 'ready' and id <> ${image.id}`;
    }
    await gone(tx, instance.id);
    return "done";
  });
}

/** Deleted by the provider: the instance is gone (its VM row stays, retired, for the history). */
export async function finishDelete(core: Core, claim: JobClaim): Promise<Finished> {
  return core.db.$client.begin(async (tx) => {
    if (!(await completeJob(tx, claim))) return "lost";
    if (claim.instance) await gone(tx, claim.instance.id);
    return "done";
  });
}

export async function finishDeleteImage(core: Core, claim: JobClaim): Promise<Finished> {
  return core.db.$client.begin(async (tx) => {
    if (!(await completeJob(tx, claim))) return "lost";
    if (claim.image) await tx`update images set state = 'deleted', deleted_at = now() where id = ${claim.image.id}`;
    return "done";
  });
}

async function gone(tx: PgSql, instanceId: number): Promise<void> {
  const [row] = await tx<{ vm_id: number | null; name: string }[]>`
    update instances set state = 'deleted', state_changed_at = now() where id = ${instanceId} returning vm_id, name`;
  // A VM row that still looks usable (an instance deleted while idle) is retired: it no longer exists.
  if (row?.vm_id != null) {
    const retired = await tx`
      update vms set state = 'retired', state_changed_at = now() where id = ${row.vm_id} and state = 'available' returning id`;
    if (retired.length > 0) await recordEvent(tx, { vmId: row.vm_id, vmName: row.name, actor: "system", source: "worker", kind: "retired", detail: { instance: "deleted" } });
  }
}
