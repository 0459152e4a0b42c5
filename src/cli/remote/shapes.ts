import type { CheckinDone } from "../../core/checkin.js";
import type { LeaseChange } from "../../core/leases.js";
import type { CheckoutEntry, HistoryEntry, PoolSummary } from "../../core/queries.js";
import type { CheckedOutVm, PersonTag, StateCounts, VmSummary } from "../../core/types.js";
import type { QueuePlace } from "../../core/waitlist.js";
import type { Reservation } from "../../core/reservations.js";
import type { EventKind } from "../../core/events.js";
import type { EventSource } from "../../db/schema.js";

/**
 * The API's bodies (src/api/schemas.ts) as the core's values, so that a
 * command over the API prints the same text and the same --json as on the
 * database: the same describe functions run on the same shapes. Times come as
 * ISO text and become Dates again (JSON.stringify writes them back the same).
 */

type Time = string;
const date = (t: Time): Date => new Date(t);
const maybeDate = (t: Time | null): Date | null => (t === null ? null : new Date(t));

interface CheckedOutBody {
  id: number;
  vm: string;
  pool: string;
  ip: string;
  sshUser: string;
  sshPort: number;
  startedAt: Time;
  endsAt: Time | null;
  note: string | null;
  bookedFrom: Time | null;
  cleanupBlocked: boolean;
}

export const checkedOutVm = (b: CheckedOutBody): CheckedOutVm => ({
  checkoutId: b.id,
  name: b.vm,
  ip: b.ip,
  sshUser: b.sshUser,
  sshPort: b.sshPort,
  pool: b.pool,
  startedAt: date(b.startedAt),
  endsAt: maybeDate(b.endsAt),
  note: b.note,
  bookedFrom: maybeDate(b.bookedFrom),
  cleanupBlocked: b.cleanupBlocked,
});

export const checkinDone = (b: {
  id: number;
  vm: string;
  pool: string;
  forced: boolean;
  previousHolder: PersonTag;
  nextState: "cleaning" | "available" | "retired";
  instance: { action: "save" | "delete" | "clean"; image: string | null; jobId: number | null } | null;
}): CheckinDone => ({
  vm: b.vm,
  pool: b.pool,
  checkoutId: b.id,
  previousHolder: b.previousHolder,
  forced: b.forced,
  nextState: b.nextState,
  ...(b.instance === null ? {} : { instance: instanceRelease(b.instance) }),
});

function instanceRelease(i: { action: "save" | "delete" | "clean"; image: string | null; jobId: number | null }): NonNullable<CheckinDone["instance"]> {
  if (i.action === "save") return { action: "save", image: i.image ?? "", jobId: i.jobId ?? 0 };
  if (i.action === "delete") return { action: "delete", jobId: i.jobId ?? 0 };
  return { action: "clean" };
}

export const leaseChange = (b: { id: number; vm: string; pool: string; holder: PersonTag; byAdmin: boolean; previousEndsAt: Time | null; endsAt: Time | null }): LeaseChange => ({
  vm: b.vm,
  checkoutId: b.id,
  holder: b.holder,
  pool: b.pool,
  previousEndsAt: maybeDate(b.previousEndsAt),
  endsAt: maybeDate(b.endsAt),
  byAdmin: b.byAdmin,
});

interface VmBody {
  name: string;
  ip: string;
  sshUser: string;
  sshPort: number;
  pool: string;
  state: VmSummary["state"];
  holder: PersonTag | null;
  checkoutId: number | null;
  startedAt?: Time | null;
  /** Deprecated: the previous release's service sends only this name (the same value as `startedAt`). */
  checkedOutAt?: Time | null;
  endsAt: Time | null;
  heldFor: { person: PersonTag | null; until: Time } | null;
  stateChangedAt: Time;
  cleanupLastError: string | null;
  tags: string[];
  note?: string | null;
  /** The API's ready-made SSH line: the CLI makes its own from the fields, as direct mode does. */
  ssh?: string;
}

export const vmSummary = ({ ssh: _ssh, checkedOutAt, ...b }: VmBody): VmSummary => ({
  ...b,
  startedAt: maybeDate(b.startedAt ?? checkedOutAt ?? null),
  endsAt: maybeDate(b.endsAt),
  heldFor: b.heldFor === null ? null : { person: b.heldFor.person, until: date(b.heldFor.until) },
  stateChangedAt: date(b.stateChangedAt),
  note: b.note ?? null,
});

export const checkoutEntry = (b: Omit<CheckoutEntry, "startedAt" | "endsAt" | "endedAt"> & { startedAt: Time; endsAt: Time | null; endedAt: Time | null }): CheckoutEntry => ({
  id: b.id,
  vm: b.vm,
  pool: b.pool,
  person: b.person,
  startedAt: date(b.startedAt),
  endsAt: maybeDate(b.endsAt),
  endedAt: maybeDate(b.endedAt),
  endedBy: b.endedBy,
  endReason: b.endReason,
  note: b.note,
});

export const historyEntry = (b: { at: Time; actor: string; person: PersonTag | null; source: string; kind: string; detail?: unknown }): HistoryEntry => ({
  at: date(b.at),
  actor: b.actor,
  person: b.person,
  source: b.source as EventSource,
  kind: b.kind as EventKind,
  detail: b.detail ?? null,
});

export const queuePlace = (b: {
  id: number;
  pool: string;
  position: number;
  state: "waiting" | "offered";
  offeredVm: string | null;
  offerExpiresAt: Time | null;
  joinedAt: Time;
}): QueuePlace => ({
  waiterId: b.id,
  pool: b.pool,
  position: b.position,
  state: b.state,
  offeredVm: b.offeredVm,
  offerExpiresAt: maybeDate(b.offerExpiresAt),
  joinedAt: date(b.joinedAt),
});

export const reservation = (
  b: Omit<Reservation, "from" | "to" | "createdAt" | "ranges"> & { from: Time; to: Time; createdAt: Time; ranges: { vm: string; from: Time; to: Time; given: boolean }[] },
): Reservation => ({
  ...b,
  from: date(b.from),
  to: date(b.to),
  ranges: b.ranges.map((x) => ({ ...x, from: date(x.from), to: date(x.to) })),
  createdAt: date(b.createdAt),
});

/** The service sends every state's count, in the core's order. */
/** What a blocked pool's reason reads as over the API, which says only that it is blocked. */
export const CLEANUP_BLOCKED_OVER_API = "cleanup blocked: the service cannot run this pool's cleanups (its admins see why in /healthz)";

export const poolSummary = (b: { name: string; quota: number; cleanup: "ssh" | "none"; cleanupBlocked: boolean; counts: Partial<StateCounts>; total: number }): PoolSummary => ({
  pool: b.name,
  quota: b.quota,
  cleanup: b.cleanup,
  // The API says whether, not why (the reason names the service's key file, which is for its admins).
  cleanupBlocked: b.cleanupBlocked ? CLEANUP_BLOCKED_OVER_API : null,
  counts: b.counts as StateCounts,
  total: b.total,
});
