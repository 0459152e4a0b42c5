import { endCheckout } from "./checkin.js";
import { releaseInstance } from "./provision/release.js";
import { clockAt, iso } from "./clock.js";
import { recordEvent } from "./events.js";
import { enqueueNotices, noticesFrom } from "./notices.js";
import { leaseParams } from "./leases.js";
import { resolvePerson, SYSTEM, type PersonTag } from "./people.js";
import { stateWhenFree } from "./retire.js";
import type { Core } from "./types.js";
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
  if (minGapMs > 0) {
    const [due] = await core.db.$client<{ name: string }[]>`
      insert into sweep_runs (name, last_run_at) values ('lease_sweep', clock_timestamp())
      on conflict (name) do update set last_run_at = excluded.last_run_at
        where sweep_runs.last_run_at <= clock_timestamp() - make_interval(secs => ${minGapMs / 1000})
      returning name`;
    if (!due) return { ran: false, expired: [], reminded: 0, lapsed: 0, offered: 0, granted: 0, reservations: NO_RESERVATIONS };
  }
  const expired = await expireLeases(core);
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

/** Checks in every VM whose lease ended more than the grace ago, each in its own transaction under the VM's lock. */
async function expireLeases(core: Core): Promise<string[]> {
  const { graceS } = leaseParams(core);
  const sql = core.db.$client;
  const at = clockAt(core);
  const due = await sql<{ vm_id: number }[]>`
    select vm_id from checkouts
    where ended_at is null and ends_at <= coalesce(${at}::timestamptz, now()) - make_interval(secs => ${graceS}::int)
    order by ends_at limit ${BATCH}`;
  if (due.length === 0) return [];
  const by = await system(core);
  const expired: string[] = [];
  for (const { vm_id } of due) {
    const vm = await sql.begin(async (tx) => {
      // Skip a VM whose lock is taken (an extension or a check-in in flight): decided again at the next sweep.
      const [row] = await tx<
        { id: number; name: string; checkout_id: string; ends_at: Date; holder_id: number; holder_name: string; holder_slack: string | null; holder_display: string | null; retire_on_checkin: boolean; pending_update: Record<string, unknown> | null; pool: string; instance_id: number | null }[]
      >`
        select v.id, v.name, v.checkout_id, c.ends_at, p.id as holder_id, p.name as holder_name, p.slack_user_id as holder_slack, p.display_name as holder_display,
               v.retire_on_checkin, v.pending_update, v.pool, (select i.id::int from instances i where i.vm_id = v.id) as instance_id
        from vms v join checkouts c on c.id = v.checkout_id join people p on p.id = c.person_id
        where v.id = ${vm_id} and v.state = 'checked_out'
          and c.ends_at <= coalesce(${at}::timestamptz, now()) - make_interval(secs => ${graceS}::int)
        for no key update of v skip locked`;
      if (!row) return null;
      const holder: PersonTag = { id: row.holder_id, name: row.holder_name, slackUserId: row.holder_slack, displayName: row.holder_display };
      // A provisioned instance whose lease ended is saved for its holder (checkout --restore brings it back), never lost.
      const nextState = row.instance_id !== null ? "retired" : stateWhenFree("cleaning", row.retire_on_checkin);
      const done = { vm: row.name, pool: row.pool, checkoutId: Number(row.checkout_id), previousHolder: holder, forced: false, nextState };
      await endCheckout(tx, core, row, done, by, "reconciler", "expired", new Date(row.ends_at));
      if (row.instance_id !== null) await releaseInstance(tx, { instanceId: row.instance_id, pool: row.pool, owner: holder, keep: true, reuse: false });
      return row.name;
    });
    if (vm) expired.push(vm);
  }
  return expired;
}

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
      update checkouts c set remind_at = c.ends_at - make_interval(secs => (
          select max(l) from unnest(${leadsS}::int[]) l where c.ends_at - make_interval(secs => l) > coalesce(${at}::timestamptz, now())))
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
 * queue order, one transaction per VM under the pool's queue lock: the first
 * waiter's row and a free VM's row locked, then the offer (or, for a waiter who asked to take
 * one at once, the checkout) recorded with its DM. An auto-take place whose
 * waiting request is gone (no live `waits` row: its process stopped or died)
 * gets no VM: nobody would see it. It leaves the queue instead (state `left`,
 * by `system`), and the VM goes to the next in line.
 */
