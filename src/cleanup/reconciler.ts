import { sql } from "drizzle-orm";
import { schedule, type ScheduledTask } from "node-cron";
import type { Db } from "../db/client.js";
import type { Logger } from "../log.js";
import { makeOrphansDue } from "./sql/make-orphans-due.js";
import { resetStaleClaims, type ResetClaim } from "./sql/reset-stale-claims.js";

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
 */
export function reconcileCleanups(db: Db, staleClaimAfterMs: number, minGapMs = 0): Promise<ReconcileReport> {
  return db.transaction(async (tx) => {
    const [lock] = await tx.execute<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${RECONCILE_LOCK_KEY}) as locked`);
    if (!lock?.locked) return { ran: false, claimsReset: [], madeDue: [] };
    // The lock is free again as soon as the first replica of this tick commits: the run's
    // record, older than half a period or not, is what makes the others skip this tick.
    const due = await tx.execute(sql`
      insert into sweep_runs (name, last_run_at) values ('reconcile_cleanups', now())
      on conflict (name) do update set last_run_at = excluded.last_run_at
        where sweep_runs.last_run_at <= now() - make_interval(secs => ${minGapMs / 1000})
      returning name`);
    if (due.length === 0) return { ran: false, claimsReset: [], madeDue: [] };
    const claimsReset = await resetStaleClaims(tx, staleClaimAfterMs);
    const madeDue = await makeOrphansDue(tx);
    return { ran: true, claimsReset, madeDue };
  });
}

export interface Reconciler {
  /** Reconciles now; resolves with the report, or null when it failed (logged). */
  runNow(): Promise<ReconcileReport | null>;
  /** Stops the schedule and waits for a run in progress. */
  stop(): Promise<void>;
}

export interface ReconcilerOptions {
  db: Db;
  log: Logger;
  /** node-cron expression (RECONCILE_CRON). */
  cron: string;
  staleClaimAfterMs: number;
  /** Told how each run ended: `ran` (this replica held the lock), `skipped` (another did), `failed`. */
  observe?: (outcome: "ran" | "skipped" | "failed") => void;
}

/** Runs `reconcileCleanups` on a node-cron schedule; every fix is logged (and is an event). */
export function startReconciler(opts: ReconcilerOptions): Reconciler {
  const { db, log } = opts;
  let inFlight: Promise<ReconcileReport | null> | null = null;

  const reconcile = async (): Promise<ReconcileReport | null> => {
    try {
      const report = await reconcileCleanups(db, opts.staleClaimAfterMs, minGapMs());
      for (const r of report.claimsReset) {
        log.warn({ vm: r.vm, claimedBy: r.claimedBy, claimedAt: r.claimedAt }, "stale cleanup claim (its worker stopped); due again");
      }
      for (const vm of report.madeDue) log.warn({ vm }, "VM in cleaning was due at no time; due now");
      opts.observe?.(report.ran ? "ran" : "skipped");
      return report;
    } catch (err) {
      log.error({ err }, "reconciling cleanups failed; trying again at the next run");
      opts.observe?.("failed");
      return null;
    }
  };
  // The schedule and runNow() share one run at a time.
  const runNow = (): Promise<ReconcileReport | null> => {
    inFlight ??= reconcile().finally(() => (inFlight = null));
    return inFlight;
  };

  const task: ScheduledTask = schedule(opts.cron, () => runNow(), {
    name: "vmres-reconcile-cleanups",
    noOverlap: true,
    logger: {
      info: (message) => log.debug({ cron: opts.cron }, message),
      warn: (message) => log.warn({ cron: opts.cron }, message),
      error: (message, err) => log.error({ cron: opts.cron, err: err ?? message }, "reconciler schedule error"),
      debug: (message) => log.debug({ cron: opts.cron }, String(message)),
    },
  });

  // Half the schedule's period: replicas ticking together (clocks apart by far less) run it once.
  const minGapMs = () => {
    const [next, after] = task.getNextRuns(2);
    return next && after ? Math.max(0, (after.getTime() - next.getTime()) / 2) : 0;
  };

  return {
    runNow,
    async stop() {
      await task.stop();
      await task.destroy();
      await inFlight;
    },
  };
}
