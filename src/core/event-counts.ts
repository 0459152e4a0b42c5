import type { Db } from "../db/client.js";
import type { EventSource } from "../db/schema.js";

/** One counter series as the database holds it: an event kind or a refusal (`code` set), by pool and source. */
export interface CountRow {
  kind: string;
  code: string;
  pool: string;
  source: EventSource;
  n: number;
}

/** Deltas moved per scrape at most, so a scrape after a long pause stays within its timeout. */
const ROLLUP_BATCH = 50_000;

/**
 * The counts of events and refusals, from the database: `event_counts` plus the deltas not yet
 * rolled up, summed in one statement (one snapshot: a roll-up commits its delete and its add
 * together, so a reader sees the delta on one side or the other, never both or neither).
 * First rolls up the deltas that are there, so the read stays small: one replica at a time
 * (a try-lock: the others read without rolling up), in key order.
 */
export async function readCounts(db: Db): Promise<CountRow[]> {
  await rollUpCounts(db);
  const rows = await db.$client<{ kind: string; code: string; pool: string; source: EventSource; n: string }[]>`
    select kind, code, pool, source, sum(n)::text as n
    from (select kind, code, pool, source, n from event_counts
          union all
          select kind, code, pool, source, n from event_count_deltas) as c
    group by kind, code, pool, source`;
  // Counts pass 2^53 only after centuries of checkouts; text keeps postgres.js from returning a string anyway.
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/** Moves deltas into `event_counts`; returns how many delta rows it moved (0 when another replica is at it). */
export async function rollUpCounts(db: Db): Promise<number> {
  return db.$client.begin(async (tx) => {
    const [lock] = await tx<{ got: boolean }[]>`select pg_try_advisory_xact_lock(hashtextextended('vmres:event_counts_rollup', 0)) as got`;
    if (!lock?.got) return 0;
    const [moved] = await tx<{ rows: number }[]>`
      with moved as (
        delete from event_count_deltas
        where id in (select id from event_count_deltas order by id limit ${ROLLUP_BATCH})
        returning kind, code, pool, source, n),
      summed as (
        select kind, code, pool, source, sum(n)::bigint as n, count(*)::int as rows
        from moved group by kind, code, pool, source),
      added as (
        insert into event_counts (kind, code, pool, source, n)
        select kind, code, pool, source, n from summed order by kind, code, pool, source
        on conflict (kind, code, pool, source) do update set n = event_counts.n + excluded.n)
      select coalesce(sum(rows), 0)::int as rows from summed`;
    return moved?.rows ?? 0;
  });
}
