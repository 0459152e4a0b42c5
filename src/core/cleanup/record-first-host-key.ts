import type { PgSql } from "../../db/client.js";
import { recordWorkerEvent, stillClaimed, type CleanupClaim } from "./claim.js";

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
  await recordWorkerEvent(tx, claim, "host_key_recorded", { fingerprint, trustOnFirstUse: true });
  return true;
}
