import type { Notice as ParsedNotice } from "../../core/notices.js";
import { cleanupBlockedAlert, cleanupBlockedStaleLine } from "../views/admin-alerts.js";
import { homeStep, postToAdmins } from "./common-steps.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "cleanup_blocked" }>;

/**
 * The admin channel hears that vmres cannot use its private key (the cleanup
 * queues this once per outage of the file); then admins' Homes, which show the
 * waiting VMs for as long as it lasts.
 */
export function cleanupBlockedSteps(n: Notice, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "admin_channel",
      once: true,
      audience: { kind: "admins", staleLine: cleanupBlockedStaleLine(n) },
      run: async (post) => {
        await postToAdmins(ctx, post, cleanupBlockedAlert(n));
        return done();
      },
    },
    homeStep(ctx, "admins", "admin_homes"),
  ];
}
