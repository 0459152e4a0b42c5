import type postgres from "postgres";
import { clockAt } from "./clock.js";
import { eventsFrom } from "./events.js";
import { expireLeases } from "./expire-leases.js";
import { leaseParams } from "./leases.js";
import { reminderAt } from "./reminder-at.js";
import { enqueueNotices, noticesFrom } from "./notices.js";
import { resolvePerson, SYSTEM, type PersonTag } from "./people.js";
import type { Core } from "./types.js";
import { startSweepRun } from "./sweep-runs.js";
import { sweepReservations, type ReservationSweepReport } from "./sweep-reservations.js";
import { endWait, grant, type OfferRow } from "./waitlist.js";

/** How many rows of each kind one sweep handles; more wait for the next sweep. */
const BATCH = 500;

/** What one sweep did; `ran: false` when another replica was sweeping. */
export interface LeaseSweepReport {
  ran: boolean;
  /** VMs checked in because their lease ended (plus the grace). */
  expired: string[];
  reminded: number;
  /** Offers whose claim window passed. */
  lapsed: number;
  /** VMs held for the first waiter of their pool. */
  offered: number;
  /** VMs checked out directly to a waiter who asked to take one at once. */
  granted: number;
  /** Reservations: starts, reminders, ends (sweep-reservations.ts). */
  reservations: ReservationSweepReport;
}

const NO_RESERVATIONS: ReservationSweepReport = { started: 0, given: 0, short: 0, reminded: 0, ended: 0 };

/**
 * Every timer of leases and the waitlist is a row, and this is what makes them
 * fire: expire leases past their end and grace, send due reminders (once: a
 * reminder that fell due while vmres was down is sent if the lease has not
 * ended, never after), end offers whose window passed, and hold free VMs for
 * the first waiters. The service runs it on every replica every interval, and
 * one replica sweeps per tick (the `sweep_runs` record, `minGapMs`); each step
 * also stands on its own row locks, so even two sweeps at once never act twice.
 * No connection is held across steps (a reserved one would not survive the
 * server going away between them).
 */
export async function sweepLeases(core: Core, opts: { minGapMs?: number } = {}): Promise<LeaseSweepReport> {
  // On a schedule (minGapMs > 0: half the service's interval), the run's record makes a replica
  // that finds a sweep started less than minGapMs ago skip this tick; the upsert's row lock orders
  // replicas ticking together. A sweep asked for directly (a CLI waiting its turn) always runs.
  const minGapMs = opts.minGapMs ?? 0;
  if (minGapMs > 0 && !(await startSweepRun(core.db.$client, "lease_sweep", minGapMs))) {
    return { ran: false, expired: [], reminded: 0, lapsed: 0, offered: 0, granted: 0, reservations: NO_RESERVATIONS };
  }
  const expired = await expireLeases(core, () => system(core), BATCH);
  const reminded = await sendReminders(core);
  // Bookings start before free VMs are offered to waiters: a booked VM goes to its booking first.
  const reservations = await sweepReservations(core);
  const lapsed = await lapseOffers(core);
  const { offered, granted } = await offerFreeVms(core);
  return { ran: true, expired, reminded, lapsed, offered, granted, reservations };
}

const system = async (core: Core): Promise<PersonTag> => {
  const me = await resolvePerson(core, SYSTEM);
  if (!me.ok) throw new Error("the built-in person 'system' is missing: run the migrations");
  return me.value;
};

/**
 * Sends the reminders due, in one statement: each due checkout's next reminder
 * moves on (to the next shorter lead still ahead, or none) in the same
 * statement that queues the DM, so it is sent once whoever sweeps. Due but the
 * lease already ended: nothing is sent, only moved on.
 */
