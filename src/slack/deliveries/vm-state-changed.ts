import type { Notice as ParsedNotice } from "../../core/notices.js";
import { resolvedQuarantineAlert } from "../views/admin-alerts.js";
import { homeStep, updateMessage } from "./common-steps.js";
import { ADMINS_AUDIENCE, closeMessage, openMessages } from "../../db/slack-messages.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "vm_state_changed" }>;

/**
 * An admin moved a VM (repair, drain, retry cleanup), from Slack or the CLI:
 * its open quarantine alerts lose their buttons and say who did what, and the
 * admins' Homes, which list VMs needing attention, are republished.
 */
export function vmStateChangedSteps(n: Notice, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "resolve_alerts",
      once: false,
      run: async () => {
        if (n.state === "quarantined") return done();
        for (const m of await openMessages(ctx.core.db, { vm: n.vm, user: ADMINS_AUDIENCE, purpose: "quarantine_alert" })) {
          await updateMessage(ctx, m, resolvedQuarantineAlert(n.vm, n.state, n.by, new Date()));
          await closeMessage(ctx.core.db, m.id);
        }
        return done();
      },
    },
    homeStep(ctx, "admins", "admin_homes"),
  ];
}
