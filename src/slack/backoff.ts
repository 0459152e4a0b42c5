/**
 * Exponential backoff with "equal jitter": between half and all of
 * base·2^attempt, capped at max. The jitter spreads retries of many notices
 * (and several replicas) so they do not hit Slack in one burst when it comes back.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
