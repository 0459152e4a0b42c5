import type { Notice as ParsedNotice } from "../../core/notices.js";
import { readingOfPerson } from "../time-zone.js";
import { expiredDm } from "../views/lease-dm.js";
import { checkoutPool } from "../../db/slack-messages.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "lease_expired" }>;

/**
 * vmres checked the VM in at the end of its lease: the holder is told what
 * happened and how to get a VM again. The checkout DM and the reminders lose
 * their buttons through the vm_checked_in notice queued with this one, and
 * that notice republishes the Home tab.
 */
export function leaseExpiredSteps(n: Notice, ctx: DeliveryContext): Step[] {
  const user = n.holder.slackUserId;
  return [
    {
      name: "dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        if (user === null) return done();
        const pool = await checkoutPool(ctx.core.db, n.checkoutId);
        await post.toUser(user, expiredDm(n, pool, await readingOfPerson(ctx.core, n.holder.id)));
        return done();
      },
    },
  ];
}
