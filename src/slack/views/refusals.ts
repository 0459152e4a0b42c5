import type { Refusal } from "../../core/types.js";
import { formatDuration } from "../../duration.js";
import { ACTION } from "./actions.js";
import { actions, button, section, context, stripMrkdwn, type Block, type SlackMessage } from "./blocks.js";
import { checkinButton } from "./checkout-dm.js";
import { countsLine, endWords, escape, listWords, localTime, mention, personMention, stateWords } from "./format.js";

/** What a refusal message may need beyond the refusal itself. */
export interface RefusalContext {
  /** Slack IDs of the admins, to say whom to ask. */
  admins: readonly string[];
  /** The reader's time zone (Slack's user.tz), for times in the answer; null: UTC. */
  timeZone?: string | null;
  /** The time "in 3 h" is counted from. */
  now?: Date;
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
  if (refusal.code === "no_vm_free") {
    blocks.push(actions([button({ text: "Notify me", actionId: ACTION.notifyMe, value: refusal.pool, style: "primary" })], "no_vm_free"));
    blocks.push(context(`*Notify me* puts you in the pool's queue (\`/vm wait ${escape(refusal.pool)}\`): when a VM is free it is held for you for a few minutes and you get a DM to take it.`));
  }
  return { text: stripMrkdwn(text), blocks };
}

const END_WORDS = { checked_in: "checked in", forced: "taken back", expired: "its lease ran out", retired: "the VM was retired" } as const;

