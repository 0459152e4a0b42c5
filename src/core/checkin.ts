import { sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import type { VmState } from "../db/schema.js";
import { enqueueNotices, type Notice } from "./notices.js";
import { actorName, isAdmin, ok, refuse, type Actor, type Core, type Result } from "./types.js";
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
  /** As PostgreSQL prints it (drizzle passes timestamps through as text): exact to the microsecond. */
  checked_out_at: string | null;
  retire_on_checkin: boolean;
  pending_update: PendingUpdate | null;
};

/** Inventory changes that arrived while the VM was held (see inventory sync). */
export interface PendingUpdate {
  ip?: string;
  sshPort?: number;
  sshUser?: string;
  hostKeyFingerprint?: string | null;
  tags?: string[];
  pool?: string;
}

/**
 * Gives a VM back: only its holder may, or an admin with `force` (on record,
 * and the previous holder is told). The VM goes to `cleaning`, due now.
 */
export async function checkin(
  core: Core,
  actor: Actor & { userId: string | null },
  vmName: string,
  opts: { force?: boolean } = {},
): Promise<Result<CheckinDone>> {
  const bad = firstRefusal(checkVmName(vmName), actor.userId === null ? null : checkUserId(actor.userId));
  if (bad) return refuse(bad);
  const admin = isAdmin(core, actor);
  if (opts.force && !admin) return refuse({ code: "not_admin", operation: "force check-in" });
  return core.db.transaction(async (tx) => {
    const [row] = await tx.execute<HeldRow>(sql`
      select id, state, holder, checked_out_at, retire_on_checkin, pending_update from vms where name = ${vmName} for update`);
    if (!row) return refuse({ code: "unknown_vm", vm: vmName });
    if (row.state !== "checked_out" || row.holder === null) {
      return refuse({ code: "not_checked_out", vm: vmName, state: row.state });
    }
    const forced = row.holder !== actor.userId;
    if (forced && !opts.force) {
      return refuse({ code: "not_holder", vm: vmName, holder: admin ? row.holder : null });
    }
    const nextState = row.retire_on_checkin ? "retired" : "cleaning";
    await returnVm(tx, row, nextState);
    const by = actorName(actor);
    await tx.execute(sql`
      insert into events (vm_id, vm_name, actor, source, kind, detail)
      values (${row.id}, ${vmName}, ${by}, ${actor.source}, ${forced ? "checkin_forced" : "checked_in"},
              ${JSON.stringify({ previousHolder: row.holder, nextState, pendingUpdate: row.pending_update })}::jsonb)`);
    const notices: Notice[] = [
      // checkedOutAt names the checkout that ended, so the adapter updates that checkout's DM and no later one.
      { kind: "vm_checked_in", user: row.holder, vm: vmName, checkedOutAt: row.checked_out_at ?? "", forcedBy: forced ? by : null, nextState },
    ];
    if (forced) notices.push({ kind: "checkin_forced", vm: vmName, previousHolder: row.holder, by });
    await enqueueNotices(tx, notices);
    return ok({ vm: vmName, previousHolder: row.holder, forced, nextState });
  });
}

/** Clears the holder, applies held-back inventory changes, and queues the cleanup (due now). */
async function returnVm(tx: Executor, row: HeldRow, nextState: "cleaning" | "retired"): Promise<void> {
  const p = row.pending_update ?? {};
  await tx.execute(sql`
    update vms set
      state = ${nextState}, holder = null, checked_out_at = null, state_changed_at = now(),
      cleanup_attempts = 0, cleanup_last_error = null,
      cleanup_next_at = ${nextState === "cleaning" ? sql`now()` : sql`null`},
      retire_on_checkin = false, pending_update = null,
      ip = coalesce(${p.ip ?? null}::inet, ip),
      ssh_port = coalesce(${p.sshPort ?? null}::int, ssh_port),
      ssh_user = coalesce(${p.sshUser ?? null}::text, ssh_user),
      host_key_fingerprint = ${"hostKeyFingerprint" in p ? sql`${p.hostKeyFingerprint ?? null}::text` : sql`host_key_fingerprint`},
      tags = ${p.tags ? textArray(p.tags) : sql`tags`},
      pool = coalesce(${p.pool ?? null}::text, pool)
    where id = ${row.id}`);
}

/** A text[] parameter; drizzle would spread a JS array into a list, so it travels as JSON. */
export function textArray(values: string[]) {
  return sql`array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;
}
