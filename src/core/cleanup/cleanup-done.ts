import type { VmState } from "../../db/schema.js";
import { recordEvent } from "../events.js";
import { enqueueNotices } from "../notices.js";
import { asAdmin } from "../people.js";
import { stateWhenFree } from "../retire.js";
import { ok, refuse, type Actor, type Core, type Result } from "../types.js";
import { checkNote, checkVmName, firstRefusal } from "../validate.js";

/** A cleanup an admin ended by hand: the VM is back (or retired, if it was removed meanwhile). */
export interface CleanupDone {
  vm: string;
  to: "available" | "retired";
  reason: string;
}

/**
 * Admin: end a VM's cleanup by hand (the admin has wiped it, or it needs no
 * wipe) when the cleanup cannot finish by itself, e.g. vmres cannot use its
 * SSH key. Only a VM in `cleaning`; on record with who and why. A worker
 * running this VM's cleanup at that moment loses its claim (cleared here), so
 * its late result writes nothing (every finish checks the exact claim).
 */
export async function cleanupDone(core: Core, actor: Actor, vmName: string, reason: string): Promise<Result<CleanupDone>> {
  const me = await asAdmin(core, actor, "end a cleanup by hand");
  if (!me.ok) return me;
  const bad = firstRefusal(checkVmName(vmName), checkNote(reason, "reason"));
  if (bad) return refuse(bad);
  const why = reason.trim();
  return core.db.$client.begin(async (tx) => {
    const [row] = await tx<{ id: number; state: VmState; retire_on_checkin: boolean; cleanup_last_error: string | null; cleanup_attempts: number }[]>`
      select id, state, retire_on_checkin, cleanup_last_error, cleanup_attempts from vms where name = ${vmName} for update`;
    if (!row) return refuse({ code: "unknown_vm", vm: vmName });
    if (row.state !== "cleaning") return refuse({ code: "wrong_state", vm: vmName, state: row.state, allowed: ["cleaning"] });
    // Removed from the inventory while it was being cleaned: it leaves service instead of returning.
    const to = stateWhenFree("available", row.retire_on_checkin);
    await tx`
      update vms set state = ${to}, state_changed_at = now(), claimed_by = null, claimed_at = null,
        cleanup_next_at = null, cleanup_attempts = 0, cleanup_last_error = null, retire_on_checkin = false
      where id = ${row.id} and state = 'cleaning'`;
    await recordEvent(tx, {
      vmId: row.id,
      vmName,
      actor: me.value.name,
      source: actor.source,
      kind: "cleanup_done_by_hand",
      detail: { reason: why, to, lastError: row.cleanup_last_error, attempts: row.cleanup_attempts },
    });
    await enqueueNotices(tx, [{ kind: "vm_state_changed", vm: vmName, state: to, by: me.value }]);
    return ok({ vm: vmName, to, reason: why });
  });
}
