import type { Notice as ParsedNotice } from "../../core/notices.js";
import { forcedCheckinAlert, forcedCheckinDm, forcedCheckinStaleLine } from "../views/admin-alerts.js";
import { postToAdmins } from "./common-steps.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Notice = Extract<ParsedNotice, { kind: "checkin_forced" }>;

/** The previous holder learns who took their VM back; the admin channel gets it on record. Two messages, each sent once. */
export function checkinForcedSteps(n: Notice, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "holder_dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        if (n.previousHolder.slackUserId === null) return done(); // a service: nobody to tell in Slack
        await post.toUser(n.previousHolder.slackUserId, forcedCheckinDm(n.vm, n.by));
        return done();
      },
    },
    {
      name: "admin_channel",
      once: true,
      audience: { kind: "admins", staleLine: forcedCheckinStaleLine(n.vm, n.previousHolder, n.by) },
      run: async (post) => {
        await postToAdmins(ctx, post, forcedCheckinAlert(n.vm, n.previousHolder, n.by));
        return done();
      },
    },
  ];
}
