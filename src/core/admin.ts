import { formatDuration } from "../duration.js";
import type { PgSql } from "../db/client.js";
import { POOL_CLEANUPS, type PoolCleanup, type VmState } from "../db/schema.js";
import { recordEvent, type EventKind } from "./events.js";
import { enqueueNotices } from "./notices.js";
import { asAdmin } from "./people.js";
import { checkLease } from "./leases.js";
import { knownPools } from "./queries.js";
import { stateWhenFree } from "./retire.js";
import { withdrawHold } from "./waitlist.js";
import { ok, refuse, type Actor, type Core, type Refusal, type Result } from "./types.js";
import {
  checkFingerprint,
  checkIp,
  checkPoolName,
  checkSshPort,
  checkSshUser,
  checkTag,
  checkVmName,
  firstRefusal,
} from "./validate.js";

/** A VM as the inventory (vms.yml or `pool add`) describes it. */
export interface VmSpec {
  name: string;
  ip: string;
  pool: string;
  sshUser: string;
  sshPort: number;
  hostKeyFingerprint: string | null;
  tags: string[];
}

export function checkVmSpec(spec: VmSpec): ReturnType<typeof firstRefusal> {
  return firstRefusal(
    checkVmName(spec.name, "name"),
    checkIp(spec.ip),
    checkPoolName(spec.pool),
    checkSshUser(spec.sshUser),
    checkSshPort(spec.sshPort),
    spec.hostKeyFingerprint === null ? null : checkFingerprint(spec.hostKeyFingerprint),
    ...spec.tags.map((t) => checkTag(t)),
  );
}

/** Creates the pool with default settings (and these leases, in ms) if it does not exist yet. */
export async function ensurePool(tx: PgSql, pool: string, quota: number, leases: PoolLeases = {}): Promise<void> {
  await tx`insert into pools (name, quota, lease_seconds, max_lease_seconds)
    values (${pool}, ${quota}, ${seconds(leases.leaseMs)}, ${seconds(leases.maxLeaseMs)}) on conflict (name) do nothing`;
}

/** A pool's lease settings as an admin gives them, in ms; unset: unchanged (new pools: DEFAULT_LEASE, MAX_LEASE). */
export interface PoolLeases {
  leaseMs?: number | undefined;
  maxLeaseMs?: number | undefined;
}

/**
 * A pool's own lease longer than its maximum (its own, else MAX_LEASE) is refused: every
 * checkout would be cut to the maximum without anyone being told. (DEFAULT_LEASE above a
 * pool's maximum is cut to it, as documented.)
 */
