import type { PgSql } from "../../db/client.js";
import { stillClaimed, type CleanupClaim } from "./claim.js";

/**
 * The heartbeat of a running cleanup: renews its claim, so the reconciler
 * never takes a live one for dead. Updates `claim.claimedAt` to the new stamp,
 * which the finish presents; false when the claim was taken back meanwhile.
 */
export async function renewCleanupClaim(db: PgSql, claim: CleanupClaim): Promise<boolean> {
  const [row] = await db<{ claimed_at: string }[]>`
    update vms set claimed_at = now() where ${stillClaimed(db, claim)}
    returning claimed_at::text as claimed_at`;
  if (!row) return false;
  claim.claimedAt = row.claimed_at;
  return true;
}
