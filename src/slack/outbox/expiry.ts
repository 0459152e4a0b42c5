import { formatDuration } from "../../duration.js";

/**
 * How a notice older than NOTICE_MAX_AGE is kept on record without a schema
 * change. A step that was not posted for being too old goes into
 * `delivered_steps` as `<step>:expired` (a person's DM, or an alert with no
 * admin channel to summarise in) or `<step>:summarised` (an admin alert told
 * in the summary message), so a retry skips it like a posted step; when the
 * notice completes, `last_error` says why (see expiryNote), and `delivered_at`
 * is set as for any delivered notice.
 */
export type NotPosted = "expired" | "summarised";

/** The `delivered_steps` entry of a step not posted for being too old. */
export function notPostedEntry(step: string, why: NotPosted): string {
  return `${step}:${why}`;
}

/** Whether a step is on record, posted or not. */
export function isRecorded(deliveredSteps: readonly string[], step: string): boolean {
  return deliveredSteps.some((s) => s === step || s === notPostedEntry(step, "expired") || s === notPostedEntry(step, "summarised"));
}

/**
 * What a completed notice's `last_error` says when some of its steps were not
 * posted for being too old, e.g. "expired: queued 2h5m ago, older than
 * NOTICE_MAX_AGE 1h; not sent: dm"; null when every step went out. Derived
 * from `delivered_steps`, so whoever completes the notice writes the same.
 */
export function expiryNote(deliveredSteps: readonly string[], ageMs: number, maxAgeMs: number): string | null {
  const of = (why: NotPosted) => deliveredSteps.filter((s) => s.endsWith(`:${why}`)).map((s) => s.slice(0, -why.length - 1));
  const expired = of("expired");
  const summarised = of("summarised");
  if (expired.length === 0 && summarised.length === 0) return null;
  return [
    `${expired.length > 0 ? "expired" : "summarised"}: queued ${formatDuration(ageMs, 2)} ago, older than NOTICE_MAX_AGE ${formatDuration(maxAgeMs)}`,
    expired.length > 0 ? `not sent: ${expired.join(", ")}` : null,
    summarised.length > 0 ? `told in one summary message to the admin channel instead: ${summarised.join(", ")}` : null,
  ]
    .filter((part) => part !== null)
    .join("; ");
}
