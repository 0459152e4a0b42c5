import type { Db } from "../db/client.js";
import type { EndReason, EventSource, VmState } from "../db/schema.js";

/** What the core needs from its caller: the database and the rules' settings. */
export interface Core {
  db: Db;
  /** Slack ID → person, learned as people act (see people.ts). */
  people: PeopleCache;
  /** SLACK_ADMINS: admins whatever the database says (the bootstrap; the service also records them at start). */
  bootstrapAdmins: ReadonlySet<string>;
  /** Pool used when a checkout names none. */
  defaultPool: string;
  /** Per-user quota of pools created without one. */
  defaultQuota: number;
  /** Minutes between two pool-exhausted alerts for one pool (0: every time). */
  exhaustedAlertIntervalMinutes: number;
  /** HIDE_HOLDERS: only admins (and the holder) see who holds a VM and read histories. */
  hideHolders: boolean;
  /** Lease and waitlist rules, in milliseconds (DEFAULT_LEASE, MAX_LEASE, REMINDER_LEADS, LEASE_GRACE, CLAIM_WINDOW). */
  leases: LeaseSettings;
  /**
   * The time lease decisions use (checkout start and end, extension, reminders, expiry, claim
   * windows). Unset in service: PostgreSQL's now(), one clock for every replica. Tests set it to
   * cover days of leases in milliseconds.
   */
  clock?: () => Date;
  /** Reservations: reminders before a booking starts (RESERVATION_REMINDER), longest lead first, in milliseconds. */
  reservationReminderLeadsMs?: number[];
  /** Limits of bookings where the pool sets none (MAX_BOOKING_AHEAD, MAX_BOOKING_LENGTH); unset: 90 days ahead, the pool's maximum lease long. */
  bookingLimits?: BookingLimits;
  /** Told of every checkout and check-in, whichever adapter asked (the service counts them for /metrics). */
  observer?: CoreObserver;
  /** API token limits (MAX_TOKEN_LIFETIME, MAX_TOKENS_PER_PERSON); unset: the defaults of src/core/tokens.ts. */
  tokens?: TokenSettings;
  /** Requests one person may have waiting for a VM at once (API_WAITS_PER_PERSON), across replicas; unset: 4. */
  waitsPerPerson?: number;
}

/** API token limits. */
export interface TokenSettings {
  /** Longest lifetime of a token, and the lifetime of one that asks for none. */
  maxLifetimeMs: number;
  /** Live tokens one person may hold: each has its own rate limit, so this bounds what minting more can buy. */
  maxPerPerson: number;
}

export interface LeaseSettings {
  /** Lease of a checkout that asks for none, where the pool sets none. */
  defaultMs: number;
  /** Longest lease from a checkout's start, where the pool sets none. */
  maxMs: number;
  /** Reminders before the end, longest lead first. */
  reminderLeadsMs: number[];
  /** After the end, before the automatic check-in. */
  graceMs: number;
  /** How long a VM is held for the first waiter. */
  claimWindowMs: number;
}

/** How far ahead and how long a booking may be, in milliseconds. */
export interface BookingLimits {
  /** The latest start, counted from now. */
  maxAheadMs: number;
  /** The longest booking; null: the pool's maximum lease. */
  maxLengthMs: number | null;
}

/** MAX_BOOKING_AHEAD's default: a quarter of a year. */
export const DEFAULT_BOOKING_AHEAD_MS = 90 * 86_400_000;

/** What the core reports as it decides; `outcome` is "ok" or the refusal's code. */
export interface CoreObserver {
  /** `pool`: the pool the checkout was decided in; null when the pool asked for is not one vmres knows. */
  checkout(event: { pool: string | null; outcome: string; seconds: number }): void;
  checkin(event: { outcome: string }): void;
}

