import { sql } from "drizzle-orm";
import type { Db, Executor } from "../../db/client.js";

/**
 * Drops bookkeeping nobody needs any more: interaction keys after a day (Slack
 * redelivers within minutes), delivered notices after two weeks, and DMs whose
 * checkout ended a month ago. Idempotent, so every replica may run it.
 */
export async function pruneDelivered(db: Db): Promise<void> {
  const pg = db.$client;
  await pg`delete from processed_interactions where at < now() - interval '1 day'`;
  await pg`delete from outbox where delivered_at < now() - interval '14 days'`;
  await pg`delete from slack_messages where closed_at < now() - interval '30 days'`;
}

/** Notices not yet delivered, for /healthz. */
export async function pendingNotices(db: Executor): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`select count(*)::int as n from outbox where delivered_at is null`);
  return row?.n ?? 0;
}
