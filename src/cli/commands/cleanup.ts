import { retryCleanup } from "../../core/admin.js";
import { transitionCommand } from "./pool.js";

/** `vmres cleanup retry VM`: after fixing a VM whose cleanup failed, queue the cleanup again. */
export const cleanupRetryCommand = transitionCommand(
  ["cleanup", "retry"],
  "Queue the cleanup of a quarantined VM again, attempts reset (admin).",
  retryCleanup,
);
