import type { Notice as ParsedNotice } from "../../core/notices.js";
import { offerClosedDm, offerEndedDm } from "../views/lease-dm.js";
import { homeStep, updateMessage } from "./common-steps.js";
import { closeMessage, openMessages } from "../../db/slack-messages.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "offer_ended" }>;

/**
 * An offer ended without a checkout: the offer DM loses its buttons, the
 * waiter is told why (lapsed: out of the queue; withdrawn: still in it), and
 * their Home catches up.
 */
export function offerEndedSteps(n: Notice, ctx: DeliveryContext): Step[] {
  const user = n.person.slackUserId;
  return [
    {
      name: "offer_update",
      once: false,
      run: async () => {
        if (user === null) return done();
        for (const m of await openMessages(ctx.core.db, { vm: n.vm, user, purpose: "offer_dm" })) {
          await updateMessage(ctx, m, offerClosedDm(n.vm, n.pool, n.outcome));
          await closeMessage(ctx.core.db, m.id);
        }
        return done();
      },
    },
    {
      name: "dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        if (user === null) return done();
        await post.toUser(user, offerEndedDm(n));
        return done();
      },
    },
    homeStep(ctx, [user]),
  ];
}
