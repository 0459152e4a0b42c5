import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";

/**
 * The bot's own messages that may need rewriting later (slack_messages):
 * checkout DMs, rewritten when the checkout ends, and quarantine alerts,
 * rewritten when an admin acts. `closed_at` marks one rewritten for good.
 */
export type MessagePurpose = "checkout_dm" | "quarantine_alert";

/** Quarantine alerts go to a channel, not to a person; this stands in the user column. */
export const ADMINS_AUDIENCE = "admins";

export interface OpenMessage {
  id: number;
  channel: string;
  ts: string;
  /** As PostgreSQL prints it. */
  checkedOutAt: string | null;
}

export async function recordMessage(
  tx: Executor,
  m: { vm: string; user: string; channel: string; ts: string; purpose: MessagePurpose; checkedOutAt: string | null },
): Promise<void> {
  await tx.execute(sql`
    insert into slack_messages (vm_id, user_id, channel, ts, purpose, checked_out_at)
    select id, ${m.user}, ${m.channel}, ${m.ts}, ${m.purpose}, ${m.checkedOutAt}::timestamptz from vms where name = ${m.vm}
    on conflict (channel, ts) do nothing`);
}

/**
 * Whether this checkout's DM is on record already: an owner whose claim was
 * taken over while it was still sending records the DM it posted, though no
 * longer the step.
 */
export async function hasCheckoutDm(db: Executor, vm: string, user: string, checkedOutAt: string): Promise<boolean> {
  const rows = await db.execute(sql`
    select 1 from slack_messages m join vms v on v.id = m.vm_id
    where v.name = ${vm} and m.user_id = ${user} and m.purpose = 'checkout_dm' and m.checked_out_at = ${checkedOutAt}::timestamptz`);
  return rows.length > 0;
}

/** Messages about a VM still showing buttons; `checkedOutAt` narrows checkout DMs to one checkout. */
export async function openMessages(db: Executor, q: { vm: string; user: string; purpose: MessagePurpose; checkedOutAt?: string | undefined }): Promise<OpenMessage[]> {
  const rows = await db.execute<{ id: string | number; channel: string; ts: string; checked_out_at: string | null }>(sql`
    select m.id, m.channel, m.ts, m.checked_out_at from slack_messages m join vms v on v.id = m.vm_id
    where v.name = ${q.vm} and m.user_id = ${q.user} and m.purpose = ${q.purpose} and m.closed_at is null
      ${q.checkedOutAt ? sql`and m.checked_out_at = ${q.checkedOutAt}::timestamptz` : sql``}
    order by m.id`);
  return rows.map((r) => ({ id: Number(r.id), channel: r.channel, ts: r.ts, checkedOutAt: r.checked_out_at }));
}

export async function closeMessage(db: Executor, id: number): Promise<void> {
  await db.execute(sql`update slack_messages set closed_at = now() where id = ${id} and closed_at is null`);
}

/**
 * The earliest undelivered checkout notice this check-in must wait for (its DM
 * is the message to update), with how long until it is next due; null if none.
 */
export async function pendingCheckoutNotice(
  db: Executor,
  q: { before: number; vm: string; user: string; checkedOutAt?: string | undefined },
): Promise<{ id: number; dueInMs: number } | null> {
  const [row] = await db.execute<{ id: string | number; due_in_ms: number }>(sql`
    select id, greatest(0, extract(epoch from next_attempt_at - now()) * 1000)::int as due_in_ms
    from outbox
    where kind = 'vm_checked_out' and delivered_at is null and id < ${q.before}
      and payload->>'user' = ${q.user} and payload->'vm'->>'name' = ${q.vm}
      ${q.checkedOutAt ? sql`and (payload->'vm'->>'checkedOutAt')::timestamptz = ${q.checkedOutAt}::timestamptz` : sql``}
    order by id limit 1`);
  return row ? { id: Number(row.id), dueInMs: row.due_in_ms } : null;
}
