import type postgres from "postgres";
import { reminderAt } from "./reminder-at.js";
import { cleanupBlockedIn } from "./cleanup/blocked-pools.js";
import type { ReservationState } from "../db/schema.js";
import { clockAt, iso } from "./clock.js";
import { eventsFrom } from "./events.js";
import { leaseParams } from "./leases.js";
import { enqueueNotices } from "./notices.js";
import { isBootstrapAdmin, OPERATOR, resolvePerson } from "./people.js";
import { holdersVisibleTo, knownPools } from "./queries.js";
import { DEFAULT_BOOKING_AHEAD_MS, ok, refuse, type Actor, type Core, type PersonRef, type PersonTag, type Refusal, type Result } from "./types.js";
import { checkNote, checkPoolName, checkVmName, firstRefusal } from "./validate.js";
import { checkLabel } from "./labels.js";

export { checkLabel };

/**
 * Reservations: VMs of a pool booked for a time range under a label. Booking
 * picks concrete VMs now (the answer is yes or no at once); each booked VM is a
 * row of reservation_vms whose range PostgreSQL keeps from overlapping any other
 * active booking of that VM (an exclusion constraint). Checkouts and extensions
 * keep clear of bookings (checkout.ts, leases.ts); the start, reminders and the
 * end are done by the sweep (sweep-reservations.ts).
 */

/** One booking as listings show it. */
export interface Reservation {
  id: number;
  label: string;
  /** Who booked; null when HIDE_HOLDERS hides it from this reader. */
  person: PersonTag | null;
  pool: string;
  count: number;
  from: Date;
  to: Date;
  /** Why, in the booker's words; null when none, or hidden with who booked (HIDE_HOLDERS). */
  note: string | null;
  state: ReservationState;
  /** The VMs it holds (booked, or given at the start). */
  vms: string[];
  /** Of those, the ones given as checkouts at the start. */
  given: string[];
  /**
   * Each VM's own range, VM by VM (what a calendar draws): the booking's range, except for a VM
   * the start gave instead of a booked one that was not free, which holds it from then on.
   */
  ranges: BookedRange[];
  createdAt: Date;
  /**
   * Set on a booking just made when the pool's cleanup cannot run now: VMs checked in there stay
   * in cleaning (until an admin ends the cleanup or sets the pool's cleanup to none), so the
   * booking may come up short; the adapters warn.
   */
  cleanupBlocked?: boolean;
}

/** One VM of a booking and the range it is held for. */
export interface BookedRange {
  vm: string;
  from: Date;
  to: Date;
  /** Given to the person as a checkout at the start. */
  given: boolean;
}

/** What a booking asks for. */
export interface ReserveRequest {
  pool: string;
  count: number;
  from: Date;
  to: Date;
  label: string;
  note?: string | undefined;
  /** These VMs of the pool, by name, instead of any `count` of them (`count` is then their number). */
  vms?: string[] | undefined;
}

const MIN_BOOKING_MS = 60_000;
/** How many times a booking picks again when a VM it chose was taken between its read and its lock. */
const PICK_ATTEMPTS = 5;
/** How many candidate starts the refusal tries for the nearest range that fits. */
const NEAREST_TRIES = 100;
const NEAREST_BATCH = 20;

function checkRequest(req: ReserveRequest): Refusal | null {
  const count =
    Number.isSafeInteger(req.count) && req.count >= 1 && req.count <= 1000 ? null : ({ code: "invalid_input", field: "count", message: `${String(req.count)} is not a count: use a whole number from 1 to 1000` } as const);
  const times =
    !(req.from instanceof Date) || Number.isNaN(req.from.getTime()) || !(req.to instanceof Date) || Number.isNaN(req.to.getTime())
      ? ({ code: "invalid_input", field: "from", message: "give the start and the end as times (ISO 8601, like 2026-12-07T09:00+01:00)" } as const)
      : req.to.getTime() - req.from.getTime() < MIN_BOOKING_MS
        ? ({ code: "invalid_input", field: "to", message: "the end must be at least a minute after the start" } as const)
        : null;
  const named =
    req.vms === undefined
      ? null
      : req.vms.length === 0 || new Set(req.vms).size !== req.vms.length
        ? ({ code: "invalid_input", field: "vms", message: "name each VM once, at least one" } as const)
        : req.vms.length !== req.count
          ? ({ code: "invalid_input", field: "count", message: `${req.count} VMs asked for but ${req.vms.length} named: give the count of the VMs named, or leave it out` } as const)
          : firstRefusal(...req.vms.map((v) => checkVmName(v)));
  return firstRefusal(checkLabel(req.label), checkPoolName(req.pool), count, times, req.note === undefined ? null : checkNote(req.note), named);
}

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * The VMs of a pool free for the whole of `[from, to)`: in service or coming back by themselves
 * (not in maintenance, quarantined or retired), no active booking overlapping, and no open
 * checkout that may still run then (its end plus the grace, or pinned).
 */
