import type { VmState } from "../../db/schema.js";
import type { StateCounts } from "../../core/types.js";
import { relativeTime } from "../../duration.js";

/**
 * Small pieces of Slack text shared by every message and view. Anything that
 * came from outside Slack (an SSH error, a VM name typed by a user) goes
 * through `escape`, so a "<" in it cannot turn into a mention or a link.
 */
export function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A user as Slack shows them; `system` is how the core records the local operator (CLI). */
export function mention(actor: string): string {
  return /^[UW][A-Z0-9]+$/.test(actor) ? `<@${actor}>` : "the operator (CLI)";
}

/** A person as Slack shows them: a mention when Slack knows them, else their name (a service, the operator). */
export function personMention(person: { name: string; slackUserId: string | null; displayName?: string | null }): string {
  if (person.slackUserId) return `<@${person.slackUserId}>`;
  if (person.name === "operator") return "the operator (CLI)";
  if (person.name === "system") return "vmres";
  return `*${escape(person.displayName ?? person.name)}*`;
}

/** A time each reader sees in their own time zone; the fallback is for notifications and old clients. */
export function when(at: Date): string {
  const seconds = Math.floor(at.getTime() / 1000);
  const fallback = `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `<!date^${seconds}^{date_short_pretty} at {time}|${fallback}>`;
}

/**
 * A time as its reader reads it, in their own time zone (Slack's `user.tz`,
 * learned with their name): "Wed 2 Dec, 18:30 (Europe/Paris)". Unknown zone:
 * UTC, said so. Written out rather than as a `<!date>` token so that
 * notification text and the Home tab read the same.
 */
export function localTime(at: Date, timeZone: string | null): string {
  const zone = timeZone ?? "UTC";
  let parts: string;
  try {
    parts = new Intl.DateTimeFormat("en-GB", { timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(at);
  } catch {
    return localTime(at, null);
  }
  return `${parts.replace(/ at /, ", ")} (${zone === "Etc/UTC" ? "UTC" : zone})`;
}

/** When a lease ends, for a message: "Wed 2 Dec, 18:30 (Europe/Paris), in 3 h 20 min", or that it has no end. */
export function endWords(endsAt: Date | null, timeZone: string | null, now: Date): string {
  if (endsAt === null) return "no end (pinned by an admin: kept until checked in)";
  return `${localTime(endsAt, timeZone)}, ${relativeWords(endsAt, now)}`;
}

/** "in 4 h" rather than "in 3 h 59 min" for an end set a moment ago: the distance rounded to the minute. */
export function relativeWords(to: Date, now: Date): string {
  const ms = to.getTime() - now.getTime();
  const rounded = Math.round(ms / 60_000) * 60_000;
  return relativeTime(to, Math.abs(rounded) >= 60_000 ? new Date(to.getTime() - rounded) : now);
}

/** The line people paste into a terminal. */
export function sshLine(vm: { sshUser: string; ip: string; sshPort: number }): string {
  return `ssh ${vm.sshUser}@${vm.ip} -p ${vm.sshPort}`;
}

const STATE_WORDS: Record<VmState, string> = {
  available: "available",
  checked_out: "checked out",
  cleaning: "being cleaned",
  quarantined: "quarantined",
  maintenance: "in maintenance",
  retired: "retired",
  held: "held for someone in the queue",
};

export function stateWords(state: VmState): string {
  return STATE_WORDS[state];
}

/** "2 available · 3 checked out · 1 being cleaned", leaving out states with none (retired never shown). */
export function countsLine(counts: StateCounts): string {
  const parts = (Object.keys(STATE_WORDS) as VmState[])
    .filter((s) => s !== "retired" && counts[s] > 0)
    .map((s) => `${counts[s]} ${STATE_WORDS[s]}`);
  return parts.length > 0 ? parts.join(" · ") : "no VMs";
}

/** Cuts text to fit a Block Kit field, saying how much was left out. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… (${text.length - max} more characters)`;
  return text.slice(0, Math.max(0, max - note.length)) + note;
}

/** "vm-1, vm-2 and vm-3" (or "… or …") */
export function listWords(items: string[], joiner: "and" | "or" = "and"): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} ${joiner} ${items[items.length - 1]}`;
}
