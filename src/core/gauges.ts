import type { Db } from "../db/client.js";

/**
 * What /metrics reads from the database at scrape time (src/metrics/database-metrics.ts turns
 * each into gauges). Every pool has a row, so a dashboard can tell 0 from missing.
 */

/** VMs by pool and state: a row for every pool and state, 0 when none. */
export async function vmsByPoolAndState(db: Db): Promise<{ pool: string; state: string; n: number }[]> {
  return db.$client<{ pool: string; state: string; n: number }[]>`
    select p.name as pool, s.state::text as state, count(v.id)::int as n
    from pools p cross join unnest(enum_range(null::vm_state)) as s(state)
    left join vms v on v.pool = p.name and v.state = s.state
    group by p.name, s.state`;
}

/** People in each pool's queue, waiting or offered a VM. */
export async function queueLengths(db: Db): Promise<{ pool: string; n: number }[]> {
  return db.$client<{ pool: string; n: number }[]>`
    select p.name as pool, count(w.id)::int as n
    from pools p left join waiters w on w.pool = p.name and w.state in ('waiting', 'offered')
    group by p.name`;
}

/** Seconds since the longest-waiting VM of each pool went to cleaning (0: none cleaning). */
export async function oldestCleaningAges(db: Db): Promise<{ pool: string; age: number }[]> {
  // The cleaning VMs come from the partial index vms_cleanup_due: a few rows, however many VMs there are.
  const rows = await db.$client<{ pool: string; age: number }[]>`
    select p.name as pool, coalesce(extract(epoch from now() - c.oldest), 0)::float8 as age
    from pools p left join (select pool, min(state_changed_at) as oldest from vms where state = 'cleaning' group by pool) c on c.pool = p.name`;
  return rows.map((r) => ({ pool: r.pool, age: Math.max(0, r.age) }));
}

/** Notices waiting to be delivered, and the age of the oldest in seconds (0: none). */
export async function outboxState(db: Db): Promise<{ backlog: number; oldestSeconds: number }> {
  const [row] = await db.$client<{ backlog: number; oldest: number | null }[]>`
    select count(*)::int as backlog, extract(epoch from now() - min(created_at))::float8 as oldest
    from outbox where delivered_at is null`;
  return { backlog: row?.backlog ?? 0, oldestSeconds: Math.max(0, row?.oldest ?? 0) };
}

/** VMs in the inventory (retired ones aside) and the pools that have any or are provisioned. */
export async function inventorySize(db: Db): Promise<{ vms: number; pools: number }> {
  const [counts] = await db.$client<{ vms: number; pools: number }[]>`
    select (select count(*)::int from vms where state <> 'retired') as vms,
           (select count(*)::int from pools p
             where p.kind = 'provisioned' or exists (select 1 from vms v where v.pool = p.name and v.state <> 'retired')) as pools`;
  return { vms: counts?.vms ?? 0, pools: counts?.pools ?? 0 };
}
