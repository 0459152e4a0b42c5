/**
 * The one backoff of vmres: how long to wait before the next attempt after `failures` failed ones
 * (1 for the first failure). The ceiling is exponential, base × 2^(failures − 1), capped at `maxMs`;
 * the jitter says where below it the delay falls:
 * - `full`: anywhere in [0, ceiling) — spreads many retries that failed together (cleanups after a
 *   network outage) the most, at the price of some retrying almost at once;
 * - `equal`: in [ceiling/2, ceiling] — spread, but never sooner than half (Slack coming back should
 *   not get every notice at once, nor any of them at once);
 * - `none`: the ceiling itself, for a caller whose retries do not come in herds (one CLI's own calls,
 *   a provider job).
 */
export type Jitter = "full" | "equal" | "none";

/** A backoff's settings. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
  jitter: Jitter;
}

/** The delay in ms before the attempt after `failures` failed ones; `random` in [0, 1), for tests. */
export function backoffDelayMs(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  // Bounded so 2^exponent stays finite (0 × Infinity would be NaN); the cap is reached long before.
  const exponent = Math.min(Math.max(0, failures - 1), 40);
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** exponent);
  switch (backoff.jitter) {
    case "full":
      return Math.floor(random() * ceiling);
    case "equal":
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    case "none":
      return ceiling;
  }
}
