import type postgres from "postgres";
import { reminderAt } from "./reminder-at.js";
import { clockAt, iso } from "./clock.js";
import { leaseParams } from "./leases.js";
import { eventsFrom } from "./events.js";
import { enqueueNotices, noticesFrom, type Notice } from "./notices.js";
import { openCheckout } from "./open-checkout.js";
import { SYSTEM } from "./people.js";
import type { Core } from "./types.js";

/** How many bookings of each kind one sweep handles; more wait for the next sweep. */
const BATCH = 200;
/** How long after a booking's start (beyond the lease grace) a booked VM coming back by itself is waited for before the person and admins are told. */
const COMING_BACK_S = 10 * 60;

/** What one sweep did to reservations. */
export interface ReservationSweepReport {
  /** Bookings whose start came: their VMs given (some may still be missing). */
  started: number;
  /** VMs given as checkouts at a booking's start (or later, once one was free). */
  given: number;
  /** Bookings told that VMs are missing (or that their whole range passed while vmres was down). */
  short: number;
  reminded: number;
  /** Bookings whose range ended. */
  ended: number;
}

/**
 * The timers of reservations, fired by the lease sweep (one replica per tick,
 * and at every start, so a start that passed while vmres was down is handled
 * then): reminders before a start, the start itself (the booked VMs become the
 * person's checkouts with `ends_at` = the booking's end), and the end.
 */
export async function sweepReservations(core: Core): Promise<ReservationSweepReport> {
  const ended = await endOverBookings(core);
  const reminded = await sendBookingReminders(core);
  const { started, given, short } = await startDueBookings(core);
  return { started, given, short, reminded, ended };
}

type Due = { id: string };

/**
 * Bookings whose range is over: `ended`. One never started (vmres was down for
 * its whole range) is told so. VMs not given are no longer held.
 */
async function endOverBookings(core: Core): Promise<number> {
  const at = clockAt(core);
  const [row] = await core.db.$client<{ n: number }[]>`
    with over as (
      select id from reservations where state in ('booked', 'started') and ends_at <= coalesce(${at}::timestamptz, now())
      order by ends_at limit ${BATCH} for no key update skip locked
    ), done as (
      update reservations r set state = 'ended', ended_at = coalesce(${at}::timestamptz, now()), remind_at = null
      from over where r.id = over.id
      returning r.id, r.label, r.pool, r.count, r.person_id, r.starts_at, r.ends_at,
                (select state from reservations o where o.id = r.id) as was
    ), freed as (
      update reservation_vms rv set active = false from done where rv.reservation_id = done.id and rv.checkout_id is null and rv.active
      returning rv.id
    ), told as (
      ${noticesFrom(
        core.db.$client,
        "reservation_short",
        core.db.$client`select jsonb_build_object(
        'reservationId', d.id, 'person', jsonb_build_object('id', p.id, 'name', p.name, 'slackUserId', p.slack_user_id),
        'label', d.label, 'pool', d.pool, 'count', d.count, 'missing', d.count, 'given', '[]'::jsonb,
        'from', d.starts_at, 'to', d.ends_at, 'reason', 'missed')
      from done d join people p on p.id = d.person_id where d.was = 'booked'`,
      )}
      returning 1
    )
    select (select count(*)::int from done) as n, (select count(*) from freed) as f, (select count(*) from told) as t`;
  return row?.n ?? 0;
}

