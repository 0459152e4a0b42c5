import type postgres from "postgres";
import type { EventSource, WaiterState } from "../db/schema.js";
import { clockAt, iso } from "./clock.js";
import { leaseParams, checkLease } from "./leases.js";
import type { PgSql } from "../db/client.js";
import { eventsFrom, recordEvent } from "./events.js";
import { enqueueNotices } from "./notices.js";
import { checkedOutOf, openCheckout, type TakenRow } from "./open-checkout.js";
import { resolvePerson, type PersonTag } from "./people.js";
import { knownPools } from "./queries.js";
import { ok, refuse, type Actor, type CheckedOutVm, type Core, type Result } from "./types.js";
import { checkNote, checkPoolName, firstRefusal } from "./validate.js";
import { placeOf, places, type QueuePlace } from "./queue-places.js";

// The reads of queues live apart, free of drizzle (the CLI's status and list load them alone).
export { queueLengths, queuesOf, type QueuePlace } from "./queue-places.js";

/**
 * The waitlist. A person joins a pool's queue (at most once per pool); when a
 * VM of that pool is free, the lease sweep holds it (state `held`) for the
 * first waiter, who may take it or pass within the claim window; a waiter that
 * joined to take it at once (`vmres checkout --wait`) gets the checkout
 * directly. Everything is rows: a restart in between loses nothing.
 */

export interface JoinOptions {
  pool?: string | undefined;
  /** Take the VM as soon as it is held for them (a CLI waiting for it), instead of being offered it. */
  autoTake?: boolean | undefined;
  /** Lease and note for the checkout it becomes. */
  forMs?: number | undefined;
  note?: string | undefined;
}

/** Joins a pool's queue; joining a queue one is in already says where they stand. */
export async function joinQueue(core: Core, actor: Actor, opts: JoinOptions = {}): Promise<Result<QueuePlace & { already: boolean }>> {
  const pool = opts.pool ?? core.defaultPool;
  const bad = firstRefusal(checkPoolName(pool), opts.note === undefined ? null : checkNote(opts.note), opts.forMs === undefined ? null : checkLease(opts.forMs));
  if (bad) return refuse(bad);
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const sql = core.db.$client;
  const [poolRow] = await sql<{ name: string }[]>`select name from pools where name = ${pool}`;
  if (!poolRow) return refuse({ code: "unknown_pool", pool, known: await knownPools(core.db) });
  const inserted = await sql<{ id: string }[]>`
    insert into waiters (pool, person_id, source, auto_take, lease_seconds, note, joined_at)
    values (${pool}, ${me.value.id}, ${actor.source}::event_source, ${opts.autoTake ?? false}, ${opts.forMs === undefined ? null : Math.ceil(opts.forMs / 1000)},
            ${opts.note ?? null}, coalesce(${clockAt(core)}::timestamptz, now()))
    on conflict (pool, person_id) where state in ('waiting', 'offered') do nothing
    returning id`;
  const [place] = (await places(sql, { personId: me.value.id })).filter((p) => p.pool === pool);
  if (!place) return refuse({ code: "not_waiting", pool });
  return ok({ ...placeOf(place), already: inserted.length === 0 });
}

/** Leaves one pool's queue, or every queue (`pool` unset); a VM held for them goes to the next. */
export async function leaveQueue(core: Core, actor: Actor, opts: { pool?: string | undefined } = {}): Promise<Result<{ left: string[] }>> {
  if (opts.pool !== undefined) {
    const bad = checkPoolName(opts.pool);
    if (bad) return refuse(bad);
  }
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  return core.db.$client.begin(async (tx): Promise<Result<{ left: string[] }>> => {
    const rows = await tx<{ id: string; pool: string; offered_vm_id: number | null; state: WaiterState }[]>`
      select id, pool, offered_vm_id, state from waiters
      where person_id = ${me.value.id} and state in ('waiting', 'offered') ${opts.pool === undefined ? tx`` : tx`and pool = ${opts.pool}`}
      for update`;
    if (rows.length === 0) return refuse({ code: "not_waiting", pool: opts.pool ?? null });
    for (const r of rows) await endWait(tx, core, Number(r.id), "left", { name: me.value.name, source: actor.source });
    return ok({ left: rows.map((r) => r.pool) });
  });
}

/**
 * Where one wait stands, for a caller waiting on it (`vmres checkout --wait`):
 * still in line, or over, with the checkout it became.
 */
