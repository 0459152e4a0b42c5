import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "../../log.js";

/** Wall-clock time in ms since the epoch, to a fraction of a ms (comparable with other processes' on the same machine). */
export const traceNow = (): number => performance.timeOrigin + performance.now();

/** What woke the dispatcher before a claim: this process queued a notice, PostgreSQL notified, or the poll came round. */
export type WakeSource = "local" | "listen" | "poll";

/**
 * One notice's way from the outbox to Slack, mark by mark: the wake-up and
 * claim, each step's start and end, each Web API call's start and answer
 * (recorded by the Slack client's fetch, see slack-client.ts), and the end.
 * Logged as one line when the notice is done (`notice delivery trace`), so
 * where the time goes is measured rather than guessed: at debug level, or
 * always with OUTBOX_TRACE=true (docs/slack.md, "Where the time goes").
 */
export class DeliveryTrace {
  private readonly marks: [string, number][] = [];

  constructor(
    readonly noticeId: number,
    readonly kind: string,
    /** When the notice was queued: the queuing transaction's start, on the database's clock (ms since the epoch). */
    readonly queuedAt: number,
  ) {}

  mark(what: string, at = traceNow()): void {
    this.marks.push([what, at]);
  }

  /** The log line's fields: each mark in ms after the notice was queued, in the order they happened. */
  fields(outcome: string): Record<string, unknown> {
    const marks = [...this.marks].sort((a, b) => a[1] - b[1]).map(([what, at]) => [what, Math.round((at - this.queuedAt) * 10) / 10]);
    return { notice: this.noticeId, kind: this.kind, queuedAt: this.queuedAt, outcome, marks };
  }
}

const current = new AsyncLocalStorage<DeliveryTrace>();

/** Runs `work` with `trace` as the trace that Slack calls made inside it are marked in. */
export function withTrace<T>(trace: DeliveryTrace, work: () => Promise<T>): Promise<T> {
  return current.run(trace, work);
}

/** Marks a mark in the trace of the notice being delivered, if any (a call outside a delivery is not traced). */
export function markInTrace(what: string): void {
  current.getStore()?.mark(what);
}

/** Writes traces: at debug level, or at info when OUTBOX_TRACE asks for them without the rest of debug. */
export function traceLogger(log: Logger, always: boolean): Logger {
  return always ? log.child({ trace: "outbox" }, { level: "debug" }) : log;
}

/** Runs `work` outside any notice's trace: work shared by several notices (a Home publish) belongs to none. */
export function untraced<T>(work: () => Promise<T>): Promise<T> {
  return current.exit(work);
}