/**
 * Who a request names, as the adapter knows them; the core resolves it to a
 * person (people.ts). `operator` is the CLI run on the bot's machine without
 * --user (whoever can run it holds the database credentials, so it is an
 * admin); `system` is vmres itself (cleanup, reconciler, expiry).
 */
/**
 * Whom a request names. `{ id, known }`: an adapter that has just read the person (the API, from
 * the token it authenticated in the same request) hands them over, so the core does not read them again.
 */
export type PersonRef = { slackUserId: string } | { lookup: string } | { id: number; known?: PersonTag } | "operator" | "system";

/** Who asks, and through which adapter. */
export interface Actor {
  person: PersonRef;
  source: EventSource;
}

/** Who a person is, as listings and messages name them (src/core/people.ts). */
export interface PersonTag {
  id: number;
  name: string;
  slackUserId: string | null;
  /** As Slack shows them, once learned; null until then. */
  displayName: string | null;
}

/**
 * Slack ID → person, per process. People are never deleted and a Slack ID
 * never moves to another person, so an entry never goes stale for what the
 * hot path needs (the id); names are informational.
 */
export type PeopleCache = Map<string, PersonTag>;

/** What a person gets on checkout: everything needed to use the VM, and the checkout's id. */
export interface CheckedOutVm {
  checkoutId: number;
  name: string;
  ip: string;
  sshUser: string;
  sshPort: number;
  pool: string;
  /** When the checkout started (the API and notices say `startedAt` too). */
  startedAt: Date;
  /** When the lease ends; null: pinned (no end). */
  endsAt: Date | null;
  note: string | null;
  /** Set when the lease was cut short to end where a booking of this VM starts (said so to the person). */
  bookedFrom?: Date | null;
  /**
   * Set (by `checkoutFromPool`, the adapters' entry) when the pool's cleanup cannot run now: at
   * check-in this VM will stay in cleaning until an admin ends the cleanup or sets the pool's
   * cleanup to none. The adapters warn.
   */
  cleanupBlocked?: boolean;
}

/** One VM as listings show it. */
export interface VmSummary {
  name: string;
  ip: string;
  sshUser: string;
  sshPort: number;
  pool: string;
  state: VmState;
  /** Who holds it; null when nobody does, or when HIDE_HOLDERS hides it from this reader. */
  holder: PersonTag | null;
  checkoutId: number | null;
  /** When the open checkout started; null when not checked out. */
  startedAt: Date | null;
  /** The lease's end while checked out; null when pinned or not checked out. */
  endsAt: Date | null;
  /** While held for a waiter: for whom (null when hidden from this reader) and until when. */
  heldFor: { person: PersonTag | null; until: Date } | null;
  stateChangedAt: Date;
  /** The last cleanup's error output; null when none, or for readers who are not admins. */
  cleanupLastError: string | null;
  tags: string[];
  /** The open checkout's note; null when none, or hidden from this reader with the holder (HIDE_HOLDERS). */
  note: string | null;
}

export type StateCounts = Record<VmState, number>;

