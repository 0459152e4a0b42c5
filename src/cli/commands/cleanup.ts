import type { Prepare } from "../command.js";
import { transition } from "./pool.js";

/** `vmres cleanup retry VM`: after fixing a VM whose cleanup failed, queue the cleanup again. */
export const prepareCleanupRetry: Prepare = transition("VM", async () => (await import("../../core/admin.js")).retryCleanup);
