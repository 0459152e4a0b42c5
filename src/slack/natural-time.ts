import * as chrono from "chrono-node";

/**
 * Times as people type them in Slack ("mon 9:00", "tomorrow 14:00",
 * "2026-12-07 09:00"), read in the person's own IANA time zone. chrono-node
 * reads the words; it only knows fixed offsets, so the wall-clock time it finds
 * is turned into an instant here with the zone's offset *on that date*: "mon
 * 9:00" in Europe/Berlin is 9:00 local whether or not summer time began between
 * now and Monday.
 */

/** The zone's offset from UTC at an instant, in minutes (Europe/Berlin in winter: 60). */
export function zoneOffsetMinutes(timeZone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? "0");
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
}

/**
 * The instant of a wall-clock time in a zone. A time that does not exist (the
 * hour skipped when summer time begins) is read with the offset before the change.
 */
export function wallTimeToInstant(timeZone: string, f: { year: number; month: number; day: number; hour: number; minute: number; second?: number }): Date {
  const guess = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second ?? 0);
  const first = zoneOffsetMinutes(timeZone, new Date(guess));
  const t = guess - first * 60_000;
  const second = zoneOffsetMinutes(timeZone, new Date(t));
  return new Date(second === first ? t : guess - second * 60_000);
}

/** What a typed time means, or what is wrong with it. */
export type NaturalTime = { ok: true; at: Date } | { ok: false; problem: string };

/**
 * Reads one time, relative to `reference` (the future is meant: "mon" is the
 * coming Monday). The whole text must be a time: "mon 9:00 banana" is refused
 * rather than half-read.
 */
export function parseNaturalTime(text: string, timeZone: string, reference: Date): NaturalTime {
  const trimmed = text.trim();
  const shape = `write it like "mon 9:00", "tomorrow 14:00" or "2026-12-07 09:00" (read in your time zone, ${timeZone})`;
  if (trimmed === "") return { ok: false, problem: `a time is missing: ${shape}` };
  const [found, ...more] = chrono.parse(trimmed, { instant: reference, timezone: zoneOffsetMinutes(timeZone, reference) }, { forwardDate: true });
  if (!found || more.length > 0 || found.index !== 0 || found.text.length !== trimmed.length) {
    return { ok: false, problem: `"${trimmed.slice(0, 60)}" is not a time vmres can read: ${shape}` };
  }
  const start = found.start;
  // An offset or zone typed with the time ("9:00 UTC", "…+01:00") wins over the person's zone.
  if (start.isCertain("timezoneOffset")) return { ok: true, at: start.date() };
  const at = wallTimeToInstant(timeZone, {
    year: start.get("year") ?? 0,
    month: start.get("month") ?? 1,
    day: start.get("day") ?? 1,
    hour: start.get("hour") ?? 0,
    minute: start.get("minute") ?? 0,
    second: start.get("second") ?? 0,
  });
  return Number.isNaN(at.getTime()) ? { ok: false, problem: `"${trimmed.slice(0, 60)}" is not a real date and time: ${shape}` } : { ok: true, at };
}

/**
 * A booking's range as typed: `to` is read like `from`, and when that lands at
 * or before the start ("from fri 22:00 to 6:00"), again relative to the start.
 */
export function parseNaturalRange(fromText: string, toText: string, timeZone: string, now: Date): { ok: true; from: Date; to: Date } | { ok: false; field: "from" | "to"; problem: string } {
  const from = parseNaturalTime(fromText, timeZone, now);
  if (!from.ok) return { ok: false, field: "from", problem: from.problem };
  let to = parseNaturalTime(toText, timeZone, now);
  if (to.ok && to.at.getTime() <= from.at.getTime()) to = parseNaturalTime(toText, timeZone, from.at);
  if (!to.ok) return { ok: false, field: "to", problem: to.problem };
  return { ok: true, from: from.at, to: to.at };
}
