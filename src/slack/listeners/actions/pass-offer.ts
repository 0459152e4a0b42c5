import { offeredVmName, passOffer } from "../../../core/waitlist.js";
import { actOnce } from "../../act-once.js";
import { refusalReply } from "../../commands/refusal-reply.js";
import { slackActor, type SlackDeps } from "../../deps.js";
import { ACTION, parseOfferValue } from "../../views/actions.js";
import { plain, type SlackMessage } from "../../views/blocks.js";
import { passedReply } from "../../views/lease-replies.js";
import { alreadyHandledReply } from "../../views/replies.js";
import { answer, clickKey } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";
import { offerReply } from "./offer-reply.js";

/** Pass, on the offer DM and the Home tab: the held VM goes to the next in line, and the waiter leaves the queue. */
export const passOfferListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const caller = { userId: args.body.user.id, interactionKey: clickKey(args) };
  let passed = false;
  await answer(deps, { action: ACTION.passOffer, user: caller.userId, value: args.action.value }, offerReply(deps, args, () => passed), async (): Promise<SlackMessage> => {
    const waiterId = parseOfferValue(args.action.value);
    if (waiterId === null) return plain(":warning: That button is from an older version of vmres. Type `/vm unwait POOL` instead.");
    const vm = await offeredVmName(deps.core, waiterId);
    const once = await actOnce(deps.core, caller.interactionKey, () => passOffer(deps.core, slackActor(caller.userId), waiterId));
    if (once.duplicate) return alreadyHandledReply();
    if (!once.value.ok) return refusalReply(deps, caller.userId, once.value.refusal);
    passed = true;
    return passedReply(vm, once.value.value.pool);
  });
};
