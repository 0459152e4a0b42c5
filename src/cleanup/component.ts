import { recordKeyFileChecks } from "../core/cleanup/blocked-pools.js";
import { keyFilesInUse } from "../core/cleanup/key-files-in-use.js";
import type { Component, ServiceContext } from "../service/context.js";
import { cleanupBlockedBy, expandHome, type BlockedKey } from "./private-keys.js";
import { startReconciler } from "./reconciler.js";
import { cleanupSettingsFrom } from "./settings.js";
import { CleanupWorker } from "./worker.js";

/**
 * The cleanup part of the service: the worker, and the reconciler (once now,
 * then on RECONCILE_CRON). Stopping stops claiming and the schedule, then waits
 * up to CLEANUP_SHUTDOWN_GRACE_MS for running cleanups.
 *
 * The private keys are checked at start: one that cannot be used is logged as
 * an error and makes the `cleanup` health entry say that cleanup is blocked
 * and why. It does not stop the start: the VMs that need it wait in `cleaning`
 * (no attempt counted) and are cleaned once the file is fixed, no restart needed.
 */
export async function startCleanup(ctx: ServiceContext): Promise<Component> {
  const settings = cleanupSettingsFrom(ctx.config);
  const log = ctx.log.child({ component: "cleanup", instance: ctx.instanceId });
  const db = ctx.database.db;
  const metrics = ctx.metrics;
  const reconciler = startReconciler({
    db,
    log,
    cron: ctx.config.RECONCILE_CRON,
    staleClaimAfterMs: settings.staleClaimAfterMs,
    ...(metrics ? { observe: (outcome: string) => metrics.reconcilerRuns.inc({ outcome }) } : {}),
  });
  // Before the first claim, so VMs a crashed predecessor left due at no time are picked up at once.
  await reconciler.runNow();
  const worker = new CleanupWorker({
    db,
    log,
    instanceId: ctx.instanceId,
    settings,
    ...(metrics
      ? { observe: (outcome: string, seconds: number) => (metrics.cleanups.inc({ outcome }), metrics.cleanupSeconds.observe({ outcome }, seconds)), jobObserve: metrics.jobObserver() }
      : {}),
  });
  const keyFiles = await keyFilesInUse(db, settings.privateKeyFile).catch((err: unknown) => {
    log.warn({ err }, "could not list the pools' private key files; checking the default one only at start");
    return [settings.privateKeyFile];
  });
  // A key that cannot be used is logged by the worker's PrivateKeys, once per file.
  // Recorded on the pools too, so checkouts and bookings warn before the first check-in waits.
  const record = (blocked: BlockedKey[]) => {
    const errors = new Map(blocked.map((b) => [b.file, b.error]));
    const checks = keyFiles.map((file) => {
      const error = errors.get(expandHome(file));
      return { file, error: error === undefined ? null : cleanupBlockedBy(error) };
    });
    return recordKeyFileChecks(db.$client, settings.privateKeyFile, checks).catch((err: unknown) => log.warn({ err }, "could not record on the pools whether their cleanup is blocked"));
  };
  await record(await worker.keys.check(keyFiles));
  worker.start();
  ctx.http.addHealthCheck({
    name: "cleanup",
    critical: false,
    check: async () => {
      const problems: string[] = [];
      const error = worker.pollError;
      if (error) problems.push(`cannot claim cleanups: ${error}`);
      // Read again: a key fixed while no cleanup was due shows as fixed at once.
      const blocked = await worker.keys.recheck();
      await record(blocked);
      for (const key of blocked) problems.push(cleanupBlockedBy(key.error));
      if (problems.length > 0) return { ready: false, detail: problems.join("; ") };
      return { ready: true, detail: `${worker.runningCount} of ${settings.concurrency} cleanups running` };
    },
  });
  log.info({ concurrency: settings.concurrency, reconcile: ctx.config.RECONCILE_CRON, staleClaimAfterMs: settings.staleClaimAfterMs }, "cleanup worker started");
  return {
    name: "cleanup",
    async stop() {
      const [, report] = await Promise.all([reconciler.stop(), worker.stop()]);
      log.info(report, "cleanup worker stopped");
    },
  };
}
