import type { types } from "@slack/bolt";
import type { Notice } from "../../core/notices.js";
import { formatDuration } from "../../duration.js";
import { ACTION, extendValue, offerValue } from "./actions.js";
import { actions, button, context, section, stripMrkdwn, type ButtonElement, type SlackMessage } from "./blocks.js";
import { checkinButton } from "./checkout-dm.js";
import { endWords, escape, localTime, personMention, relativeWords } from "./format.js";

/** DMs of leases and the waitlist: reminders, expiry, an admin's change, offers of a held VM. */

export type { Reading } from "../time-zone.js";
import type { Reading } from "../time-zone.js";

/** Lengths offered in the reminder's Extend menu, when they fit under the pool's maximum. */
const EXTEND_CHOICES_MS = [3_600_000, 4 * 3_600_000, 86_400_000, 3 * 86_400_000];

/** An Extend button: by the pool's lease (`by` unset) or by `by`. */
export function extendButton(vm: string, checkoutId: number, by?: number, text?: string): ButtonElement {
  return button({ text: text ?? (by === undefined ? "Extend" : `Extend +${formatDuration(by, 2)}`), actionId: ACTION.extend, value: extendValue({ vm, checkout: checkoutId, by }) });
}

/**
 * What the holder may extend by from `endsAt` without passing `latestEnd`:
 * the pool's lease first, then the menu's lengths that fit, then "to the
 * maximum" when nothing else fits. Empty when it cannot be extended.
 */
export function extendChoices(endsAt: Date, latestEnd: Date | null, poolLeaseMs: number): number[] {
  if (latestEnd === null) return [];
  const room = latestEnd.getTime() - endsAt.getTime();
  if (room < 60_000) return [];
  const fits = [poolLeaseMs, ...EXTEND_CHOICES_MS].filter((ms, i, all) => ms <= room && all.indexOf(ms) === i);
  const toMax = Math.floor(room / 60_000) * 60_000;
  return fits.length > 0 ? fits.sort((a, b) => a - b) : [toMax];
}

function extendMenu(vm: string, checkoutId: number, choices: number[]): types.StaticSelect {
  const options = choices.slice(0, 100).map((ms) => ({ text: { type: "plain_text" as const, text: `+${formatDuration(ms, 2)}` }, value: extendValue({ vm, checkout: checkoutId, by: ms }) }));
  return { type: "static_select", action_id: ACTION.extendChoice, placeholder: { type: "plain_text", text: "Extend by…" }, options };
}

type Reminder = Extract<Notice, { kind: "lease_reminder" }>;

/** Before the end: when, what happens then, and Extend / Check in. */
export function reminderDm(n: Reminder, r: Reading, graceMs: number): SlackMessage {
  const endsAt = new Date(n.endsAt);
  const latest = n.latestEnd === null ? null : new Date(n.latestEnd);
  const choices = extendChoices(endsAt, latest, n.extendByMs);
  const buttons: (ButtonElement | types.StaticSelect)[] = [];
  if (choices.length > 0) {
    const first = choices.includes(n.extendByMs) ? n.extendByMs : (choices[choices.length - 1] ?? n.extendByMs);
    buttons.push(extendButton(n.vm, n.checkoutId, first));
    if (choices.length > 1) buttons.push(extendMenu(n.vm, n.checkoutId, choices));
  }
  buttons.push(checkinButton(n.vm, n.checkoutId));
  const limit =
    latest === null
      ? "It cannot be extended any more (the pool's maximum from the checkout's start)."
      : `You can extend it up to ${localTime(latest, r.timeZone)}.`;
  return {
    text: `Your lease of ${n.vm} ends ${relativeWords(endsAt, r.now)} (${localTime(endsAt, r.timeZone)})`,
    blocks: [
      section(`:alarm_clock: Your lease of *${escape(n.vm)}* (pool *${escape(n.pool)}*) ends *${endWords(endsAt, r.timeZone, r.now)}*.`),
      context(`${limit} ${formatDuration(graceMs, 2)} after the end vmres checks it in by itself and wipes it; save your work before then.`),
      { type: "actions", block_id: "lease_reminder", elements: buttons },
    ],
  };
}

type Expired = Extract<Notice, { kind: "lease_expired" }>;

