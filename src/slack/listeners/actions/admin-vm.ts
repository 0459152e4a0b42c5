import { adminVm, type VmOperation } from "../../commands/admin.js";
import type { Caller, SlackDeps } from "../../deps.js";
import { plain, type SlackMessage } from "../../views/blocks.js";
import { answer, clickKey, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/** Repaired, Retry cleanup, Drain, Undrain and History, on admin alerts and the admins' Home tab. */
export const adminVmButtonListener = (deps: SlackDeps, operation: VmOperation) => async (args: ButtonArgs) => {
  await args.ack();
  const caller = { userId: args.body.user.id, interactionKey: clickKey(args) };
  await answer(deps, { action: args.action.action_id, user: caller.userId, vm: args.action.value }, clickReply(deps, args), () =>
    adminButton(deps, caller, operation, args.action.value),
  );
};

/**
 * An admin button (Repaired, Retry cleanup, Drain, Undrain, History): the same
 * operation as the typed command, so the core checks the clicker is an admin
 * and that the VM is still in a state the operation applies to; a second
 * click finds it done and is told so.
 */
async function adminButton(deps: SlackDeps, caller: Caller, operation: VmOperation, vm: string | undefined): Promise<SlackMessage> {
  if (!vm) return plain(":warning: That button names no VM; type the command instead (`/vm help admin`).");
  return adminVm(deps, caller, operation, vm);
}
