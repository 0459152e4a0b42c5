import type { Notice as ParsedNotice } from "../../core/notices.js";
import { checkoutDm } from "../views/checkout-dm.js";
import { homeStep } from "./common-steps.js";
import { hasCheckoutDm, recordMessage } from "./slack-messages.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "vm_checked_out" }>;

/** The holder's DM with the VM's details and a Check in button, recorded so check-in can update it; then their Home. */
export function vmCheckedOutSteps(n: Notice, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        // Posted and recorded by an owner whose claim was taken over meanwhile: do not post twice.
        if (await hasCheckoutDm(ctx.core.db, n.vm.name, n.user, n.vm.checkedOutAt)) return done();
        const posted = await post.toUser(n.user, checkoutDm({ ...n.vm, checkedOutAt: new Date(n.vm.checkedOutAt) }));
        return done((tx) => recordMessage(tx, { vm: n.vm.name, user: n.user, ...posted, purpose: "checkout_dm", checkedOutAt: n.vm.checkedOutAt }));
      },
    },
    homeStep(ctx, [n.user]),
  ];
}
