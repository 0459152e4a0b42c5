import { personText } from "../core/people.js";
import type { Refusal, StateCounts } from "../core/types.js";
import { lengthText, localTime, timeText } from "./times.js";
import { vmresCommand } from "./invocation.js";

/**
 * The CLI's words for each refusal: what happened and what the person can do
 * next. The core's refusal carries the facts; only the wording is decided here.
 */
export function describeRefusal(refusal: Refusal, userId: string | null): string {
  switch (refusal.code) {
    case "invalid_input":
      return `${refusal.field}: ${refusal.message}`;
    case "unknown_pool":
      return `There is no pool "${refusal.pool}". ${refusal.known.length > 0 ? `Known pools: ${refusal.known.join(", ")}.` : `No pool exists yet: add VMs with ${vmresCommand()} pool add or ${vmresCommand()} pool sync.`}`;
    case "no_vm_free":
      return (
        `No VM is free in pool "${refusal.pool}" (${describeCounts(refusal.counts)}` +
        `${refusal.waiting > 0 ? `; ${refusal.waiting} ${refusal.waiting === 1 ? "person waits" : "people wait"} in its queue and get free VMs first` : ""}). ` +
        `Try again later, or wait for one: ${vmresCommand()} checkout --user ${userId ?? "ID"} --pool ${refusal.pool} --wait`
      );
    case "quota_reached":
      return quotaReached(refusal, userId);
    case "unknown_vm":
      return `There is no VM "${refusal.vm}". ${vmresCommand()} list shows every VM.`;
    case "not_checked_out":
      return `${refusal.vm} is not checked out (it is ${words(refusal.state)}).`;
    case "checkout_ended":
      return checkoutEndedText(refusal);
    case "not_holder":
      // The core names the holder unless HIDE_HOLDERS hides it from this person.
      return refusal.holder
        ? `${refusal.vm} is held by ${personText(refusal.holder)}, not by you. An admin can take it back with --force.`
        : `${refusal.vm} is checked out by someone else; only its holder (or an admin, with --force) can check it in.`;
    case "not_admin":
      return `${userId ?? "You"} ${userId ? "is" : "are"} not an admin: only admins (${vmresCommand()} people list; SLACK_ADMINS at start) may ${refusal.operation}.`;
    case "wrong_state":
      return `${refusal.vm} is ${words(refusal.state)}; this needs a VM that is ${refusal.allowed.map(words).join(" or ")}.`;
    case "name_taken":
      return `A VM named "${refusal.vm}" already exists.`;
    case "unknown_person":
      return `Nobody called "${refusal.who}" is known. ${vmresCommand()} people list shows everyone; ${vmresCommand()} people add NAME adds a person or a service.`;
    case "ambiguous_person":
      return `"${refusal.who}" could be any of ${refusal.matches.join(", ")}: name one of them exactly.`;
    case "person_exists":
      return `"${refusal.who}" is already known (${vmresCommand()} people list).`;
    case "not_your_offer":
      return `There is no offer ${refusal.id} for you: an offer is for the person it was made to. ${vmresCommand()} wait joins a pool's queue.`;
    case "unknown_checkout":
      return `There is no checkout ${refusal.id}. ${vmresCommand()} checkouts lists them.`;
    case "lease_too_long":
      return (
        `That is longer than pool "${refusal.pool}" allows: at most ${lengthText(refusal.maxMs)} from the checkout's start` +
        // No latest end: a checkout asking for too much (use --for with at most the maximum), or a checkout already at its latest end.
        (refusal.latestEnd ? `, so it can run until ${timeText(refusal.latestEnd)} at the latest.` : ".") +
        ` An admin can set a later end (${vmresCommand()} extend VM --until TIME) or pin it (--pin).`
      );
    case "lease_not_extended":
      return refusal.endsAt === null
        ? `${refusal.vm} is pinned: it has no end to extend.`
        : `That would not move the end of ${refusal.vm} later than it is (${timeText(refusal.endsAt)}).`;
    case "not_waiting":
      return refusal.pool === null ? `${userId ?? "You"} ${userId ? "is" : "are"} in no queue.` : `${userId ?? "You"} ${userId ? "is" : "are"} not in the queue of pool "${refusal.pool}".`;
    case "offer_over":
      return `That offer in pool "${refusal.pool}" is over (${words(refusal.state)}).`;
    case "unknown_token":
      return `There is no token ${refusal.id}. ${vmresCommand()} token list shows them.`;
    case "too_many_tokens":
      return `${refusal.person} holds ${refusal.limit} live tokens, the most one person may (MAX_TOKENS_PER_PERSON). Revoke one first: ${vmresCommand()} token list --user ${refusal.person}, then ${vmresCommand()} token revoke ID.`;
    case "too_many_waits":
      return `${refusal.person} has ${refusal.limit} requests waiting for a VM already, the most one person may (API_WAITS_PER_PERSON). Nothing was done: try again once one of them has ended (Ctrl-C stops a waiting ${vmresCommand()} checkout --wait).`;
    case "pool_full":
      return `Pool "${refusal.pool}" is at its size limit: ${refusal.live} of at most ${refusal.maxSize} instances exist or are being created, so no new VM can be created now. Try again once one is checked in, or wait: ${vmresCommand()} checkout --user ${userId ?? "ID"} --pool ${refusal.pool} --wait`;
    case "no_image":
      return refusal.image === null
        ? `${userId ?? "You"} has no saved image in pool "${refusal.pool}". Save one with ${vmresCommand()} checkin VM --user ${userId ?? "ID"} --keep; ${vmresCommand()} images --user ${userId ?? "ID"} lists them.`
        : `There is no image "${refusal.image}" of ${userId ?? "yours"} in pool "${refusal.pool}". ${vmresCommand()} images --user ${userId ?? "ID"} lists them.`;
    case "not_provisioned":
      return `Pool "${refusal.pool}" is not provisioned (its VMs are fixed machines), so ${refusal.operation === "keep" ? "--keep (save an image)" : "--restore"} does not apply there.`;
    case "unknown_job":
      return `There is no provider job ${refusal.id}. ${vmresCommand()} jobs lists them.`;
    case "job_not_failed":
      return `Job ${refusal.id} is ${words(refusal.state)}: only a failed job can be retried or abandoned (${vmresCommand()} jobs --failed).`;
    case "unknown_image":
      return `There is no image "${refusal.image}" of yours. ${vmresCommand()} images --user ID lists them.`;
    case "image_busy":
      return `Image "${refusal.image}" is ${words(refusal.state)}; only a ready or dirty image can be deleted.`;
    case "not_enough_free":
      return (
        `Cannot book ${refusal.count} VM${refusal.count === 1 ? "" : "s"} of pool "${refusal.pool}" from ${localTime(refusal.from)} to ${localTime(refusal.to)}: ` +
        `${refusal.free === 0 ? "none is" : `only ${refusal.free} ${refusal.free === 1 ? "is" : "are"}`} free for that whole range. ` +
        (refusal.nearest
          ? `The nearest range that fits: --from ${localTime(refusal.nearest.from).replace(" ", "T")} --to ${localTime(refusal.nearest.to).replace(" ", "T")}.`
          : "No range of that length fits in sight (VMs pinned or out of service, or the pool is smaller): book fewer, or ask an admin.") +
        ` ${vmresCommand()} reservations --pool ` + refusal.pool + " shows its bookings."
      );
    case "label_taken":
      return `The label "${refusal.label}" is taken by another booking: choose another (${vmresCommand()} reservations --label ${refusal.label} shows it).`;
    case "unknown_reservation":
      return `No booking is labelled "${refusal.label}" (booked or under way). ${vmresCommand()} reservations lists them.`;
    case "not_your_reservation":
      return `The booking "${refusal.label}" is ${refusal.person ? `${personText(refusal.person)}'s` : "someone else's"}: only they (or an admin) may cancel it.`;
    case "vm_booked":
      return `${refusal.vm} is booked from ${timeText(refusal.from)}${refusal.label ? ` ("${refusal.label}")` : ""}: its lease cannot run into the booking. Check it in before then, or take another VM.`;
    case "booking_too_far":
      return `Pool "${refusal.pool}" takes bookings at most ${lengthText(refusal.maxAheadMs)} ahead: start by ${timeText(refusal.latestStart)}. An admin sets the limit (${vmresCommand()} pool set ${refusal.pool} --max-booking-ahead D, or MAX_BOOKING_AHEAD). Nothing was booked.`;
    case "booking_too_long":
      return `Pool "${refusal.pool}" takes bookings of at most ${lengthText(refusal.maxMs)}: from that start, end by ${timeText(refusal.latestEnd)}. An admin sets the limit (${vmresCommand()} pool set ${refusal.pool} --max-booking-length D, or MAX_BOOKING_LENGTH). Nothing was booked.`;
  }
}

