import type { Notice as ParsedNotice } from "../../core/notices.js";
import { endedCheckoutDm, leaseOverMessage } from "../views/checkout-dm.js";
import { homeStep, updateMessage } from "./common-steps.js";
import { checkoutStart, closeMessage, openMessages, pendingCheckoutNotice } from "../../db/slack-messages.js";
import { defer, done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "vm_checked_in" }>;

/**
 * The checkout DM loses its button and says how the checkout ended; then the
 * holder's Home. If that DM is not posted yet (Slack was down), this waits for
 * it rather than leave a live button on a VM that is gone.
 */
export function vmCheckedInSteps(n: Notice, ctx: DeliveryContext): Step[] {
  const user = n.holder.slackUserId;
  return [
    {
      name: "dm_update",
      once: false,
      run: async () => {
        if (user === null) return done();
        const open = await openMessages(ctx.core.db, { vm: n.vm, user, purpose: "checkout_dm", checkoutId: n.checkoutId });
        if (open.length === 0) {
          const waiting = await pendingCheckoutNotice(ctx.core.db, { before: ctx.noticeId, vm: n.vm, checkoutId: n.checkoutId });
          if (waiting) return defer(Math.max(ctx.settings.outbox.pollIntervalMs, waiting.dueInMs), `waiting for notice ${waiting.id} (the checkout DM) to go out first`);
        }
        for (const m of open) {
          const started = await checkoutStart(ctx.core.db, m.checkoutId);
          const ended = endedCheckoutDm({ name: n.vm, startedAt: started ?? new Date() }, n, new Date());
          await updateMessage(ctx, m, ended);
          await closeMessage(ctx.core.db, m.id);
        }
        // Reminders of this checkout lose their Extend and Check in buttons too.
        for (const m of await openMessages(ctx.core.db, { vm: n.vm, user, purpose: "lease_reminder", checkoutId: n.checkoutId })) {
          await updateMessage(ctx, m, leaseOverMessage(n.vm));
          await closeMessage(ctx.core.db, m.id);
        }
        return done();
      },
    },
    homeStep(ctx, [user]),
  ];
}
