import { adminSlackIds, vmsOfPerson } from "../../core/queries.js";
import type { Refusal } from "../../core/types.js";
import type { SlackDeps } from "../deps.js";
import { readingOfSlackUser } from "../time-zone.js";
import type { SlackMessage } from "../views/blocks.js";
import { refusalMessage } from "../views/refusals.js";

/** A refusal in words; a quota refusal also gets a Check in button for each VM the person holds. */
export async function refusalReply(deps: SlackDeps, userId: string, refusal: Refusal): Promise<SlackMessage> {
  let held: { name: string; checkoutId: number }[] = [];
  if (refusal.code === "quota_reached") {
    const mine = await vmsOfPerson(deps.core, { slackUserId: userId });
    held = mine.ok ? mine.value.flatMap((v) => (v.checkoutId !== null && refusal.held.includes(v.name) ? [{ name: v.name, checkoutId: v.checkoutId }] : [])) : [];
  }
  // Times in the answer (the latest end of a lease) read in the person's own zone.
  const reading = ["lease_too_long", "lease_not_extended", "vm_booked", "not_enough_free", "checkout_ended", "booking_too_far", "booking_too_long"].includes(refusal.code) ? await readingOfSlackUser(deps.core, userId) : null;
  return refusalMessage(refusal, { admins: await adminSlackIds(deps.core), held, ...(reading ? { timeZone: reading.timeZone, now: reading.now } : {}) });
}
