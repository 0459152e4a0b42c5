import { and, asc, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Executor } from "../db/client.js";
import { checkouts, events, people, pools, vms, waiters, type EndReason, type EventSource, type PoolCleanup, type VmState } from "../db/schema.js";
import type { EventKind } from "./events.js";
import { isAdmin, resolvePerson, type PersonTag } from "./people.js";
import { emptyCounts, ok, refuse, type Actor, type Core, type PersonRef, type Result, type StateCounts, type VmSummary } from "./types.js";
import { checkVmName } from "./validate.js";

const heldPerson = alias(people, "held_person");

const summaryColumns = {
  name: vms.name,
  ip: sql<string>`host(${vms.ip})`,
  sshUser: vms.sshUser,
  sshPort: vms.sshPort,
  pool: vms.pool,
  state: vms.state,
  checkoutId: vms.checkoutId,
  holderId: people.id,
  holderName: people.name,
  holderSlack: people.slackUserId,
  holderDisplay: people.displayName,
  checkedOutAt: checkouts.startedAt,
  endsAt: checkouts.endsAt,
  heldForId: heldPerson.id,
  heldForName: heldPerson.name,
  heldForSlack: heldPerson.slackUserId,
  heldForDisplay: heldPerson.displayName,
  heldUntil: waiters.offerExpiresAt,
  stateChangedAt: vms.stateChangedAt,
  cleanupLastError: vms.cleanupLastError,
  tags: vms.tags,
  note: checkouts.note,
};

type SummaryRow = Omit<VmSummary, "holder" | "heldFor"> & {
  holderId: number | null;
  holderName: string | null;
  holderSlack: string | null;
  holderDisplay: string | null;
  heldForId: number | null;
  heldForName: string | null;
  heldForSlack: string | null;
  heldForDisplay: string | null;
  heldUntil: Date | null;
};

function summaryOf({ holderId, holderName, holderSlack, holderDisplay, heldForId, heldForName, heldForSlack, heldForDisplay, heldUntil, ...row }: SummaryRow): VmSummary {
  const holder = holderId === null || holderName === null ? null : { id: holderId, name: holderName, slackUserId: holderSlack, displayName: holderDisplay };
  const heldFor =
    heldUntil === null ? null : { person: heldForId === null || heldForName === null ? null : { id: heldForId, name: heldForName, slackUserId: heldForSlack, displayName: heldForDisplay }, until: heldUntil };
  return { ...row, holder, heldFor };
}

/** VMs with their open checkout and holder, or the waiter they are held for. */
const summaries = (db: Executor) =>
  db
    .select(summaryColumns)
    .from(vms)
    .leftJoin(checkouts, eq(checkouts.id, vms.checkoutId))
    .leftJoin(people, eq(people.id, checkouts.personId))
    .leftJoin(waiters, eq(waiters.id, vms.heldFor))
    .leftJoin(heldPerson, eq(heldPerson.id, waiters.personId));

/** What one reader may see, decided once per listing (see `readerRights`). */
export interface ReaderRights {
  /** Admins see everything: holders, others' notes, a VM's cleanup output. */
  admin: boolean;
  /** Whether this reader may see that this person holds (or booked, or waits for) something, and their notes. */
  seesPerson: (person: PersonTag | null) => boolean;
}

/**
 * The rule for who sees what. Holders: everyone (a team tool: you need to know
 * whom to ask), unless HIDE_HOLDERS; then admins, and each person their own.
 * A VM's cleanup output (its last error, which may name files its last holder
 * left): admins only, as it is for the operator to act on.
 */
export async function readerRights(core: Core, viewer: Actor): Promise<ReaderRights> {
  const admin = await isAdmin(core, viewer);
  if (!core.hideHolders || admin) return { admin, seesPerson: () => true };
  const me = await resolvePerson(core, viewer.person);
  return { admin, seesPerson: (person) => me.ok && person?.id === me.value.id };
}

/** `readerRights(…).seesPerson`, for listings that need only that. */
export async function holdersVisibleTo(core: Core, viewer: Actor): Promise<(holder: PersonTag | null) => boolean> {
  return (await readerRights(core, viewer)).seesPerson;
}

