import type { App, BlockAction, ButtonAction, StaticSelectAction } from "@slack/bolt";
import type { VmOperation } from "../../commands/admin.js";
import type { SlackDeps } from "../../deps.js";
import { checkUserId } from "../../../core/validate.js";
import { ACTION } from "../../views/actions.js";
import { malformedRequestReply } from "../../views/replies.js";
import { ephemeral } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";
import { adminVmButtonListener } from "./admin-vm.js";
import { checkinButtonListener } from "./checkin.js";
import { homeCheckoutListener } from "./home-checkout.js";
import { homeReserveListener } from "./home-reserve.js";
import { poolHoldersListener } from "./pool-holders.js";
import { extendButtonListener } from "./extend.js";
import { extendChoiceListener, type SelectArgs } from "./extend-choice.js";
import { leaveQueueListener } from "./leave-queue.js";
import { notifyMeListener } from "./notify-me.js";
import { passOfferListener } from "./pass-offer.js";
import { takeOfferListener } from "./take-offer.js";

/** Admin buttons and the operation each runs; Undrain is the core's repair (maintenance → available). */
const ADMIN_BUTTONS: [actionId: string, operation: VmOperation][] = [
  [ACTION.repair, "repair"],
  [ACTION.undrain, "repair"],
  [ACTION.retryCleanup, "retry-cleanup"],
  [ACTION.drain, "drain"],
  [ACTION.history, "history"],
];

export function register(app: App, deps: SlackDeps): void {
  const on = (actionId: string, listener: (args: ButtonArgs) => Promise<void>) =>
    app.action<BlockAction<ButtonAction>>(actionId, fromKnownUser(deps, listener));
  on(ACTION.checkin, checkinButtonListener(deps));
  on(ACTION.homeCheckout, homeCheckoutListener(deps));
  on(ACTION.homeReserve, homeReserveListener(deps));
  on(ACTION.poolHolders, poolHoldersListener(deps));
  on(ACTION.extend, extendButtonListener(deps));
  on(ACTION.notifyMe, notifyMeListener(deps));
  on(ACTION.leaveQueue, leaveQueueListener(deps));
  on(ACTION.takeOffer, takeOfferListener(deps));
  on(ACTION.passOffer, passOfferListener(deps));
  // The Extend menu's fields that fromKnownUser reads (user, action_ts, response_url) are those of a button's.
  const choice = extendChoiceListener(deps);
  const guarded = fromKnownUser(deps, (args) => choice(args as unknown as SelectArgs));
  app.action<BlockAction<StaticSelectAction>>(ACTION.extendChoice, (args) => guarded(args as unknown as ButtonArgs));
  for (const [actionId, operation] of ADMIN_BUTTONS) on(actionId, adminVmButtonListener(deps, operation));
}

/**
 * Slack always says who clicked; a signed click without a valid user ID is bad
 * input: acked, answered where it can be, logged, and not acted on.
 */
function fromKnownUser(deps: SlackDeps, listener: (args: ButtonArgs) => Promise<void>) {
  return async (args: ButtonArgs) => {
    const userId: unknown = (args.body as { user?: { id?: unknown } }).user?.id;
    const actionTs: unknown = args.action?.action_ts;
    if (typeof userId === "string" && checkUserId(userId) === null && typeof actionTs === "string") return listener(args);
    await args.ack();
    deps.log.warn({ action: args.action?.action_id, user: String(userId).slice(0, 40) }, "refused a click without a valid user ID");
    if (typeof args.body.response_url === "string") await args.respond(ephemeral(malformedRequestReply())).catch((err: unknown) => deps.log.warn({ err }, "could not answer a malformed click"));
  };
}
