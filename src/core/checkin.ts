import type postgres from "postgres";
import type { VmState } from "../db/schema.js";
import type { Notice } from "./notices.js";
import { actorName, isAdmin, ok, refuse, type Actor, type Core, type Refusal, type Result } from "./types.js";
import { checkUserId, checkVmName, firstRefusal } from "./validate.js";

/** A check-in that happened. `previousHolder` differs from the actor when forced. */
export interface CheckinDone {
  vm: string;
  previousHolder: string;
  forced: boolean;
  /** `cleaning` normally; `retired` when the VM was removed from the inventory while held. */
  nextState: "cleaning" | "retired";
}

type HeldRow = {
  id: number;
  state: VmState;
  holder: string | null;
  /** As PostgreSQL prints it: exact to the microsecond, so adapters can name this very checkout. */
  checked_out_at: string | null;
  checked_out_ms: number | null;
  retire_on_checkin: boolean;
  pending_update: PendingUpdate | null;
};

/** Inventory changes that arrived while the VM was held (see inventory sync). */
export interface PendingUpdate {
  ip?: string;
  sshPort?: number;
  sshUser?: string;
  hostKeyFingerprint?: string;
  tags?: string[];
  pool?: string;
}

/**
 * Gives a VM back: only its holder may, or an admin with `force` (on record,
 * and the previous holder is told). The VM goes to `cleaning`, due now.
 * Like checkout, a hot path on postgres.js's prepared statements.
 */
export async function checkin(
  core: Core,
  actor: Actor & { userId: string | null },
  vmName: string,
  opts: {
    force?: boolean;
    /** Act only if this is still the VM's current checkout (a button names the checkout it was made for). */
    checkoutAt?: Date;
  } = {},
): Promise<Result<CheckinDone>> {
  const result = await decideCheckin(core, actor, vmName, opts);
  core.observer?.checkin({ outcome: result.ok ? "ok" : result.refusal.code });
  return result;
}

async function decideCheckin(
  core: Core,
  actor: Actor & { userId: string | null },
  vmName: string,
  opts: { force?: boolean; checkoutAt?: Date },
): Promise<Result<CheckinDone>> {
  const bad = firstRefusal(checkVmName(vmName), actor.userId === null ? null : checkUserId(actor.userId));
  if (bad) return refuse(bad);
  const admin = isAdmin(core, actor);
  if (opts.force && !admin) return refuse({ code: "not_admin", operation: "force check-in" });
  return core.db.$client.begin(async (tx): Promise<Result<CheckinDone>> => {
    const [row] = await tx<HeldRow[]>`
      select id, state, holder, checked_out_at::text as checked_out_at,
             (extract(epoch from checked_out_at) * 1000)::float8 as checked_out_ms, retire_on_checkin, pending_update
      from vms where name = ${vmName} for update`;
    const refusal = refusalFor(row, vmName, actor, admin, opts);
    if (refusal || !row?.holder) return refuse(refusal ?? { code: "unknown_vm", vm: vmName });
    const forced = row.holder !== actor.userId;
    const done: CheckinDone = { vm: vmName, previousHolder: row.holder, forced, nextState: row.retire_on_checkin ? "retired" : "cleaning" };
    await returnVm(tx, row, done, actor);
    return ok(done);
  });
}

/** Checked under the row lock, so a decision cannot go stale before the update. */
function refusalFor(row: HeldRow | undefined, vm: string, actor: Actor, admin: boolean, opts: { force?: boolean; checkoutAt?: Date }): Refusal | null {
  if (!row) return { code: "unknown_vm", vm };
  if (row.state !== "checked_out" || row.holder === null) return { code: "not_checked_out", vm, state: row.state };
  // Holder first: a stale button pressed by someone who does not hold the VM now must hear that
  // someone else holds it, not that it "is already checked in".
  if (row.holder !== actor.userId && !opts.force) return { code: "not_holder", vm, holder: admin ? row.holder : null };
  // PostgreSQL keeps microseconds, a button's value milliseconds: within 1 ms is the same checkout.
  if (opts.checkoutAt && Math.abs((row.checked_out_ms ?? 0) - opts.checkoutAt.getTime()) >= 1) return { code: "checkout_ended", vm };
  return null;
}

/**
 * One statement: clear the holder, apply held-back inventory changes, queue the
 * cleanup (due now), append the event, queue the notices.
 */
async function returnVm(tx: postgres.TransactionSql, row: HeldRow, done: CheckinDone, actor: Actor): Promise<void> {
  const p = row.pending_update ?? {};
  const by = actorName(actor);
  const notices: Notice[] = [
    // checkedOutAt names the checkout that ended, so the adapter updates that checkout's DM and no later one.
    { kind: "vm_checked_in", user: done.previousHolder, vm: done.vm, checkedOutAt: row.checked_out_at ?? "", forcedBy: done.forced ? by : null, nextState: done.nextState },
  ];
  if (done.forced) notices.push({ kind: "checkin_forced", vm: done.vm, previousHolder: done.previousHolder, by });
  const detail = { previousHolder: done.previousHolder, nextState: done.nextState, pendingUpdate: row.pending_update };
  await tx`
    with returned as (
      update vms set
        state = ${done.nextState}::vm_state, holder = null, checked_out_at = null, state_changed_at = now(),
        cleanup_attempts = 0, cleanup_last_error = null,
        cleanup_next_at = case when ${done.nextState} = 'cleaning' then now() end,
        retire_on_checkin = false, pending_update = null,
        ip = coalesce(${p.ip ?? null}::inet, ip),
        ssh_port = coalesce(${p.sshPort ?? null}::int, ssh_port),
        ssh_user = coalesce(${p.sshUser ?? null}::text, ssh_user),
        host_key_fingerprint = coalesce(${p.hostKeyFingerprint ?? null}::text, host_key_fingerprint),
        tags = case when ${p.tags ? JSON.stringify(p.tags) : null}::jsonb is null then tags
                    else array(select jsonb_array_elements_text(${p.tags ? JSON.stringify(p.tags) : null}::jsonb)) end,
        pool = coalesce(${p.pool ?? null}::text, pool)
      where id = ${row.id}
      returning id, name
    ), logged as (
      insert into events (vm_id, vm_name, actor, source, kind, detail)
      select id, name, ${by}, ${actor.source}::event_source, ${done.forced ? "checkin_forced" : "checked_in"}, ${JSON.stringify(detail)}::jsonb
      from returned
    )
    insert into outbox (kind, payload)
    select n.kind, n.payload from returned,
      jsonb_to_recordset(${JSON.stringify(notices.map(({ kind, ...payload }) => ({ kind, payload })))}::jsonb) as n(kind text, payload jsonb)`;
}
