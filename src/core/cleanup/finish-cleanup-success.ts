import { becomeFree } from "../retire.js";
import type { PgSql } from "../../db/client.js";
import { markPoolUnblocked } from "./blocked-pools.js";
import { recordWorkerEvent, stillClaimed, type CleanupClaim } from "./claim.js";

/**
 * A cleaned VM goes back to the pool, or to `retired` when it was removed from
 * the inventory while it was held or being cleaned (the rule in ../retire.ts).
 * Nobody is notified: a cleanup that worked is not news. Returns the new
 * state, or null when the claim was lost (nothing is written then).
 */
export async function finishCleanupSuccess(
  tx: PgSql,
  claim: CleanupClaim,
  detail: Record<string, unknown>,
): Promise<"available" | "retired" | null> {
  const [row] = await tx<{ state: "available" | "retired" }[]>`
    update vms set
      ${becomeFree(tx, "available")}, state_changed_at = now(),
      claimed_by = null, claimed_at = null, cleanup_next_at = null,
      cleanup_attempts = 0, cleanup_last_error = null
    where ${stillClaimed(tx, claim)}
    returning state`;
  if (!row) return null;
  // The pool's key works again: checkouts stop warning.
  await markPoolUnblocked(tx, claim.pool);
  await recordWorkerEvent(tx, claim, "cleaned", { ...detail, attempt: claim.attempts + 1, to: row.state });
  return row.state;
}
