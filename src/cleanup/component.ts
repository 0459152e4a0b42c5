import type { Component, ServiceContext } from "../service/service.js";
import { startReconciler } from "./reconciler.js";
import { cleanupSettingsFrom } from "./settings.js";
import { CleanupWorker } from "./worker.js";

/**
 * The cleanup part of the service: the worker, and the reconciler (once now,
 * then on RECONCILE_CRON). Stopping stops claiming and the schedule, then waits
 * up to CLEANUP_SHUTDOWN_GRACE_MS for running cleanups.
 */
export async function startCleanup(ctx: ServiceContext): Promise<Component> {
  const settings = cleanupSettingsFrom(ctx.config);
  const log = ctx.log.child({ component: "cleanup", instance: ctx.instanceId });
  const db = ctx.database.db;
  const reconciler = startReconciler({ db, log, cron: ctx.config.RECONCILE_CRON, staleClaimAfterMs: settings.staleClaimAfterMs });
  // Before the first claim, so VMs a crashed predecessor left due at no time are picked up at once.
  await reconciler.runNow();
  const worker = new CleanupWorker({ db, log, instanceId: ctx.instanceId, settings });
  worker.start();
  ctx.http.addHealthCheck({
    name: "cleanup",
    critical: false,
    check: () => {
      const error = worker.pollError;
      const detail = error ? `cannot claim cleanups: ${error}` : `${worker.runningCount} of ${settings.concurrency} cleanups running`;
      return Promise.resolve({ ready: error === null, detail });
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