async function offerFreeVms(core: Core, onlyPool?: string): Promise<{ offered: number; granted: number }> {
  const sql = core.db.$client;
  const { windowS } = leaseParams(core);
  const at = clockAt(core);
  const pools = await sql<{ pool: string }[]>`
    select distinct w.pool from waiters w
    where w.state = 'waiting' ${onlyPool === undefined ? sql`` : sql`and w.pool = ${onlyPool}`}
      and exists (select 1 from vms v where v.pool = w.pool and v.state = 'available')`;
  let offered = 0;
  let granted = 0;
  for (const { pool } of pools) {
    for (let i = 0; i < BATCH; i++) {
      const outcome = await sql.begin(async (tx): Promise<"offered" | "granted" | "skipped" | null> => {
        // One match per pool at a time, whoever sweeps (CLIs waiting with --wait sweep too): two
        // matches at once could give the second waiter a VM while the first one's is being chosen.
        await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:queue:" + pool}, 0))`;
        // Liveness by the database's own clock, as the waiting processes renew it (not core.clock).
        const [w] = await tx<(OfferRow & { name: string; slack: string | null; display: string | null; gone: boolean })[]>`
          select w.id, w.pool, w.person_id, w.state, w.offered_vm_id, w.offer_expires_at, w.lease_seconds, w.note, w.auto_take,
                 coalesce(${at}::timestamptz, now()) as at, p.name, p.slack_user_id as slack, p.display_name as display,
                 w.auto_take and not exists (select 1 from waits l where l.person_id = w.person_id and l.pool = w.pool and l.alive_until > now()) as gone
          from waiters w join people p on p.id = w.person_id
          where w.pool = ${pool} and w.state = 'waiting'
          order by w.id limit 1
          for no key update of w`;
        if (!w) return null;
        if (w.gone) {
          await endWait(tx, core, Number(w.id), "left", { name: SYSTEM, source: "reconciler" });
          return "skipped";
        }
        const [vm] = await tx<{ id: number; name: string }[]>`
          select id, name from vms where pool = ${pool} and state = 'available'
          order by state_changed_at, id limit 1 for no key update skip locked`;
        if (!vm) return null;
        const person: PersonTag = { id: w.person_id, name: w.name, slackUserId: w.slack, displayName: w.display };
        if (w.auto_take) {
          const g = await grant(tx, core, w, person, "reconciler", vm.id);
          if ("vm" in g) return "granted";
          // At their quota by now: their wait ends (the waiting caller reports it); the VM stays free for the next.
          await endWait(tx, core, Number(w.id), "gave_up", { name: SYSTEM, source: "reconciler" });
          return "skipped";
        }
        const [offer] = await tx<{ expires: Date }[]>`
          update waiters set state = 'offered', offered_vm_id = ${vm.id}, offered_at = ${iso(w.at)}::timestamptz,
            offer_expires_at = ${iso(w.at)}::timestamptz + make_interval(secs => ${windowS}::int)
          where id = ${w.id} returning offer_expires_at as expires`;
        await tx`update vms set state = 'held', held_for = ${w.id} where id = ${vm.id}`;
        await recordEvent(tx, { vmId: vm.id, vmName: vm.name, actor: SYSTEM, source: "reconciler", kind: "held_for_waiter", detail: { waiter: Number(w.id), person: person.name } });
        await enqueueNotices(tx, [
          { kind: "vm_offered", waiterId: Number(w.id), person: { id: person.id, name: person.name, slackUserId: person.slackUserId }, vm: vm.name, pool, expiresAt: new Date(offer!.expires).toISOString() },
        ]);
        return "offered";
      });
      if (outcome === null) break;
      if (outcome === "offered") offered++;
      if (outcome === "granted") granted++;
    }
  }
  return { offered, granted };
}
