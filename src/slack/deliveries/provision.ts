import type { Notice as ParsedNotice } from "../../core/notices.js";
import { provisionFailedAlert, provisionFailedDm, provisionFailedStaleLine, unknownInstancesAlert, unknownInstancesStaleLine } from "../views/provision-messages.js";
import { homeStep, postToAdmins } from "./common-steps.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Failed = Extract<ParsedNotice, { kind: "provision_failed" }>;
type Unknown = Extract<ParsedNotice, { kind: "unknown_instances" }>;

/** A provider job out of attempts: the person it was for hears it, the admin channel gets it with the way to retry or abandon. */
export function provisionFailedSteps(n: Failed, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "person_dm",
      once: true,
      audience: { kind: "person" },
      run: async (post) => {
        if (n.person?.slackUserId == null) return done();
        await post.toUser(n.person.slackUserId, provisionFailedDm(n));
        return done();
      },
    },
    {
      name: "admin_channel",
      once: true,
      audience: { kind: "admins", staleLine: provisionFailedStaleLine(n) },
      run: async (post) => {
        await postToAdmins(ctx, post, provisionFailedAlert(n));
        return done();
      },
    },
    homeStep(ctx, "admins", "admin_homes"),
  ];
}

export function unknownInstancesSteps(n: Unknown, ctx: DeliveryContext): Step[] {
  return [
    {
      name: "admin_channel",
      once: true,
      audience: { kind: "admins", staleLine: unknownInstancesStaleLine(n) },
      run: async (post) => {
        await postToAdmins(ctx, post, unknownInstancesAlert(n));
        return done();
      },
    },
  ];
}