/** Due reminders before a booking's start, once each (like the lease reminders): the next shorter lead moves on in the same statement. */
async function sendBookingReminders(core: Core): Promise<number> {
  const leadsS = (core.reservationReminderLeadsMs ?? []).map((ms) => Math.ceil(ms / 1000));
  const at = clockAt(core);
  const [row] = await core.db.$client<{ n: number }[]>`
    with due as (
      select id from reservations where state = 'booked' and remind_at <= coalesce(${at}::timestamptz, now())
      order by remind_at limit ${BATCH} for no key update skip locked
    ), moved as (
      update reservations r set remind_at = ${reminderAt(core.db.$client, core.db.$client`r.starts_at`, leadsS, core.db.$client`coalesce(${at}::timestamptz, now())`)}
      from due where r.id = due.id
      returning r.id, r.label, r.pool, r.count, r.person_id, r.starts_at, r.ends_at, r.starts_at > coalesce(${at}::timestamptz, now()) as ahead
    ), told as (
      ${noticesFrom(
        core.db.$client,
        "reservation_reminder",
        core.db.$client`select jsonb_build_object(
        'reservationId', m.id, 'person', jsonb_build_object('id', p.id, 'name', p.name, 'slackUserId', p.slack_user_id),
        'label', m.label, 'pool', m.pool, 'count', m.count, 'from', m.starts_at, 'to', m.ends_at,
        'vms', coalesce((select jsonb_agg(v.name order by v.name) from reservation_vms rv join vms v on v.id = rv.vm_id
                         where rv.reservation_id = m.id and rv.active), '[]'::jsonb))
      from moved m join people p on p.id = m.person_id where m.ahead`,
      )}
      returning 1
    )
    select count(*)::int as n from told`;
  return row?.n ?? 0;
}

type BookingRow = {
  id: string;
  label: string;
  pool: string;
  count: number;
  person_id: number;
  name: string;
  slack: string | null;
  starts_at: Date;
  ends_at: Date;
  note: string | null;
  state: "booked" | "started";
  short_told_at: Date | null;
  at: Date;
};

/**
 * Gives each due booking its VMs, one transaction per booking under its row
 * lock: each booked VM that is free becomes a checkout of the person ending at
 * the booking's end; a VM still held by someone else (a pinned or admin-set
 * lease, or one being cleaned) is replaced by another free VM of the pool that
 * no booking needs then; when none is free, the person and the admins are told
 * at once, and later sweeps keep trying until the booking ends.
 */
async function startDueBookings(core: Core): Promise<{ started: number; given: number; short: number }> {
  const sql = core.db.$client;
  const at = clockAt(core);
  const due = await sql<Due[]>`
    select r.id from reservations r
    where r.state = 'booked' and r.starts_at <= coalesce(${at}::timestamptz, now()) and r.ends_at > coalesce(${at}::timestamptz, now())
    union
    select r.id from reservations r
    where r.state = 'started' and r.ends_at > coalesce(${at}::timestamptz, now())
      and exists (select 1 from reservation_vms rv where rv.reservation_id = r.id and rv.active and rv.checkout_id is null)
    limit ${BATCH}`;
  let started = 0;
  let given = 0;
  let short = 0;
  for (const { id } of due) {
    const outcome = await sql.begin((tx) => startBooking(tx, core, Number(id)));
    if (!outcome) continue;
    if (outcome.first) started++;
    given += outcome.given;
    if (outcome.told) short++;
  }
  return { started, given, short };
}

