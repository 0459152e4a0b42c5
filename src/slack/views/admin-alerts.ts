import type { StateCounts } from "../../core/types.js";
import { formatDuration } from "../../duration.js";
import { ACTION } from "./actions.js";
import { actions, button, context, section, type SlackMessage } from "./blocks.js";
import { countsLine, escape, personMention, truncate, when } from "./format.js";

/** A person as a notice names them. */
type Who = { name: string; slackUserId: string | null };
import { adminButtons } from "./home.js";

/** Messages for the admin channel (SLACK_ADMIN_CHANNEL) and the DM a forced check-in sends. */

export function quarantineAlert(n: { vm: string; pool: string; reason: string; lastError: string | null; attempts: number }): SlackMessage {
  const tries = n.attempts === 1 ? "1 cleanup attempt" : `${n.attempts} cleanup attempts`;
  const blocks = [section(`:rotating_light: *${n.vm}* (pool ${escape(n.pool)}) is quarantined after ${tries}: ${escape(n.reason)}`)];
  if (n.lastError) blocks.push(section(`*Last error*\n\`\`\`${escape(truncate(n.lastError, 2500))}\`\`\``));
  return {
    text: `${n.vm} is quarantined: ${n.reason}`,
    blocks: [...blocks, actions(adminButtons({ name: n.vm, state: "quarantined" })), context("Nobody can check it out until an admin retries the cleanup, repairs or drains it.")],
  };
}

const RESOLUTION: Record<string, string> = {
  available: "returned it to the pool",
  cleaning: "queued another cleanup",
  maintenance: "drained it (maintenance)",
  retired: "retired it",
};

/** A quarantine alert once an admin acted: no buttons left, and who did what. */
export function resolvedQuarantineAlert(vm: string, state: string, by: Who, at: Date): SlackMessage {
  const what = RESOLUTION[state] ?? `moved it to ${state}`;
  return {
    text: `${vm}: quarantine handled`,
    blocks: [section(`:white_check_mark: *${vm}* was quarantined; ${personMention(by)} ${what} ${when(at)}.`)],
  };
}

export function poolExhaustedAlert(pool: string, counts: StateCounts, intervalMinutes: number): SlackMessage {
  const every = intervalMinutes > 0 ? `At most one such alert per pool every ${formatDuration(intervalMinutes * 60_000)}.` : "";
  return {
    text: `Pool ${pool} ran out of free VMs`,
    blocks: [
      section(`:warning: Pool *${escape(pool)}* ran out: someone asked for a VM and none was free (${countsLine(counts)}).`),
      actions([button({ text: "Who has them?", actionId: ACTION.poolHolders, value: pool })]),
      context(`Add VMs with \`/vm admin add\`, or ask holders to check in what they no longer use. ${every}`),
    ],
  };
}

export function forcedCheckinAlert(vm: string, previousHolder: Who, by: Who): SlackMessage {
  return {
    text: `${vm} was force-checked-in`,
    blocks: [
      section(`:warning: ${personMention(by)} force-checked-in *${vm}* from ${personMention(previousHolder)}, who has been told by DM.`),
      actions([button({ text: "History", actionId: ACTION.history, value: vm })]),
    ],
  };
}

/** What a `cleanup_blocked` notice says (src/core/notices.ts). */
interface CleanupBlocked {
  keyFile: string;
  error: string;
  vms: string[];
  waiting: number;
  instance: string;
}

/** "cannot read" / "cannot use" and the reason after the file name, from the error the blocked VMs carry. */
function keyTrouble(n: { keyFile: string; error: string }): { verb: string; reason: string } {
  const verb = n.error.includes("cannot use SSH private key file") ? "use" : "read";
  const at = n.error.indexOf(`${n.keyFile}: `);
  return { verb, reason: at >= 0 ? n.error.slice(at + n.keyFile.length + 2) : n.error };
}

/** Which VMs wait: the ones the notice names, and how many more. */
function waitingWords(n: { vms: string[]; waiting: number }): string {
  const more = n.waiting - n.vms.length;
  const names = n.vms.map((vm) => `*${vm}*`).join(", ") + (more > 0 ? ` and ${more} more` : "");
  const count = n.waiting === 1 ? "1 VM" : `${n.waiting} VMs`;
  return names ? `${count} (${names}) ${n.waiting === 1 ? "waits" : "wait"}` : `${count} ${n.waiting === 1 ? "waits" : "wait"}`;
}

