import type postgres from "postgres";
import { startSweepRun } from "../sweep-runs.js";
import { makeOrphansDue } from "./make-orphans-due.js";
import { resetStaleClaims, type ResetClaim } from "./reset-stale-claims.js";

/** Any constant, distinct from the other advisory lock keys: one replica reconciles at a time. */
export const RECONCILE_LOCK_KEY = 0x766d7263;

/** What one reconcile did; `ran: false` when another replica held the lock. */
export interface ReconcileReport {
  ran: boolean;
  claimsReset: ResetClaim[];
  madeDue: string[];
}

/**
 * Puts every cleanup that nobody will finish back in the queue: claims of dead
 * workers, and VMs in `cleaning` that are due at no time. One transaction
 * under a transaction-level advisory lock, tried without waiting: a replica
 * that finds it taken skips this round, as the holder does the same work.
 * `minGapMs` (half the schedule's period, from the adapter that runs this on a
 * timer) makes the replicas that get the lock later in the same tick skip it.
 */
export function reconcileCleanups(sql: postgres.Sql, staleClaimAfterMs: number, minGapMs = 0): Promise<ReconcileReport> {
  return sql.begin(async (tx) => {
    const [lock] = await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(${RECONCILE_LOCK_KEY}) as locked`;
    if (!lock?.locked) return { ran: false, claimsReset: [], madeDue: [] };
    // The lock is free again as soon as the first replica of this tick commits: the run's
    // record, older than half a period or not, is what makes the others skip this tick.
    if (!(await startSweepRun(tx, "reconcile_cleanups", minGapMs))) return { ran: false, claimsReset: [], madeDue: [] };
    const claimsReset = await resetStaleClaims(tx, staleClaimAfterMs);
    const madeDue = await makeOrphansDue(tx);
    return { ran: true, claimsReset, madeDue };
  });
}