function leaseOverMax(core: Core, leaseMs: number | null | undefined, maxMs: number | null | undefined): Refusal | null {
  const max = maxMs ?? core.leases.maxMs;
  if (leaseMs === null || leaseMs === undefined || leaseMs <= max) return null;
  return {
    code: "invalid_input",
    field: "lease",
    message: `a lease of ${formatDuration(leaseMs)} is longer than the pool's maximum of ${formatDuration(max)}: make it at most the maximum, or raise the maximum (--max-lease)`,
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.ceil(ms / 1000));

/** What a pool is set to now. */
export interface PoolSettings {
  pool: string;
  quota: number;
  /** `none`: a check-in returns the VM at once (on record); `ssh`: it is cleaned first. */
  cleanup: PoolCleanup;
  /** null: DEFAULT_LEASE, MAX_LEASE. */
  leaseMs: number | null;
  maxLeaseMs: number | null;
  /** How far ahead a booking may start and how long it may be; null: MAX_BOOKING_AHEAD, MAX_BOOKING_LENGTH (else the maximum lease). */
  maxBookingAheadMs: number | null;
  maxBookingLengthMs: number | null;
}

/** A change to a pool's settings, in ms; unset: unchanged. */
export type PoolChange = PoolLeases & {
  quota?: number | undefined;
  maxBookingAheadMs?: number | undefined;
  maxBookingLengthMs?: number | undefined;
  /** `none`: check-ins return VMs at once; `ssh`: cleaned first (the default). */
  cleanup?: string | undefined;
};

/**
 * Admin: change a pool's default lease, maximum lease, quota, booking limits or cleanup (open
 * checkouts and made bookings keep theirs; VMs already in cleaning stay there until cleaned or
 * ended by hand with cleanupDone).
 */
export async function setPool(core: Core, actor: Actor, pool: string, change: PoolChange): Promise<Result<PoolSettings>> {
  const me = await asAdmin(core, actor, "change a pool");
  if (!me.ok) return me;
  const bad = firstRefusal(
    checkPoolName(pool),
    change.leaseMs === undefined ? null : checkLease(change.leaseMs, "lease"),
    change.maxLeaseMs === undefined ? null : checkLease(change.maxLeaseMs, "max-lease"),
    change.maxBookingAheadMs === undefined ? null : checkLease(change.maxBookingAheadMs, "max-booking-ahead"),
    change.maxBookingLengthMs === undefined ? null : checkLease(change.maxBookingLengthMs, "max-booking-length"),
    change.quota === undefined || (Number.isInteger(change.quota) && change.quota >= 1 && change.quota <= 1000)
      ? null
      : { code: "invalid_input", field: "quota", message: "a quota is a whole number from 1 to 1000" },
    change.cleanup === undefined || (POOL_CLEANUPS as readonly string[]).includes(change.cleanup)
      ? null
      : { code: "invalid_input", field: "cleanup", message: `"${change.cleanup}" is not a cleanup: use none (VMs come back at check-in) or ssh (cleaned over SSH first, the default)` },
  );
  if (bad) return refuse(bad);
  if (Object.values(change).every((v) => v === undefined)) {
    return refuse({ code: "invalid_input", field: "pool set", message: "say what to change: --lease, --max-lease, --quota, --max-booking-ahead, --max-booking-length or --cleanup" });
  }
  const [current] = await core.db.$client<{ lease_seconds: number | null; max_lease_seconds: number | null }[]>`
    select lease_seconds, max_lease_seconds from pools where name = ${pool}`;
  if (current) {
    const leaseMs = change.leaseMs ?? (current.lease_seconds === null ? null : current.lease_seconds * 1000);
    const maxMs = change.maxLeaseMs ?? (current.max_lease_seconds === null ? null : current.max_lease_seconds * 1000);
    const tooLong = leaseOverMax(core, leaseMs, maxMs);
    if (tooLong) return refuse(tooLong);
  }
  const [row] = await core.db.$client<{ quota: number; cleanup: PoolCleanup; lease_seconds: number | null; max_lease_seconds: number | null; ahead: number | null; length: number | null }[]>`
    update pools set quota = coalesce(${change.quota ?? null}::int, quota),
      cleanup = coalesce(${change.cleanup ?? null}::text, cleanup),
      lease_seconds = coalesce(${seconds(change.leaseMs)}::int, lease_seconds),
      max_lease_seconds = coalesce(${seconds(change.maxLeaseMs)}::int, max_lease_seconds),
      max_booking_ahead_seconds = coalesce(${seconds(change.maxBookingAheadMs)}::int, max_booking_ahead_seconds),
      max_booking_length_seconds = coalesce(${seconds(change.maxBookingLengthMs)}::int, max_booking_length_seconds)
    where name = ${pool}
    returning quota, cleanup, lease_seconds, max_lease_seconds, max_booking_ahead_seconds as ahead, max_booking_length_seconds as length`;
  if (!row) return refuse({ code: "unknown_pool", pool, known: await knownPools(core.db) });
  const ms = (s: number | null) => (s === null ? null : s * 1000);
  return ok({ pool, quota: row.quota, cleanup: row.cleanup, leaseMs: ms(row.lease_seconds), maxLeaseMs: ms(row.max_lease_seconds), maxBookingAheadMs: ms(row.ahead), maxBookingLengthMs: ms(row.length) });
}

/** Adds a VM to a pool (creating the pool if new, with `newPool`'s leases). */
export async function addVm(core: Core, actor: Actor, spec: VmSpec, newPool: PoolLeases = {}): Promise<Result<{ vm: string }>> {
  const me = await asAdmin(core, actor, "add a VM");
  if (!me.ok) return me;
  const bad = firstRefusal(
    checkVmSpec(spec),
    newPool.leaseMs === undefined ? null : checkLease(newPool.leaseMs, "lease"),
    newPool.maxLeaseMs === undefined ? null : checkLease(newPool.maxLeaseMs, "max-lease"),
    leaseOverMax(core, newPool.leaseMs, newPool.maxLeaseMs),
  );
  if (bad) return refuse(bad);
  return core.db.$client.begin(async (tx): Promise<Result<{ vm: string }>> => {
    await ensurePool(tx, spec.pool, core.defaultQuota, newPool);
    // A text[] travels as JSON, as the sync's batches send it.
    const [row] = await tx<{ id: number }[]>`
      insert into vms (name, ip, pool, ssh_user, ssh_port, host_key_fingerprint, tags)
      values (${spec.name}, ${spec.ip}::inet, ${spec.pool}, ${spec.sshUser}, ${spec.sshPort},
              ${spec.hostKeyFingerprint}, array(select jsonb_array_elements_text(${JSON.stringify(spec.tags)}::jsonb)))
      on conflict (name) do nothing
      returning id`;
    if (!row) return refuse({ code: "name_taken", vm: spec.name });
    await recordEvent(tx, { vmId: row.id, vmName: spec.name, actor: me.value.name, source: actor.source, kind: "added", detail: spec });
    return ok({ vm: spec.name });
  });
}

interface Transition {
  operation: string;
  from: VmState[];
  to: VmState;
  kind: EventKind;
}

const DRAIN: Transition = { operation: "drain a VM", from: ["available", "held", "quarantined"], to: "maintenance", kind: "drained" };
const REPAIR: Transition = { operation: "return a VM to service", from: ["maintenance", "quarantined"], to: "available", kind: "repaired" };
const RETRY: Transition = { operation: "retry a cleanup", from: ["quarantined"], to: "cleaning", kind: "cleanup_retry" };

/** Admin: take an idle VM out of service (`maintenance`). */
export const drainVm = (core: Core, actor: Actor, vm: string) => transition(core, actor, vm, DRAIN);
/** Admin: return a VM from `maintenance` or `quarantined` to the pool. */
export const repairVm = (core: Core, actor: Actor, vm: string) => transition(core, actor, vm, REPAIR);
/** Admin: queue a quarantined VM's cleanup again, attempts reset. */
export const retryCleanup = (core: Core, actor: Actor, vm: string) => transition(core, actor, vm, RETRY);

/** One guarded state change: the WHERE carries the precondition, the row count tells. */
async function transition(core: Core, actor: Actor, vmName: string, t: Transition): Promise<Result<{ vm: string; from: VmState; to: VmState }>> {
  const me = await asAdmin(core, actor, t.operation);
  if (!me.ok) return me;
  const bad = checkVmName(vmName);
  if (bad) return refuse(bad);
  return core.db.$client.begin(async (tx): Promise<Result<{ vm: string; from: VmState; to: VmState }>> => {
    const [row] = await tx<{ id: number; state: VmState; retire_on_checkin: boolean }[]>`
      select id, state, retire_on_checkin from vms where name = ${vmName} for update`;
    if (!row) return refuse({ code: "unknown_vm", vm: vmName });
    if (!t.from.includes(row.state)) return refuse({ code: "wrong_state", vm: vmName, state: row.state, allowed: t.from });
    // Held for a waiter: the offer is withdrawn first (they keep their place and are told).
    if (row.state === "held") await withdrawHold(tx, row.id, { name: me.value.name, source: actor.source });
    // A VM removed from the inventory while it was being cleaned leaves service instead of returning.
    const to: VmState = t.to === "available" ? stateWhenFree("available", row.retire_on_checkin) : t.to;
    await tx`
      update vms set state = ${to}, held_for = null, state_changed_at = now(), claimed_by = null, claimed_at = null, retire_on_checkin = retire_on_checkin and ${to !== "retired"},
        cleanup_attempts = 0, cleanup_next_at = ${t.to === "cleaning" ? tx`now()` : tx`null`},
        cleanup_last_error = ${to === "cleaning" || to === "maintenance" ? tx`cleanup_last_error` : tx`null`}
      where id = ${row.id} and state = ${row.state}`;
    await recordEvent(tx, { vmId: row.id, vmName, actor: me.value.name, source: actor.source, kind: t.kind, detail: { from: row.state, to } });
    await enqueueNotices(tx, [{ kind: "vm_state_changed", vm: vmName, state: to, by: me.value }]);
    return ok({ vm: vmName, from: row.state, to });
  });
}

/** What removing a VM did: retired now, or marked to retire at check-in because someone holds it. */
export interface RemoveDone {
  vm: string;
  retired: "now" | "at_checkin" | "after_cleanup" | "already";
}

/** Admin: retire a VM (history kept). A held VM is retired when it is checked in. */
export async function removeVm(core: Core, actor: Actor, vmName: string): Promise<Result<RemoveDone>> {
  const me = await asAdmin(core, actor, "remove a VM");
  if (!me.ok) return me;
  const bad = checkVmName(vmName);
  if (bad) return refuse(bad);
  return core.db.$client.begin(async (tx): Promise<Result<RemoveDone>> => {
    const done = await retireInTx(tx, { name: me.value.name, source: actor.source }, vmName);
    return done ? ok(done) : refuse({ code: "unknown_vm", vm: vmName });
  });
}

/** Retires a VM inside the caller's transaction; null when there is no such VM. */
export async function retireInTx(tx: PgSql, by: { name: string; source: Actor["source"] }, vmName: string): Promise<RemoveDone | null> {
  const [row] = await tx<{ id: number; state: VmState }[]>`select id, state from vms where name = ${vmName} for update`;
  if (!row) return null;
  if (row.state === "retired") return { vm: vmName, retired: "already" };
  const later = row.state === "checked_out" || row.state === "cleaning";
  if (row.state === "held") await withdrawHold(tx, row.id, by);
  if (later) {
    await tx`update vms set retire_on_checkin = true where id = ${row.id}`;
  } else {
    await tx`update vms set state = 'retired', held_for = null, state_changed_at = now(), cleanup_last_error = null where id = ${row.id}`;
  }
  const retired = row.state === "checked_out" ? "at_checkin" : row.state === "cleaning" ? "after_cleanup" : "now";
  await recordEvent(tx, { vmId: row.id, vmName, actor: by.name, source: by.source, kind: later ? "retire_requested" : "retired", detail: { from: row.state } });
  return { vm: vmName, retired };
}
