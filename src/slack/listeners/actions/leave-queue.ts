import { unwaitCommand } from "../../commands/waitlist.js";
import type { SlackDeps } from "../../deps.js";
import { ACTION } from "../../views/actions.js";
import { answer, clickKey, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/** Leave, beside a queue on the Home tab: as `/vm unwait POOL`. */
export const leaveQueueListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const caller = { userId: args.body.user.id, interactionKey: clickKey(args) };
  await answer(deps, { action: ACTION.leaveQueue, user: caller.userId, pool: args.action.value }, clickReply(deps, args), () =>
    unwaitCommand(deps, caller, args.action.value),
  );
};