function quotaReached(refusal: Extract<Refusal, { code: "quota_reached" }>, userId: string | null): string {
  const vms = refusal.held.length === 1 ? "VM" : "VMs";
  const first = refusal.held[0] ?? "VM";
  return (
    `You already hold ${refusal.held.length} ${vms} in pool "${refusal.pool}" (quota ${refusal.quota}): ${refusal.held.join(", ")}.\n` +
    `Check one in first: ${vmresCommand()} checkin ${first} --user ${userId ?? "ID"}`
  );
}

/** "2 checked out, 1 cleaning": the states that have VMs, retired ones left out as they never come back by themselves. */
export function describeCounts(counts: StateCounts): string {
  const parts = Object.entries(counts)
    .filter(([state, n]) => n > 0 && state !== "retired")
    .map(([state, n]) => `${n} ${words(state)}`);
  return parts.length > 0 ? parts.join(", ") : "the pool has no VMs";
}

/** `checked_out` → `checked out`. */
export const words = (state: string) => state.replace(/_/g, " ");

const END_WORDS = { checked_in: "checked in", forced: "taken back (forced check-in)", expired: "its lease ran out", retired: "the VM was retired" } as const;

/** What became of the checkout named: when it ended, by whom and how, and what its VM is now. */
function checkoutEndedText(refusal: Extract<Refusal, { code: "checkout_ended" }>): string {
  const named = refusal.checkoutId === null ? `The checkout of ${refusal.vm} you named` : `Checkout ${refusal.checkoutId} (${refusal.vm})`;
  const when = refusal.endedAt ? ` at ${timeText(refusal.endedAt)}` : "";
  const by = refusal.endedBy ? ` by ${personText(refusal.endedBy)}` : "";
  const how = refusal.endReason ? `: ${END_WORDS[refusal.endReason]}` : "";
  const ended = `${named} has ended${when}${by}${how}.`;
  if (refusal.yoursAgain) return `${ended} You hold ${refusal.vm} again under a newer checkout (${vmresCommand()} list).`;
  if (refusal.state === "checked_out") return `${ended} ${refusal.vm} has been checked out again since.`;
  if (refusal.state !== null) return `${ended} ${refusal.vm} is ${words(refusal.state)} now. Nothing changed.`;
  return ended;
}
