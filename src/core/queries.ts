import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { events, pools, vms, type EventSource, type VmState } from "../db/schema.js";
import { emptyCounts, ok, refuse, type Result, type StateCounts, type VmSummary } from "./types.js";
import { checkUserId, checkVmName } from "./validate.js";

const summaryColumns = {
  name: vms.name,
  ip: sql<string>`host(${vms.ip})`,
  sshUser: vms.sshUser,
  sshPort: vms.sshPort,
  pool: vms.pool,
  state: vms.state,
  holder: vms.holder,
  checkedOutAt: vms.checkedOutAt,
  stateChangedAt: vms.stateChangedAt,
  cleanupLastError: vms.cleanupLastError,
  tags: vms.tags,
};

export async function knownPools(db: Executor): Promise<string[]> {
  const rows = await db.select({ name: pools.name }).from(pools).orderBy(asc(pools.name));
  return rows.map((r) => r.name);
}

/** How many VMs of a pool are in each state. */
export async function countStates(db: Executor, pool: string): Promise<StateCounts> {
  const rows = await db
    .select({ state: vms.state, n: sql<number>`count(*)::int` })
    .from(vms)
    .where(eq(vms.pool, pool))
    .groupBy(vms.state);
  const counts = emptyCounts();
  for (const r of rows) counts[r.state] = r.n;
  return counts;
}

/** The VMs a user holds, oldest checkout first. */
export async function vmsOfUser(db: Executor, userId: string): Promise<Result<VmSummary[]>> {
  const bad = checkUserId(userId);
  if (bad) return refuse(bad);
  return ok(await db.select(summaryColumns).from(vms).where(eq(vms.holder, userId)).orderBy(asc(vms.checkedOutAt)));
}

/** Every VM (retired ones last), for listings and App Home. */
export async function allVms(db: Executor, opts: { states?: VmState[] } = {}): Promise<VmSummary[]> {
  return db
    .select(summaryColumns)
    .from(vms)
    .where(opts.states ? inArray(vms.state, opts.states) : undefined)
    .orderBy(asc(vms.pool), asc(vms.name));
}

/** One pool's line in a status report. */
export interface PoolSummary {
  pool: string;
  quota: number;
  counts: StateCounts;
  total: number;
}

/** Counts per state for every pool (pools with no VMs included). */
export async function poolSummary(db: Executor): Promise<PoolSummary[]> {
  const rows = await db
    .select({ pool: pools.name, quota: pools.quota, state: vms.state, n: sql<number>`count(${vms.id})::int` })
    .from(pools)
    .leftJoin(vms, eq(vms.pool, pools.name))
    .groupBy(pools.name, pools.quota, vms.state)
    .orderBy(asc(pools.name));
  const byPool = new Map<string, PoolSummary>();
  for (const r of rows) {
    const entry = byPool.get(r.pool) ?? { pool: r.pool, quota: r.quota, counts: emptyCounts(), total: 0 };
    if (r.state) {
      entry.counts[r.state] = r.n;
      if (r.state !== "retired") entry.total += r.n;
    }
    byPool.set(r.pool, entry);
  }
  return [...byPool.values()];
}

/** One row of a VM's history. */
export interface HistoryEntry {
  at: Date;
  actor: string;
  source: EventSource;
  kind: string;
  detail: unknown;
}

/** A VM's events, newest first (at most `limit`). */
export async function vmHistory(db: Executor, vmName: string, limit = 50): Promise<Result<HistoryEntry[]>> {
  const bad = checkVmName(vmName);
  if (bad) return refuse(bad);
  const [vm] = await db.select({ id: vms.id }).from(vms).where(eq(vms.name, vmName));
  if (!vm) return refuse({ code: "unknown_vm", vm: vmName });
  const rows = await db
    .select({ at: events.at, actor: events.actor, source: events.source, kind: events.kind, detail: events.detail })
    .from(events)
    .where(eq(events.vmId, vm.id))
    .orderBy(desc(events.at), desc(events.id))
    .limit(limit);
  return ok(rows);
}

/** One VM by name, or null. */
export async function findVm(db: Executor, vmName: string): Promise<VmSummary | null> {
  if (checkVmName(vmName)) return null;
  const [row] = await db.select(summaryColumns).from(vms).where(eq(vms.name, vmName));
  return row ?? null;
}

/**
 * How a VM's last error begins while its cleanup waits because vmres cannot
 * use its own private key: the wording of `cleanupBlockedBy` in
 * src/cleanup/private-keys.ts (the core imports nothing from the cleanup;
 * test/slack/cleanup-blocked-home.test.ts checks the two agree).
 */
export const CLEANUP_BLOCKED_PREFIX = "cleanup blocked: ";

/** Cleanups waiting for one reason (a key file vmres cannot use): the VMs' shared last error and how many wait. */
export interface BlockedCleanups {
  error: string;
  waiting: number;
}

/**
 * VMs in `cleaning` that wait because vmres cannot use its private key,
 * grouped by reason, most VMs first. Read from the database, so every
 * replica's Home says the same whichever process met the missing key.
 */
export async function blockedCleanups(db: Executor): Promise<BlockedCleanups[]> {
  return db
    .select({ error: sql<string>`${vms.cleanupLastError}`, waiting: sql<number>`count(*)::int` })
    .from(vms)
    .where(and(eq(vms.state, "cleaning"), sql`starts_with(${vms.cleanupLastError}, ${CLEANUP_BLOCKED_PREFIX})`))
    .groupBy(vms.cleanupLastError)
    .orderBy(desc(sql`count(*)`), asc(vms.cleanupLastError));
}