async function startBooking(tx: postgres.TransactionSql, core: Core, id: number): Promise<{ first: boolean; given: number; told: boolean } | null> {
  const [b] = await tx<BookingRow[]>`
    select r.id, r.label, r.pool, r.count, r.person_id, p.name, p.slack_user_id as slack, r.starts_at, r.ends_at, r.note, r.state, r.short_told_at,
           coalesce(${clockAt(core)}::timestamptz, now()) as at
    from reservations r join people p on p.id = r.person_id
    where r.id = ${id} and r.state in ('booked', 'started') and r.starts_at <= coalesce(${clockAt(core)}::timestamptz, now())
    for no key update of r skip locked`;
  if (!b) return null;
  const at = iso(b.at)!;
  const to = iso(b.ends_at)!;
  const person = { id: b.person_id, name: b.name, slackUserId: b.slack };
  const pending = await tx<{ id: string; vm_id: number }[]>`
    select id, vm_id from reservation_vms where reservation_id = ${id} and active and checkout_id is null order by vm_id`;
  const notices: Notice[] = [];
  let given = 0;
  for (const row of pending) {
    let vmId: number;
    const [own] = await tx<{ id: number }[]>`select id from vms where id = ${row.vm_id} and state = 'available' for no key update skip locked`;
    if (own) vmId = own.id;
    else {
      // Another free VM of the pool that no other booking needs for the rest of the range.
      const [other] = await tx<{ id: number }[]>`
        select v.id from vms v
        where v.pool = ${b.pool} and v.state = 'available'
          and not exists (select 1 from reservation_vms r where r.vm_id = v.id and r.active and r.during && tstzrange(${at}::timestamptz, ${to}::timestamptz))
        order by v.state_changed_at, v.id limit 1 for no key update skip locked`;
      if (!other) continue;
      await tx`update reservation_vms set active = false where id = ${row.id}`;
      const [moved] = await tx<{ id: string }[]>`
        insert into reservation_vms (reservation_id, vm_id, during) values (${id}, ${other.id}, tstzrange(${at}::timestamptz, ${to}::timestamptz)) returning id`;
      await tx`${eventsFrom(
        tx,
        "booking_moved",
        tx`select id, name, ${SYSTEM}::text, 'reconciler',
                  jsonb_build_object('reservation', ${id}::bigint, 'label', ${b.label}::text, 'instead_of', (select name from vms where id = ${row.vm_id}))
           from vms where id = ${other.id}`,
      )}`;
      row.id = moved!.id;
      vmId = other.id;
    }
    // The booking's range is the lease; the same rows, event and DM as any checkout, naming the booking.
    const opened = await openCheckout(tx, leaseParams(core), vmId, at, { until: to }, {
      person,
      pool: b.pool,
      note: b.note,
      source: "reconciler",
      detail: { reservation: id, label: b.label },
      booking: { label: b.label, rowId: Number(row.id) },
    });
    if (opened) given++;
  }
  const first = b.state === "booked";
  if (first) await tx`update reservations set state = 'started', started_at = ${at}::timestamptz, remind_at = null where id = ${id}`;
  const missing = pending.length - given;
  // A VM coming back by itself (being cleaned, or a lease that ended and runs its grace, such as one
  // cut at this booking's start) is waited for quietly until the grace plus a cleanup's time has
  // passed; one held past the start (pinned, set by an admin) or out of service is told at once.
  const { graceS } = leaseParams(core);
  const [soon] = await tx<{ n: number }[]>`
    select count(*)::int as n from reservation_vms rv join vms v on v.id = rv.vm_id left join checkouts c on c.id = v.checkout_id
    where rv.reservation_id = ${id} and rv.active and rv.checkout_id is null
      and ${at}::timestamptz < ${iso(b.starts_at)}::timestamptz + make_interval(secs => ${graceS}::int + ${COMING_BACK_S}::int)
      and (v.state = 'cleaning' or (v.state = 'checked_out' and c.ends_at <= ${at}::timestamptz))`;
  const told = missing - (soon?.n ?? 0) > 0 && b.short_told_at === null;
  if (told) {
    const names = await tx<{ name: string }[]>`
      select v.name from reservation_vms rv join vms v on v.id = rv.vm_id where rv.reservation_id = ${id} and rv.checkout_id is not null order by v.name`;
    notices.push({
      kind: "reservation_short",
      reservationId: id,
      person,
      label: b.label,
      pool: b.pool,
      count: b.count,
      missing,
      given: names.map((n) => n.name),
      from: new Date(b.starts_at).toISOString(),
      to,
      reason: "no_vm",
    });
    await tx`update reservations set short_told_at = ${at}::timestamptz where id = ${id}`;
  }
  await enqueueNotices(tx, notices);
  return { first, given, told };
}
