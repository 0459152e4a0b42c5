import type { Db } from "../db/client.js";
import type { EventSource, VmState } from "../db/schema.js";

/** What the core needs from its caller: the database and the rules' settings. */
export interface Core {
  db: Db;
  /** Slack user IDs allowed to run admin operations. */
  admins: ReadonlySet<string>;
  /** Pool used when a checkout names none. */
  defaultPool: string;
  /** Per-user quota of pools created without one. */
  defaultQuota: number;
  /** Told of every checkout and check-in, whichever adapter asked (the service counts them for /metrics). */
  observer?: CoreObserver;
}

/** What the core reports as it decides; `outcome` is "ok" or the refusal's code. */
export interface CoreObserver {
  checkout(event: { pool: string; outcome: string; seconds: number }): void;
  checkin(event: { outcome: string }): void;
}

/**
 * Who asks. `userId` null is the local operator (the CLI without --user): whoever
 * can run the CLI already holds the database credentials, so it acts as an admin.
 */
export interface Actor {
  userId: string | null;
  source: EventSource;
}

/** What a person gets on checkout: everything needed to use the VM. */
export interface CheckedOutVm {
  name: string;
  ip: string;
  sshUser: string;
  sshPort: number;
  pool: string;
  checkedOutAt: Date;
}

/** One VM as listings show it. */
export interface VmSummary {
  name: string;
  ip: string;
  sshUser: string;
  sshPort: number;
  pool: string;
  state: VmState;
  holder: string | null;
  checkedOutAt: Date | null;
  stateChangedAt: Date;
  cleanupLastError: string | null;
  tags: string[];
}

export type StateCounts = Record<VmState, number>;

/** Expected "no" answers. Each carries what the person needs to know to act. */
export type Refusal =
  | { code: "invalid_input"; field: string; message: string }
  | { code: "unknown_pool"; pool: string; known: string[] }
  | { code: "no_vm_free"; pool: string; counts: StateCounts }
  | { code: "quota_reached"; pool: string; quota: number; held: string[] }
  | { code: "unknown_vm"; vm: string }
  | { code: "not_checked_out"; vm: string; state: VmState }
  | { code: "not_holder"; vm: string; holder: string | null }
  /** The check-in named a checkout (a Slack button's) that has ended; the VM was checked out again since. */
  | { code: "checkout_ended"; vm: string }
  | { code: "not_admin"; operation: string }
  | { code: "wrong_state"; vm: string; state: VmState; allowed: VmState[] }
  | { code: "name_taken"; vm: string };

export type Result<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const refuse = <T = never>(refusal: Refusal): Result<T> => ({ ok: false, refusal });

export function isAdmin(core: Pick<Core, "admins">, actor: Actor): boolean {
  return actor.userId === null || core.admins.has(actor.userId);
}

/** The actor column of an event: the Slack user, or `system` for the operator and background work. */
export function actorName(actor: Actor): string {
  return actor.userId ?? "system";
}

export function emptyCounts(): StateCounts {
  return { available: 0, checked_out: 0, cleaning: 0, quarantined: 0, maintenance: 0, retired: 0 };
}