async function sendReminders(core: Core): Promise<number> {
  const { defaultS, maxS, leadsS } = leaseParams(core);
  const at = clockAt(core);
  const sql = core.db.$client;
  const [row] = await sql<{ n: number }[]>`
    with due as (
      select c.id from checkouts c
      where c.ended_at is null and c.remind_at <= coalesce(${at}::timestamptz, now())
      order by c.remind_at limit ${BATCH}
      for no key update skip locked
    ), moved as (
      update checkouts c set remind_at = ${reminderAt(sql, sql`c.ends_at`, leadsS, sql`coalesce(${at}::timestamptz, now())`)}
      from due where c.id = due.id
      returning c.id, c.vm_id, c.person_id, c.pool, c.started_at, c.ends_at, c.ends_at > coalesce(${at}::timestamptz, now()) as open
    ), told as (
      ${noticesFrom(
        sql,
        "lease_reminder",
        sql`select jsonb_build_object(
        'checkoutId', m.id,
        'holder', jsonb_build_object('id', p.id, 'name', p.name, 'slackUserId', p.slack_user_id),
        'vm', v.name, 'pool', m.pool, 'endsAt', m.ends_at,
        'extendByMs', least(coalesce(pl.lease_seconds, ${defaultS}::int), coalesce(pl.max_lease_seconds, ${maxS}::int))::bigint * 1000,
        'latestEnd', case when m.started_at + make_interval(secs => coalesce(pl.max_lease_seconds, ${maxS}::int)) > m.ends_at
                          then m.started_at + make_interval(secs => coalesce(pl.max_lease_seconds, ${maxS}::int)) end)
      from moved m join people p on p.id = m.person_id join vms v on v.id = m.vm_id join pools pl on pl.name = m.pool
      where m.open`,
      )}
      returning 1
    )
    select count(*)::int as n from told`;
  return row?.n ?? 0;
}

/** Ends every offer whose claim window passed: the waiter leaves the queue and is told; the VM is free for the next. */
async function lapseOffers(core: Core): Promise<number> {
  const sql = core.db.$client;
  const at = clockAt(core);
  const due = await sql<{ id: string }[]>`
    select id from waiters where state = 'offered' and offer_expires_at <= coalesce(${at}::timestamptz, now())
    order by offer_expires_at limit ${BATCH}`;
  let lapsed = 0;
  for (const { id } of due) {
    const done = await sql.begin(async (tx) => {
      const [w] = await tx<{ id: string; pool: string; person_id: number; name: string; slack: string | null; vm: string }[]>`
        select w.id, w.pool, w.person_id, p.name, p.slack_user_id as slack, v.name as vm
        from waiters w join people p on p.id = w.person_id join vms v on v.id = w.offered_vm_id
        where w.id = ${id} and w.state = 'offered' and w.offer_expires_at <= coalesce(${at}::timestamptz, now())
        for no key update of w skip locked`;
      if (!w) return false;
      await endWait(tx, core, Number(w.id), "lapsed", { name: SYSTEM, source: "reconciler" });
      await enqueueNotices(tx, [
        { kind: "offer_ended", waiterId: Number(w.id), person: { id: w.person_id, name: w.name, slackUserId: w.slack }, vm: w.vm, pool: w.pool, outcome: "lapsed" },
      ]);
      return true;
    });
    if (done) lapsed++;
  }
  return lapsed;
}

/**
 * The match step of the sweep for one pool, for a request waiting in its queue
 * (src/core/wait-for-checkout.ts) that was woken because a VM of the pool may
 * have become free: one read when nothing is free or nobody waits, else the
 * same matches as the sweep's, in queue order.
 */
export async function matchQueue(core: Core, pool: string): Promise<{ offered: number; granted: number }> {
  return offerFreeVms(core, pool);
}

/**
 * Holds each free VM of a pool with people waiting for the first of them, in
 * queue order, in one transaction per pool under the pool's queue lock: the
 * waiting places' rows and as many free VMs' rows locked (the VMs `SKIP LOCKED`),
 * paired in order, then every offer recorded (waiters, VMs, events, DMs) in two
 * statements whatever their number. A waiter who asked to take one at once gets
 * the checkout instead (`grant`, one by one). An auto-take place whose waiting
 * request is gone (no live `waits` row: its process stopped or died) gets no VM:
 * nobody would see it. It leaves the queue instead (state `left`, by `system`),
 * and the VM goes to the next in line.
 */
async function offerFreeVms(core: Core, onlyPool?: string): Promise<{ offered: number; granted: number }> {
  const sql = core.db.$client;
  const pools = await sql<{ pool: string }[]>`
    select distinct w.pool from waiters w
    where w.state = 'waiting' ${onlyPool === undefined ? sql`` : sql`and w.pool = ${onlyPool}`}
      and exists (select 1 from vms v where v.pool = w.pool and v.state = 'available')`;
  let offered = 0;
  let granted = 0;
  for (const { pool } of pools) {
    const done = await sql.begin((tx) => matchPool(tx, core, pool));
    offered += done.offered;
    granted += done.granted;
  }
  return { offered, granted };
}

