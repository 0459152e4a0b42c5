/**
 * Where a DM's time went: each service process logs one "notice delivery
 * trace" line per notice (OUTBOX_TRACE=true, see src/slack/outbox/delivery-trace.ts);
 * joined with when the bench sent the request and when the fake Slack got the
 * DM, it splits command → DM into the parts below, so a MISS says which part
 * took the time, from this run's own figures.
 */
import { readFileSync } from "node:fs";
import { fmt, percentile } from "./stats.js";
import { parseJson } from "./slack-service.js";

/** One notice's trace as logged: when it was queued (ms since the epoch) and each mark in ms after that. */
export interface LoggedTrace {
  notice: number;
  queuedAt: number;
  marks: [string, number][];
}

/** The parts of command → DM, in the order they happen. */
export const PARTS = [
  ["ack", "request sent → its ack back (HTTP, signature, Bolt, the listener's ack)"],
  ["request", "ack → queued (the command's work before its checkout transaction: the interaction key, the person, waiting for a pool connection, the transaction until its first statement)"],
  ["commit", "queued → wake-up (the rest of the transaction, commit, NOTIFY or the local wake)"],
  ["dispatcher", "wake-up → claim (the dispatcher busy with earlier notices)"],
  ["claim", "the claim statement"],
  ["worker", "claimed → its delivery starts (waiting for a free delivery or this VM's earlier notice)"],
  ["before_post", "database reads before the post (the DM's step, earlier steps)"],
  ["open", "conversations.open"],
  ["post", "chat.postMessage → at the fake Slack"],
] as const;
export type Part = (typeof PARTS)[number][0];

/** Every trace line in the service logs, by notice id (a notice tried twice keeps its last trace). */
export function readTraces(logFiles: string[]): Map<number, LoggedTrace> {
  const traces = new Map<number, LoggedTrace>();
  for (const file of logFiles) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const entry = parseJson(line);
      if (entry?.msg !== "notice delivery trace" || typeof entry.notice !== "number" || typeof entry.queuedAt !== "number" || !Array.isArray(entry.marks)) continue;
      traces.set(entry.notice, { notice: entry.notice, queuedAt: entry.queuedAt, marks: entry.marks as [string, number][] });
    }
  }
  return traces;
}

/**
 * Splits one DM's time (request sent at `sentAt`, its ack back at `ackAt`, DM
 * at the fake at `dmAt`, all ms since the epoch) into PARTS, or null when its
 * trace lacks a mark the split needs. Waits that overlap (a wake-up before the
 * notice was queued, a notice queued before the ack was read) count as 0.
 */
export function splitDm(sentAt: number, ackAt: number, dmAt: number, trace: LoggedTrace): Record<Part, number> | null {
  const at = (name: string, from = 0): number | undefined => {
    const found = trace.marks.slice(from).find(([what]) => what === name || (name.endsWith(":") && what.startsWith(name)));
    return found ? trace.queuedAt + found[1] : undefined;
  };
  const index = (name: string) => trace.marks.findIndex(([what]) => what === name);
  const woken = at("woken:");
  const claimStart = at("claim>");
  const claimed = at("claim<");
  const delivering = at("deliver>");
  const postIndex = index("chat.postMessage>");
  if (woken === undefined || claimStart === undefined || claimed === undefined || delivering === undefined || postIndex < 0) return null;
  const posting = trace.queuedAt + (trace.marks[postIndex]?.[1] ?? 0);
  // conversations.open, when the DM channel was not known yet: the last one before the post.
  const opens = trace.marks.slice(0, postIndex).filter(([what]) => what === "conversations.open>" || what === "conversations.open<");
  const openStart = opens.findLast(([what]) => what === "conversations.open>");
  const openEnd = opens.findLast(([what]) => what === "conversations.open<");
  const openMs = openStart && openEnd ? Math.max(0, openEnd[1] - openStart[1]) : 0;
  const wake = Math.max(woken, trace.queuedAt);
  return {
    ack: Math.max(0, Math.min(ackAt, trace.queuedAt) - sentAt),
    request: Math.max(0, trace.queuedAt - Math.max(ackAt, sentAt)),
    commit: Math.max(0, wake - trace.queuedAt),
    dispatcher: Math.max(0, claimStart - wake),
    claim: Math.max(0, claimed - claimStart),
    worker: Math.max(0, delivering - claimed),
    before_post: Math.max(0, posting - delivering - openMs),
    open: openMs,
    post: Math.max(0, dmAt - posting),
  };
}

/**
 * Why a DM figure is what it is: the mean of each part over the DMs traced,
 * and the parts of the DM at the p99 rank, largest first; the parts that make
 * up most of that DM are named.
 */
export function explainDms(dms: { ms: number; split: Record<Part, number> | null }[]): string {
  const traced = dms.filter((d): d is { ms: number; split: Record<Part, number> } => d.split !== null);
  if (traced.length === 0) return "no notice traces in the service logs (a build without OUTBOX_TRACE?): where the time went is unknown";
  const p99 = percentile(traced.map((d) => d.ms), 99);
  const worst = traced.reduce((best, d) => (Math.abs(d.ms - p99) < Math.abs(best.ms - p99) ? d : best));
  const mean = (part: Part) => traced.reduce((sum, d) => sum + d.split[part], 0) / traced.length;
  const ranked = PARTS.map(([part, words]) => ({ part, words, ms: worst.split[part] })).sort((a, b) => b.ms - a.ms);
  const total = ranked.reduce((sum, p) => sum + p.ms, 0);
  // The largest parts until they make up at least two thirds of the p99 DM's time.
  const named: typeof ranked = [];
  for (const p of ranked) {
    if (named.reduce((sum, n) => sum + n.ms, 0) >= (2 / 3) * total) break;
    named.push(p);
  }
  const byPart = PARTS.map(([part]) => `${part} ${fmt(mean(part))} (${fmt(worst.split[part])})`).join(", ");
  return (
    `the p99 DM (${fmt(worst.ms)} ms) spent ${named.map((p) => `${fmt(p.ms)} ms in ${p.words}`).join("; ")}` +
    `\n      parts, mean over ${traced.length} traced DMs (the p99 DM's): ${byPart} ms`
  );
}
