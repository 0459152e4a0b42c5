import type { CheckedOutVm } from "../../core/types.js";
import { outcomeOf, type Prepare } from "../command.js";
import { when } from "../table.js";
import { poolOption, requiredUser } from "../values.js";

/** `vmres checkout --user ID [--pool P]`: lends a VM and prints how to reach it. */
export const prepareCheckout: Prepare = (input, config) => {
  const userId = requiredUser(input);
  const pool = poolOption(input);
  return async ({ core }) => {
    const { checkout } = await import("../../core/checkout.js");
    const result = await checkout(core, { userId, source: "cli" }, {
      pool,
      exhaustedAlertIntervalMinutes: config.POOL_EXHAUSTED_ALERT_INTERVAL_MINUTES,
    });
    return outcomeOf(result, userId, (vm) => describeCheckout(vm, userId));
  };
};

function describeCheckout(vm: CheckedOutVm, userId: string): string {
  return [
    `Checked out ${vm.name} (pool ${vm.pool}) for ${userId} at ${when(vm.checkedOutAt)}.`,
    sshLine(vm),
    `Check it in when done: npx vmres checkin ${vm.name} --user ${userId}`,
  ].join("\n");
}

/** The line to paste into a terminal. */
export const sshLine = (vm: Pick<CheckedOutVm, "sshUser" | "ip" | "sshPort">) => `ssh ${vm.sshUser}@${vm.ip} -p ${vm.sshPort}`;