/** What became of a checkout a button or an id named: when it ended, by whom and how, and what the VM is now. */
function checkoutEndedText(refusal: Extract<Refusal, { code: "checkout_ended" }>, ctx: RefusalContext): string {
  const vm = `*${escape(refusal.vm)}*`;
  const when = refusal.endedAt ? ` at ${localTime(new Date(refusal.endedAt), ctx.timeZone ?? null)}` : "";
  const by = refusal.endedBy ? ` by ${personMention(refusal.endedBy)}` : "";
  const how = refusal.endReason ? ` (${END_WORDS[refusal.endReason]})` : "";
  const ended = `That checkout of ${vm} ended${when}${by}${how}.`;
  if (refusal.yoursAgain) return `${ended} You hold ${vm} again now: use the Check in button on your newest message or \`/vm checkin ${refusal.vm}\`.`;
  if (refusal.state === "checked_out") return `${ended} ${vm} has been checked out again since.`;
  if (refusal.state !== null) return `${ended} ${vm} is already checked in; it is ${stateWords(refusal.state)} now.`;
  return ended;
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
      const queue =
        refusal.waiting > 0
          ? ` ${refusal.waiting === 1 ? "1 person is" : `${refusal.waiting} people are`} waiting in its queue, and free VMs go to them first.`
          : "";
      return `:hourglass: No VM is free in pool *${escape(refusal.pool)}* right now (${countsLine(refusal.counts)}).${cleaning}${queue} Press *Notify me* to join the queue, or try again later.`;
    }
    case "quota_reached": {
      const held = listWords(refusal.held.map((v) => `*${v}*`));
      const limit = refusal.quota === 1 ? "one VM per person" : `${refusal.quota} VMs per person`;
      return `:raised_hand: You already hold ${held} in pool *${escape(refusal.pool)}* (the limit is ${limit}). Check one in first, or ${adminsWords(ctx.admins)} for a higher quota.`;
    }
    case "unknown_vm":
      return `:warning: There is no VM *${escape(refusal.vm)}*. \`/vm list\` shows yours; \`/vm status\` shows the pools.`;
    case "not_checked_out":
      return `:information_source: *${escape(refusal.vm)}* is not checked out (it is ${stateWords(refusal.state)}), so there is nothing to check in or extend.`;
    case "checkout_ended":
      return `:information_source: ${checkoutEndedText(refusal, ctx)} Nothing changed.`;
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
    case "not_your_offer":
      return ":information_source: That offer is not yours (each offer is for the person it was sent to), so nothing changed. `/vm wait POOL` puts you in a pool's queue.";
    case "unknown_checkout":
      return `:warning: There is no checkout ${refusal.id}.`;
    case "lease_too_long": {
      const max = `the longest lease in pool *${escape(refusal.pool)}* is ${formatDuration(refusal.maxMs, 2)} from the checkout's start`;
      const latest = refusal.latestEnd
        ? ` It can be extended to ${endWords(refusal.latestEnd, ctx.timeZone ?? null, ctx.now ?? new Date())} at the latest: ask for less, like \`/vm extend by 1h\`.`
        : " This checkout is at that limit already.";
      return `:no_entry: That is too long: ${max}.${latest} Nothing changed; for longer, check it in and out again, or ${adminsWords(ctx.admins)}.`;
    }
    case "lease_not_extended":
      return refusal.endsAt === null
        ? `:information_source: *${escape(refusal.vm)}* has no end (an admin pinned it), so there is nothing to extend.`
        : `:information_source: That would not move the end of *${escape(refusal.vm)}* later (it ends ${endWords(refusal.endsAt, ctx.timeZone ?? null, ctx.now ?? new Date())}). Nothing changed.`;
    case "not_waiting":
      return refusal.pool === null
        ? ":information_source: You are in no queue, so there is nothing to leave. `/vm wait POOL` joins one."
        : `:information_source: You are not in the queue of pool *${escape(refusal.pool)}*. Nothing changed.`;
    case "offer_over": {
      const why: Record<string, string> = {
        lapsed: "its time to take it ran out",
        taken: "you took it already",
        passed: "you passed",
        left: "you left the queue",
        gave_up: "your wait ended",
        waiting: "it was withdrawn (you keep your place in the queue)",
      };
      return `:information_source: That offer in pool *${escape(refusal.pool)}* is over: ${why[refusal.state] ?? refusal.state}. Nothing changed. \`/vm checkout ${escape(refusal.pool)}\` or \`/vm wait ${escape(refusal.pool)}\` to get a VM.`;
    }    case "not_enough_free": {
      const tz = ctx.timeZone ?? null;
      const free = refusal.free === 0 ? "none is" : `only ${refusal.free} ${refusal.free === 1 ? "is" : "are"}`;
      const nearest = refusal.nearest
        ? ` The nearest range that fits: *${localTime(refusal.nearest.from, tz)}* to *${localTime(refusal.nearest.to, tz)}*.`
        : " No range of that length fits in sight (VMs pinned or out of service, or the pool is smaller): book fewer, or " + adminsWords(ctx.admins) + ".";
      return `:calendar: Cannot book ${refusal.count} VM${refusal.count === 1 ? "" : "s"} of pool *${escape(refusal.pool)}* from ${localTime(refusal.from, tz)} to ${localTime(refusal.to, tz)}: ${free} free for that whole range.${nearest} \`/vm reservations\` shows the bookings. Nothing was booked.`;
    }
    case "unknown_token":
      return `:warning: There is no token ${refusal.id} of yours. Nothing changed.`;
    case "too_many_tokens":
      return `:no_entry: You hold ${refusal.limit} live API tokens, the most one person may. Revoke one you no longer use first (\`DELETE /v1/tokens/{id}\`, or ask an admin: \`vmres token revoke ID\`). No token was made.`;
    case "too_many_waits":
      return `:no_entry: You have ${refusal.limit} requests waiting for a VM already (API or \`vmres checkout --wait\`), the most one person may. Nothing was done: try again once one of them has ended.`;
    case "pool_full":
      return `:no_entry: Pool *${escape(refusal.pool)}* is at its size limit (${refusal.live} of at most ${refusal.maxSize} VMs exist or are being created), so no new VM can be created now. Try again once someone checks one in, or \`/vm wait ${escape(refusal.pool)}\`.`;
    case "no_image":
      return refusal.image === null
        ? `:information_source: You have no saved image in pool *${escape(refusal.pool)}*. \`/vm checkin VM --keep\` saves one; \`/vm images\` lists yours.`
        : `:warning: You have no image *${escape(refusal.image)}* in pool *${escape(refusal.pool)}*. \`/vm images\` lists yours.`;
    case "not_provisioned":
      return `:information_source: Pool *${escape(refusal.pool)}* has fixed machines, so ${refusal.operation === "keep" ? "`--keep` (saving an image)" : "`--restore`"} does not apply there. Nothing changed.`;
    case "unknown_job":
      return `:warning: There is no provider job ${refusal.id}. \`/vm jobs\` lists them.`;
    case "job_not_failed":
      return `:information_source: Job ${refusal.id} is ${escape(refusal.state.replace(/_/g, " "))}: only a failed job can be retried or abandoned. Nothing changed.`;
    case "unknown_image":
      return `:warning: You have no image *${escape(refusal.image)}*. \`/vm images\` lists yours.`;
    case "image_busy":
      return `:information_source: Image *${escape(refusal.image)}* is ${escape(refusal.state)}; only a ready or dirty image can be deleted. Nothing changed.`;
    case "label_taken":
      return `:warning: The label *${escape(refusal.label)}* is taken by another booking: choose another. Nothing was booked.`;
    case "unknown_reservation":
      return `:warning: No booking is labelled *${escape(refusal.label)}* (booked or under way). \`/vm reservations\` lists them.`;
    case "not_your_reservation":
      return `:no_entry: The booking *${escape(refusal.label)}* is ${refusal.person ? `${personMention(refusal.person)}'s` : "someone else's"}: only they (or an admin) may cancel it. Nothing changed.`;
    case "vm_booked":
      return `:calendar: *${escape(refusal.vm)}* is booked from ${endWords(refusal.from, ctx.timeZone ?? null, ctx.now ?? new Date())}${refusal.label ? ` (*${escape(refusal.label)}*)` : ""}, so its lease cannot run past that. Nothing changed; check it in before then, or take another VM.`;
    case "booking_too_far":
      return `:calendar: Pool *${escape(refusal.pool)}* takes bookings at most ${formatDuration(refusal.maxAheadMs, 2)} ahead: start by ${localTime(new Date(refusal.latestStart), ctx.timeZone ?? null)}. Nothing was booked; ${adminsWords(ctx.admins)} if you need to book further ahead.`;
    case "booking_too_long":
      return `:calendar: Pool *${escape(refusal.pool)}* takes bookings of at most ${formatDuration(refusal.maxMs, 2)}: from that start, end by ${localTime(new Date(refusal.latestEnd), ctx.timeZone ?? null)}. Nothing was booked; ${adminsWords(ctx.admins)} for a longer one.`;
  }
}
