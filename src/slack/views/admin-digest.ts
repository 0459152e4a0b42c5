import type { AdminReport, ReportHold } from "../../core/report-schema.js";
import { formatDuration } from "../../duration.js";
import { context, header, section, type Block, type SlackMessage } from "./blocks.js";
import { escape, personMention, truncate, when } from "./format.js";

/** Slack refuses a section's text beyond 3,000 characters. */
const SECTION_MAX = 2900;

const more = (shown: number, total: number) => (total > shown ? `\n…and ${total - shown} more` : "");
const ago = (since: Date, at: Date) => formatDuration(Math.max(0, at.getTime() - since.getTime()), 2);

function holdLine(h: ReportHold, at: Date): string {
  const end = h.endsAt ? `lease ends ${when(h.endsAt)}` : "pinned";
  return `• *${escape(h.vm)}* (${escape(h.pool)}): ${personMention(h.person)} for ${ago(h.since, at)}, ${end}`;
}

/**
 * The admin digest (DIGEST_CRON) for the admin channel: one section per part
 * of the report that has something to say, then one line naming the parts
 * that had nothing, so a quiet day reads as quiet rather than as broken.
 */
export function adminDigestMessage(r: AdminReport): SlackMessage {
  const parts: Block[] = [];
  const quiet: string[] = [];
  const add = (title: string, lines: string[], tail = "") => {
    if (lines.length === 0) return quiet.push(title.toLowerCase());
    parts.push(section(truncate(`*${title}*\n${lines.join("\n")}${tail}`, SECTION_MAX)));
  };

  add("Longest holds", r.longestHolds.map((h) => holdLine(h, r.at)));
  add(
    "Past their pool's usual length",
    r.pastUsual.holds.map((h) => `${holdLine(h, r.at)} (usual: ${formatDuration(h.usualMs, 2)})`),
    more(r.pastUsual.holds.length, r.pastUsual.total),
  );
  add(
    "Idle for 7 days",
    r.idle.vms.map((v) => `• *${escape(v.vm)}* (${escape(v.pool)}): free since ${when(v.since)}${v.lastCheckoutAt ? `, last checked out ${when(v.lastCheckoutAt)}` : ", never checked out"}`),
    more(r.idle.vms.length, r.idle.total),
  );
  add(
    "Queues",
    r.queues.map((q) => {
      const now = q.waiting > 0 && q.oldestSince ? `${q.waiting} waiting, the first for ${ago(q.oldestSince, r.at)}` : "nobody waiting";
      const week = q.medianWaitMs === null ? "" : `; ${q.served} got a VM this week after ${formatDuration(q.medianWaitMs, 2)} (median)`;
      return `• *${escape(q.pool)}*: ${now}${week}`;
    }),
  );
  add(
    "Quarantined",
    r.quarantined.vms.map((v) => `• *${escape(v.vm)}* (${escape(v.pool)}) since ${when(v.since)}, ${v.attempts} attempts${v.lastError ? `: \`${escape(truncate(v.lastError, 200))}\`` : ""}`),
    more(r.quarantined.vms.length, r.quarantined.total),
  );
  add(
    `Bookings in the next ${r.days === 1 ? "day" : `${r.days} days`}`,
    r.bookings.list.map((b) => `• *${escape(b.label)}*: ${b.count} of ${escape(b.pool)} for ${personMention(b.person)}, ${when(b.startsAt)} to ${when(b.endsAt)}`),
    more(r.bookings.list.length, r.bookings.total),
  );
  add(
    "Provider failures (last day)",
    r.providerFailures.jobs.map((j) => `• job ${j.id} (${j.kind}, ${escape(j.pool)}${j.instance ? `, ${escape(j.instance)}` : ""}) failed ${when(j.failedAt)}${j.error ? `: \`${escape(truncate(j.error, 200))}\`` : ""}`),
    more(r.providerFailures.jobs.length, r.providerFailures.total),
  );

  const counts = `${r.pastUsual.total} past usual length, ${r.idle.total} idle, ${r.quarantined.total} quarantined, ${r.providerFailures.total} provider failures`;
  return {
    text: `vmres digest: ${counts}`,
    blocks: [
      header("vmres digest"),
      ...parts,
      context(`${quiet.length > 0 ? `Nothing to report: ${quiet.join(", ")}. ` : ""}As of ${when(r.at)}; \`vmres report\` shows it any time.`),
    ],
  };
}