export async function waitOutcome(core: Core, waiterId: number): Promise<{ state: WaiterState; position: number | null; checkout: CheckedOutVm | null }> {
  const sql = core.db.$client;
  const [row] = await sql<{ state: WaiterState; checkout_id: string | null }[]>`select state, checkout_id from waiters where id = ${waiterId}`;
  if (!row) return { state: "left", position: null, checkout: null };
  const [place] = await places(sql, { waiterId });
  return { state: row.state, position: place?.position ?? null, checkout: row.checkout_id === null ? null : await checkedOutVm(sql, Number(row.checkout_id)) };
}

/**
 * The checkout as a person gets it on checkout, read back later (a waiter granted by the sweep).
 * A lease that ends where a booking of the VM (not yet given) starts was cut there by the opening:
 * `bookedFrom`, as the opening said in its notice.
 */
async function checkedOutVm(sql: postgres.Sql | postgres.TransactionSql, checkoutId: number): Promise<CheckedOutVm | null> {
  const [r] = await sql<TakenRow[]>`
    select c.id as checkout_id, v.id, v.name, host(v.ip) as ip, v.ssh_user, v.ssh_port, c.pool, c.started_at, c.ends_at, c.note,
           (select min(lower(rv.during)) from reservation_vms rv
            where rv.vm_id = c.vm_id and rv.active and rv.checkout_id is null and lower(rv.during) = c.ends_at) as booked_from
    from checkouts c join vms v on v.id = c.vm_id where c.id = ${checkoutId}`;
  return r ? checkedOutOf(r) : null;
}

type OfferRow = {
  id: string;
  pool: string;
  person_id: number;
  state: WaiterState;
  offered_vm_id: number | null;
  offer_expires_at: Date | null;
  lease_seconds: number | null;
  note: string | null;
  auto_take: boolean;
  at: Date;
};

const lockOffer = async (tx: postgres.TransactionSql, core: Core, waiterId: number) => {
  const [row] = await tx<OfferRow[]>`
    select id, pool, person_id, state, offered_vm_id, offer_expires_at, lease_seconds, note, auto_take, coalesce(${clockAt(core)}::timestamptz, now()) as at
    from waiters where id = ${waiterId} for update`;
  return row;
};

/** Take it: the VM held for this waiter becomes their checkout. Only the waiter may, within the window. */
export async function takeOffer(core: Core, actor: Actor, waiterId: number): Promise<Result<CheckedOutVm>> {
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  return core.db.$client.begin(async (tx): Promise<Result<CheckedOutVm>> => {
    const row = await lockOffer(tx, core, waiterId);
    const refusal = offerRefusal(row, me.value);
    if (refusal) return refuse(refusal);
    const granted = await grant(tx, core, row!, me.value, actor.source);
    return "vm" in granted ? ok(granted.vm) : refuse({ code: "quota_reached", pool: row!.pool, quota: granted.quota, held: granted.held });
  });
}

/** The VM of an open offer (null: the offer is no longer open), for an answer's words. */
export async function offeredVmName(core: Core, waiterId: number): Promise<string | null> {
  const [row] = await core.db.$client<{ name: string }[]>`select v.name from waiters w join vms v on v.id = w.offered_vm_id where w.id = ${waiterId} and w.state = 'offered'`;
  return row?.name ?? null;
}

/** Pass: the held VM goes to the next in line, and this waiter leaves the queue. */
export async function passOffer(core: Core, actor: Actor, waiterId: number): Promise<Result<{ pool: string }>> {
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  return core.db.$client.begin(async (tx): Promise<Result<{ pool: string }>> => {
    const row = await lockOffer(tx, core, waiterId);
    const refusal = offerRefusal(row, me.value);
    if (refusal) return refuse(refusal);
    await endWait(tx, core, waiterId, "passed", { name: me.value.name, source: actor.source });
    return ok({ pool: row!.pool });
  });
}

function offerRefusal(row: OfferRow | undefined, me: PersonTag) {
  if (!row || row.person_id !== me.id) return { code: "not_your_offer", id: Number(row?.id ?? 0) } as const;
  const over = row.state !== "offered" || (row.offer_expires_at !== null && new Date(row.offer_expires_at) <= new Date(row.at));
  return over ? ({ code: "offer_over", pool: row.pool, state: row.state === "offered" ? "lapsed" : row.state } as const) : null;
}

/**
 * Ends a wait (left, passed, lapsed, gave_up) inside the caller's transaction,
 * which holds the waiter's row lock; a VM held for it becomes available again
 * (the next sweep offers it to the next in line), on record.
 */
