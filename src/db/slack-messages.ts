import { sql } from "drizzle-orm";
import type { Db, Executor, PgSql } from "./client.js";

/**
 * Storage of the Slack adapter's own table; the SQL lives here so the adapter holds none.
 * The bot's own messages that may need rewriting later (slack_messages):
 * checkout DMs and lease reminders, rewritten when the checkout ends;
 * quarantine alerts, rewritten when an admin acts; offers of a held VM,
 * rewritten when the offer ends. `closed_at` marks one rewritten for good.
 */
export type MessagePurpose = "checkout_dm" | "quarantine_alert" | "lease_reminder" | "offer_dm";

/** Quarantine alerts go to a channel, not to a person; this stands in the user column. */
export const ADMINS_AUDIENCE = "admins";

export interface OpenMessage {
  id: number;
  channel: string;
  ts: string;
  checkoutId: number | null;
}

/** Records a message the bot posted, in the caller's transaction (a delivered step's, src/core/outbox/record-step.ts). */
export async function recordMessage(
  tx: PgSql,
  m: { vm: string; user: string; channel: string; ts: string; purpose: MessagePurpose; checkoutId: number | null },
): Promise<void> {
  await tx`
    insert into slack_messages (vm_id, user_id, channel, ts, purpose, checkout_id)
    select id, ${m.user}, ${m.channel}, ${m.ts}, ${m.purpose}, ${m.checkoutId} from vms where name = ${m.vm}
    on conflict (channel, ts) do nothing`;
}

/**
 * Whether this checkout's DM is on record already: an owner whose claim was
 * taken over while it was still sending records the DM it posted, though no
 * longer the step.
 */
export async function hasCheckoutDm(db: Executor, checkoutId: number): Promise<boolean> {
  const rows = await db.execute(sql`select 1 from slack_messages where checkout_id = ${checkoutId} and purpose = 'checkout_dm'`);
  return rows.length > 0;
}

/** Messages about a VM still showing buttons; `checkoutId` narrows checkout DMs to one checkout. */
export async function openMessages(db: Executor, q: { vm: string; user: string; purpose: MessagePurpose; checkoutId?: number | null | undefined }): Promise<OpenMessage[]> {
  const rows = await db.execute<{ id: string | number; channel: string; ts: string; checkout_id: string | number | null }>(sql`
    select m.id, m.channel, m.ts, m.checkout_id from slack_messages m join vms v on v.id = m.vm_id
    where v.name = ${q.vm} and m.user_id = ${q.user} and m.purpose = ${q.purpose} and m.closed_at is null
      ${q.checkoutId ? sql`and m.checkout_id = ${q.checkoutId}` : sql``}
    order by m.id`);
  return rows.map((r) => ({ id: Number(r.id), channel: r.channel, ts: r.ts, checkoutId: r.checkout_id === null ? null : Number(r.checkout_id) }));
}

export async function closeMessage(db: Db, id: number): Promise<void> {
  await db.$client`update slack_messages set closed_at = now() where id = ${id} and closed_at is null`;
}

/** When a checkout started, for the ended DM's words. */
export async function checkoutStart(db: Executor, checkoutId: number | null): Promise<Date | null> {
  if (checkoutId === null) return null;
  const [row] = await db.execute<{ started_at: string }>(sql`select started_at::text from checkouts where id = ${checkoutId}`);
  return row ? new Date(row.started_at) : null;
}

/**
 * The earliest undelivered checkout notice this check-in must wait for (its DM
 * is the message to update), with how long until it is next due; null if none.
 */
export async function pendingCheckoutNotice(
  db: Executor,
  q: { before: number; vm: string; checkoutId: number | null },
): Promise<{ id: number; dueInMs: number } | null> {
  const [row] = await db.execute<{ id: string | number; due_in_ms: number }>(sql`
    select id, greatest(0, extract(epoch from next_attempt_at - now()) * 1000)::int as due_in_ms
    from outbox
    where kind = 'vm_checked_out' and delivered_at is null and id < ${q.before} and payload->>'vm' = ${q.vm}
      ${q.checkoutId ? sql`and (payload->>'checkoutId')::bigint = ${q.checkoutId}` : sql``}
    order by id limit 1`);
  return row ? { id: Number(row.id), dueInMs: row.due_in_ms } : null;
}

/** A message rewritten by a click's answer (replace_original): nothing should rewrite it again. */
export async function closeMessageAt(db: Db, at: { channel: string; ts: string }): Promise<void> {
  await db.$client`update slack_messages set closed_at = now() where channel = ${at.channel} and ts = ${at.ts} and closed_at is null`;
}

/** The pool a checkout was made in, for the words of DMs whose notice does not carry it. */
export async function checkoutPool(db: Executor, checkoutId: number): Promise<string | null> {
  const [row] = await db.execute<{ pool: string }>(sql`select pool from checkouts where id = ${checkoutId}`);
  return row?.pool ?? null;
}

/**
 * The checkout a recorded message belongs to, found by where Slack shows it (a click carries
 * its message's channel and ts); null when that message is not on record or names none.
 */
export async function checkoutOfMessage(db: Db, at: { channel: string; ts: string }): Promise<number | null> {
  const [row] = await db.$client<{ checkout_id: string | number | null }[]>`select checkout_id from slack_messages where channel = ${at.channel} and ts = ${at.ts}`;
  return row?.checkout_id == null ? null : Number(row.checkout_id);
}
