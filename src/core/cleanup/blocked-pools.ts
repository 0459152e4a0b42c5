import type { Db, PgSql } from "../../db/client.js";

/**
 * Which pools' cleanups cannot run now, kept on the pool row (`pools.cleanup_blocked`) so that
 * every replica and the CLI tell the same thing at checkout and booking time, whichever process
 * met the problem. Only a pool that cleans over SSH can be blocked; its mark is the error its
 * VMs wait with (`cleanup blocked: cannot read SSH private key file …`).
 */

/** A key file as the cleanup found it: usable (`error: null`) or not, and why. */
export interface KeyFileCheck {
  file: string;
  error: string | null;
}

/**
 * Records what reading the key files found, for every pool that uses one of them (its own
 * file, or `defaultFile` when it names none): marked blocked with the error, or unmarked.
 * Called by the cleanup at start and whenever it reads the keys again. Writes only rows that change.
 */
export async function recordKeyFileChecks(db: PgSql, defaultFile: string, checks: KeyFileCheck[]): Promise<void> {
  if (checks.length === 0) return;
  await db`
    update pools p set cleanup_blocked = c.error
    from jsonb_to_recordset(${JSON.stringify(checks)}::jsonb) as c(file text, error text)
    where coalesce(p.ssh_private_key_file, ${defaultFile}) = c.file and p.cleanup_blocked is distinct from c.error`;
}

/** Marks one pool blocked (a cleanup could not start), as `recordKeyFileChecks` would. */
export async function markPoolBlocked(db: PgSql, pool: string, error: string): Promise<void> {
  await db`update pools set cleanup_blocked = ${error} where name = ${pool} and cleanup_blocked is distinct from ${error}`;
}

// A cleanup of the pool that worked clears its mark in the same statement that frees the VM (finish-cleanup-success.ts).

/**
 * Whether check-ins in this pool will wait in `cleaning` because the cleanup cannot run (the
 * warning checkouts and bookings give); false for a pool with no cleanup, or an unknown one.
 */
export async function cleanupBlockedIn(db: Pick<Db, "$client">, pool: string): Promise<boolean> {
  // postgres.js alone: a CLI checkout reads it after lending, and loads nothing of drizzle-orm.
  const [row] = await db.$client<{ blocked: boolean }[]>`
    select (cleanup = 'ssh' and cleanup_blocked is not null) as blocked from pools where name = ${pool}`;
  return row?.blocked === true;
}
