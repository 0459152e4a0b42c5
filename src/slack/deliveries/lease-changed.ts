import type { Notice as ParsedNotice } from "../../core/notices.js";
import { readingOfPerson } from "../time-zone.js";
import { leaseChangedDm } from "../views/lease-dm.js";
import { homeStep } from "./common-steps.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "lease_changed" }>;

/** An admin changed someone's lease: the holder hears who and the new end; then their Home shows it. */
export function leaseChangedSteps(n: Notice, ctx: DeliveryContext): Step[] {
  const user = n.holder.slackUserId;
  return [
    {
      name: "dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        if (user === null) return done();
        await post.toUser(user, leaseChangedDm(n, await readingOfPerson(ctx.core, n.holder.id)));
        return done();
      },
    },
    homeStep(ctx, [user]),
  ];
}
