import { waitCommand } from "../../commands/waitlist.js";
import type { SlackDeps } from "../../deps.js";
import { ACTION } from "../../views/actions.js";
import { answer, clickKey, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/** Notify me, on the "no VM free" answer: joins that pool's queue (as `/vm wait POOL`) and says the position. */
export const notifyMeListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const caller = { userId: args.body.user.id, interactionKey: clickKey(args) };
  await answer(deps, { action: ACTION.notifyMe, user: caller.userId, pool: args.action.value }, clickReply(deps, args), () =>
    waitCommand(deps, caller, args.action.value),
  );
};
