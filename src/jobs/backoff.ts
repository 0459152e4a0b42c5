/** The growth of a retry delay: the first wait's ceiling and the largest. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/**
 * How long to wait before the next attempt after `failures` failed ones (the
 * one backoff of every job kind: cleanups, provider jobs, notices):
 * exponential (base × 2^(failures−1)), capped, with full jitter (uniform in
 * [0, that]). The jitter spreads the retries of many jobs that failed together
 * (a network outage, Slack down, a provider down) instead of retrying them in
 * step; "full" rather than "equal" jitter because it spreads them the most for
 * the same total work (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
export function retryDelayMs(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  // Bounded so 2^exponent stays finite (0 × Infinity would be NaN); the cap is reached long before.
  const exponent = Math.min(Math.max(0, failures - 1), 40);
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
