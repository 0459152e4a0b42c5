/**
 * Database errors that say "busy, try again" rather than "something is wrong":
 * a lock not granted within LOCK_TIMEOUT_MS, a deadlock victim, a serialization
 * failure, the server going away or refusing connections for a moment. Every
 * adapter answers them as a retryable refusal, never as an unexpected error.
 */
const RETRYABLE_SQLSTATES = new Set([
  "55P03", // lock_not_available (lock_timeout)
  "40P01", // deadlock_detected
  "40001", // serialization_failure
  "57P01", // admin_shutdown (server restarting)
  "57P03", // cannot_connect_now (server starting up)
  "53300", // too_many_connections
]);
const RETRYABLE_NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);

/** True when retrying the same request later may well succeed. */
export function isRetryableDatabaseError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (RETRYABLE_SQLSTATES.has(code) || RETRYABLE_NETWORK.has(code));
}
