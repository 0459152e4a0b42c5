import { checkoutCommand } from "../../commands/checkout.js";
import type { SlackDeps } from "../../deps.js";
import { ACTION } from "../../views/actions.js";
import { answer, clickKey, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/**
 * Check out, beside a pool on the Home tab. The key is the rendering of the tab
 * the click came from (view id and hash): a double click on one rendering gets
 * one VM, while a click after the tab was republished is a new request.
 */
export const homeCheckoutListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const view = args.body.view;
  const interactionKey = view ? `home:${args.body.user.id}:${view.id}:${view.hash}` : clickKey(args);
  const caller = { userId: args.body.user.id, interactionKey };
  await answer(deps, { action: ACTION.homeCheckout, user: caller.userId, pool: args.action.value }, clickReply(deps, args), () =>
    checkoutCommand(deps, caller, args.action.value),
  );
};
