import type { Prepare } from "../command.js";
import { outcomeOf } from "../command.js";
import { UsageError } from "../args.js";
import { vmresCommand } from "../invocation.js";
import { adminActor, stringValue, userOf, vmArg } from "../values.js";
import { transition } from "./pool.js";

/** `vmres cleanup retry VM`: after fixing a VM whose cleanup failed, queue the cleanup again. */
export const prepareCleanupRetry: Prepare = transition("VM", async () => (await import("../../core/admin.js")).retryCleanup);

/** `vmres cleanup done VM --reason TEXT`: end a cleanup by hand (the core decides who may and which VM). */
export const prepareCleanupDone: Prepare = (input) => {
  const actor = adminActor(input);
  const vm = vmArg(input);
  const reason = stringValue(input, "reason");
  if (reason === undefined || reason.trim() === "") {
    throw new UsageError(`--reason is required, it is kept on record: ${vmresCommand()} cleanup done ${vm} --reason "wiped /tmp by hand"`);
  }
  return async ({ core }) => {
    const { cleanupDone } = await import("../../core/cleanup/cleanup-done.js");
    return outcomeOf(await cleanupDone(core, actor, vm, reason), userOf(actor), (d) =>
      d.to === "retired"
        ? `${d.vm}: cleanup ended by hand; it was removed from the inventory, so it is retired now.`
        : `${d.vm}: cleanup ended by hand; it is available again (on record: "${d.reason}").`,
    );
  };
};