const freeWhere = (sql: Sql, pool: string, from: string | postgres.PendingQuery<postgres.Row[]>, to: string | postgres.PendingQuery<postgres.Row[]>, graceS: number, only: string[] | null = null) => sql`
  v.pool = ${pool} and v.state not in ('maintenance', 'quarantined', 'retired')
  and (${only}::text[] is null or v.name = any(${only}::text[]))
  and not exists (select 1 from reservation_vms r where r.vm_id = v.id and r.active and r.during && tstzrange(${from}::timestamptz, ${to}::timestamptz))
  and not exists (select 1 from checkouts c where c.vm_id = v.id and c.ended_at is null
                  and (c.ends_at is null or c.ends_at + make_interval(secs => ${graceS}::int) > ${from}::timestamptz))`;

/** How many VMs of the pool are free for the range. */
async function freeCount(sql: Sql, pool: string, from: string, to: string, graceS: number, only: string[] | null = null): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from vms v where ${freeWhere(sql, pool, from, to, graceS, only)}`;
  return row?.n ?? 0;
}

/**
 * The closest range of the same length where `count` VMs would be free: tried at the times
 * something frees up (a booking or a lease ends, or just before a booking starts), nearest first.
 * Several statements, but each is small and the search stops at the first fit.
 */
async function nearestFit(sql: Sql, pool: string, count: number, from: Date, to: Date, at: Date, graceS: number, only: string[] | null = null): Promise<{ from: Date; to: Date } | null> {
  const lengthS = (to.getTime() - from.getTime()) / 1000;
  // Equally near before and after: the later one first (an earlier one may have passed by the time it is asked for).
  const candidates = await sql<{ s: Date | string }[]>`
    select s from (
      select ${iso(at)}::timestamptz as s
      union select upper(r.during) from reservation_vms r join vms v on v.id = r.vm_id where v.pool = ${pool} and r.active
      union select lower(r.during) - make_interval(secs => ${lengthS}::float8) from reservation_vms r join vms v on v.id = r.vm_id where v.pool = ${pool} and r.active
      union select c.ends_at + make_interval(secs => ${graceS}::int) from checkouts c join vms v on v.id = c.vm_id where v.pool = ${pool} and c.ended_at is null and c.ends_at is not null
    ) x
    where s >= ${iso(at)}::timestamptz and s <> ${iso(from)}::timestamptz
    order by abs(extract(epoch from s - ${iso(from)}::timestamptz)), s desc
    limit ${NEAREST_TRIES}`;
  // Nearest first, a batch per statement: the first batch with a fit holds the answer, usually the first.
  const starts = candidates.map((c) => new Date(c.s));
  for (let i = 0; i < starts.length; i += NEAREST_BATCH) {
    const batch = starts.slice(i, i + NEAREST_BATCH).map((d) => iso(d)!);
    const [fit] = await sql<{ s: Date | string }[]>`
      select cand.s from (select t::timestamptz as s, n from unnest(${batch}::text[]) with ordinality as u(t, n)) cand
      where (select count(*) from vms v where ${freeWhere(sql, pool, sql`(cand.s)`, sql`(cand.s + make_interval(secs => ${lengthS}::float8))`, graceS, only)}) >= ${count}
      order by cand.n limit 1`;
    if (fit) {
      const start = new Date(fit.s);
      return { from: start, to: new Date(start.getTime() + lengthS * 1000) };
    }
  }
  return null;
}

type BookedRow = { id: string; created_at: Date };

/**
 * Books `count` VMs of a pool for `[from, to)` under a label, or says why not:
 * how many are free for that range and the nearest range that would fit.
 *
 * Bookings of one pool are serialised by an advisory lock, so two bookings never
 * fight over a VM (the exclusion constraint is still there should code ever
 * forget). The VMs chosen are locked before they are checked again with a fresh
 * statement: a checkout in flight on one is waited for and then seen, and a
 * checkout after this commit sees the booking (it reads bookings after its own lock).
 */
export async function reserve(core: Core, actor: Actor, req: ReserveRequest): Promise<Result<Reservation>> {
  const bad = checkRequest(req);
  if (bad) return refuse(bad);
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const { maxS, graceS } = leaseParams(core);
  const aheadS = Math.ceil((core.bookingLimits?.maxAheadMs ?? DEFAULT_BOOKING_AHEAD_MS) / 1000);
  const lengthS = core.bookingLimits?.maxLengthMs == null ? null : Math.ceil(core.bookingLimits.maxLengthMs / 1000);
  const leadsS = (core.reservationReminderLeadsMs ?? []).map((ms) => Math.ceil(ms / 1000));
  const from = iso(req.from)!;
  const to = iso(req.to)!;
  const only = req.vms ?? null;
  const outcome = await core.db.$client.begin(async (tx): Promise<Result<Reservation> | { short: { free: number; at: Date } }> => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:book:" + req.pool}, 0))`;
    // A booking's limits: the pool's own, else MAX_BOOKING_AHEAD and MAX_BOOKING_LENGTH (else the pool's maximum lease).
    const [pool] = await tx<{ ahead_s: number; length_s: number; at: Date }[]>`
      select coalesce(max_booking_ahead_seconds, ${aheadS}::int) as ahead_s,
             coalesce(max_booking_length_seconds, ${lengthS}::int, max_lease_seconds, ${maxS}::int) as length_s,
             coalesce(${clockAt(core)}::timestamptz, now()) as at from pools where name = ${req.pool}`;
    if (!pool) return refuse({ code: "unknown_pool", pool: req.pool, known: await knownPools(core.db) });
    const at = new Date(pool.at);
    if (req.from.getTime() < at.getTime()) {
      return refuse({ code: "invalid_input", field: "from", message: "that start has passed: book from now on (and check VMs out now with checkout)" });
    }
    if (req.from.getTime() > at.getTime() + pool.ahead_s * 1000) {
      return refuse({ code: "booking_too_far", pool: req.pool, maxAheadMs: pool.ahead_s * 1000, latestStart: new Date(at.getTime() + pool.ahead_s * 1000) });
    }
    if (req.to.getTime() - req.from.getTime() > pool.length_s * 1000) {
      return refuse({ code: "booking_too_long", pool: req.pool, maxMs: pool.length_s * 1000, latestEnd: new Date(req.from.getTime() + pool.length_s * 1000) });
    }
    const [taken] = await tx`select 1 from reservations where label = ${req.label} and state in ('booked', 'started')`;
    if (taken) return refuse({ code: "label_taken", label: req.label });
    if (only) {
      const known = new Set((await tx<{ name: string }[]>`select name from vms where pool = ${req.pool} and name = any(${only}::text[])`).map((r) => r.name));
      const unknown = only.find((name) => !known.has(name));
      if (unknown !== undefined) return refuse({ code: "unknown_vm", vm: unknown });
    }
    let chosen: number[] = [];
    const tried: number[] = [];
    for (let attempt = 0; attempt < PICK_ATTEMPTS && chosen.length < req.count; attempt++) {
      const want = req.count - chosen.length;
      const candidates = await tx<{ id: number }[]>`
        select v.id from vms v where ${freeWhere(tx, req.pool, from, to, graceS, only)} and v.id <> all(${[...tried, ...chosen]}::int[])
        order by v.id limit ${want}`;
      if (candidates.length < want) break;
      const ids = candidates.map((c) => c.id);
      tried.push(...ids);
      // Lock, then look again with a new statement: what committed while we waited for a lock is seen now.
      await tx`select id from vms where id = any(${ids}::int[]) order by id for no key update`;
      const still = await tx<{ id: number }[]>`select v.id from vms v where ${freeWhere(tx, req.pool, from, to, graceS, only)} and v.id = any(${ids}::int[])`;
      chosen = [...chosen, ...still.map((s) => s.id)];
    }
    if (chosen.length < req.count) return { short: { free: await freeCount(tx, req.pool, from, to, graceS, only), at } };
    const [booked] = await tx<BookedRow[]>`
      insert into reservations (label, person_id, pool, count, starts_at, ends_at, note, source, remind_at, created_at)
      values (${req.label}, ${me.value.id}, ${req.pool}, ${req.count}, ${from}::timestamptz, ${to}::timestamptz, ${req.note ?? null}, ${actor.source}::event_source,
              ${reminderAt(tx, tx`${from}::timestamptz`, leadsS, tx`${iso(at)}::timestamptz`)},
              ${iso(at)}::timestamptz)
      returning id, created_at`;
    const id = Number(booked!.id);
    await tx`
      with rows as (
        insert into reservation_vms (reservation_id, vm_id, during)
        select ${id}, unnest(${chosen}::int[]), tstzrange(${from}::timestamptz, ${to}::timestamptz)
        returning vm_id
      )
      ${eventsFrom(
        tx,
        "booked",
        tx`select v.id, v.name, ${me.value.name}::text, ${actor.source}::event_source,
                  jsonb_build_object('reservation', ${id}::bigint, 'label', ${req.label}::text, 'from', ${from}::text, 'to', ${to}::text)
           from rows join vms v on v.id = rows.vm_id`,
      )}`;
    const names = await tx<{ name: string }[]>`select name from vms where id = any(${chosen}::int[]) order by name`;
    return ok({
      id,
      label: req.label,
      person: me.value,
      pool: req.pool,
      count: req.count,
      from: req.from,
      to: req.to,
      note: req.note ?? null,
      state: "booked",
      vms: names.map((n) => n.name),
      given: [],
      ranges: names.map((n) => ({ vm: n.name, from: req.from, to: req.to, given: false })),
      createdAt: new Date(booked!.created_at),
    });
  }).catch((err: unknown) => {
    // Two bookings of one label racing: the partial unique index refuses the second.
    if ((err as { code?: string; constraint_name?: string }).code === "23505" && (err as { constraint_name?: string }).constraint_name === "reservations_label_active") {
      return refuse<Reservation>({ code: "label_taken", label: req.label });
    }
    throw err;
  });
  if (!("short" in outcome)) return outcome.ok ? ok({ ...outcome.value, cleanupBlocked: await cleanupBlockedIn(core.db, req.pool) }) : outcome;
  // Refusal details, read after the booking's lock is released: the nearest range that would fit.
  const nearest = await nearestFit(core.db.$client, req.pool, req.count, req.from, req.to, outcome.short.at, graceS, only);
  return refuse({ code: "not_enough_free", pool: req.pool, count: req.count, free: outcome.short.free, from: req.from, to: req.to, nearest });
}

