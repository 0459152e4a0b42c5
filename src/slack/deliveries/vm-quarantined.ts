import type { Notice as ParsedNotice } from "../../core/notices.js";
import { quarantineAlert, quarantineStaleLine } from "../views/admin-alerts.js";
import { homeStep, postToAdmins } from "./common-steps.js";
import { ADMINS_AUDIENCE, recordMessage } from "../../db/slack-messages.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "vm_quarantined" }>;

/** An alert with Retry cleanup / Repaired / Drain, recorded so it can show the outcome once an admin acts; then admins' Homes. */
export function vmQuarantinedSteps(n: Notice, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "admin_channel",
      once: true,
      audience: { kind: "admins", staleLine: quarantineStaleLine(n) },
      run: async (post) => {
        const posted = await postToAdmins(ctx, post, quarantineAlert(n));
        if (!posted) return done();
        return done((tx) => recordMessage(tx, { vm: n.vm, user: ADMINS_AUDIENCE, ...posted, purpose: "quarantine_alert", checkoutId: null }));
      },
    },
    homeStep(ctx, "admins", "admin_homes"),
  ];
}
