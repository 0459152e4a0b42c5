import { checkin } from "../../../core/checkin.js";
import { checkoutOfMessage } from "../../../db/slack-messages.js";
import { actOnce } from "../../act-once.js";
import { refusalReply } from "../../commands/refusal-reply.js";
import { slackActor, type Caller, type SlackDeps } from "../../deps.js";
import { ACTION, parseCheckinValue } from "../../views/actions.js";
import { plain, type SlackMessage } from "../../views/blocks.js";
import { alreadyHandledReply, checkedInReply, staleCheckinReply } from "../../views/replies.js";
import { answer, clickKey, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/** Check in, on the checkout DM, the Home tab, `/vm list` and the quota answer. */
export const checkinButtonListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const caller = { userId: args.body.user.id, interactionKey: clickKey(args) };
  const container = args.body.container as { channel_id?: string; message_ts?: string } | undefined;
  const message = container?.channel_id && container.message_ts ? { channel: container.channel_id, ts: container.message_ts } : null;
  await answer(deps, { action: ACTION.checkin, user: caller.userId, value: args.action.value }, clickReply(deps, args), () =>
    checkinFromButton(deps, caller, args.action.value, message),
  );
};

/**
 * A Check in button: acts only if the button's checkout is still the VM's
 * current one, so a late or repeated click never ends a newer checkout. The
 * core decides that, and whether the clicker may check the VM in at all,
 * under the VM's row lock: a click racing another ends in "not checked out",
 * never in two check-ins. A button that names no checkout (sent before
 * checkouts had ids) acts for the checkout its message is recorded for
 * (migration 0024 gave every recorded DM its checkout).
 */
async function checkinFromButton(deps: SlackDeps, caller: Caller, value: string | undefined, message: { channel: string; ts: string } | null): Promise<SlackMessage> {
  const target = parseCheckinValue(value);
  const checkoutId = target?.checkout ?? (target && message ? await checkoutOfMessage(deps.core.db, message) : null);
  if (target === null || checkoutId === null) return plain(":warning: That button is from an older version of vmres. Type `/vm checkin` instead.");
  const once = await actOnce(deps.core, caller.interactionKey, () => checkin(deps.core, slackActor(caller.userId), target.vm, { checkoutId }));
  if (once.duplicate) return alreadyHandledReply();
  const result = once.value;
  if (result.ok) {
    deps.noticeQueued();
    return checkedInReply(result.value);
  }
  if (result.refusal.code === "not_checked_out") return staleCheckinReply(result.refusal);
  return refusalReply(deps, caller.userId, result.refusal);
}
