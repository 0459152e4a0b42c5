import type { EventSource } from "../db/schema.js";
import { reminderAt } from "./reminder-at.js";
import { eventsFrom, type Fragment, type PgSql } from "./events.js";
import { noticesFrom } from "./notices.js";
import type { CheckedOutVm } from "./types.js";

/**
 * Opening a checkout: the one writer. Every path that lends a VM (a checkout, a waiter's grant, a
 * booking's start, a provisioned pool's lend) writes the same things here, so they cannot drift:
 * the `checkouts` row, the VM's link and state (`checked_out`, no longer held), the lease and its
 * cut at the VM's next booking (a lease never runs into a booking: it ends where the booking
 * starts, and the notice says so with `bookedFrom`), `remind_at` (the longest reminder lead still
 * ahead), the booking's link to its checkout, the `checked_out` event and the `vm_checked_out`
 * notice (the holder's DM).
 *
 * `openCheckout` runs it as one statement in the caller's transaction; the one-round-trip
 * checkout (checkout.ts) embeds the same steps (`openingSteps`) after its pick.
 */

/** Who gets the VM, as the event and the notice name them. */
export interface OpeningPerson {
  id: number;
  name: string;
  slackUserId: string | null;
}

/** What an opening needs besides the VM, the time and the lease. */
export interface OpeningFacts {
  person: OpeningPerson;
  pool: string;
  note: string | null;
  source: EventSource;
  /** What the event says besides the pool and the checkout: the waiter, the booking, `created`. */
  detail?: Record<string, unknown>;
  /** The booking this checkout is for: its label (the notice names it) and its `reservation_vms` row (linked to the checkout; its own range does not cut the lease). */
  booking?: { label: string; rowId: number } | undefined;
}

/**
 * The `opening` CTE's select list: one row per VM to lend. `vmId`, `at` and `leaseEnd` (the end the
 * lease would have without a booking in the way) are values or fragments over the caller's
 * FROM clause (the hot path's `picked` and `quota`).
 */
export function openingRow(tx: PgSql, facts: OpeningFacts, at: { vmId: number | Fragment; at: string | Fragment; leaseEnd: string | Fragment }): Fragment {
  const value = (v: number | string | Fragment, type: "int" | "timestamptz") => (typeof v === "object" ? tx`(${v})` : type === "int" ? tx`${v}::int` : tx`${v}::timestamptz`);
  return tx`
    select ${value(at.vmId, "int")} as vm_id, ${facts.person.id}::int as person_id, ${facts.person.name}::text as person_name,
           ${facts.person.slackUserId}::text as slack_user_id, ${facts.pool}::text as pool, ${facts.note}::text as note,
           ${value(at.at, "timestamptz")} as at, ${value(at.leaseEnd, "timestamptz")} as lease_end, ${facts.source}::event_source as source,
           ${JSON.stringify(facts.detail ?? {})}::jsonb as detail, ${facts.booking?.label ?? null}::text as reservation,
           ${facts.booking?.rowId ?? null}::bigint as booking`;
}

/**
 * The steps after the VM is chosen and locked, as CTEs reading a CTE named `opening` (one row per
 * VM, as `openingRow` selects): `open_ends`, `opened`, `taken` (what the caller returns: the
 * checkout as `RETURNED_COLUMNS` names it), `linked`, `logged`, `told`. Embed after a comma:
 * `with …, opening as (${openingRow(…)} from …), ${openingSteps(tx, leadsS)} select … from taken`.
 */
