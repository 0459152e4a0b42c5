import type { VmState } from "../db/schema.js";
import type { PendingUpdate } from "./checkin.js";
import { recordEvent } from "./events.js";
import { asAdmin } from "./people.js";
import { ok, refuse, type Actor, type Core, type Refusal, type Result } from "./types.js";
import { checkFingerprint, checkIp, checkSshPort, checkSshUser, checkTag, checkVmName, firstRefusal } from "./validate.js";

/** Fields of a VM an admin may change by hand (the pool it is in is the inventory's). */
export type VmFields = Omit<PendingUpdate, "pool">;

/** What a change did: applied now, or kept for the check-in of a VM someone holds. */
export interface VmFieldsChanged {
  vm: string;
  applied: "now" | "at_checkin";
  changes: VmFields;
}

/** The values' own checks, with no database: an adapter changing more than fields checks them first, so a bad value changes nothing at all. */
export function checkVmFields(changes: VmFields): Refusal | null {
  return firstRefusal(
    changes.ip === undefined ? null : checkIp(changes.ip),
    changes.sshUser === undefined ? null : checkSshUser(changes.sshUser, "sshUser"),
    changes.sshPort === undefined ? null : checkSshPort(changes.sshPort, "sshPort"),
    changes.hostKeyFingerprint === undefined ? null : checkFingerprint(changes.hostKeyFingerprint, "hostKeyFingerprint"),
    ...(changes.tags ?? []).map((t) => checkTag(t)),
  );
}

/**
 * Admin: changes a VM's address, SSH user or port, pinned host key or tags.
 * An idle VM changes at once; a VM someone holds (or that is held for a
 * waiter) keeps its address until it comes back, as the inventory sync does
 * it: the change waits in `pending_update`, applied at check-in.
 */
export async function updateVmFields(core: Core, actor: Actor, vmName: string, changes: VmFields): Promise<Result<VmFieldsChanged>> {
  const me = await asAdmin(core, actor, "change a VM");
  if (!me.ok) return me;
  const bad = firstRefusal(checkVmName(vmName), checkVmFields(changes));
  if (bad) return refuse(bad);
  const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as VmFields;
  if (Object.keys(defined).length === 0) return refuse({ code: "invalid_input", field: "body", message: "say what to change: ip, sshUser, sshPort, hostKeyFingerprint or tags" });
  return core.db.$client.begin(async (tx) => {
    const [row] = await tx<{ id: number; state: VmState }[]>`select id, state from vms where name = ${vmName} for update`;
    if (!row) return refuse({ code: "unknown_vm", vm: vmName });
    if (row.state === "retired") return refuse({ code: "wrong_state", vm: vmName, state: row.state, allowed: ["available", "checked_out", "cleaning", "quarantined", "maintenance", "held"] });
    const later = row.state === "checked_out" || row.state === "held";
    const tags = defined.tags === undefined ? null : JSON.stringify(defined.tags);
    if (later) {
      await tx`update vms set pending_update = coalesce(pending_update, '{}'::jsonb) || ${JSON.stringify(defined)}::jsonb where id = ${row.id}`;
    } else {
      await tx`
        update vms set ip = coalesce(${defined.ip ?? null}::inet, ip), ssh_port = coalesce(${defined.sshPort ?? null}::int, ssh_port),
          ssh_user = coalesce(${defined.sshUser ?? null}::text, ssh_user), host_key_fingerprint = coalesce(${defined.hostKeyFingerprint ?? null}::text, host_key_fingerprint),
          tags = case when ${tags}::jsonb is null then tags else array(select jsonb_array_elements_text(${tags}::jsonb)) end
        where id = ${row.id}`;
    }
    await recordEvent(tx, { vmId: row.id, vmName, actor: me.value.name, source: actor.source, kind: later ? "update_pending" : "updated", detail: defined });
    return ok({ vm: vmName, applied: later ? "at_checkin" : "now", changes: defined });
  });
}
