import type { Notice as ParsedNotice } from "../../core/notices.js";
import { adminDigestMessage } from "../views/admin-digest.js";
import { postToAdmins } from "./common-steps.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "admin_digest" }>;

/** The admin channel gets the digest of one scheduled time (queued once for it by src/core/digest.ts). */
export function adminDigestSteps(n: Notice, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "admin_channel",
      once: true,
      // A digest delivered late (Slack was down) still says what it said, with its time.
      audience: { kind: "admins", staleLine: `The digest of ${n.period} (run \`vmres report\` for today's)` },
      run: async (post) => {
        await postToAdmins(ctx, post, adminDigestMessage(n.report));
        return done();
      },
    },
  ];
}
