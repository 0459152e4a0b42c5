import { startApi } from "../api/component.js";
import { startCleanup } from "../cleanup/component.js";
import { startSlack } from "../slack/index.js";
import type { ComponentFactory } from "./context.js";
import { startDigest } from "./digest.js";
import { startLeaseSweeper } from "./lease-sweeper.js";
import { startProvisioner } from "../provision/component.js";

/** The parts that join the service after the database is ready, started in this order. */
export const components: ComponentFactory[] = [cleanupUnlessOff, startLeaseSweeper, startProvisioner, startSlack, startApi, startDigest];

/** CLEANUP_WORKER=off leaves cleanups to other replicas: VMs checked in here wait in `cleaning` for them. */
async function cleanupUnlessOff(ctx: Parameters<ComponentFactory>[0]) {
  if (ctx.config.CLEANUP_WORKER === "on") return startCleanup(ctx);
  ctx.log.info("CLEANUP_WORKER=off: this process cleans no VMs; another replica (with CLEANUP_WORKER=on) must");
  ctx.http.addHealthCheck({ name: "cleanup", critical: false, check: async () => ({ ready: true, detail: "off in this process (CLEANUP_WORKER=off)" }) });
  return null;
}