/** Expected "no" answers. Each carries what the person needs to know to act. */
export type Refusal =
  | { code: "invalid_input"; field: string; message: string }
  | { code: "unknown_pool"; pool: string; known: string[] }
  /** `waiting`: people in the pool's queue, who get free VMs first. */
  | { code: "no_vm_free"; pool: string; counts: StateCounts; waiting: number }
  | { code: "quota_reached"; pool: string; quota: number; held: string[] }
  | { code: "unknown_vm"; vm: string }
  | { code: "not_checked_out"; vm: string; state: VmState }
  | { code: "not_holder"; vm: string; holder: PersonTag | null }
  /**
   * The request named a checkout (an API id, a Slack button's) that has ended: when, by whom
   * (null when HIDE_HOLDERS hides it from this reader) and how; the VM's state now (null: that
   * checkout was not found on the VM) and whether the asker holds the VM again. All but `vm`
   * are null when the checkout cannot be found.
   */
  | {
      code: "checkout_ended";
      vm: string;
      checkoutId: number | null;
      endedAt: Date | null;
      endedBy: PersonTag | null;
      endReason: EndReason | null;
      state: VmState | null;
      yoursAgain: boolean;
    }
  | { code: "not_admin"; operation: string }
  | { code: "wrong_state"; vm: string; state: VmState; allowed: VmState[] }
  | { code: "name_taken"; vm: string }
  | { code: "unknown_person"; who: string }
  | { code: "ambiguous_person"; who: string; matches: string[] }
  | { code: "person_exists"; who: string }
  | { code: "unknown_checkout"; id: number }
  /** A lease asked for (at checkout or by extending) that goes past the pool's maximum from the checkout's start. */
  | { code: "lease_too_long"; pool: string; maxMs: number; latestEnd: Date | null }
  /** An extension that would not move the end later. */
  | { code: "lease_not_extended"; vm: string; endsAt: Date | null }
  | { code: "not_waiting"; pool: string | null }
  /** Take it / Pass by someone the offer was not made to (a forwarded DM), or for no such offer. */
  | { code: "not_your_offer"; id: number }
  /** A Take/Pass for an offer that is over (taken, passed, or its window ended). */
  | { code: "offer_over"; pool: string; state: string }
  /** An API token id that names no token the caller may see (or revoke). */
  | { code: "unknown_token"; id: number }
  /** The person holds `limit` live tokens already (MAX_TOKENS_PER_PERSON): revoke one first. */
  | { code: "too_many_tokens"; person: string; limit: number }
  /** The person has `limit` requests waiting for a VM already (API_WAITS_PER_PERSON): one must end first. */
  | { code: "too_many_waits"; person: string; limit: number }
  /** A provisioned pool is at its `max_size`: `live` instances exist or are on their way. */
  | { code: "pool_full"; pool: string; maxSize: number; live: number }
  /** `checkout --restore` with no saved image of this person in the pool (or none of that name). */
  | { code: "no_image"; pool: string; image: string | null }
  /** `--restore` or `checkin --keep` where the pool is not provisioned. */
  | { code: "not_provisioned"; pool: string; operation: string }
  | { code: "unknown_job"; id: number }
  | { code: "job_not_failed"; id: number; state: string }
  | { code: "unknown_image"; image: string }
  /** The image is being saved or deleted. */
  | { code: "image_busy"; image: string; state: string }
  /**
   * A booking that does not fit: `free` VMs of the pool are free for the whole range (fewer than
   * `count`); `nearest` is the closest range of the same length where it would fit, null when none
   * is in sight (VMs pinned, out of service, or too few in the pool).
   */
  | { code: "not_enough_free"; pool: string; count: number; free: number; from: Date; to: Date; nearest: { from: Date; to: Date } | null }
  /** Another active booking has this label. */
  | { code: "label_taken"; label: string }
  /** No booked or started reservation has this label. */
  | { code: "unknown_reservation"; label: string }
  /** Someone else's booking, and the actor is no admin. */
  | { code: "not_your_reservation"; label: string; person: PersonTag | null }
  /** A booking starting later than the pool allows (`maxAheadMs` from now: the latest start is `latestStart`). */
  | { code: "booking_too_far"; pool: string; maxAheadMs: number; latestStart: Date }
  /** A booking longer than the pool allows (`maxMs`: from its start it may run until `latestEnd`). */
  | { code: "booking_too_long"; pool: string; maxMs: number; latestEnd: Date }
  /** A lease change that would run into a booking of the VM starting at `from`. */
  | { code: "vm_booked"; vm: string; from: Date; label: string | null };

export type Result<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const refuse = <T = never>(refusal: Refusal): Result<T> => ({ ok: false, refusal });

export function emptyCounts(): StateCounts {
  return { available: 0, checked_out: 0, cleaning: 0, quarantined: 0, maintenance: 0, retired: 0, held: 0 };
}
