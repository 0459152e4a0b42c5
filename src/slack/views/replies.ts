import { instanceReleaseWords } from "./provision-replies.js";
import type { CheckinDone } from "../../core/checkin.js";
import type { RemoveDone } from "../../core/admin.js";
import type { HistoryEntry, PoolSummary, CheckoutEntry } from "../../core/queries.js";
import type { CheckedOutVm, Refusal, VmSummary } from "../../core/types.js";
import { context, plain, section, type Block, type SlackMessage } from "./blocks.js";
import { checkinButton } from "./checkout-dm.js";
import { cleanupBlockedContext } from "./cleanup-blocked-words.js";
import type { Reading } from "../time-zone.js";
import { countsLine, endWords, escape, mention, personMention, sshLine, truncate, when } from "./format.js";

/** Ephemeral answers to /vm and to buttons: short, and each says what happens next. */

export function checkedOutReply(vm: CheckedOutVm, r?: Reading): SlackMessage {
  const until = r === undefined || vm.endsAt === null ? "" : ` until ${endWords(vm.endsAt, r.timeZone, r.now)}`;
  return {
    text: `${vm.name} is yours${until}: ${sshLine(vm)}`,
    blocks: [
      section(`:white_check_mark: *${vm.name}* is yours${until} (pool *${vm.pool}*, \`${vm.ip}\`).\n\`\`\`${sshLine(vm)}\`\`\``),
      ...(vm.bookedFrom ? [context(`:calendar: The lease is cut short: *${vm.name}* is booked from then, so it ends at the booking's start and cannot be extended past it.`)] : []),
      context("The details and a *Check in* button are in your DM from vmres."),
      ...(vm.cleanupBlocked ? [cleanupBlockedContext(vm.pool)] : []),
    ],
  };
}

export function checkedInReply(done: CheckinDone): SlackMessage {
  const next =
    instanceReleaseWords(done) ??
    (done.nextState === "retired"
      ? "It was removed from the pool, so it is retired now."
      : done.nextState === "available"
        ? `It is back in the pool at once: pool *${done.pool}* has no cleanup, so nothing was wiped.`
        : "vmres is wiping /tmp; then it goes back to the pool.");
  if (done.forced) return plain(`:white_check_mark: Took *${done.vm}* back from ${personMention(done.previousHolder)}; they have been told by DM. ${next}`);
  return plain(`:white_check_mark: *${done.vm}* is checked in. ${next}`);
}

export function nothingHeldReply(): SlackMessage {
  return plain(":information_source: You hold no VM, so there is nothing to check in. `/vm checkout` gets you one.");
}

/** Several VMs held and none named: one Check in button per VM. */
export function pickCheckinReply(vms: VmSummary[]): SlackMessage {
  return {
    text: `You hold ${vms.length} VMs; pick the one to check in.`,
    blocks: [section(`You hold ${vms.length} VMs. Which one do you want to check in?`), ...vms.slice(0, 40).map(vmLine)],
  };
}

function vmLine(vm: VmSummary): Block {
  const since = vm.startedAt ? ` · since ${when(vm.startedAt)}` : "";
  const text = `*${vm.name}* · pool ${vm.pool}${since}\n\`${sshLine(vm)}\``;
  return vm.checkoutId !== null ? section(text, checkinButton(vm.name, vm.checkoutId)) : section(text);
}

export function listReply(vms: VmSummary[]): SlackMessage {
  if (vms.length === 0) return plain(":information_source: You hold no VM. `/vm checkout` gets you one.");
  return { text: `You hold ${vms.map((v) => v.name).join(", ")}`, blocks: [section(`*Your VMs* (${vms.length})`), ...vms.slice(0, 40).map(vmLine)] };
}

export function statusReply(pools: PoolSummary[]): SlackMessage {
  if (pools.length === 0) return plain(":information_source: There are no pools yet. An admin adds VMs with `/vm admin add` or lists them in vms.yml.");
  const lines = pools.slice(0, 45).map((p) => `*${p.pool}* — ${countsLine(p.counts)}${cleanupWords(p)}`);
  const more = pools.length > 45 ? [context(`…and ${pools.length - 45} more pools.`)] : [];
  return {
    text: pools.map((p) => `${p.pool}: ${countsLine(p.counts)}`).join("; "),
    blocks: [section(`*Pools*\n${lines.join("\n")}`), ...more, context("`/vm checkout [pool]` borrows a free VM.")],
  };
}

/** A pool's cleanup, where it is not the usual SSH wipe that works. */
function cleanupWords(p: PoolSummary): string {
  if (p.cleanup === "none") return " · no cleanup (check-ins come back at once)";
  if (p.cleanupBlocked !== null) return " · :warning: cleanup blocked: check-ins stay in cleaning until an admin runs `/vm cleanup done VM reason` or sets `--cleanup none`";
  return "";
}

