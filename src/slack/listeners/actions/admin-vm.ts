import { adminButton } from "../../buttons/admin-buttons.js";
import type { VmOperation } from "../../commands/admin.js";
import type { SlackDeps } from "../../deps.js";
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
