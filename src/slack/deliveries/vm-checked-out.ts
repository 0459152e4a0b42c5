import type { Notice as ParsedNotice } from "../../core/notices.js";
import { readingOfPerson, type Reading } from "../time-zone.js";
import type { SlackMessage } from "../views/blocks.js";
import { checkoutDm } from "../views/checkout-dm.js";
import { homeStep } from "./common-steps.js";
import { hasCheckoutDm, recordMessage } from "../../db/slack-messages.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "vm_checked_out" }>;

/** The DM a `vm_checked_out` notice becomes: the VM's details, its lease (and why it is short), the buttons. */
export function checkoutDmOf(n: Notice, reading: Reading): SlackMessage {
  const vm = { name: n.vm, ip: n.ip, sshUser: n.sshUser, sshPort: n.sshPort, pool: n.pool, checkoutId: n.checkoutId, startedAt: new Date(n.startedAt), endsAt: n.endsAt === null ? null : new Date(n.endsAt), note: n.note,
    bookedFrom: n.bookedFrom ? new Date(n.bookedFrom) : null };
  return checkoutDm(vm, reading, n.reservation ?? null);
}

/** The holder's DM with the VM's details and a Check in button, recorded so check-in can update it; then their Home. */
export function vmCheckedOutSteps(n: Notice, ctx: DeliveryContext): Step[] {
  const user = n.holder.slackUserId;
  return [
    {
      name: "dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        // Someone Slack cannot reach (a service using the CLI or the API) got the details where they asked.
        if (user === null) return done();
        // All that stands between the claim and the post: one read on a first attempt, two at once on a retry.
        const [recorded, reading] = await Promise.all([!ctx.firstAttempt && hasCheckoutDm(ctx.core.db, n.checkoutId), readingOfPerson(ctx.core, n.holder.id)]);
        // Posted and recorded by an owner whose claim was taken over meanwhile: do not post twice.
        if (recorded) return done();
        const posted = await post.toUser(user, checkoutDmOf(n, reading));
        return done((tx) => recordMessage(tx, { vm: n.vm, user, ...posted, purpose: "checkout_dm", checkoutId: n.checkoutId }));
      },
    },
    homeStep(ctx, [user]),
  ];
}
