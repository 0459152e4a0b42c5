import type { Notice as ParsedNotice } from "../../core/notices.js";
import { readingOfPerson } from "../time-zone.js";
import { bookingCancelledDm, bookingReminderDm, bookingShortAlert, bookingShortDm, bookingShortStaleLine } from "../views/reservation-messages.js";
import { homeStep, postToAdmins } from "./common-steps.js";
import { done, type DeliveryContext, type Step } from "./step.js";

type Reminder = Extract<ParsedNotice, { kind: "reservation_reminder" }>;
type Short = Extract<ParsedNotice, { kind: "reservation_short" }>;
type Cancelled = Extract<ParsedNotice, { kind: "reservation_cancelled" }>;

/** A DM to the notice's person (nobody for a service, which Slack cannot reach). */
function dmStep(ctx: DeliveryContext, person: { id: number; slackUserId: string | null }, message: (reading: Awaited<ReturnType<typeof readingOfPerson>>) => ReturnType<typeof bookingReminderDm>): Step {
  return {
    name: "dm",
    once: true,
    audience: { kind: "person" },
    run: async (post) => {
      if (person.slackUserId === null) return done();
      await post.toUser(person.slackUserId, message(await readingOfPerson(ctx.core, person.id)));
      return done();
    },
  };
}

/** Before a booking's start: the person is reminded (RESERVATION_REMINDER). */
export function reservationReminderSteps(n: Reminder, ctx: DeliveryContext): Step[] {
  return [dmStep(ctx, n.person, (r) => bookingReminderDm(n, r))];
}

/** A booking started without all its VMs (or never started): the person and the admins are told at once. */
export function reservationShortSteps(n: Short, ctx: DeliveryContext): Step[] {
  return [
    dmStep(ctx, n.person, (r) => bookingShortDm(n, r)),
    {
      name: "admin_channel",
      once: true,
      audience: { kind: "admins", staleLine: bookingShortStaleLine(n) },
      run: async (post) => {
        await postToAdmins(ctx, post, bookingShortAlert(n, { timeZone: null, now: new Date() }));
        return done();
      },
    },
    homeStep(ctx, [n.person.slackUserId]),
  ];
}

/** An admin cancelled someone's booking: they hear who, and what they keep. */
export function reservationCancelledSteps(n: Cancelled, ctx: DeliveryContext): Step[] {
  return [dmStep(ctx, n.person, (r) => bookingCancelledDm(n, r)), homeStep(ctx, [n.person.slackUserId])];
}
