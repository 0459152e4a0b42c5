import { and, asc, desc, eq, isNull, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Executor } from "../db/client.js";
import { checkouts, events, people, vms, type EndReason, type EventSource } from "../db/schema.js";
import type { EventKind } from "./events.js";
import { isAdmin, resolvePerson, type PersonTag } from "./people.js";
import { ok, refuse, type Actor, type Core, type PersonRef, type Result } from "./types.js";
import { checkVmName } from "./validate.js";
import { holdersVisibleTo } from "./vm-listings.js";

// The listings of VMs and pools live apart, free of drizzle (the CLI's status and list load them alone).
export { allVms, countStates, findVm, holdersVisibleTo, knownPools, poolSummary, readerRights, vmsOfPerson, type PoolSummary, type ReaderRights } from "./vm-listings.js";

/** The Slack IDs of the admins (SLACK_ADMINS first, then those the database names), for adapters that tell or name them. */
export async function adminSlackIds(core: Core): Promise<string[]> {
  const rows = await core.db
    .select({ id: people.slackUserId })
    .from(people)
    .where(and(eq(people.isAdmin, true), sql`${people.slackUserId} is not null`))
    .orderBy(asc(people.name));
  return [...new Set([...core.bootstrapAdmins, ...rows.flatMap((r) => (r.id === null ? [] : [r.id]))])];
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