export function historyReply(vm: string, entries: HistoryEntry[]): SlackMessage {
  if (entries.length === 0) return plain(`:information_source: *${vm}* has no recorded events.`);
  const lines = entries.map((e) => `${when(e.at)} — *${e.kind.replace(/_/g, " ")}* by ${e.person ? personMention(e.person) : mention(e.actor)} (${e.source})`);
  return { text: `History of ${vm}`, blocks: [section(`*History of ${vm}* (newest first)`), section(truncate(lines.join("\n"), 2900))] };
}

/** `/vm checkouts`: one line per checkout, newest first. */
export function checkoutsReply(entries: CheckoutEntry[], open: boolean): SlackMessage {
  if (entries.length === 0) return plain(open ? ":information_source: No VM is checked out right now." : ":information_source: No checkouts match.");
  const lines = entries.map((c) => {
    const end = c.endedAt
      ? `→ ${when(c.endedAt)} (${c.endReason?.replace(/_/g, " ") ?? "ended"}${c.endedBy && c.endedBy !== c.person.name ? ` by ${escape(c.endedBy)}` : ""})`
      : "· *still out*";
    const note = c.note ? ` — _${escape(c.note)}_` : "";
    return `#${c.id} *${c.vm}* (${escape(c.pool)}) · ${personMention(c.person)} · ${when(c.startedAt)} ${end}${note}`;
  });
  return { text: `${entries.length} checkouts`, blocks: [section(`*Checkouts* (newest first)`), section(truncate(lines.join("\n"), 2900))] };
}

/** An admin ended a cleanup by hand. */
export function cleanupDoneReply(done: { vm: string; to: "available" | "retired"; reason: string }): SlackMessage {
  return done.to === "retired"
    ? plain(`:white_check_mark: Ended *${done.vm}*'s cleanup by hand; it was removed from the inventory, so it is retired now.`)
    : plain(`:white_check_mark: Ended *${done.vm}*'s cleanup by hand; it is available again. On record: _${escape(done.reason)}_.`);
}

export function addedReply(spec: { name: string; ip: string; pool: string }): SlackMessage {
  return plain(`:white_check_mark: Added *${spec.name}* (\`${escape(spec.ip)}\`) to pool *${spec.pool}*. It is available now.`);
}

export function removedReply(done: RemoveDone): SlackMessage {
  const words: Record<RemoveDone["retired"], string> = {
    now: "is retired; nobody can check it out any more (its history is kept).",
    at_checkin: "is checked out, so it will be retired when its holder checks it in.",
    after_cleanup: "is being cleaned; it will be retired when the cleanup finishes.",
    already: "was already retired.",
  };
  return plain(`:white_check_mark: *${done.vm}* ${words[done.retired]}`);
}

/** After an admin state change (drain, repair, retry cleanup). */
export function transitionReply(vm: string, to: string): SlackMessage {
  const words: Record<string, string> = {
    maintenance: `is in maintenance now; nobody can check it out until \`/vm admin repair ${vm}\`.`,
    available: "is available again.",
    cleaning: "will be cleaned again now; the admin channel hears of it if that fails again.",
    retired: "is retired instead: it was removed from the inventory while it was out of service.",
  };
  return plain(`:white_check_mark: *${vm}* ${words[to] ?? `is ${to} now.`}`);
}

export function alreadyHandledReply(): SlackMessage {
  return plain(":information_source: vmres already acted on this (Slack delivered it twice); nothing more was done.");
}

/**
 * A stale button on a VM nobody holds, when the checkout it named cannot be told
 * (the core answers `checkout_ended`, with how it ended, when it can; and
 * `not_holder` first when someone else holds it). Says what happened instead of failing.
 */
export function staleCheckinReply(refusal: Extract<Refusal, { code: "not_checked_out" }>): SlackMessage {
  return plain(`:information_source: *${refusal.vm}* is already checked in; that button is from a checkout that is over. Nothing changed.`);
}

/** A signed request missing what Slack always sends (who sent it). */
export function malformedRequestReply(): SlackMessage {
  return plain(":warning: vmres could not tell who sent this request (it carries no valid Slack user ID), so nothing was done. Type `/vm help` in Slack to try again.");
}

/** The database was busy or restarting; nothing changed. */
export function busyReply(): SlackMessage {
  return plain(":hourglass: vmres is busy right now and nothing changed. Try the same again in a moment.");
}

export function unexpectedErrorReply(reference: string): SlackMessage {
  return plain(`:x: vmres hit an unexpected error and logged it (ref \`${reference}\`). \`/vm list\` shows whether it went through; try again in a moment, and tell an admin if it keeps happening.`);
}
