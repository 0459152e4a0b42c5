import type { StateCounts } from "../../core/types.js";
import { ACTION } from "./actions.js";
import { actions, button, context, section, type SlackMessage } from "./blocks.js";
import { countsLine, escape, mention, truncate, when } from "./format.js";
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
export function resolvedQuarantineAlert(vm: string, state: string, by: string, at: Date): SlackMessage {
  const what = RESOLUTION[state] ?? `moved it to ${state}`;
  return {
    text: `${vm}: quarantine handled`,
    blocks: [section(`:white_check_mark: *${vm}* was quarantined; ${mention(by)} ${what} ${when(at)}.`)],
  };
}

export function poolExhaustedAlert(pool: string, counts: StateCounts, intervalMinutes: number): SlackMessage {
  const every = intervalMinutes > 0 ? `At most one such alert per pool every ${intervalMinutes} minutes.` : "";
  return {
    text: `Pool ${pool} ran out of free VMs`,
    blocks: [
      section(`:warning: Pool *${escape(pool)}* ran out: someone asked for a VM and none was free (${countsLine(counts)}).`),
      actions([button({ text: "Who has them?", actionId: ACTION.poolHolders, value: pool })]),
      context(`Add VMs with \`/vm admin add\`, or ask holders to check in what they no longer use. ${every}`),
    ],
  };
}

export function forcedCheckinAlert(vm: string, previousHolder: string, by: string): SlackMessage {
  return {
    text: `${vm} was force-checked-in`,
    blocks: [
      section(`:warning: ${mention(by)} force-checked-in *${vm}* from ${mention(previousHolder)}, who has been told by DM.`),
      actions([button({ text: "History", actionId: ACTION.history, value: vm })]),
    ],
  };
}

/** The DM to the person whose VM an admin took back. */
export function forcedCheckinDm(vm: string, by: string): SlackMessage {
  return {
    text: `${vm} was checked in by an admin`,
    blocks: [
      section(`:warning: ${mention(by)} checked in *${vm}*, which you had checked out. vmres is wiping /tmp on it now, so whatever you left there is gone.`),
      context("Need a VM again? Type `/vm checkout`."),
    ],
  };
}
