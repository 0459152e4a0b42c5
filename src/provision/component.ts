import type { Component, ServiceContext } from "../service/context.js";
import { provisionSettingsFrom } from "./settings.js";
import { ProvisionWorker } from "./worker.js";

/**
 * The provisioner part of the service: provider jobs (create, save, delete),
 * and on every tick its reconciler (stale claims, min_idle top-up, image
 * sweep, provider listing). Several replicas may run it: jobs are claimed
 * with SKIP LOCKED, top-up takes the pool's lock, the sweep is one statement.
 */
export async function startProvisioner(ctx: ServiceContext): Promise<Component | null> {
  if (ctx.config.PROVISION_WORKER === "off") {
    ctx.log.info("PROVISION_WORKER=off: this process runs no provider jobs; another replica (with PROVISION_WORKER=on) must");
    return null;
  }
  const settings = provisionSettingsFrom(ctx.config);
  const log = ctx.log.child({ component: "provisioner", instance: ctx.instanceId });
  const worker = new ProvisionWorker({ core: ctx.core, log, instanceId: ctx.instanceId, settings, ...(ctx.metrics ? { observe: ctx.metrics.jobObserver() } : {}) });
  worker.start();
  ctx.http.addHealthCheck({
    name: "provisioner",
    critical: false,
    check: async () =>
      worker.pollError ? { ready: false, detail: `cannot run provider jobs: ${worker.pollError}` } : { ready: true, detail: `${worker.runningCount} of ${settings.concurrency} provider jobs running` },
  });
  return {
    name: "provisioner",
    async stop() {
      await worker.stop(ctx.config.CLEANUP_SHUTDOWN_GRACE_MS);
      log.info("provisioner stopped");
    },
  };
}
