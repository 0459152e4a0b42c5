import type { Notice } from "../../core/notices.js";
import type { Cancelled, Reservation } from "../../core/reservations.js";
import type { Reading } from "../time-zone.js";
import { ACTION } from "./actions.js";
import { actions, button, context, section, type Block, type SlackMessage } from "./blocks.js";
import { cleanupBlockedContext } from "./cleanup-blocked-words.js";
import { escape, listWords, localTime, personMention, relativeWords } from "./format.js";

/** `Mon 7 Dec, 09:00 (Europe/Berlin) to 17:00`: a booking's range in the reader's zone (the end's date said only when it differs). */
export function rangeWords(from: Date, to: Date, timeZone: string | null): string {
  const a = localTime(from, timeZone);
  const b = localTime(to, timeZone);
  const day = (s: string) => s.replace(/, \d\d:\d\d .*$/, "");
  return day(a) === day(b) ? `${a.replace(/ \([^)]*\)$/, "")} to ${b.replace(/^.*, /, "")}` : `${a.replace(/ \([^)]*\)$/, "")} to ${b}`;
}

const vmsWords = (r: { vms: string[] }) => (r.vms.length > 0 ? listWords(r.vms.map((v) => `*${escape(v)}*`)) : "none yet");

/** The answer to a booking: what is booked, for when, and how to cancel. */
export function bookedReply(r: Reservation, reading: Reading): SlackMessage {
  const text =
    `:calendar: Booked *${escape(r.label)}*: ${r.count} VM${r.count === 1 ? "" : "s"} of pool *${escape(r.pool)}*, ${rangeWords(r.from, r.to, reading.timeZone)} ` +
    `(starts ${relativeWords(r.from, reading.now)}). Held for you: ${vmsWords(r)}.`;
  return {
    text: `Booked ${r.label}: ${r.count} VMs of ${r.pool}`,
    blocks: [
      section(text),
      context(
        `At the start they become your checkouts until the end, with their IPs by DM; you get reminders before. ${r.note ? `Note: ${escape(r.note)}. ` : ""}` +
          `\`/vm cancel ${r.label}\` gives them back.`,
      ),
      ...(r.cleanupBlocked ? [cleanupBlockedContext(r.pool)] : []),
    ],
  };
}

/** One booking as a line of a listing. */
export function reservationLine(r: Reservation, reading: Reading): string {
  const who = r.person ? personMention(r.person) : "someone";
  const state = r.state === "started" ? " · *under way*" : r.state === "booked" ? "" : ` · ${r.state}`;
  return `*${escape(r.label)}* · ${r.count} × ${escape(r.pool)} · ${rangeWords(r.from, r.to, reading.timeZone)} · ${who}${state}\nVMs: ${vmsWords(r)}${r.note ? ` · _${escape(r.note)}_` : ""}`;
}

/** `/vm reservations [label]`. */
export function reservationsReply(list: Reservation[], reading: Reading, label?: string): SlackMessage {
  if (list.length === 0) {
    const none = label ? `No booking is labelled *${escape(label)}* (booked or under way).` : "No bookings. `/vm reserve` books VMs for later.";
    return { text: none, blocks: [section(`:calendar: ${none}`)] };
  }
  const blocks: Block[] = [section(`:calendar: *Bookings* (${list.length}), soonest first:`), ...list.slice(0, 40).map((r) => section(reservationLine(r, reading)))];
  if (list.length > 40) blocks.push(context(`…and ${list.length - 40} more.`));
  return { text: `${list.length} bookings`, blocks };
}

/** `/vm cancel LABEL`. */
export function cancelledReply(c: Cancelled): SlackMessage {
  const r = c.reservation;
  const whose = c.byAdmin && r.person ? ` (${personMention(r.person)}'s, who is told)` : "";
  const kept = c.kept.length > 0 ? ` ${listWords(c.kept.map((v) => `*${escape(v)}*`))} already given stay checked out to ${c.byAdmin ? "them" : "you"} until checked in or the lease ends.` : "";
  const text = `:wastebasket: Cancelled the booking *${escape(r.label)}*${whose}.${kept}`;
  return { text: `Cancelled ${r.label}`, blocks: [section(text)] };
}

