import { takeOffer } from "../../../core/waitlist.js";
import { actOnce } from "../../act-once.js";
import { refusalReply } from "../../commands/refusal-reply.js";
import { slackActor, type SlackDeps } from "../../deps.js";
import { readingOfSlackUser } from "../../time-zone.js";
import { ACTION, parseOfferValue } from "../../views/actions.js";
import { plain, type SlackMessage } from "../../views/blocks.js";
import { takenReply } from "../../views/lease-replies.js";
import { alreadyHandledReply } from "../../views/replies.js";
import { answer, clickKey } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";
import { offerReply } from "./offer-reply.js";

/**
 * Take it, on the offer DM and the Home tab: the VM held for this waiter
 * becomes their checkout (the core checks the offer is theirs and still
 * open); the checkout DM follows as for any checkout.
 */
export const takeOfferListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const caller = { userId: args.body.user.id, interactionKey: clickKey(args) };
  let taken = false;
  await answer(deps, { action: ACTION.takeOffer, user: caller.userId, value: args.action.value }, offerReply(deps, args, () => taken), async (): Promise<SlackMessage> => {
    const waiterId = parseOfferValue(args.action.value);
    if (waiterId === null) return plain(":warning: That button is from an older version of vmres. Type `/vm wait POOL` to queue again.");
    const once = await actOnce(deps.core, caller.interactionKey, () => takeOffer(deps.core, slackActor(caller.userId), waiterId));
    if (once.duplicate) return alreadyHandledReply();
    if (!once.value.ok) return refusalReply(deps, caller.userId, once.value.refusal);
    taken = true;
    deps.noticeQueued();
    return takenReply(once.value.value, await readingOfSlackUser(deps.core, caller.userId));
  });
};
