/**
 * Durations as people write them in settings: a whole number per unit, units
 * d, h, m, s, largest first, each at most once: `90m`, `4h`, `2d`, `1d12h`,
 * `30s`. A duration of zero is written as one zero (`0`, `0s`, `0m`…), so a
 * slip like `0h0m` is refused instead of meaning "nothing". Used for
 * NOTICE_MAX_AGE, and meant for any later setting of that kind (lease lengths).
 */

const UNITS = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
] as const;

const SHAPE = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const ZERO = /^0[dhms]?$/;

/** What a malformed duration is told, for configuration errors. */
export const DURATION_SHAPE = "expected a duration like 90m, 4h, 2d or 1d12h (whole numbers, units d, h, m, s, largest first)";

/** Milliseconds of a duration written as above; null for anything else (`1.5h`, `1H`, `1h 30m`, `30m1h`, `-1h`, `0h0m`, ``). */
export function parseDuration(text: string): number | null {
  if (ZERO.test(text)) return 0;
  const parts = SHAPE.exec(text);
  if (!parts || text === "") return null;
  let ms = 0;
  UNITS.forEach(([, unitMs], i) => {
    const n = parts[i + 1];
    if (n !== undefined) ms += Number(n) * unitMs;
  });
  // A total of zero from several parts ("0h0m") is more likely a mistake than a wish.
  if (ms === 0 || !Number.isSafeInteger(ms)) return null;
  return ms;
}

/**
 * A duration in the same notation, to the second (rounded down): 5_400_000 is
 * `1h30m`, 0 is `0s`. `units` keeps only that many units from the largest
 * non-zero one, for ages in messages: `formatDuration(9_000_500, 2)` is `2h30m`,
 * `formatDuration(90_061_000, 2)` is `1d1h`.
 */
export function formatDuration(ms: number, units: number = UNITS.length): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`not a duration: ${ms} ms`);
  let rest = Math.floor(ms / 1000) * 1000;
  const first = UNITS.findIndex(([, unitMs]) => rest >= unitMs);
  if (first === -1) return "0s";
  let text = "";
  for (const [unit, unitMs] of UNITS.slice(first, first + Math.max(1, units))) {
    const n = Math.floor(rest / unitMs);
    rest -= n * unitMs;
    if (n > 0) text += `${n}${unit}`;
  }
  return text;
}

/** "in 3 h 20 min", "2 min ago", "in less than a minute": how far a time is from `now`, for messages. */
export function relativeTime(to: Date | string, now: Date = new Date()): string {
  const ms = new Date(to).getTime() - now.getTime();
  if (Math.abs(ms) < 60_000) return ms >= 0 ? "in less than a minute" : "just now";
  const text = formatDuration(Math.abs(ms), 2)
    .replace(/(\d+)d/, "$1 d ")
    .replace(/(\d+)h/, "$1 h ")
    .replace(/(\d+)m/, "$1 min ")
    .replace(/(\d+)s/, "$1 s ")
    .trim();
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}
