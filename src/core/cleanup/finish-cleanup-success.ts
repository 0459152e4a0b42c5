import { eventsFrom } from "../events.js";
import { becomeFree } from "../retire.js";
import type { PgSql } from "../../db/client.js";
import { stillClaimed, type CleanupClaim } from "./claim.js";

/**
 * A cleaned VM goes back to the pool, or to `retired` when it was removed from
 * the inventory while it was held or being cleaned (the rule in ../retire.ts).
 * Nobody is notified: a cleanup that worked is not news. Returns the new
 * state, or null when the claim was lost (nothing is written then).
 *
 * One statement, so it needs no transaction of its own and costs the worker
 * one round trip per cleanup (it was five: BEGIN, the VM, the pool, the event,
 * COMMIT): the VM freed under its claim, its pool's blocked mark cleared (the
 * key works again: checkouts stop warning; blocked-pools.ts), and the
 * `cleaned` event (the same row `recordWorkerEvent` writes), all from the one
 * row the update returns, so a lost claim writes none of them.
 */
export async function finishCleanupSuccess(
  tx: PgSql,
  claim: CleanupClaim,
  detail: Record<string, unknown>,
): Promise<"available" | "retired" | null> {
  const eventDetail = JSON.stringify({ ...detail, attempt: claim.attempts + 1, instance: claim.claimedBy });
  const [row] = await tx<{ state: "available" | "retired" }[]>`
    with freed as (
      update vms set
        ${becomeFree(tx, "available")}, state_changed_at = now(),
        claimed_by = null, claimed_at = null, cleanup_next_at = null,
        cleanup_attempts = 0, cleanup_last_error = null
      where ${stillClaimed(tx, claim)}
      returning id, name, pool, state
    ), unblocked as (
      update pools p set cleanup_blocked = null from freed f where p.name = f.pool and p.cleanup_blocked is not null
    ), logged as (
      ${eventsFrom(tx, "cleaned", tx`select f.id, f.name, 'system', 'worker', ${eventDetail}::jsonb || jsonb_build_object('to', f.state) from freed f`)}
    )
    select state from freed`;
  return row?.state ?? null;
}