export function openingSteps(tx: PgSql, leadsS: number[]): Fragment {
  return tx`
    open_ends as (
      -- After the VM's lock: vmres_next_booking (VOLATILE) reads with a new snapshot, so a booking
      -- committed since the statement began is seen, and the lease stops at its start. A booking's own
      -- range is its lease (the exclusion constraint keeps other bookings of the VM out of it).
      select o.*, case when o.booking is null then least(o.lease_end, vmres_next_booking(o.vm_id, o.at, o.lease_end)) else o.lease_end end as ends_at
      from opening o
    ), opened as (
      insert into checkouts (vm_id, person_id, pool, note, started_at, ends_at, remind_at)
      select e.vm_id, e.person_id, e.pool, e.note, e.at, e.ends_at,
             ${reminderAt(tx, tx`e.ends_at`, leadsS, tx`e.at`)}
      from open_ends e
      returning id, vm_id, started_at, ends_at, note
    ), taken as (
      update vms v
      set state = 'checked_out', checkout_id = o.id, held_for = null, state_changed_at = now()
      from opened o join open_ends e on e.vm_id = o.vm_id
      -- The ids as an index condition too: joined only through o.vm_id, a custom plan at 1,000,000
      -- VMs read vms_pkey from its first entry in a Merge Join (a read growing with the id lent).
      where v.id = o.vm_id and v.id = any(array(select vm_id from opened))
      returning o.id as checkout_id, v.id, v.name, host(v.ip) as ip, v.ssh_user, v.ssh_port, v.pool, o.started_at, o.ends_at, o.note,
                case when o.ends_at < e.lease_end then o.ends_at end as booked_from,
                e.person_id, e.person_name, e.slack_user_id, e.source, e.detail, e.reservation, e.booking
    ), linked as (
      update reservation_vms rv set checkout_id = t.checkout_id from taken t where rv.id = t.booking
      returning rv.id
    ), logged as (
      ${eventsFrom(tx, "checked_out", tx`select id, name, person_name, source, jsonb_build_object('pool', pool, 'checkout', checkout_id) || detail from taken`)}
    ), told as (
      ${noticesFrom(
        tx,
        "vm_checked_out",
        tx`select jsonb_build_object(
             'checkoutId', checkout_id,
             'holder', jsonb_build_object('id', person_id, 'name', person_name, 'slackUserId', slack_user_id),
             'vm', name, 'pool', pool, 'ip', ip, 'sshUser', ssh_user, 'sshPort', ssh_port,
             'startedAt', started_at, 'endsAt', ends_at, 'note', note, 'bookedFrom', booked_from, 'reservation', reservation)
           from taken`,
      )}
    )`;
}

/** A row of `taken` as the caller reads it. */
export type TakenRow = {
  checkout_id: string | number;
  id: number;
  name: string;
  ip: string;
  ssh_user: string;
  ssh_port: number;
  pool: string;
  started_at: string | Date;
  ends_at: string | Date | null;
  note: string | null;
  booked_from: string | Date | null;
};

/** The checkout as its person gets it, from a row of `taken`. */
export function checkedOutOf(t: TakenRow): CheckedOutVm {
  return {
    checkoutId: Number(t.checkout_id),
    name: t.name,
    ip: t.ip,
    sshUser: t.ssh_user,
    sshPort: t.ssh_port,
    pool: t.pool,
    startedAt: new Date(t.started_at),
    endsAt: t.ends_at === null ? null : new Date(t.ends_at),
    note: t.note,
    bookedFrom: t.booked_from === null ? null : new Date(t.booked_from),
  };
}

/** The lease asked for: seconds from `at` (null: the pool's default), always within the pool's maximum; or a fixed end (a booking's). */
export type OpeningLease = { forS: number | null } | { until: string };

/**
 * Opens a checkout of a VM the caller has chosen and locked (available, or held for this person),
 * in the caller's transaction, at `at` (ISO; the caller's clock). Null when the VM could not be
 * taken (gone meanwhile); the caller decides what that means.
 */
export async function openCheckout(
  tx: PgSql,
  leases: { defaultS: number; maxS: number; leadsS: number[] },
  vmId: number,
  at: string,
  lease: OpeningLease,
  facts: OpeningFacts,
): Promise<CheckedOutVm | null> {
  const leaseEnd =
    "until" in lease
      ? tx`${lease.until}::timestamptz`
      : tx`select ${at}::timestamptz + make_interval(secs => least(coalesce(${lease.forS}::int, p.lease_seconds, ${leases.defaultS}::int), coalesce(p.max_lease_seconds, ${leases.maxS}::int)))
           from pools p where p.name = ${facts.pool}`;
  const [row] = await tx<TakenRow[]>`
    with opening as (${openingRow(tx, facts, { vmId, at, leaseEnd })}), ${openingSteps(tx, leases.leadsS)}
    select checkout_id, id, name, ip, ssh_user, ssh_port, pool, started_at, ends_at, note, booked_from from taken`;
  return row ? checkedOutOf(row) : null;
}
