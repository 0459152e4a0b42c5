import type { Notice as ParsedNotice } from "../../core/notices.js";
import { endedCheckoutDm } from "../views/checkout-dm.js";
import { homeStep, updateMessage } from "./common-steps.js";
import { closeMessage, openMessages, pendingCheckoutNotice } from "./slack-messages.js";
import { defer, done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "vm_checked_in" }>;

/**
 * The checkout DM loses its button and says how the checkout ended; then the
 * holder's Home. If that DM is not posted yet (Slack was down), this waits for
 * it rather than leave a live button on a VM that is gone.
 */
export function vmCheckedInSteps(n: Notice, ctx: DeliveryContext): Step[] {
  const checkedOutAt = n.checkedOutAt || undefined;
  return [
    {
      name: "dm_update",
      once: false,
      run: async () => {
        const open = await openMessages(ctx.core.db, { vm: n.vm, user: n.user, purpose: "checkout_dm", checkedOutAt });
        if (open.length === 0) {
          const waiting = await pendingCheckoutNotice(ctx.core.db, { before: ctx.noticeId, vm: n.vm, user: n.user, checkedOutAt });
          if (waiting) return defer(Math.max(ctx.settings.outbox.pollIntervalMs, waiting.dueInMs), `waiting for notice ${waiting.id} (the checkout DM) to go out first`);
        }
        for (const m of open) {
          const ended = endedCheckoutDm({ name: n.vm, checkedOutAt: new Date(m.checkedOutAt ?? Date.now()) }, n, new Date());
          await updateMessage(ctx, m, ended);
          await closeMessage(ctx.core.db, m.id);
        }
        return done();
      },
    },
    homeStep(ctx, [n.user]),
  ];
}
