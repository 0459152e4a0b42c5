import type { Refusal } from "../../core/types.js";
import { section, context, stripMrkdwn, type Block, type SlackMessage } from "./blocks.js";
import { checkinButton } from "./checkout-dm.js";
import { countsLine, escape, listWords, mention, personMention, stateWords } from "./format.js";

/** What a refusal message may need beyond the refusal itself. */
export interface RefusalContext {
  /** Slack IDs of the admins, to say whom to ask. */
  admins: readonly string[];
  /** For quota_reached: the VMs the person holds, each with its own Check in button. */
  held?: { name: string; checkoutId: number }[];
}

/**
 * A refusal from the core in plain words, always with what to do next. The
 * core says what is wrong; this decides how Slack says it.
 */
export function refusalMessage(refusal: Refusal, ctx: RefusalContext): SlackMessage {
  const text = refusalText(refusal, ctx);
  const blocks: Block[] = [section(text)];
  if (refusal.code === "quota_reached") {
    for (const vm of ctx.held ?? []) blocks.push(section(`*${vm.name}*`, checkinButton(vm.name, vm.checkoutId)));
  }
  if (refusal.code === "no_vm_free") blocks.push(context("VMs come back to the pool as soon as they are checked in and cleaned."));
  return { text: stripMrkdwn(text), blocks };
}

function adminsWords(admins: readonly string[]): string {
  const list = [...admins].slice(0, 5).map(mention);
  return list.length > 0 ? `ask ${listWords(list)}` : "ask whoever runs vmres (admins are listed in SLACK_ADMINS)";
}

export function refusalText(refusal: Refusal, ctx: RefusalContext): string {
  switch (refusal.code) {
    case "invalid_input":
      return `:warning: ${escape(refusal.message)}. Type \`/vm help\` for examples.`;
    case "unknown_pool":
      return refusal.known.length > 0
        ? `:warning: There is no pool *${escape(refusal.pool)}*. Pools: ${refusal.known.map((p) => `\`${p}\``).join(", ")}. For example: \`/vm checkout ${refusal.known[0]}\`.`
        : `:warning: There is no pool *${escape(refusal.pool)}*, and no pool exists yet; an admin adds VMs with \`/vm admin add\`.`;
    case "no_vm_free": {
      const cleaning = refusal.counts.cleaning > 0 ? ` ${refusal.counts.cleaning} being cleaned will be free soon.` : "";
      return `:hourglass: No VM is free in pool *${escape(refusal.pool)}* right now (${countsLine(refusal.counts)}).${cleaning} Try again later.`;
    }
    case "quota_reached": {
      const held = listWords(refusal.held.map((v) => `*${v}*`));
      const limit = refusal.quota === 1 ? "one VM per person" : `${refusal.quota} VMs per person`;
      return `:raised_hand: You already hold ${held} in pool *${escape(refusal.pool)}* (the limit is ${limit}). Check one in first, or ${adminsWords(ctx.admins)} for a higher quota.`;
    }
    case "unknown_vm":
      return `:warning: There is no VM *${escape(refusal.vm)}*. \`/vm list\` shows yours; \`/vm status\` shows the pools.`;
    case "not_checked_out":
      return `:information_source: *${escape(refusal.vm)}* is not checked out (it is ${stateWords(refusal.state)}), so there is nothing to check in.`;
    case "checkout_ended":
      return `:information_source: That button belongs to an earlier checkout of *${escape(refusal.vm)}*, which has ended. Nothing changed.`;
    case "not_holder":
      return refusal.holder !== null
        ? `:no_entry: *${escape(refusal.vm)}* is held by ${personMention(refusal.holder)}, not you. Ask them to check it in; an admin can take it back with \`/vm checkin ${refusal.vm} --force\`.`
        : `:no_entry: *${escape(refusal.vm)}* is checked out by someone else; only its holder can check it in. If it is abandoned, ${adminsWords(ctx.admins)}.`;
    case "not_admin":
      return `:no_entry: Only vmres admins can ${refusal.operation}; ${adminsWords(ctx.admins)}.`;
    case "wrong_state":
      return `:information_source: *${escape(refusal.vm)}* is ${stateWords(refusal.state)}; that works only for a VM that is ${listWords(refusal.allowed.map(stateWords), "or")}. Nothing changed.`;
    case "name_taken":
      return `:warning: A VM named *${escape(refusal.vm)}* already exists. Pick another name, or remove it first with \`/vm admin remove ${refusal.vm}\`.`;
    case "unknown_person":
      return `:warning: Nobody called *${escape(refusal.who)}* is known to vmres. An admin adds people with \`vmres people add\`.`;
    case "ambiguous_person":
      return `:warning: *${escape(refusal.who)}* could be any of ${listWords(refusal.matches.map((m) => `*${escape(m)}*`), "or")}: name one exactly.`;
    case "person_exists":
      return `:information_source: *${escape(refusal.who)}* is already known to vmres. Nothing changed.`;
    case "unknown_checkout":
      return `:warning: There is no checkout ${refusal.id}.`;
  }
}
