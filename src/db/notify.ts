import type postgres from "postgres";
import type { Logger } from "../log.js";

/** Notified (by the trigger in drizzle/0003) at the commit of any transaction that queued a notice. */
export const OUTBOX_CHANNEL = "vmres_outbox";
/** Notified at the commit of any transaction that made a cleanup due now. */
export const CLEANUP_CHANNEL = "vmres_cleanup";

/**
 * Stops waking. It does not wait for the server: with the database down the
 * UNLISTEN would wait for the reconnection and hold up a shutdown; closing the
 * pool closes the listening connection anyway.
 */
export type StopListening = () => void;

/**
 * Calls `wake` whenever `channel` is notified, whichever process committed the
 * change, and also each time listening (re)starts: notifications sent while
 * the connection was down are lost, so a reconnect wakes once to catch up.
 *
 * postgres.js keeps one extra connection per pool for all its channels and,
 * when that connection drops (PostgreSQL restarted), opens it again with
 * backoff and listens again by itself. A failure to listen at start is
 * logged, not thrown: polling still finds the work, only later.
 */
export async function listenForWakeups(sql: postgres.Sql, channel: string, wake: () => void, log: Logger): Promise<StopListening> {
  let listening = false;
  const onListen = () => {
    if (listening) log.info({ channel }, "listening for wake-ups again after a lost database connection");
    listening = true;
    wake();
  };
  try {
    const { unlisten } = await sql.listen(channel, () => wake(), onListen);
    return () => void unlisten().catch((err: unknown) => log.debug({ err, channel }, "unlisten failed; the connection closes anyway"));
  } catch (err) {
    log.warn({ err, channel }, "cannot listen for wake-ups; relying on polling until the connection is back");
    return () => undefined;
  }
}
