import { sql } from "drizzle-orm";
import { clockAt } from "../clock.js";
import { enqueueNotices } from "../notices.js";
import type { Core } from "../types.js";
import { instanceName, provisionedPools } from "./pools.js";

/**
 * Keeps each provisioned pool's `min_idle` ready, plus one for each person
 * waiting in its queue (a checkout does not create while people wait, so the
 * queue is served from here: an instance created for nobody becomes available
 * and the lease sweep offers it to the first in line). Counts the instances
 * free or being created for anyone, and queues creates for the difference,
 * never past `max_size`. Under the pool's size lock (the one checkout's create
 * takes), so two replicas topping up at once create once. Returns the
 * instances queued.
 */
export async function topUpPools(core: Core): Promise<string[]> {
  const queued: string[] = [];
  for (const pool of await provisionedPools(core.db)) {
    const names = await core.db.$client.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:pool-size:" + pool.name}, 0))`;
      const [c] = await tx<{ idle: number; live: number; waiting: number }[]>`
        select (select count(*)::int from vms where pool = ${pool.name} and state = 'available')
             + (select count(*)::int from instances where pool = ${pool.name} and state = 'creating' and for_person_id is null) as idle,
               (select count(*)::int from instances where pool = ${pool.name} and state not in ('deleted', 'failed')) as live,
               (select count(*)::int from waiters where pool = ${pool.name} and state = 'waiting') as waiting`;
      const wanted = Math.min(pool.minIdle + (c?.waiting ?? 0) - (c?.idle ?? 0), pool.maxSize - (c?.live ?? 0));
      const made: string[] = [];
      for (let i = 0; i < wanted; i++) {
        const [{ id } = { id: 0 }] = await tx<{ id: number }[]>`select nextval(pg_get_serial_sequence('instances', 'id'))::int as id`;
        const name = instanceName(pool.name, id);
        await tx`insert into instances (id, name, pool, source_ref) values (${id}, ${name}, ${pool.name}, ${pool.image})`;
        await tx`insert into provider_jobs (kind, pool, instance_id) values ('create', ${pool.name}, ${id})`;
        made.push(name);
      }
      return made;
    });
    queued.push(...names);
  }
  return queued;
}

/**
 * Deletes saved images no longer wanted: dirty ones (replaced by a newer save
 * of the same person and pool) once `retentionMs` has passed, and, per person
 * and pool, all but the newest `max_images`. Each becomes `deleting` with a
 * delete job, in one statement (idempotent: a deleting image is not chosen twice).
 */
export async function sweepImages(core: Core, retentionMs: number): Promise<string[]> {
  const rows = await core.db.$client<{ name: string }[]>`
    with ranked as (
      select i.id, i.state, i.dirty_at, p.max_images,
             row_number() over (partition by i.person_id, i.pool order by i.created_at desc, i.id desc) as n
      from images i join pools p on p.name = i.pool
      where i.state in ('ready', 'dirty')
    ), doomed as (
      select id from ranked
      where n > max_images
         or (state = 'dirty' and dirty_at <= coalesce(${clockAt(core)}::timestamptz, now()) - ${retentionMs}::bigint * interval '1 millisecond')
    ), marked as (
      update images i set state = 'deleting' from doomed where i.id = doomed.id returning i.id, i.name, i.pool
    ), queued as (
      insert into provider_jobs (kind, pool, image_id) select 'delete_image', pool, id from marked
    )
    select name from marked order by name`;
  return rows.map((r) => r.name);
}

/**
 * Instances the provider lists (by their vmres label) that vmres has no live
 * row for: made by a create whose row was lost, or left by a delete that did
 * not finish. `delete`: queue a delete job for each one known by name (the
 * provider deletes an unknown one directly, see src/provision); the admins are
 * told in both cases. Returns the names found.
 */
export async function unknownInstances(core: Core, pool: string, listed: readonly string[]): Promise<string[]> {
  if (listed.length === 0) return [];
  const rows = await core.db.execute<{ name: string }>(sql`
    select l.name from unnest(${`{${listed.map((n) => JSON.stringify(n)).join(",")}}`}::text[]) as l(name)
    where not exists (select 1 from instances i where i.name = l.name and i.pool = ${pool} and i.state not in ('deleted', 'failed'))
    order by l.name`);
  return rows.map((r) => r.name);
}

/** Tells the admins what the listing found and did. */
export async function reportUnknownInstances(core: Core, pool: string, names: readonly string[], deleted: boolean): Promise<void> {
  if (names.length === 0) return;
  await enqueueNotices(core.db.$client, [{ kind: "unknown_instances", pool, names: [...names], deleted }]);
}
