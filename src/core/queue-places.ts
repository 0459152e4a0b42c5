import type postgres from "postgres";
import { resolvePerson } from "./people.js";
import { ok, type Core, type PersonRef, type Result } from "./types.js";

/**
 * Where people stand in the pools' queues (src/core/waitlist.ts has the rules), as postgres.js
 * templates with no drizzle-orm behind them: `vmres status` and `vmres list` load this module and
 * not the waitlist's writers (docs/architecture.md, "The CLI's start").
 */

/** A person's place in one pool's queue. */
export interface QueuePlace {
  waiterId: number;
  pool: string;
  /** 1 for the first in line; an offered waiter is at 1. */
  position: number;
  state: "waiting" | "offered";
  offeredVm: string | null;
  offerExpiresAt: Date | null;
  joinedAt: Date;
}

type PlaceRow = {
  id: string | number;
  pool: string;
  state: "waiting" | "offered";
  offered_vm: string | null;
  offer_expires_at: Date | null;
  joined_at: Date;
  position: number;
};

export const placeOf = (r: PlaceRow): QueuePlace => ({
  waiterId: Number(r.id),
  pool: r.pool,
  position: r.position,
  state: r.state,
  offeredVm: r.offered_vm,
  offerExpiresAt: r.offer_expires_at === null ? null : new Date(r.offer_expires_at),
  joinedAt: new Date(r.joined_at),
});

/** The open places of a person (or of one waiter), with their positions. */
export const places = (sql: postgres.Sql | postgres.TransactionSql, where: { personId: number } | { waiterId: number }) => sql<PlaceRow[]>`
  select w.id, w.pool, w.state, v.name as offered_vm, w.offer_expires_at, w.joined_at,
         case when w.state = 'offered' then 1
              else 1 + (select count(*)::int from waiters o where o.pool = w.pool and o.id < w.id and o.state in ('waiting', 'offered')) end as position
  from waiters w left join vms v on v.id = w.offered_vm_id and w.state = 'offered'
  where w.state in ('waiting', 'offered')
    and ${"personId" in where ? sql`w.person_id = ${where.personId}` : sql`w.id = ${where.waiterId}`}
  order by w.pool`;

/** A person's places in queues. */
export async function queuesOf(core: Core, who: PersonRef): Promise<Result<QueuePlace[]>> {
  const me = await resolvePerson(core, who);
  if (!me.ok) return me;
  return ok((await places(core.db.$client, { personId: me.value.id })).map(placeOf));
}

/** How many people wait in each pool's queue (pools with nobody waiting left out). */
export async function queueLengths(core: Core): Promise<{ pool: string; waiting: number; offered: number }[]> {
  return core.db.$client<{ pool: string; waiting: number; offered: number }[]>`
    select pool, count(*) filter (where state = 'waiting')::int as waiting, count(*) filter (where state = 'offered')::int as offered
    from waiters where state in ('waiting', 'offered') group by pool order by pool`;
}