type ListRow = {
  id: string;
  label: string;
  person_id: number;
  person_name: string;
  slack: string | null;
  display: string | null;
  pool: string;
  count: number;
  starts_at: Date;
  ends_at: Date;
  note: string | null;
  state: ReservationState;
  vms: string[];
  given: string[];
  /** json_agg of each VM's range: times as PostgreSQL writes them in JSON. */
  ranges: { vm: string; from: string; to: string; given: boolean }[];
  created_at: Date;
};

/** Which bookings to list: by default the active ones (booked or started), soonest first. */
export interface ReservationFilter {
  label?: string | undefined;
  person?: PersonRef | undefined;
  pool?: string | undefined;
  /** Also those ended or cancelled (newest first then). */
  all?: boolean | undefined;
  /** Only those whose range ends after this (a calendar's window). */
  endsAfter?: Date | undefined;
  /** Only those whose range starts before this. */
  startsBefore?: Date | undefined;
  limit?: number | undefined;
}

/**
 * Bookings, soonest first. With HIDE_HOLDERS, who booked and their note are hidden from everyone
 * but admins and the person, and a filter by someone else finds nothing: the filter itself would
 * say whose bookings they are.
 */
export async function listReservations(core: Core, viewer: Actor, filter: ReservationFilter = {}): Promise<Result<Reservation[]>> {
  const bad = firstRefusal(filter.label === undefined ? null : checkLabel(filter.label), filter.pool === undefined ? null : checkPoolName(filter.pool), checkWindow(filter));
  if (bad) return refuse(bad);
  const visible = await holdersVisibleTo(core, viewer);
  let personId: number | null = null;
  if (filter.person !== undefined) {
    const p = await resolvePerson(core, filter.person);
    if (!p.ok) return p;
    if (!visible(p.value)) return ok([]);
    personId = p.value.id;
  }
  const sql = core.db.$client;
  const rows = await sql<ListRow[]>`
    select r.id, r.label, r.person_id, p.name as person_name, p.slack_user_id as slack, p.display_name as display, r.pool, r.count,
           r.starts_at, r.ends_at, r.note, r.state, r.created_at,
           coalesce((select array_agg(v.name order by v.name) from reservation_vms rv join vms v on v.id = rv.vm_id
                     where rv.reservation_id = r.id and (rv.active or rv.checkout_id is not null)), '{}') as vms,
           coalesce((select array_agg(v.name order by v.name) from reservation_vms rv join vms v on v.id = rv.vm_id
                     where rv.reservation_id = r.id and rv.checkout_id is not null), '{}') as given,
           coalesce((select json_agg(json_build_object('vm', v.name, 'from', lower(rv.during), 'to', upper(rv.during), 'given', rv.checkout_id is not null)
                                     order by v.name, lower(rv.during))
                     from reservation_vms rv join vms v on v.id = rv.vm_id
                     where rv.reservation_id = r.id and (rv.active or rv.checkout_id is not null)), '[]') as ranges
    from reservations r join people p on p.id = r.person_id
    where ${filter.all ? sql`true` : sql`r.state in ('booked', 'started')`}
      ${filter.endsAfter === undefined ? sql`` : sql`and r.ends_at > ${iso(filter.endsAfter)}::timestamptz`}
      ${filter.startsBefore === undefined ? sql`` : sql`and r.starts_at < ${iso(filter.startsBefore)}::timestamptz`}
      ${filter.label === undefined ? sql`` : sql`and r.label = ${filter.label}`}
      ${filter.pool === undefined ? sql`` : sql`and r.pool = ${filter.pool}`}
      ${personId === null ? sql`` : sql`and r.person_id = ${personId}`}
    order by ${filter.all ? sql`r.starts_at desc` : sql`r.starts_at`}, r.id
    limit ${filter.limit ?? 200}`;
  return ok(rows.map((r) => toReservation(r, visible)));
}

