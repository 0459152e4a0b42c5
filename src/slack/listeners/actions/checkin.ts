import { checkinFromButton } from "../../buttons/checkin-button.js";
import type { SlackDeps } from "../../deps.js";
import { ACTION } from "../../views/actions.js";
import { answer, clickKey, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/** Check in, on the checkout DM, the Home tab, `/vm list` and the quota answer. */
export const checkinButtonListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const caller = { userId: args.body.user.id, interactionKey: clickKey(args) };
  await answer(deps, { action: ACTION.checkin, user: caller.userId, value: args.action.value }, clickReply(deps, args), () =>
    checkinFromButton(deps, caller, args.action.value),
  );
};