async function redacted(core: Core, viewer: Actor, rows: SummaryRow[]): Promise<VmSummary[]> {
  const { admin, seesPerson: visible } = await readerRights(core, viewer);
  return rows
    .map(summaryOf)
    .map((v) => (visible(v.holder) ? v : { ...v, holder: null, note: null }))
    .map((v) => (v.heldFor && !visible(v.heldFor.person) ? { ...v, heldFor: { ...v.heldFor, person: null } } : v))
    .map((v) => (admin ? v : { ...v, cleanupLastError: null }));
}

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

/** The VMs a person holds, oldest checkout first. */
export async function vmsOfPerson(core: Core, who: PersonRef): Promise<Result<VmSummary[]>> {
  const person = await resolvePerson(core, who);
  if (!person.ok) return person;
  const rows = await summaries(core.db).where(eq(checkouts.personId, person.value.id)).orderBy(asc(checkouts.startedAt));
  return ok(rows.map(summaryOf));
}

/** Every VM (retired ones last), for listings and App Home; holders as the viewer may see them. */
export async function allVms(core: Core, viewer: Actor, opts: { states?: VmState[] } = {}): Promise<VmSummary[]> {
  const rows = await summaries(core.db)
    .where(opts.states ? inArray(vms.state, opts.states) : undefined)
    .orderBy(asc(vms.pool), asc(vms.name));
  return redacted(core, viewer, rows);
}

/** The Slack IDs of the admins (SLACK_ADMINS first, then those the database names), for adapters that tell or name them. */
export async function adminSlackIds(core: Core): Promise<string[]> {
  const rows = await core.db
    .select({ id: people.slackUserId })
    .from(people)
    .where(and(eq(people.isAdmin, true), sql`${people.slackUserId} is not null`))
    .orderBy(asc(people.name));
  return [...new Set([...core.bootstrapAdmins, ...rows.flatMap((r) => (r.id === null ? [] : [r.id]))])];
}

/** One pool's line in a status report. */
export interface PoolSummary {
  pool: string;
  quota: number;
  /** `none`: check-ins return VMs at once; `ssh`: they are cleaned first. */
  cleanup: PoolCleanup;
  /** Why the pool's cleanups cannot run now (check-ins wait in cleaning), or null; always null with no cleanup. */
  cleanupBlocked: string | null;
  counts: StateCounts;
  total: number;
}

