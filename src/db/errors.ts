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

/**
 * True when retrying the same request later may well succeed. Looks through
 * `cause`: drizzle wraps the driver's error in one of its own without a code.
 */
export function isRetryableDatabaseError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code !== "string") continue;
    if (RETRYABLE_SQLSTATES.has(code) || RETRYABLE_NETWORK.has(code)) return true;
    // query_canceled is retryable only when it was lock_timeout's doing, not statement_timeout's or a cancel.
    if (code === "57014" && typeof message === "string" && message.includes("lock timeout")) return true;
  }
  return false;
}

/**
 * The connection the error came on is gone (the server closed it or it broke).
 * postgres.js has already moved such a connection to its closed set and will
 * reconnect it on demand: code holding it (a reserved connection) must neither
 * write on it again nor release it back into the pool.
 */
export function isConnectionLost(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code } = e as { code?: unknown };
    if (typeof code === "string" && CONNECTION_LOST.has(code)) return true;
  }
  return false;
}

const CONNECTION_LOST = new Set([
  ...RETRYABLE_NETWORK,
  "EPIPE",
  "57P01", // admin_shutdown: the server ends the session
  "57P02", // crash_shutdown
]);
