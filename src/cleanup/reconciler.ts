import { schedule, type ScheduledTask } from "node-cron";
import { reconcileCleanups, type ReconcileReport } from "../core/cleanup/reconcile-cleanups.js";
import type { Db } from "../db/client.js";
import type { Logger } from "../log.js";

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

/** Runs the core's `reconcileCleanups` on a node-cron schedule; every fix is logged (and is an event). */
export function startReconciler(opts: ReconcilerOptions): Reconciler {
  const { db, log } = opts;
  let inFlight: Promise<ReconcileReport | null> | null = null;

  const reconcile = async (): Promise<ReconcileReport | null> => {
    try {
      const report = await reconcileCleanups(db.$client, opts.staleClaimAfterMs, minGapMs());
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