/** A calendar's window: both ends are times, the end after the start. */
function checkWindow(filter: ReservationFilter): Refusal | null {
  const { endsAfter: from, startsBefore: to } = filter;
  if ((from !== undefined && Number.isNaN(from.getTime())) || (to !== undefined && Number.isNaN(to.getTime())))
    return { code: "invalid_input", field: "from", message: "give the window's ends as times (ISO 8601, like 2026-12-07T09:00+01:00)" };
  if (from !== undefined && to !== undefined && to.getTime() <= from.getTime()) return { code: "invalid_input", field: "to", message: "the window's end must be after its start" };
  return null;
}

function toReservation(r: ListRow, visible: (p: PersonTag | null) => boolean): Reservation {
  const person: PersonTag = { id: r.person_id, name: r.person_name, slackUserId: r.slack, displayName: r.display };
  const seen = visible(person);
  return {
    id: Number(r.id),
    label: r.label,
    person: seen ? person : null,
    pool: r.pool,
    count: r.count,
    from: new Date(r.starts_at),
    to: new Date(r.ends_at),
    note: seen ? r.note : null,
    state: r.state,
    vms: r.vms,
    given: r.given,
    ranges: r.ranges.map((x) => ({ vm: x.vm, from: new Date(x.from), to: new Date(x.to), given: x.given })),
    createdAt: new Date(r.created_at),
  };
}