type WaitingRow = OfferRow & { name: string; slack: string | null; display: string | null; gone: boolean };

async function matchPool(tx: postgres.TransactionSql, core: Core, pool: string): Promise<{ offered: number; granted: number }> {
  const { windowS } = leaseParams(core);
  const at = clockAt(core);
  // One match per pool at a time, whoever sweeps (waiting requests match too): two matches at
  // once could give the second waiter a VM while the first one's is being chosen.
  await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:queue:" + pool}, 0))`;
  // Liveness by the database's own clock, as the waiting processes renew it (not core.clock).
  const waiting = await tx<WaitingRow[]>`
    select w.id, w.pool, w.person_id, w.state, w.offered_vm_id, w.offer_expires_at, w.lease_seconds, w.note, w.auto_take,
           coalesce(${at}::timestamptz, now()) as at, p.name, p.slack_user_id as slack, p.display_name as display,
           w.auto_take and not exists (select 1 from waits l where l.person_id = w.person_id and l.pool = w.pool and l.alive_until > now()) as gone
    from waiters w join people p on p.id = w.person_id
    where w.pool = ${pool} and w.state = 'waiting'
    order by w.id limit ${BATCH}
    for no key update of w`;
  if (waiting.length === 0) return { offered: 0, granted: 0 };
  const free = await tx<{ id: number; name: string }[]>`
    select id, name from vms where pool = ${pool} and state = 'available'
    order by state_changed_at, id limit ${waiting.length} for no key update skip locked`;
  const offers: { w: WaitingRow; vm: { id: number; name: string }; person: PersonTag }[] = [];
  let granted = 0;
  let next = 0;
  for (const w of waiting) {
    if (w.gone) {
      await endWait(tx, core, Number(w.id), "left", { name: SYSTEM, source: "reconciler" });
      continue;
    }
    const vm = free[next];
    if (!vm) break;
    const person: PersonTag = { id: w.person_id, name: w.name, slackUserId: w.slack, displayName: w.display };
    if (w.auto_take) {
      const g = await grant(tx, core, w, person, "reconciler", vm.id);
      if ("vm" in g) {
        granted++;
        next++;
        continue;
      }
      // At their quota by now: their wait ends (the waiting caller reports it); the VM stays free for the next.
      await endWait(tx, core, Number(w.id), "gave_up", { name: SYSTEM, source: "reconciler" });
      continue;
    }
    offers.push({ w, vm, person });
    next++;
  }
  if (offers.length === 0) return { offered: 0, granted };
  // Every waiter's `at` is the transaction's one time; the window's end computed here is the row's.
  const from = new Date(offers[0]!.w.at).toISOString();
  const expiresAt = new Date(new Date(from).getTime() + windowS * 1000).toISOString();
  const rows = offers.map(({ w, vm, person }, ord) => ({ ord, waiter_id: Number(w.id), vm_id: vm.id, vm_name: vm.name, detail: { waiter: Number(w.id), person: person.name } }));
  await tx`
    with x as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(ord int, waiter_id bigint, vm_id int, vm_name text, detail jsonb)
    ), offered as (
      update waiters w set state = 'offered', offered_vm_id = x.vm_id, offered_at = ${from}::timestamptz, offer_expires_at = ${expiresAt}::timestamptz
      from x where w.id = x.waiter_id
    ), held as (
      update vms v set state = 'held', held_for = x.waiter_id from x where v.id = x.vm_id
    )
    ${eventsFrom(tx, "held_for_waiter", tx`select vm_id, vm_name, ${SYSTEM}::text, 'reconciler', detail from x order by ord`)}`;
  await enqueueNotices(
    tx,
    offers.map(({ w, vm, person }) => ({ kind: "vm_offered", waiterId: Number(w.id), person: { id: person.id, name: person.name, slackUserId: person.slackUserId }, vm: vm.name, pool, expiresAt })),
  );
  return { offered: offers.length, granted };
}
