import type { LeaseRequest } from "./lease-request.js";
import { reminderAt } from "./reminder-at.js";
import type { VmState } from "../db/schema.js";
import { clockAt, iso } from "./clock.js";
import { eventsFrom, type EventKind } from "./events.js";
import { noticesOf, type Notice } from "./notices.js";
import { isBootstrapAdmin, OPERATOR, resolvePerson, type PersonTag } from "./people.js";
import { ok, refuse, type Actor, type Core, type LeaseSettings, type Refusal, type Result } from "./types.js";
import { checkVmName } from "./validate.js";
import { bookingInTheWay } from "./booking-in-the-way.js";
import { checkoutEnded } from "./checkout-ended.js";
import { holdersVisibleTo } from "./vm-listings.js";

/** The settings' defaults (DEFAULT_LEASE, MAX_LEASE, REMINDER_LEADS, LEASE_GRACE, CLAIM_WINDOW). */
export const LEASE_DEFAULTS: LeaseSettings = {
  defaultMs: 8 * 3_600_000,
  maxMs: 7 * 86_400_000,
  reminderLeadsMs: [3_600_000, 600_000],
  graceMs: 15 * 60_000,
  claimWindowMs: 10 * 60_000,
};

/** The lease settings as statements take them: whole seconds. */
export function leaseParams(core: Core): { defaultS: number; maxS: number; leadsS: number[]; graceS: number; windowS: number } {
  const s = (ms: number) => Math.ceil(ms / 1000);
  const l = core.leases;
  return { defaultS: s(l.defaultMs), maxS: s(l.maxMs), leadsS: l.reminderLeadsMs.map(s), graceS: s(l.graceMs), windowS: s(l.claimWindowMs) };
}

const MIN_LEASE_MS = 60_000;
const MAX_ANY_LEASE_MS = 3650 * 86_400_000;

/** A lease length someone asked for (checkout `for`, extend `by`): at least a minute. */
export function checkLease(ms: number, field = "for"): Refusal | null {
  if (!Number.isSafeInteger(ms) || ms < MIN_LEASE_MS || ms > MAX_ANY_LEASE_MS) {
    return { code: "invalid_input", field, message: `a lease is at least 1m and at most 3650d (written like 90m, 4h, 2d or 1d12h)` };
  }
  return null;
}

/** What a lease change did. */
export interface LeaseChange {
  vm: string;
  checkoutId: number;
  holder: PersonTag;
  pool: string;
  previousEndsAt: Date | null;
  /** The new end; null: pinned (no end). */
  endsAt: Date | null;
  /** Set by an admin on someone else's checkout (the holder is told). */
  byAdmin: boolean;
}

/**
 * How to change a lease: `by` extends from the current end (or from now, when
 * the end has passed and the grace runs); `until` (admins) sets any end;
 * `pin` (admins) removes the end.
 */
export { leaseRequestOf, type LeaseRequest } from "./lease-request.js";

type LeaseRow = {
  vm_id: number;
  state: VmState;
  checkout_id: string | number | null;
  holder_id: number | null;
  holder_name: string | null;
  holder_slack: string | null;
  holder_display: string | null;
  pool: string;
  started_at: Date | null;
  ends_at: Date | null;
  lease_s: number;
  max_s: number;
  at: Date;
  actor_admin: boolean;
};

/**
 * Extends (holders, within the pool's maximum from the checkout's start; never
 * shorter), or sets or pins (admins) the lease of a VM's open checkout. Under
 * the VM's row lock, so it cannot race the expiry: whichever comes first wins,
 * and an extension after the automatic check-in is refused as not checked out.
 */