/** The next bookings of each pool (at most `perPool`), for overviews (the Home tab). */
export async function nextBookings(core: Core, viewer: Actor, perPool = 3): Promise<Reservation[]> {
  const all = await listReservations(core, viewer, { limit: 500 });
  if (!all.ok) return [];
  const seen = new Map<string, number>();
  return all.value.filter((r) => {
    const n = seen.get(r.pool) ?? 0;
    seen.set(r.pool, n + 1);
    return n < perPool;
  });
}

/** Active bookings holding a VM (not yet given), soonest first: what draining it would break. */
export async function bookingsOfVm(core: Core, vmName: string): Promise<{ label: string; person: string; from: Date; to: Date }[]> {
  const rows = await core.db.$client<{ label: string; person: string; starts: Date; ends: Date }[]>`
    select res.label, p.name as person, lower(rv.during) as starts, upper(rv.during) as ends
    from reservation_vms rv join vms v on v.id = rv.vm_id join reservations res on res.id = rv.reservation_id join people p on p.id = res.person_id
    where v.name = ${vmName} and rv.active and rv.checkout_id is null and upper(rv.during) > coalesce(${clockAt(core)}::timestamptz, now())
    order by lower(rv.during) limit 20`;
  return rows.map((r) => ({ label: r.label, person: r.person, from: new Date(r.starts), to: new Date(r.ends) }));
}

