import type { Notice as ParsedNotice } from "../../core/notices.js";
import { readingOfPerson } from "../time-zone.js";
import { reminderDm } from "../views/lease-dm.js";
import { recordMessage } from "../../db/slack-messages.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "lease_reminder" }>;

/**
 * The holder is told the lease ends soon, with Extend and Check in; the DM is
 * recorded so the check-in (or the expiry) takes its buttons away.
 */
export function leaseReminderSteps(n: Notice, ctx: DeliveryContext): Step[] {
  const user = n.holder.slackUserId;
  return [
    {
      name: "dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        if (user === null) return done(); // a service: nobody to remind in Slack
        const posted = await post.toUser(user, reminderDm(n, await readingOfPerson(ctx.core, n.holder.id), ctx.core.leases.graceMs));
        return done((tx) => recordMessage(tx, { vm: n.vm, user, ...posted, purpose: "lease_reminder", checkoutId: n.checkoutId }));
      },
    },
  ];
}