export async function endWait(tx: postgres.TransactionSql, core: Core, waiterId: number, outcome: "left" | "passed" | "lapsed" | "gave_up", by: { name: string; source: EventSource }): Promise<void> {
  const [w] = await tx<{ offered_vm_id: number | null }[]>`
    update waiters set state = ${outcome}::waiter_state, ended_at = coalesce(${clockAt(core)}::timestamptz, now())
    where id = ${waiterId} and state in ('waiting', 'offered')
    returning offered_vm_id`;
  if (w?.offered_vm_id != null) await releaseHold(tx, waiterId, outcome, by);
}

/** The VM held for this waiter goes back to `available` (state_changed_at kept: it is first in line again). */
async function releaseHold(tx: postgres.TransactionSql, waiterId: number, outcome: string, by: { name: string; source: EventSource }): Promise<void> {
  await tx`
    with freed as (
      update vms set state = 'available', held_for = null where held_for = ${waiterId} and state = 'held' returning id, name
    )
    ${eventsFrom(tx, "hold_ended", tx`select id, name, ${by.name}::text, ${by.source}::event_source, ${JSON.stringify({ waiter: waiterId, outcome })}::jsonb from freed`)}`;
}

/**
 * An admin takes a held VM out of service (drain, retire): the offer is
 * withdrawn, the waiter keeps their place (back to waiting) and is told. In the
 * caller's transaction, which holds the VM's row lock and clears `held_for`
 * in the update that moves it out of `held`.
 */
export async function withdrawHold(tx: PgSql, vmId: number, by: { name: string; source: EventSource }): Promise<void> {
  const [w] = await tx<{ id: string; pool: string; person_id: number; person_name: string; slack: string | null; vm: string }[]>`
    update waiters w set state = 'waiting', offered_vm_id = null, offered_at = null, offer_expires_at = null
    from vms v, people p
    where v.id = ${vmId} and w.id = v.held_for and w.state = 'offered' and p.id = w.person_id
    returning w.id, w.pool, w.person_id, p.name as person_name, p.slack_user_id as slack, v.name as vm`;
  if (!w) return;
  await recordEvent(tx, { vmId, vmName: w.vm, actor: by.name, source: by.source, kind: "hold_ended", detail: { waiter: Number(w.id), outcome: "withdrawn" } });
  await enqueueNotices(tx, [
    { kind: "offer_ended", waiterId: Number(w.id), person: { id: w.person_id, name: w.person_name, slackUserId: w.slack }, vm: w.vm, pool: w.pool, outcome: "withdrawn" },
  ]);
}

type Granted = { vm: CheckedOutVm } | { quota: number; held: string[] };

/**
 * Turns the VM held for (or chosen for) a waiter into their checkout: the same
 * rules as any checkout (the quota; the lease they asked for, within the
 * pool's maximum), the same record, the same DM. The caller holds the waiter's
 * row lock; the VM is `held` for it (an offer) or `available` and locked (an
 * automatic take).
 */
export async function grant(tx: postgres.TransactionSql, core: Core, w: OfferRow, person: PersonTag, source: EventSource, vmId = w.offered_vm_id): Promise<Granted> {
  const [q] = await tx<{ quota: number; held: string[]; at: Date }[]>`
    select p.quota,
           coalesce((select array_agg(v.name order by v.name) from checkouts c join vms v on v.id = c.vm_id
                     where c.person_id = ${person.id} and c.pool = p.name and c.ended_at is null), '{}') as held,
           coalesce(${clockAt(core)}::timestamptz, now()) as at
    from pools p where p.name = ${w.pool}`;
  if (!q || q.held.length >= q.quota) return { quota: q?.quota ?? 0, held: q?.held ?? [] };
  // The lease they asked for (or the pool's), within the pool's maximum, cut at a booking of the VM.
  const vm = await openCheckout(tx, leaseParams(core), vmId!, iso(q.at)!, { forS: w.lease_seconds }, {
    person,
    pool: w.pool,
    note: w.note,
    source,
    detail: { waiter: Number(w.id) },
  });
  if (!vm) throw new Error(`waiter ${w.id}: VM ${vmId} could not be checked out (not held or available)`);
  await tx`update waiters set state = 'taken', ended_at = ${iso(q.at)}::timestamptz, checkout_id = ${vm.checkoutId} where id = ${w.id}`;
  return { vm };
}

export type { OfferRow };
