import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import { idsJson, type Claimer, type NoticeRow } from "./notice-row.js";

/**
 * Claims up to `limit` due notices, oldest first, in one autocommitted
 * statement: the claim is committed before any Slack call, and SKIP LOCKED
 * lets replicas claim side by side. A claim older than `claimTimeoutMs`
 * belongs to a process that died mid-delivery and is taken over (the row says
 * so: its messages may be in Slack already); rows this dispatcher is still
 * working on (`inFlight`) are never taken back by it.
 */
export async function claimNotices(
  db: Executor,
  opts: { claimer: Claimer; limit: number; claimTimeoutMs: number; inFlight: number[] },
): Promise<NoticeRow[]> {
  const rows = await db.execute<{
    id: string | number;
    kind: string;
    payload: unknown;
    attempts: number;
    delivered_steps: string[];
    queued_at: string;
    taken_over: boolean;
  }>(sql`
    with due as (
      select id, claimed_by is not null as taken_over from outbox
      where delivered_at is null
        and next_attempt_at <= now()
        and (claimed_by is null or claimed_at < now() - make_interval(secs => ${opts.claimTimeoutMs / 1000}))
        and id not in (select jsonb_array_elements_text(${idsJson(opts.inFlight)}::jsonb)::bigint)
      order by id
      limit ${opts.limit}
      for update skip locked)
    update outbox o set claimed_by = ${opts.claimer}, claimed_at = now()
    from due where o.id = due.id
    returning o.id, o.kind, o.payload, o.attempts, o.delivered_steps, extract(epoch from o.created_at)::text as queued_at, due.taken_over`);
  return rows
    .map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      payload: r.payload,
      attempts: r.attempts,
      deliveredSteps: r.delivered_steps ?? [],
      queuedAt: r.queued_at,
      takenOver: r.taken_over,
    }))
    .sort((a, b) => a.id - b.id);
}
