import type { CheckedOutVm } from "../../core/types.js";
import { outcomeOf, type Prepare } from "../command.js";
import { when } from "../table.js";
import { noteOption, poolOption, requiredUser, userActor } from "../values.js";

/** `vmres checkout --user ID [--pool P] [--note TEXT]`: lends a VM and prints how to reach it. */
export const prepareCheckout: Prepare = (input) => {
  const user = requiredUser(input);
  const pool = poolOption(input);
  const note = noteOption(input);
  return async ({ core }) => {
    const { checkout } = await import("../../core/checkout.js");
    const result = await checkout(core, userActor(user), { pool, note });
    return outcomeOf(result, user, (vm) => describeCheckout(vm, user));
  };
};

function describeCheckout(vm: CheckedOutVm, user: string): string {
  return [
    `Checked out ${vm.name} (pool ${vm.pool}, checkout ${vm.checkoutId}) for ${user} at ${when(vm.checkedOutAt)}.`,
    sshLine(vm),
    `Check it in when done: npx vmres checkin ${vm.name} --user ${user}`,
  ].join("\n");
}

/** The line to paste into a terminal. */
export const sshLine = (vm: Pick<CheckedOutVm, "sshUser" | "ip" | "sshPort">) => `ssh ${vm.sshUser}@${vm.ip} -p ${vm.sshPort}`;
