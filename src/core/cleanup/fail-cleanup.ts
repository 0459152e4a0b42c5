import { recordEvent } from "../events.js";
import type { PgSql } from "../../db/client.js";
import { stillClaimed, WORKER, type CleanupClaim } from "./claim.js";

/**
 * A failed attempt that will be retried: the claim is released and the VM is
 * due again after `retryInMs`. Returns false when the claim was lost.
 */
export async function failCleanup(tx: PgSql, claim: CleanupClaim, failure: { error: string; retryInMs: number }): Promise<boolean> {
  const [row] = await tx<{ cleanup_attempts: number; retry_at: string }[]>`
    update vms set
      claimed_by = null, claimed_at = null,
      cleanup_attempts = cleanup_attempts + 1, cleanup_last_error = ${failure.error},
      cleanup_next_at = now() + ${failure.retryInMs}::int * interval '1 millisecond'
    where ${stillClaimed(tx, claim)}
    returning cleanup_attempts, cleanup_next_at::text as retry_at`;
  if (!row) return false;
  await recordEvent(tx, {
    vmId: claim.vmId,
    vmName: claim.vm,
    ...WORKER,
    kind: "cleanup_failed",
    detail: { error: failure.error, attempt: row.cleanup_attempts, retryAt: row.retry_at, instance: claim.claimedBy },
  });
  return true;
}