/** Told once per outage of a key file: the VMs are fine, vmres's own key is not. */
export function cleanupBlockedAlert(n: CleanupBlocked): SlackMessage {
  const { verb, reason } = keyTrouble(n);
  return {
    text:
      `Cleanup is blocked: vmres cannot ${verb} its SSH private key file ${n.keyFile} (${truncate(reason, 500)}). ` +
      `Nothing is wrong with the VMs: ${n.waiting === 1 ? "1 VM waits" : `${n.waiting} VMs wait`} in cleaning and will be cleaned as soon as the file can be read; no restart needed.`,
    blocks: [
      section(`:rotating_light: *Cleanup is blocked*: vmres cannot ${verb} its SSH private key file \`${escape(n.keyFile)}\` (${escape(truncate(reason, 500))}).`),
      section(
        `Nothing is wrong with the VMs: ${waitingWords(n)} in cleaning and will be cleaned as soon as the file can be read; no restart needed. No cleanup attempt is counted against them meanwhile.`,
      ),
      context(`Seen by vmres on ${escape(n.instance)}. Put the file back or fix its permissions. Your Home tab shows how many VMs wait now; \`/healthz\` on the machine says whether cleanup is still blocked.`),
    ],
  };
}

/** The DM to the person whose VM an admin took back. */
export function forcedCheckinDm(vm: string, by: Who): SlackMessage {
  return {
    text: `${vm} was checked in by an admin`,
    blocks: [
      section(`:warning: ${personMention(by)} checked in *${vm}*, which you had checked out. vmres is wiping /tmp on it now, so whatever you left there is gone.`),
      context("Need a VM again? Type `/vm checkout`."),
    ],
  };
}

/*
 * Alerts older than NOTICE_MAX_AGE are not posted one by one after an outage:
 * each becomes one line of a single summary (no buttons: the VMs needing
 * attention are on admins' Home tabs, and `/vm status` shows the pools now).
 */

export function quarantineStaleLine(n: { vm: string; pool: string; reason: string }): string {
  return `*${n.vm}* (pool ${escape(n.pool)}) was quarantined: ${escape(truncate(n.reason, 120))}`;
}

export function poolExhaustedStaleLine(pool: string): string {
  return `pool *${escape(pool)}* ran out of free VMs`;
}

export function forcedCheckinStaleLine(vm: string, previousHolder: Who, by: Who): string {
  return `${personMention(by)} force-checked-in *${vm}* from ${personMention(previousHolder)}`;
}

export function cleanupBlockedStaleLine(n: { keyFile: string; error: string }): string {
  return `cleanup blocked: vmres could not ${keyTrouble(n).verb} its SSH private key file \`${escape(n.keyFile)}\``;
}

/** How many stale alerts a summary lists before "and N more": keeps it readable, and within a section's 3000 characters. */
export const STALE_LINES_SHOWN = 20;

/** One message for every stale alert gathered in a dispatcher pass, oldest first, each with its age. */
export function staleAlertsSummary(alerts: { line: string; ageMs: number }[], maxAgeMs: number): SlackMessage {
  const count = alerts.length === 1 ? "1 alert" : `${alerts.length} alerts`;
  const shown = alerts.slice(0, STALE_LINES_SHOWN).map((a) => `• ${a.line}, ${formatDuration(a.ageMs, 2)} ago`);
  const more = alerts.length - shown.length;
  if (more > 0) shown.push(`…and ${more} more`);
  return {
    text: `${count} older than NOTICE_MAX_AGE, summarised`,
    blocks: [
      section(
        `:hourglass: ${count} waited longer than NOTICE_MAX_AGE (${formatDuration(maxAgeMs)}) to reach this channel (vmres could not reach Slack, or its bot was off), so ${alerts.length === 1 ? "it is" : "they are"} summarised here instead of posted one by one:`,
      ),
      section(shown.join("\n")),
      context("`/vm status` shows the pools now; VMs that need an admin are on your Home tab, with their buttons."),
    ],
  };
}
