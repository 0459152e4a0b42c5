import type { PgSql } from "../../db/client.js";
import { dueAgainLater, recordWorkerEvent, type CleanupClaim } from "./claim.js";

/**
 * A failed attempt that will be retried: the claim is released and the VM is
 * due again after `retryInMs`, the attempt counted. Returns false when the claim was lost.
 */
export async function failCleanup(tx: PgSql, claim: CleanupClaim, failure: { error: string; retryInMs: number }): Promise<boolean> {
  const again = await dueAgainLater(tx, claim, { ...failure, counted: true });
  if (!again) return false;
  await recordWorkerEvent(tx, claim, "cleanup_failed", { error: failure.error, attempt: again.attempts, retryAt: again.retryAt });
  return true;
}