/** What a cancellation did. */
export interface Cancelled {
  reservation: Reservation;
  /** Cancelled by an admin, not the person who booked (who is told). */
  byAdmin: boolean;
  /** VMs already given at the start: they stay checked out to the person (until checked in, or their lease ends). */
  kept: string[];
}

/**
 * Cancels a booking, before or during its range. The person who booked may;
 * admins may cancel anyone's, on record, and the person is told. During the
 * range, the VMs already given stay with the person: a cancellation never
 * takes a VM from someone using it (they check it in, or the lease ends).
 */
export async function cancelReservation(core: Core, actor: Actor, label: string): Promise<Result<Cancelled>> {
  const bad = checkLabel(label);
  if (bad) return refuse(bad);
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  return core.db.$client.begin(async (tx): Promise<Result<Cancelled>> => {
    const [r] = await tx<(Omit<ListRow, "vms" | "given" | "ranges"> & { actor_admin: boolean; at: Date })[]>`
      select r.id, r.label, r.person_id, p.name as person_name, p.slack_user_id as slack, p.display_name as display, r.pool, r.count,
             r.starts_at, r.ends_at, r.note, r.state, r.created_at,
             (select is_admin from people where id = ${me.value.id}) as actor_admin, coalesce(${clockAt(core)}::timestamptz, now()) as at
      from reservations r join people p on p.id = r.person_id
      where r.label = ${label} and r.state in ('booked', 'started')
      for update of r`;
    if (!r) return refuse({ code: "unknown_reservation", label });
    const person: PersonTag = { id: r.person_id, name: r.person_name, slackUserId: r.slack, displayName: r.display };
    const mine = person.id === me.value.id;
    const admin = actor.person === OPERATOR || r.actor_admin || isBootstrapAdmin(core, me.value);
    if (!mine && !admin) return refuse({ code: "not_your_reservation", label, person: core.hideHolders ? null : person });
    await tx`update reservations set state = 'cancelled', ended_at = ${iso(r.at)}::timestamptz, cancelled_by = ${me.value.id} where id = ${r.id}`;
    const rows = await tx<{ vm_id: number; name: string; given: boolean; starts: Date; ends: Date }[]>`
      with freed as (update reservation_vms set active = false where reservation_id = ${r.id} and active returning vm_id, checkout_id, during)
      select f.vm_id, v.name, lower(f.during) as starts, upper(f.during) as ends, (f.checkout_id is not null and exists (select 1 from checkouts c where c.id = f.checkout_id and c.ended_at is null)) as given
      from freed f join vms v on v.id = f.vm_id order by v.name`;
    await tx`${eventsFrom(
      tx,
      "booking_cancelled",
      tx`select v.id, v.name, ${me.value.name}::text, ${actor.source}::event_source,
                jsonb_build_object('reservation', ${Number(r.id)}::bigint, 'label', ${label}::text, 'person', ${person.name}::text)
         from vms v where v.id = any(${rows.map((x) => x.vm_id)}::int[])`,
    )}`;
    const kept = rows.filter((x) => x.given).map((x) => x.name);
    if (!mine) {
      await enqueueNotices(tx, [
        {
          kind: "reservation_cancelled",
          reservationId: Number(r.id),
          person: { id: person.id, name: person.name, slackUserId: person.slackUserId },
          label,
          pool: r.pool,
          from: new Date(r.starts_at).toISOString(),
          to: new Date(r.ends_at).toISOString(),
          by: { id: me.value.id, name: me.value.name, slackUserId: me.value.slackUserId },
          kept,
        },
      ]);
    }
    const reservation = toReservation(
      {
        ...r,
        state: "cancelled",
        vms: rows.map((x) => x.name),
        given: kept,
        ranges: rows.map((x) => ({ vm: x.name, from: iso(x.starts)!, to: iso(x.ends)!, given: x.given })),
      },
      () => true,
    );
    return ok({ reservation, byAdmin: !mine, kept });
  });
}

