import type { Notice as ParsedNotice } from "../../core/notices.js";
import { poolExhaustedAlert, poolExhaustedStaleLine } from "../views/admin-alerts.js";
import { postToAdmins } from "./common-steps.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "pool_exhausted" }>;

/** The admin channel hears a pool ran dry (the core already limits this to one per pool per interval). */
export function poolExhaustedSteps(n: Notice, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "admin_channel",
      once: true,
      audience: { kind: "admins", staleLine: poolExhaustedStaleLine(n.pool) },
      run: async (post) => {
        await postToAdmins(ctx, post, poolExhaustedAlert(n.pool, n.counts, ctx.core.exhaustedAlertIntervalMinutes));
        return done();
      },
    },
  ];
}