/** After the automatic check-in: what happened, when, what becomes of the VM, how to get one again. */
export function expiredDm(n: Expired, pool: string | null, r: Reading): SlackMessage {
  const endsAt = new Date(n.endsAt);
  const next =
    n.nextState === "retired"
      ? "It has been retired from the pool."
      : n.nextState === "available"
        ? "It is back in the pool (its pool has no cleanup, so nothing was wiped; the next person may find what you left)."
        : "It is being cleaned (/tmp wiped) and goes back to the pool; anything left on it is gone.";
  const p = pool === null ? "POOL" : escape(pool);
  return {
    text: `Your lease of ${n.vm} ended; vmres checked it in`,
    blocks: [
      section(`:hourglass_flowing_sand: Your lease of *${escape(n.vm)}* ended ${localTime(endsAt, r.timeZone)} (${relativeWords(endsAt, r.now)}), so vmres checked it in. ${next}`),
      context(`Need a VM again? \`/vm checkout ${p}\` takes a free one (\`/vm checkout ${p} for 4h\` for a lease of your choice), or \`/vm wait ${p}\` queues you for the next.`),
    ],
  };
}

type Changed = Extract<Notice, { kind: "lease_changed" }>;

/** An admin set, extended or pinned the holder's lease. */
export function leaseChangedDm(n: Changed, r: Reading): SlackMessage {
  const endsAt = n.endsAt === null ? null : new Date(n.endsAt);
  const what = endsAt === null ? "pinned your lease: it has no end now, and it is yours until you check it in" : `set the end of your lease: it now ends *${endWords(endsAt, r.timeZone, r.now)}*`;
  return {
    text: endsAt === null ? `An admin pinned your lease of ${n.vm}` : `An admin changed your lease of ${n.vm}: it ends ${localTime(endsAt, r.timeZone)}`,
    blocks: [section(`:information_source: ${personMention(n.by)} ${what} of *${escape(n.vm)}*.`), actions([checkinButton(n.vm, n.checkoutId)], "lease_changed")],
  };
}

type Offered = Extract<Notice, { kind: "vm_offered" }>;

/** A VM held for the first in the queue: Take it / Pass, before the window closes. */
export function offerDm(n: Offered, r: Reading): SlackMessage {
  const until = new Date(n.expiresAt);
  return {
    text: `${n.vm} is free and held for you until ${localTime(until, r.timeZone)}: take it or pass`,
    blocks: [
      section(`:tada: A VM of pool *${escape(n.pool)}* is free: *${escape(n.vm)}* is held for you until *${localTime(until, r.timeZone)}* (${relativeWords(until, r.now)}).`),
      actions(
        [
          button({ text: "Take it", actionId: ACTION.takeOffer, value: offerValue(n.waiterId), style: "primary" }),
          button({ text: "Pass", actionId: ACTION.passOffer, value: offerValue(n.waiterId) }),
        ],
        "vm_offered",
      ),
      context("*Take it* checks it out to you (details by DM). *Pass* gives it to the next in line and takes you out of the queue. If you do neither in time, it goes to the next and you leave the queue."),
    ],
  };
}

/** The offer DM once answered or over: no buttons left. */
export function offerClosedDm(vm: string, pool: string, outcome: "taken" | "passed" | "lapsed" | "withdrawn"): SlackMessage {
  const words: Record<typeof outcome, string> = {
    taken: `:white_check_mark: You took *${escape(vm)}*; its details are in your DM.`,
    passed: `:information_source: You passed on *${escape(vm)}*; it went to the next in line, and you left the queue of pool *${escape(pool)}*.`,
    lapsed: `:information_source: *${escape(vm)}* was held for you, but the time to take it ran out.`,
    withdrawn: `:information_source: *${escape(vm)}* was held for you, but an admin took it out of service.`,
  };
  return { text: noticeText(words[outcome]), blocks: [section(words[outcome])] };
}

type Ended = Extract<Notice, { kind: "offer_ended" }>;

/** The offer ended without a checkout: lapsed (they left the queue) or withdrawn (they keep their place). */
export function offerEndedDm(n: Ended): SlackMessage {
  const pool = escape(n.pool);
  const text =
    n.outcome === "lapsed"
      ? `:hourglass: *${escape(n.vm)}* was held for you, but you did not take it in time: it went to the next in line, and you left the queue of pool *${pool}*. \`/vm wait ${pool}\` joins it again; \`/vm checkout ${pool}\` takes a free VM if there is one.`
      : `:information_source: *${escape(n.vm)}*, held for you, was taken out of service by an admin. You keep your place in the queue of pool *${pool}*; the next free VM is offered to you.`;
  return { text: noticeText(text), blocks: [section(text)] };
}

/** Notification text of a one-section message: no leading emoji code, no mrkdwn markers. */
export function noticeText(mrkdwn: string): string {
  return stripMrkdwn(mrkdwn.replace(/^:[a-z0-9_+-]+:\s*/, ""));
}
