import { enqueueNotices } from "../notices.js";
import type { PgSql } from "../../db/client.js";
import { recordWorkerEvent, stillClaimed, type CleanupClaim } from "./claim.js";

/**
 * Takes the VM out of circulation (`quarantined`) with the last error, and
 * queues the admin alert (Retry cleanup / Repaired) in the same transaction,
 * so a quarantine is never silent. Returns false when the claim was lost.
 */
export async function quarantine(tx: PgSql, claim: CleanupClaim, why: { reason: string; error: string }): Promise<boolean> {
  const [row] = await tx<{ cleanup_attempts: number }[]>`
    update vms set
      state = 'quarantined', state_changed_at = now(),
      claimed_by = null, claimed_at = null, cleanup_next_at = null,
      cleanup_attempts = cleanup_attempts + 1, cleanup_last_error = ${why.error}
    where ${stillClaimed(tx, claim)}
    returning cleanup_attempts`;
  if (!row) return false;
  await recordWorkerEvent(tx, claim, "quarantined", { reason: why.reason, error: why.error, attempts: row.cleanup_attempts });
  await enqueueNotices(tx, [
    { kind: "vm_quarantined", vm: claim.vm, pool: claim.pool, reason: why.reason, lastError: why.error, attempts: row.cleanup_attempts },
  ]);
  return true;
}
