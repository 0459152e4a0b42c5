import { formatDuration, relativeTime } from "../duration.js";

export { relativeTime };

/**
 * Times as the CLI shows lease ends: the local time of the machine running it,
 * ISO-like (`2026-12-02 14:30+01:00`, `2026-12-02 13:30Z` in UTC), then how far
 * away it is (`in 3 h 20 min`, relativeTime in src/duration.ts, which the
 * Slack messages use too; light, so refusals are worded before the database
 * layer is loaded).
 */

const pad = (n: number) => String(n).padStart(2, "0");

/** `2026-12-02 14:30+01:00`: minutes, local time, with the offset (`Z` for UTC). */
export function localTime(date: Date | string): string {
  const d = new Date(date);
  const offset = -d.getTimezoneOffset();
  const zone = offset === 0 ? "Z" : `${offset > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}${zone}`;
}

/** `2026-12-02 14:30+01:00 (in 3 h 20 min)`. */
export const timeText = (date: Date | string, now: Date = new Date()): string => `${localTime(date)} (${relativeTime(date, now)})`;

/** A checkout's end as listings show it: the time and how far, or `pinned` when it has none. */
export const endText = (endsAt: Date | string | null, now: Date = new Date()): string => (endsAt === null ? "pinned" : timeText(endsAt, now));

/** `4h`, `1d12h`: a length as settings and flags write it (`units`: keep only that many, from the largest). */
export const lengthText = (ms: number, units?: number): string => formatDuration(ms, units);