/** Answered while the booking form opens (the answer to `/vm reserve` with nothing after it). */
export function reserveFormOpenedReply(): SlackMessage {
  const text = "Fill in the booking form, or type it in one line: `/vm reserve 3 gpu from \"mon 9:00\" to \"mon 17:00\" label release-4.2`.";
  return { text, blocks: [context(text)] };
}

export const reserveButton = () => button({ text: "Book VMs", actionId: ACTION.homeReserve, value: "reserve" });

type Reminder = Extract<Notice, { kind: "reservation_reminder" }>;
type Short = Extract<Notice, { kind: "reservation_short" }>;
type CancelledNotice = Extract<Notice, { kind: "reservation_cancelled" }>;

export function bookingReminderDm(n: Reminder, r: Reading): SlackMessage {
  const from = new Date(n.from);
  const text = `:alarm_clock: Your booking *${escape(n.label)}* starts ${relativeWords(from, r.now)}: ${n.count} VM${n.count === 1 ? "" : "s"} of pool *${escape(n.pool)}*, ${rangeWords(from, new Date(n.to), r.timeZone)}.`;
  return {
    text: `Your booking ${n.label} starts ${relativeWords(from, r.now)}`,
    blocks: [section(text), context(`Held for you: ${vmsWords(n)}. Their IPs come by DM at the start. Not needed any more? \`/vm cancel ${n.label}\`.`)],
  };
}

export function bookingShortDm(n: Short, r: Reading): SlackMessage {
  const range = rangeWords(new Date(n.from), new Date(n.to), r.timeZone);
  const text =
    n.reason === "missed"
      ? `:warning: Your booking *${escape(n.label)}* (${range}) was never started: vmres was not running during its whole range. Nothing is checked out for it.`
      : `:warning: Your booking *${escape(n.label)}* started, but ${n.missing} of its ${n.count} VMs could not be given: they are still held by someone else and no other VM of pool *${escape(n.pool)}* is free. ` +
        `${n.given.length > 0 ? `You have ${listWords(n.given.map((v) => `*${escape(v)}*`))}. ` : ""}vmres keeps trying until the booking ends, and the admins are told.`;
  return { text: `Booking ${n.label}: ${n.missing} VMs missing`, blocks: [section(text)] };
}

export function bookingShortAlert(n: Short, r: Reading): SlackMessage {
  const who = personMention(n.person);
  const range = rangeWords(new Date(n.from), new Date(n.to), r.timeZone);
  const text =
    n.reason === "missed"
      ? `:warning: Booking *${escape(n.label)}* of ${who} (${n.count} × ${escape(n.pool)}, ${range}) passed while vmres was down; nothing was given.`
      : `:warning: Booking *${escape(n.label)}* of ${who} started short: ${n.missing} of ${n.count} VMs of pool *${escape(n.pool)}* are held past its start (a pinned or admin-set lease?) and none other is free. Check one in for them, or talk to them.`;
  return { text: `Booking ${n.label} is short of ${n.missing} VMs`, blocks: [section(text), actions([button({ text: "Pool status", actionId: ACTION.poolHolders, value: n.pool })])] };
}

export const bookingShortStaleLine = (n: Short) => `Booking *${escape(n.label)}* (${escape(n.pool)}) was short of ${n.missing} VM${n.missing === 1 ? "" : "s"} at its start.`;

export function bookingCancelledDm(n: CancelledNotice, r: Reading): SlackMessage {
  const kept = n.kept.length > 0 ? ` ${listWords(n.kept.map((v) => `*${escape(v)}*`))} stay checked out to you until you check them in or the lease ends.` : "";
  const text = `:wastebasket: ${personMention(n.by)} cancelled your booking *${escape(n.label)}* (${escape(n.pool)}, ${rangeWords(new Date(n.from), new Date(n.to), r.timeZone)}).${kept}`;
  return { text: `Your booking ${n.label} was cancelled by an admin`, blocks: [section(text)] };
}