/** Counts per state for every pool (pools with no VMs included). */
export async function poolSummary(db: Executor): Promise<PoolSummary[]> {
  const rows = await db
    .select({ pool: pools.name, quota: pools.quota, cleanup: pools.cleanup, blocked: pools.cleanupBlocked, state: vms.state, n: sql<number>`count(${vms.id})::int` })
    .from(pools)
    .leftJoin(vms, eq(vms.pool, pools.name))
    .groupBy(pools.name, pools.quota, pools.cleanup, pools.cleanupBlocked, vms.state)
    .orderBy(asc(pools.name));
  const byPool = new Map<string, PoolSummary>();
  for (const r of rows) {
    const entry = byPool.get(r.pool) ?? { pool: r.pool, quota: r.quota, cleanup: r.cleanup, cleanupBlocked: r.cleanup === "ssh" ? r.blocked : null, counts: emptyCounts(), total: 0 };
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
  /** As the log names them; `person` when that name is a person vmres knows. */
  actor: string;
  person: PersonTag | null;
  source: EventSource;
  kind: EventKind;
  detail: unknown;
}

/** Histories name who held what, so HIDE_HOLDERS keeps them to admins. */
async function mayReadHistory(core: Core, viewer: Actor): Promise<boolean> {
  return !core.hideHolders || isAdmin(core, viewer);
}

/** A VM's events, newest first (at most `limit`). */
export async function vmHistory(core: Core, viewer: Actor, vmName: string, limit = 50): Promise<Result<HistoryEntry[]>> {
  const bad = checkVmName(vmName);
  if (bad) return refuse(bad);
  if (!(await mayReadHistory(core, viewer))) return refuse({ code: "not_admin", operation: "read a VM's history (HIDE_HOLDERS is on)" });
  const [vm] = await core.db.select({ id: vms.id }).from(vms).where(eq(vms.name, vmName));
  if (!vm) return refuse({ code: "unknown_vm", vm: vmName });
  const rows = await core.db
    .select({
      at: events.at,
      actor: events.actor,
      source: events.source,
      kind: events.kind,
      detail: events.detail,
      personId: people.id,
      personName: people.name,
      personSlack: people.slackUserId,
      personDisplay: people.displayName,
    })
    .from(events)
    // Events name people as they were named then: by name, or (before people had names) by Slack ID.
    .leftJoin(people, sql`${people.id} = (select p.id from people p where p.name = ${events.actor} or p.slack_user_id = ${events.actor} order by p.name = ${events.actor} desc limit 1)`)
    .where(eq(events.vmId, vm.id))
    .orderBy(desc(events.at), desc(events.id))
    .limit(limit);
  return ok(
    rows.map(({ personId, personName, personSlack, personDisplay, kind, ...r }) => ({
      ...r,
      kind: kind as EventKind,
      person: personId === null || personName === null ? null : { id: personId, name: personName, slackUserId: personSlack, displayName: personDisplay },
    })),
  );
}

/** One VM by name as the viewer may see it, or null. */
export async function findVm(core: Core, viewer: Actor, vmName: string): Promise<VmSummary | null> {
  if (checkVmName(vmName)) return null;
  const rows = await summaries(core.db).where(eq(vms.name, vmName));
  const [row] = await redacted(core, viewer, rows);
  return row ?? null;
}

/** One lending as `vmres checkouts` lists it. */
export interface CheckoutEntry {
  id: number;
  vm: string;
  pool: string;
  person: PersonTag;
  startedAt: Date;
  endsAt: Date | null;
  endedAt: Date | null;
  endedBy: string | null;
  endReason: EndReason | null;
  note: string | null;
}

export interface CheckoutFilter {
  /** One checkout by its id. */
  id?: number | undefined;
  person?: PersonRef | undefined;
  vm?: string | undefined;
  open?: boolean | undefined;
  limit?: number | undefined;
}

/** Checkouts, newest first, filtered; holders (and notes) of others as the viewer may see them. */
export async function listCheckouts(core: Core, viewer: Actor, filter: CheckoutFilter = {}): Promise<Result<CheckoutEntry[]>> {
  if (filter.vm !== undefined) {
    const bad = checkVmName(filter.vm);
    if (bad) return refuse(bad);
  }
  let personId: number | undefined;
  if (filter.person !== undefined) {
    const person = await resolvePerson(core, filter.person);
    if (!person.ok) return person;
    personId = person.value.id;
  }
  if (filter.vm !== undefined && !(await core.db.select({ id: vms.id }).from(vms).where(eq(vms.name, filter.vm))).length) {
    return refuse({ code: "unknown_vm", vm: filter.vm });
  }
  const endedBy = alias(people, "ended_by_person");
  const rows = await core.db
    .select({
      id: checkouts.id,
      vm: vms.name,
      pool: checkouts.pool,
      personId: people.id,
      personName: people.name,
      personSlack: people.slackUserId,
      displayName: people.displayName,
      startedAt: checkouts.startedAt,
      endsAt: checkouts.endsAt,
      endedAt: checkouts.endedAt,
      endedBy: endedBy.name,
      endReason: checkouts.endReason,
      note: checkouts.note,
    })
    .from(checkouts)
    .innerJoin(vms, eq(vms.id, checkouts.vmId))
    .innerJoin(people, eq(people.id, checkouts.personId))
    .leftJoin(endedBy, eq(endedBy.id, checkouts.endedBy))
    .where(
      and(
        filter.id === undefined ? undefined : eq(checkouts.id, filter.id),
        personId === undefined ? undefined : eq(checkouts.personId, personId),
        filter.vm === undefined ? undefined : eq(vms.name, filter.vm),
        filter.open ? isNull(checkouts.endedAt) : undefined,
      ),
    )
    .orderBy(desc(checkouts.startedAt), desc(checkouts.id))
    .limit(Math.min(Math.max(filter.limit ?? 100, 1), 1000));
  const visible = await holdersVisibleTo(core, viewer);
  const entries = rows.map(({ personId: id, personName: name, personSlack: slackUserId, displayName, ...r }) => ({
    ...r,
    person: { id, name, slackUserId, displayName },
  }));
  return ok(entries.filter((e) => visible(e.person)));
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
