import { changeLease } from "../../../core/leases.js";
import { actOnce } from "../../act-once.js";
import { refusalReply } from "../../commands/refusal-reply.js";
import { slackActor, type Caller, type SlackDeps } from "../../deps.js";
import { readingOfSlackUser } from "../../time-zone.js";
import { ACTION, parseExtendValue } from "../../views/actions.js";
import { plain, type SlackMessage } from "../../views/blocks.js";
import { extendedReply } from "../../views/lease-replies.js";
import { alreadyHandledReply } from "../../views/replies.js";
import { answer, clickKey, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/** Extend, on the checkout DM, the reminder, the Home tab and `/vm extend`'s list: by the pool's lease, or by the button's length. */
export const extendButtonListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const caller = { userId: args.body.user.id, interactionKey: clickKey(args) };
  await answer(deps, { action: ACTION.extend, user: caller.userId, value: args.action.value }, clickReply(deps, args), () =>
    extendFromButton(deps, caller, args.action.value),
  );
};

/**
 * Extends only the checkout the button was made for: a click after that
 * checkout ended (the VM checked in, perhaps out again to someone else, or
 * to the same person) changes nothing and says so. The core decides under
 * the VM's row lock, so a click racing the expiry cannot extend a lease that
 * has just ended.
 */
export async function extendFromButton(deps: SlackDeps, caller: Caller, value: string | undefined): Promise<SlackMessage> {
  const target = parseExtendValue(value);
  if (target === null) return plain(":warning: That button is from an older version of vmres. Type `/vm extend` instead.");
  const once = await actOnce(deps.core, caller.interactionKey, () =>
    changeLease(deps.core, slackActor(caller.userId), target.vm, { by: target.by }, { checkoutId: target.checkout }),
  );
  if (once.duplicate) return alreadyHandledReply();
  const result = once.value;
  if (!result.ok && (result.refusal.code === "checkout_ended" || result.refusal.code === "not_checked_out")) {
    return plain(`:information_source: That button belongs to a checkout of *${target.vm}* that is over, so there is nothing to extend. Nothing changed.`);
  }
  if (!result.ok) return refusalReply(deps, caller.userId, result.refusal);
  if (result.value.byAdmin) deps.noticeQueued();
  return extendedReply(result.value, await readingOfSlackUser(deps.core, caller.userId));
}
