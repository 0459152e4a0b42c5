import type { Notice as ParsedNotice } from "../../core/notices.js";
import { readingOfPerson } from "../time-zone.js";
import { offerDm } from "../views/lease-dm.js";
import { homeStep } from "./common-steps.js";
import { recordMessage } from "../../db/slack-messages.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "vm_offered" }>;

/**
 * A VM is held for the first waiter: a DM with Take it / Pass, recorded so the
 * end of the offer (lapsed, withdrawn) takes its buttons away; their Home shows it too.
 */
export function vmOfferedSteps(n: Notice, ctx: DeliveryContext): Step[] {
  const user = n.person.slackUserId;
  return [
    {
      name: "dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        if (user === null) return done();
        const posted = await post.toUser(user, offerDm(n, await readingOfPerson(ctx.core, n.person.id)));
        return done((tx) => recordMessage(tx, { vm: n.vm, user, ...posted, purpose: "offer_dm", checkoutId: null }));
      },
    },
    homeStep(ctx, [user]),
  ];
}
