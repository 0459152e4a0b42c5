import { recordEvent } from "../events.js";
import type { PgSql } from "../../db/client.js";
import { stillClaimed, WORKER, type CleanupClaim } from "./claim.js";

/**
 * Trust on first use: pins the host key seen on the first connection to a VM
 * that had none, on record. Only while no key is pinned, so it never replaces
 * one (a key set by the inventory meanwhile wins). Returns whether it pinned.
 */
export async function recordFirstHostKey(tx: PgSql, claim: CleanupClaim, fingerprint: string): Promise<boolean> {
  const [row] = await tx<{ id: number }[]>`
    update vms set host_key_fingerprint = ${fingerprint}
    where ${stillClaimed(tx, claim)} and host_key_fingerprint is null
    returning id`;
  if (!row) return false;
  await recordEvent(tx, {
    vmId: claim.vmId,
    vmName: claim.vm,
    ...WORKER,
    kind: "host_key_recorded",
    detail: { fingerprint, trustOnFirstUse: true, instance: claim.claimedBy },
  });
  return true;
}
