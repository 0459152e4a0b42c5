import type postgres from "postgres";
import type { Db } from "../db/client.js";
import type { PoolCleanup, VmState } from "../db/schema.js";
import { isAdmin, resolvePerson, type PersonTag } from "./people.js";
import { emptyCounts, ok, type Actor, type Core, type PersonRef, type Result, type StateCounts, type VmSummary } from "./types.js";
import { checkVmName } from "./validate.js";

/**
 * The listings of VMs and pools (status, list, App Home, `GET /v1/vms`), as postgres.js
 * templates: this module loads neither drizzle-orm nor the schema's tables, so `vmres status` and
 * `vmres list` do not either (docs/architecture.md, "The CLI's start"). `src/core/queries.ts`
 * re-exports them for every other caller.
 */

/** What a listing needs of the database: the postgres.js pool (`core.db.$client`). */
type Pool = Pick<Db, "$client">;

/** A timestamp as the pool returns it: PostgreSQL's text where drizzle set the pool's types (src/db/connect.ts), else a Date. */
type Stamp = string | Date;
const date = (stamp: Stamp) => new Date(stamp);
const dateOrNull = (stamp: Stamp | null) => (stamp === null ? null : new Date(stamp));

/** One row of `summaries`, as postgres.js returns it. */
type SummaryRow = {
  name: string;
  ip: string;
  ssh_user: string;
  ssh_port: number;
  pool: string;
  state: VmState;
  /** bigint: postgres.js gives a string. */
  checkout_id: string | null;
  holder_id: number | null;
  holder_name: string | null;
  holder_slack: string | null;
  holder_display: string | null;
  started_at: Stamp | null;
  ends_at: Stamp | null;
  held_for_id: number | null;
  held_for_name: string | null;
  held_for_slack: string | null;
  held_for_display: string | null;
  held_until: Stamp | null;
  state_changed_at: Stamp;
  cleanup_last_error: string | null;
  /** As JSON, which postgres.js parses without the array types it would otherwise read at connect. */
  tags: string[];
  note: string | null;
};

/** VMs with their open checkout and holder, or the waiter they are held for; `where` and `order` complete it. */
function summaries(sql: postgres.Sql, where: postgres.PendingQuery<postgres.Row[]>, order: postgres.PendingQuery<postgres.Row[]>) {
  return sql<SummaryRow[]>`
    select v.name, host(v.ip) as ip, v.ssh_user, v.ssh_port, v.pool, v.state, v.checkout_id,
           p.id as holder_id, p.name as holder_name, p.slack_user_id as holder_slack, p.display_name as holder_display,
           c.started_at, c.ends_at,
           hp.id as held_for_id, hp.name as held_for_name, hp.slack_user_id as held_for_slack, hp.display_name as held_for_display,
           w.offer_expires_at as held_until, v.state_changed_at, v.cleanup_last_error, to_json(v.tags) as tags, c.note
    from vms v
    left join checkouts c on c.id = v.checkout_id
    left join people p on p.id = c.person_id
    left join waiters w on w.id = v.held_for
    left join people hp on hp.id = w.person_id
    ${where}
    ${order}`;
}

function summaryOf(r: SummaryRow): VmSummary {
  const holder = r.holder_id === null || r.holder_name === null ? null : { id: r.holder_id, name: r.holder_name, slackUserId: r.holder_slack, displayName: r.holder_display };
  const heldPerson =
    r.held_for_id === null || r.held_for_name === null ? null : { id: r.held_for_id, name: r.held_for_name, slackUserId: r.held_for_slack, displayName: r.held_for_display };
  return {
    name: r.name,
    ip: r.ip,
    sshUser: r.ssh_user,
    sshPort: r.ssh_port,
    pool: r.pool,
    state: r.state,
    checkoutId: r.checkout_id === null ? null : Number(r.checkout_id),
    holder,
    startedAt: dateOrNull(r.started_at),
    endsAt: dateOrNull(r.ends_at),
    heldFor: r.held_until === null ? null : { person: heldPerson, until: date(r.held_until) },
    stateChangedAt: date(r.state_changed_at),
    cleanupLastError: r.cleanup_last_error,
    tags: r.tags,
    note: r.note,
  };
}

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

/** Every VM (retired ones last), for listings and App Home; holders as the viewer may see them. */
export async function allVms(core: Core, viewer: Actor, opts: { states?: VmState[] } = {}): Promise<VmSummary[]> {
  const sql = core.db.$client;
  const where = opts.states === undefined ? sql`` : opts.states.length === 0 ? sql`where false` : sql`where v.state::text in ${sql(opts.states)}`;
  // Read at the same time as the viewer's rights (two statements in flight on one connection).
  const [rows, rights] = await Promise.all([summaries(sql, where, sql`order by v.pool, v.name`), readerRights(core, viewer)]);
  return redactedBy(rights, rows);
}

function redactedBy({ admin, seesPerson: visible }: ReaderRights, rows: SummaryRow[]): VmSummary[] {
  return rows
    .map(summaryOf)
    .map((v) => (visible(v.holder) ? v : { ...v, holder: null, note: null }))
    .map((v) => (v.heldFor && !visible(v.heldFor.person) ? { ...v, heldFor: { ...v.heldFor, person: null } } : v))
    .map((v) => (admin ? v : { ...v, cleanupLastError: null }));
}

/** The VMs a person holds, oldest checkout first. */
export async function vmsOfPerson(core: Core, who: PersonRef): Promise<Result<VmSummary[]>> {
  const person = await resolvePerson(core, who);
  if (!person.ok) return person;
  const sql = core.db.$client;
  const rows = await summaries(sql, sql`where c.person_id = ${person.value.id}`, sql`order by c.started_at`);
  return ok(rows.map(summaryOf));
}

/** One VM by name as the viewer may see it, or null. */
export async function findVm(core: Core, viewer: Actor, vmName: string): Promise<VmSummary | null> {
  if (checkVmName(vmName)) return null;
  const sql = core.db.$client;
  const rows = await summaries(sql, sql`where v.name = ${vmName}`, sql``);
  const [row] = redactedBy(await readerRights(core, viewer), rows);
  return row ?? null;
}

/** The names of every pool, in order. */
export async function knownPools(db: Pool): Promise<string[]> {
  const rows = await db.$client<{ name: string }[]>`select name from pools order by name`;
  return rows.map((r) => r.name);
}

/** How many VMs of a pool are in each state. */
export async function countStates(db: Pool, pool: string): Promise<StateCounts> {
  const rows = await db.$client<{ state: VmState; n: number }[]>`select state, count(*)::int as n from vms where pool = ${pool} group by state`;
  const counts = emptyCounts();
  for (const r of rows) counts[r.state] = r.n;
  return counts;
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
export async function poolSummary(db: Pool): Promise<PoolSummary[]> {
  const rows = await db.$client<{ pool: string; quota: number; cleanup: PoolCleanup; blocked: string | null; state: VmState | null; n: number }[]>`
    select p.name as pool, p.quota, p.cleanup, p.cleanup_blocked as blocked, v.state, count(v.id)::int as n
    from pools p left join vms v on v.pool = p.name
    group by p.name, p.quota, p.cleanup, p.cleanup_blocked, v.state
    order by p.name`;
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
