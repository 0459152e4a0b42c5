import type { CheckedOutVm } from "../../core/types.js";
import { ACTION, checkinValue } from "./actions.js";
import { actions, button, context, fields, section, type Block, type SlackMessage } from "./blocks.js";
import type { NoticePerson } from "../../core/notices.js";
import { escape, personMention, sshLine, when } from "./format.js";


/** How a checkout ended, for the DM's final state. `forcedBy` is set when an admin did it. */
export interface CheckoutEnd {
  forcedBy: NoticePerson | null;
  nextState: "cleaning" | "retired";
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
      text: `vmres will wipe /tmp on *${vm}* and return it to the pool. Save anything you need from it first.`,
      confirm: "Check in",
    },
  });
}

function details(vm: CheckedOutVm): Block[] {
  return [
    fields([
      ["IP address", `\`${vm.ip}\``],
      ["Pool", escape(vm.pool)],
      ["SSH user / port", `${escape(vm.sshUser)} / ${vm.sshPort}`],
      ["Checked out", when(vm.checkedOutAt)],
      ...(vm.note ? ([["Note", escape(vm.note)]] as [string, string][]) : []),
    ]),
  ];
}

/** The DM a person gets on checkout: details, SSH line, Check in button. */
export function checkoutDm(vm: CheckedOutVm): SlackMessage {
  const ssh = sshLine(vm);
  return {
    text: `${vm.name} is yours: ${ssh}`,
    blocks: [
      section(`:computer: *${vm.name}* is yours.`),
      ...details(vm),
      section("```" + ssh + "```"),
      actions([checkinButton(vm.name, vm.checkoutId)], "checkout_dm"),
      context(`Done with it? Press *Check in* or type \`/vm checkin ${vm.name}\`. vmres then wipes /tmp and returns it to the pool.`),
    ],
  };
}

/**
 * The same DM once the checkout is over: no button left, so an old message can
 * never act again, and no SSH line, since nobody should log in to it now.
 */
export function endedCheckoutDm(vm: { name: string; checkedOutAt: Date }, end: CheckoutEnd, endedAt: Date): SlackMessage {
  const forced = end.forcedBy !== null;
  const headline = forced
    ? `:warning: *${vm.name}* was checked in by ${end.forcedBy ? personMention(end.forcedBy) : "an admin"} (forced).`
    : `:white_check_mark: *${vm.name}* is checked in.`;
  const next = end.nextState === "retired" ? "It has been retired from the pool." : "It is being cleaned and then goes back to the pool.";
  return {
    text: forced ? `${vm.name} was checked in by an admin (forced)` : `${vm.name} checked in — ${end.nextState === "retired" ? "retired" : "being cleaned"}`,
    blocks: [
      section(headline),
      context(`Checked out ${when(vm.checkedOutAt)} · checked in ${when(endedAt)}. ${next}`),
    ],
  };
}
