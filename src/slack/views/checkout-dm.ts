import type { Reading } from "../time-zone.js";
import type { CheckedOutVm } from "../../core/types.js";
import { ACTION, checkinValue, extendValue } from "./actions.js";
import { actions, button, context, fields, section, type Block, type SlackMessage } from "./blocks.js";
import type { NoticePerson } from "../../core/notices.js";
import { endWords, escape, localTime, personMention, sshLine, when } from "./format.js";


/** How a checkout ended, for the DM's final state. `forcedBy` is set when an admin did it. */
export interface CheckoutEnd {
  forcedBy: NoticePerson | null;
  endReason: "checked_in" | "forced" | "expired";
  nextState: "cleaning" | "available" | "retired";
}

/** The Check in button of one checkout; its value lets a late click be recognised as stale. */
export function checkinButton(vm: string, checkoutId: number, text = "Check in"): ReturnType<typeof button> {
  return button({
    text,
    actionId: ACTION.checkin,
    value: checkinValue(vm, checkoutId),
    style: "primary",
    confirm: {
      title: `Check in ${vm}?`,
      text: `vmres will return *${vm}* to the pool, wiping /tmp first unless its pool has no cleanup. Save anything you need from it first.`,
      confirm: "Check in",
    },
  });
}

type EndReading = Reading;

function details(vm: CheckedOutVm, r: EndReading): Block[] {
  return [
    fields([
      ["IP address", `\`${vm.ip}\``],
      ["Pool", escape(vm.pool)],
      ["SSH user / port", `${escape(vm.sshUser)} / ${vm.sshPort}`],
      ["Checked out", when(vm.startedAt)],
      ["Lease ends", endWords(vm.endsAt, r.timeZone, r.now)],
      ...(vm.note ? ([["Note", escape(vm.note)]] as [string, string][]) : []),
    ]),
  ];
}

/** The DM a person gets on checkout: details, when the lease ends, SSH line, Extend and Check in buttons. */
export function checkoutDm(vm: CheckedOutVm, r: EndReading = { timeZone: null, now: new Date() }, reservation: string | null = null): SlackMessage {
  const ssh = sshLine(vm);
  const why: Block[] = [];
  if (reservation !== null) why.push(context(`:calendar: For your booking *${escape(reservation)}*: it is yours until the booking ends.`));
  if (vm.bookedFrom) {
    why.push(context(`:calendar: The lease is shorter than usual: it ends ${localTime(vm.bookedFrom, r.timeZone)}, when a booking of *${escape(vm.name)}* starts. It cannot be extended past that.`));
  }
  const ends = vm.endsAt === null ? "" : ` until ${localTime(vm.endsAt, r.timeZone)}`;
  const extend = vm.endsAt === null ? [] : [button({ text: "Extend", actionId: ACTION.extend, value: extendValue({ vm: vm.name, checkout: vm.checkoutId }) })];
  return {
    text: `${vm.name} is yours${ends}: ${ssh}`,
    blocks: [
      section(`:computer: *${vm.name}* is yours${ends}.`),
      ...why,
      ...details(vm, r),
      section("```" + ssh + "```"),
      actions([checkinButton(vm.name, vm.checkoutId), ...extend], "checkout_dm"),
      context(
        `Done with it? Press *Check in* or type \`/vm checkin ${vm.name}\`. vmres then returns it to the pool (wiping /tmp first, unless the pool has no cleanup).` +
          (vm.endsAt === null ? "" : ` You get a reminder before the end; *Extend* (or \`/vm extend ${vm.name} by 2h\`) keeps it longer.`),
      ),
    ],
  };
}

/**
 * The same DM once the checkout is over: no button left, so an old message can
 * never act again, and no SSH line, since nobody should log in to it now.
 */
export function endedCheckoutDm(vm: { name: string; startedAt: Date }, end: CheckoutEnd, endedAt: Date): SlackMessage {
  const forced = end.forcedBy !== null;
  const expired = end.endReason === "expired";
  const headline = expired
    ? `:hourglass_flowing_sand: *${vm.name}*'s lease ended, so vmres checked it in.`
    : forced
    ? `:warning: *${vm.name}* was checked in by ${end.forcedBy ? personMention(end.forcedBy) : "an admin"} (forced).`
    : `:white_check_mark: *${vm.name}* is checked in.`;
  const next =
    end.nextState === "retired"
      ? "It has been retired from the pool."
      : end.nextState === "available"
        ? "It is back in the pool (its pool has no cleanup, so nothing was wiped)."
        : "It is being cleaned and then goes back to the pool.";
  return {
    text: expired ? `${vm.name}'s lease ended; vmres checked it in` : forced ? `${vm.name} was checked in by an admin (forced)` : `${vm.name} checked in — ${end.nextState === "retired" ? "retired" : end.nextState === "available" ? "back in the pool" : "being cleaned"}`,
    blocks: [
      section(headline),
      context(`Checked out ${when(vm.startedAt)} · checked in ${when(endedAt)}. ${next}`),
    ],
  };
}

/** A lease reminder once its checkout is over: nothing left to extend or check in. */
export function leaseOverMessage(vm: string): SlackMessage {
  return { text: `Your checkout of ${vm} is over`, blocks: [context(`:white_check_mark: Your checkout of *${escape(vm)}* is over; this reminder no longer applies.`)] };
}
