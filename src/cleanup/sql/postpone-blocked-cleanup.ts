import { sql } from "drizzle-orm";
import { recordEvent } from "../../core/admin.js";
import type { Tx } from "../../db/client.js";
import { stillClaimed, WORKER, type CleanupClaim } from "./claim.js";

/**
 * An attempt that could not start because vmres cannot use its own private
 * key: the claim is released and the VM is due again after `retryInMs`, still
 * `cleaning`, with no attempt counted (a local misconfiguration must not bring
 * a healthy VM closer to quarantine). The reason is kept as the last error; an
 * event is written only when that reason is new for the VM, so a key missing
 * for hours does not write one event per retry. Returns false when the claim
 * was lost.
 */
export async function postponeBlockedCleanup(tx: Tx, claim: CleanupClaim, blocked: { error: string; keyFile: string; retryInMs: number }): Promise<boolean> {
  // The CTE reads the row as it was before the update (one snapshot for the whole statement).
  const [row] = await tx.execute<{ previous_error: string | null; retry_at: string }>(sql`
    with before as (select cleanup_last_error from vms where id = ${claim.vmId})
    update vms set
      claimed_by = null, claimed_at = null,
      cleanup_last_error = ${blocked.error},
      cleanup_next_at = now() + ${blocked.retryInMs}::int * interval '1 millisecond'
    where ${stillClaimed(claim)}
    returning (select cleanup_last_error from before) as previous_error, cleanup_next_at::text as retry_at`);
  if (!row) return false;
  if (row.previous_error !== blocked.error) {
    await recordEvent(tx, {
      vmId: claim.vmId,
      vmName: claim.vm,
      ...WORKER,
      kind: "cleanup_blocked",
      detail: { error: blocked.error, keyFile: blocked.keyFile, retryAt: row.retry_at, attempts: claim.attempts, instance: claim.claimedBy },
    });
  }
  return true;
}
