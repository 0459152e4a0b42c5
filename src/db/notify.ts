import type postgres from "postgres";
import type { Logger } from "../log.js";

/** Notified (by the trigger in drizzle/0003) at the commit of any transaction that queued a notice. */
export const OUTBOX_CHANNEL = "vmres_outbox";
/** Notified at the commit of any transaction that made a cleanup due now. */
export const CLEANUP_CHANNEL = "vmres_cleanup";
/** Notified (by the triggers in drizzle/0022) at the commit of a change that made a provider job claimable now. */
export const PROVIDER_JOBS_CHANNEL = "vmres_provider_jobs";
/**
 * Notified (by the triggers in drizzle/0016) with a pool's name at the commit of a change that may
 * end or move a wait in that pool's queue: a VM of it became available, or a place changed state.
 */
export const QUEUE_CHANNEL = "vmres_queue";

/**
 * Notified (by the triggers in drizzle/0021) with `{"kind", "pool"}` at the commit of anything the
 * web page shows: a VM's state, a checkout, a queue place, a booking (src/web/live.ts).
 */
export const CHANGES_CHANNEL = "vmres_changes";

/**
 * Notified (by the triggers in drizzle/0026) with the new `api_token_epoch` at the commit of a
 * change that may change what a token authenticates as: each replica empties its token cache.
 */
export const TOKENS_CHANNEL = "vmres_tokens";

/**
 * Stops waking. It does not wait for the server: with the database down the
 * UNLISTEN would wait for the reconnection and hold up a shutdown; closing the
 * pool closes the listening connection anyway.
 */
export type StopListening = () => void;

/**
 * Calls `wake` whenever `channel` is notified, whichever process committed the
 * change (with the notification's payload), and also each time listening
 * (re)starts (with no payload: notifications sent while the connection was
 * down are lost, so a reconnect wakes once to catch up on everything).
 *
 * postgres.js keeps one extra connection per pool for all its channels and,
 * when that connection drops (PostgreSQL restarted), opens it again with
 * backoff and listens again by itself. A failure to listen at start is
 * logged, not thrown: polling still finds the work, only later.
 */
export async function listenForWakeups(sql: postgres.Sql, channel: string, wake: (payload?: string) => void, log: Logger): Promise<StopListening> {
  let listening = false;
  const onListen = () => {
    if (listening) log.info({ channel }, "listening for wake-ups again after a lost database connection");
    listening = true;
    wake();
  };
  try {
    const { unlisten } = await sql.listen(channel, (payload) => wake(payload), onListen);
    return () => void unlisten().catch((err: unknown) => log.debug({ err, channel }, "unlisten failed; the connection closes anyway"));
  } catch (err) {
    log.warn({ err, channel }, "cannot listen for wake-ups; relying on polling until the connection is back");
    return () => undefined;
  }
}
