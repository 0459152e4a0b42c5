import type { Db } from "../../db/client.js";
import { idsJson, type Claimer, type NoticeRow } from "./notice-row.js";

/**
 * Which stale alerts (notices of `kinds` older than the maximum age) a claim
 * takes: `only` them, to be told in one summary, or `none` of them, leaving
 * them to that summary. Null: no distinction (notices never expire, or there
 * is no admin channel to summarise in).
 */
export type StaleAlerts = { kinds: readonly string[]; claim: "only" | "none" } | null;

/**
 * Claims up to `limit` due notices, oldest first, in one autocommitted
 * statement: the claim is committed before any Slack call, and SKIP LOCKED
 * lets replicas claim side by side. A claim older than `claimTimeoutMs`
 * belongs to a process that died mid-delivery and is taken over (the row says
 * so: its messages may be in Slack already); rows this dispatcher is still
 * working on (`inFlight`) are never taken back by it. Each row says, on the
 * database's clock, how old it is and whether it is older than `maxAgeMs`
 * (NOTICE_MAX_AGE; 0: never).
 */
export async function claimNotices(
  db: Db,
  opts: { claimer: Claimer; limit: number; claimTimeoutMs: number; inFlight: number[]; maxAgeMs: number; staleAlerts: StaleAlerts },
): Promise<NoticeRow[]> {
  const pg = db.$client;
  const stale = () => (opts.maxAgeMs > 0 ? pg`(created_at < now() - make_interval(secs => ${opts.maxAgeMs / 1000}))` : pg`false`);
  const staleAlert = opts.staleAlerts
    ? pg`(kind in (select jsonb_array_elements_text(${JSON.stringify(opts.staleAlerts.kinds)}::jsonb)) and ${stale()})`
    : pg`false`;
  const which = opts.staleAlerts === null ? pg`` : opts.staleAlerts.claim === "only" ? pg`and ${staleAlert}` : pg`and not ${staleAlert}`;
  const rows = await pg<{
    id: string | number;
    kind: string;
    payload: unknown;
    attempts: number;
    delivered_steps: string[];
    queued_at: string;
    age_ms: string | number;
    expired: boolean;
    taken_over: boolean;
  }[]>`
    with due as (
      select id, claimed_by is not null as taken_over, ${stale()} as expired,
        (extract(epoch from now() - created_at) * 1000)::bigint as age_ms
      from outbox
      where delivered_at is null
        and next_attempt_at <= now()
        and (claimed_by is null or claimed_at < now() - make_interval(secs => ${opts.claimTimeoutMs / 1000}))
        and id not in (select jsonb_array_elements_text(${idsJson(opts.inFlight)}::jsonb)::bigint)
        ${which}
      order by id
      limit ${opts.limit}
      for update skip locked)
    update outbox o set claimed_by = ${opts.claimer}, claimed_at = now()
    from due where o.id = due.id
    returning o.id, o.kind, o.payload, o.attempts, o.delivered_steps, extract(epoch from o.created_at)::text as queued_at,
      due.age_ms, due.expired, due.taken_over`;
  return rows
    .map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      payload: r.payload,
      attempts: r.attempts,
      deliveredSteps: r.delivered_steps ?? [],
      queuedAt: r.queued_at,
      ageMs: Math.max(0, Number(r.age_ms)),
      expired: r.expired,
      takenOver: r.taken_over,
    }))
    .sort((a, b) => a.id - b.id);
}
