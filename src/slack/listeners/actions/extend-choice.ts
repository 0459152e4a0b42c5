import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs, StaticSelectAction } from "@slack/bolt";
import type { SlackDeps } from "../../deps.js";
import { ACTION } from "../../views/actions.js";
import { answer, clickKey, clickReply, type Click } from "../answer.js";
import { extendFromButton } from "./extend.js";

/** What Bolt hands the Extend menu's listener. */
export type SelectArgs = SlackActionMiddlewareArgs<BlockAction<StaticSelectAction>> & AllMiddlewareArgs;

/** The reminder's "Extend by…" menu: each option carries the checkout and the length. */
export const extendChoiceListener = (deps: SlackDeps) => async (args: SelectArgs) => {
  await args.ack();
  const click = args as unknown as Click;
  const value = args.action.selected_option?.value;
  const caller = { userId: args.body.user.id, interactionKey: clickKey(click) };
  await answer(deps, { action: ACTION.extendChoice, user: caller.userId, value }, clickReply(deps, click), () => extendFromButton(deps, caller, value));
};