export async function changeLease(
  core: Core,
  actor: Actor,
  vmName: string,
  request: LeaseRequest = {},
  opts: { checkoutId?: number | undefined } = {},
): Promise<Result<LeaseChange>> {
  const bad = checkVmName(vmName) ?? ("by" in request && request.by !== undefined ? checkLease(request.by, "by") : null);
  if (bad) return refuse(bad);
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const { defaultS, maxS, leadsS } = leaseParams(core);
  return core.db.$client.begin(async (tx): Promise<Result<LeaseChange>> => {
    const [row] = await tx<LeaseRow[]>`
      select v.id as vm_id, v.state, v.checkout_id, c.person_id as holder_id, p.name as holder_name, p.slack_user_id as holder_slack, p.display_name as holder_display,
             v.pool, c.started_at, c.ends_at,
             least(coalesce(pl.lease_seconds, ${defaultS}::int), coalesce(pl.max_lease_seconds, ${maxS}::int)) as lease_s,
             coalesce(pl.max_lease_seconds, ${maxS}::int) as max_s,
             coalesce(${clockAt(core)}::timestamptz, now()) as at,
             (select is_admin from people where id = ${me.value.id}) as actor_admin
      from vms v join pools pl on pl.name = v.pool
        left join checkouts c on c.id = v.checkout_id left join people p on p.id = c.person_id
      where v.name = ${vmName} for update of v`;
    if (!row) return refuse({ code: "unknown_vm", vm: vmName });
    if (row.checkout_id === null || row.holder_id === null || row.started_at === null) {
      return refuse({ code: "not_checked_out", vm: vmName, state: row.state });
    }
    // A button names the checkout it was made for: a later checkout of the VM is not extended by it.
    if (opts.checkoutId !== undefined && Number(row.checkout_id) !== opts.checkoutId) {
      return refuse(await checkoutEnded(tx, vmName, opts.checkoutId, me.value, await holdersVisibleTo(core, actor)));
    }
    const admin = actor.person === OPERATOR || row.actor_admin || isBootstrapAdmin(core, me.value);
    const holder: PersonTag = { id: row.holder_id, name: row.holder_name ?? "", slackUserId: row.holder_slack, displayName: row.holder_display };
    const mine = holder.id === me.value.id;
    if (!mine && !admin) return refuse({ code: "not_holder", vm: vmName, holder: core.hideHolders ? null : holder });
    if (("until" in request || "pin" in request) && !admin) return refuse({ code: "not_admin", operation: "set or pin a lease" });
    const at = new Date(row.at);
    const latestEnd = new Date(new Date(row.started_at).getTime() + row.max_s * 1000);
    let endsAt: Date | null;
    if ("pin" in request) endsAt = null;
    else if ("until" in request) endsAt = request.until;
    else {
      if (row.ends_at === null) return refuse({ code: "lease_not_extended", vm: vmName, endsAt: null });
      const from = Math.max(new Date(row.ends_at).getTime(), at.getTime());
      endsAt = new Date(from + (request.by ?? row.lease_s * 1000));
      // The pool's maximum binds holders; an admin extending on someone's behalf is on record instead.
      if (endsAt > latestEnd && !(admin && !mine)) {
        return refuse({ code: "lease_too_long", pool: row.pool, maxMs: row.max_s * 1000, latestEnd: latestEnd > new Date(row.ends_at) ? latestEnd : null });
      }
    }
    if ("until" in request && request.until.getTime() <= at.getTime()) {
      return refuse({ code: "invalid_input", field: "until", message: "that time has passed: give an end in the future (or check the VM in)" });
    }
    const previous = row.ends_at === null ? null : new Date(row.ends_at);
    // A lease never runs into a booking of its VM: refused (for admins too; cancelling the booking comes first).
    if (endsAt === null || previous === null || endsAt.getTime() > previous.getTime()) {
      const booking = await bookingInTheWay(tx, row.vm_id, at, endsAt);
      if (booking) return refuse({ code: "vm_booked", vm: vmName, from: booking.from, label: core.hideHolders && !admin ? null : booking.label });
    }
    const change: LeaseChange = { vm: vmName, checkoutId: Number(row.checkout_id), holder, pool: row.pool, previousEndsAt: previous, endsAt, byAdmin: !mine };
    const kind: EventKind = "by" in request || !("until" in request || "pin" in request) ? "lease_extended" : "lease_set";
    const notices: Notice[] = change.byAdmin
      ? [{ kind: "lease_changed", checkoutId: change.checkoutId, holder, vm: vmName, endsAt: endsAt?.toISOString() ?? null, by: me.value }]
      : [];
    const detail = { checkout: change.checkoutId, from: previous?.toISOString() ?? null, to: endsAt?.toISOString() ?? null };
    await tx`
      with changed as (
        update checkouts set ends_at = ${iso(endsAt)}::timestamptz,
          remind_at = ${reminderAt(tx, tx`${iso(endsAt)}::timestamptz`, leadsS, tx`${iso(at)}::timestamptz`)}
        where id = ${change.checkoutId} and ended_at is null
        returning id
      ), logged as (
        ${eventsFrom(tx, kind, tx`select ${row.vm_id}::int, ${vmName}::text, ${me.value.name}::text, ${actor.source}::event_source, ${JSON.stringify(detail)}::jsonb from changed`)}
      )
      ${noticesOf(tx, notices, { when: tx`exists (select 1 from changed)` })}`;
    return ok(change);
  });
}

