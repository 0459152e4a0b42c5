import { onReservedConnection } from "../db/reserved.js";
import type { Alongside } from "./alongside.js";
import { clockAt } from "./clock.js";
import { poolKnownBy } from "./count-refusal.js";
import { checkLease, leaseParams } from "./leases.js";
import { openingRow, openingSteps } from "./open-checkout.js";
import { enqueuePoolExhausted } from "./notices.js";
import { resolvePerson, type PersonTag } from "./people.js";
import { countStates, knownPools } from "./vm-listings.js";
import { ok, refuse, type Actor, type CheckedOutVm, type Core, type Result } from "./types.js";
import { checkNote, checkPoolName, firstRefusal } from "./validate.js";

export interface CheckoutOptions {
  pool?: string | undefined;
  /** Why they take it, in their words; kept on the checkout. */
  note?: string | undefined;
  /** Lease asked for; default: the pool's. More than the pool's maximum is refused. */
  forMs?: number | undefined;
  /** Statements sent inside the checkout's transaction (the API's Idempotency-Key); with them the COMMIT takes a second round trip. */
  alongside?: Alongside<CheckedOutVm> | undefined;
  /** Read the pool's cleanup warning (`cleanupBlocked`) in the transaction's round trip, not after it. */
  cleanupWarning?: boolean | undefined;
}

type Attempt =
  | { vm: CheckedOutVm }
  | { unknownPool: true }
  | { quota: number; held: string[] }
  | { tooLong: { maxMs: number } }
  | { noneFree: true; waiting: number };

/**
 * Lends one available VM of the pool to the user, in one transaction and one
 * round trip: per-user advisory lock, quota check, skip-locked pick, update,
 * event, DM notice.
 *
 * This is the hot path, so it talks to postgres.js directly (drizzle's client
 * underneath): its tagged templates are prepared once per connection, while
 * drizzle sends every raw query unprepared, costing a round trip and a parse
 * per statement (drizzle-orm issues #5502, #6096). `npm run bench` measures it.
 */
export async function checkout(core: Core, actor: Actor, opts: CheckoutOptions = {}): Promise<Result<CheckedOutVm>> {
  const started = performance.now();
  const result = await decideCheckout(core, actor, opts);
  core.observer?.checkout({
    pool: result.ok ? result.value.pool : poolKnownBy(result.refusal),
    outcome: result.ok ? "ok" : result.refusal.code,
    seconds: (performance.now() - started) / 1000,
  });
  return result;
}

async function decideCheckout(core: Core, actor: Actor, opts: CheckoutOptions): Promise<Result<CheckedOutVm>> {
  const pool = opts.pool ?? core.defaultPool;
  const bad = firstRefusal(checkPoolName(pool), opts.note === undefined ? null : checkNote(opts.note), opts.forMs === undefined ? null : checkLease(opts.forMs));
  if (bad) return refuse(bad);
  const person = await resolvePerson(core, actor.person);
  if (!person.ok) return person;
  const attempt = await attemptCheckout(core, person.value, actor.source, { pool, note: opts.note ?? null, forMs: opts.forMs ?? null }, opts);
  if ("vm" in attempt) return ok(attempt.vm);
  if ("unknownPool" in attempt) return refuse({ code: "unknown_pool", pool, known: await knownPools(core.db) });
  if ("quota" in attempt) return refuse({ code: "quota_reached", pool, quota: attempt.quota, held: attempt.held });
  if ("tooLong" in attempt) return refuse({ code: "lease_too_long", pool, maxMs: attempt.tooLong.maxMs, latestEnd: null });
  // Refusal details are read after the commit: they are for the person, not for the decision.
  const counts = await countStates(core.db, pool);
  await core.db.$client.begin((tx) => enqueuePoolExhausted(tx, pool, counts, core.exhaustedAlertIntervalMinutes));
  return refuse({ code: "no_vm_free", pool, counts, waiting: attempt.waiting });
}

type PickRow = {
  quota: number;
  held: string[];
  leaseS: number;
  maxS: number;
  waiting: number;
  checkoutId: string | number;
  name: string | null;
  ip: string;
  sshUser: string;
  sshPort: number;
  pool: string;
  startedAt: string | Date;
  endsAt: string | Date | null;
  note: string | null;
  bookedFrom: string | Date | null;
};

/**
 * The whole transaction in one round trip: BEGIN, the user lock, one statement
 * that reads the quota and picks, updates, logs and queues the DM, and COMMIT,
 * sent together on a reserved connection; the server runs them in order.
 *
 * Why it is still safe: the user lock is its own statement, before any read:
 * under READ COMMITTED a statement's snapshot is taken when it starts, so a lock
 * taken inside the reading statement would not protect it. The pick statement
 * starts only once the lock statement has completed, so its quota read sees
 * every checkout of this user committed before (they held the lock until their
 * COMMIT). lock_timeout is set on every connection of the pool.
 *
 * If any statement fails, the transaction is aborted, the statements after it
 * fail with 25P02 and the COMMIT ends it as a ROLLBACK; the first error is thrown.
 */
async function attemptCheckout(
  core: Core,
  person: PersonTag,
  source: Actor["source"],
  { pool, note, forMs }: { pool: string; note: string | null; forMs: number | null },
  { alongside, cleanupWarning }: Pick<CheckoutOptions, "alongside" | "cleanupWarning">,
): Promise<Attempt> {
  const at = clockAt(core);
  const { defaultS, maxS, leadsS } = leaseParams(core);
  return onReservedConnection(core.db.$client, async (tx, committed): Promise<Attempt> => {
    const begin = tx`begin`;
    // Created, not sent: postgres.js sends a query when it is awaited, so the order below is the array's.
    const first = alongside?.first(tx) ?? null;
    const statements = [
      begin,
      first ?? nothing,
      tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:person:" + person.id}, 0))`,
      // First come, first served: while people wait in the pool's queue (`waiting`), free VMs
      // go to them (the lease sweep holds them), so a checkout does not jump the queue.
      // Quota read and pick, update, event and DM notice in one statement: the
      // pick runs only while the user holds fewer VMs than the quota (a one-time
      // filter), and SKIP LOCKED lets concurrent checkouts of different users
      // pass each other without waiting. No row: unknown pool.
      tx<PickRow[]>`
        with quota as (
          select p.quota,
                 coalesce((select array_agg(v.name order by v.name) from checkouts c join vms v on v.id = c.vm_id
                           where c.person_id = ${person.id} and c.pool = p.name and c.ended_at is null), '{}') as held,
                 coalesce(${forMs === null ? null : Math.ceil(forMs / 1000)}::int, least(coalesce(p.lease_seconds, ${defaultS}::int), coalesce(p.max_lease_seconds, ${maxS}::int))) as lease_s,
                 coalesce(p.max_lease_seconds, ${maxS}::int) as max_s,
                         (select count(*)::int from waiters w where w.pool = p.name and w.state = 'waiting') as waiting,
                 coalesce(${at}::timestamptz, now()) as at
          from pools p where p.name = ${pool}
        ), near as (
          -- The pool's VMs booked within the lease asked for, with the first such booking's start: few (only
          -- bookings inside this one window, found by the exclusion constraint's gist index on during), so
          -- bookings further ahead cost nothing here, and neither does the size of the pool.
          select r.vm_id, min(lower(r.during)) as starts
          from quota q, reservation_vms r join vms v on v.id = r.vm_id
          where v.pool = ${pool} and r.active and r.checkout_id is null
            and r.during && tstzrange(q.at, q.at + make_interval(secs => q.lease_s))
          group by r.vm_id
        ), free_pick as (
          -- Usually: the least recently returned available VM that no booking wants within the lease, read
          -- in the order of vms_pick_available, so the pick stops at the first unlocked one (O(1) in the pool).
          select v.id from vms v, quota q
          where v.state = 'available' and v.pool = ${pool}
            and cardinality(q.held) < q.quota and q.lease_s <= q.max_s and q.waiting = 0
            and not exists (select 1 from near n where n.vm_id = v.id)
          order by v.state_changed_at, v.id
          limit 1
          for no key update of v skip locked
        ), booked_pick as (
          -- Only when every free VM is booked within the lease: the one booked latest first, never one
          -- booked within the minute. O(bookings near). This read is only a preference: the end is decided
          -- below, after the row's lock, with a fresh look.
          select v.id from near n join vms v on v.id = n.vm_id, quota q
          where not exists (select 1 from free_pick)
            and v.state = 'available' and v.pool = ${pool}
            and cardinality(q.held) < q.quota and q.lease_s <= q.max_s and q.waiting = 0
            and n.starts > q.at + interval '1 minute'
          order by n.starts desc, v.state_changed_at, v.id
          limit 1
          for no key update of v skip locked
        ), picked as (
          select id from free_pick union all select id from booked_pick
        ), opening as (
          ${openingRow(tx, { person, pool, note, source }, { vmId: tx`picked.id`, at: tx`q.at`, leaseEnd: tx`q.at + make_interval(secs => q.lease_s)` })}
          from picked, quota q
        ), ${openingSteps(tx, leadsS)}
        select q.quota, q.held, q.lease_s as "leaseS", q.max_s as "maxS", q.waiting, t.checkout_id as "checkoutId", t.name, t.ip, t.ssh_user as "sshUser", t.ssh_port as "sshPort", t.pool,
               t.started_at as "startedAt", t.ends_at as "endsAt", t.note, t.booked_from as "bookedFrom"
        from quota q left join taken t on true`,
      cleanupWarning ? tx<{ blocked: boolean }[]>`select (cleanup = 'ssh' and cleanup_blocked is not null) as blocked from pools where name = ${pool}` : nothing,
      // With statements alongside, the COMMIT goes with their last one, once the outcome is known.
      alongside ? nothing : tx`commit`,
    ] as const;
    const settled = await Promise.allSettled(statements);
    const [, , , pick, warning, commit] = settled;
    if (!alongside && commit.status === "fulfilled") committed();
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    const attempt = attemptOf(pick.status === "fulfilled" ? pick.value : []);
    if ("vm" in attempt && cleanupWarning) attempt.vm.cleanupBlocked = warning.status === "fulfilled" && warning.value?.[0]?.blocked === true;
    if (!alongside) return attempt;
    const ended = await Promise.allSettled([alongside.last(tx, "vm" in attempt ? ok(attempt.vm) : undefined) ?? nothing, tx`commit`]);
    if (ended[1].status === "fulfilled") committed();
    const lastFailed = ended.find((s) => s.status === "rejected");
    if (lastFailed) throw lastFailed.reason;
    return attempt;
  });
}

/** A placeholder where a statement is left out: nothing is sent for it. */
const nothing = Promise.resolve(null);

/** What the pick statement's row says: the VM lent, or why none was. */
function attemptOf(rows: PickRow[]): Attempt {
    const [row] = rows;
    if (!row) return { unknownPool: true };
    const { quota, held, leaseS, maxS: poolMaxS, waiting, name, checkoutId, startedAt, endsAt, bookedFrom, ...vm } = row;
    if (name !== null) {
      return {
        vm: {
          ...vm,
          checkoutId: Number(checkoutId),
          name,
          startedAt: new Date(startedAt),
          endsAt: endsAt === null ? null : new Date(endsAt),
          bookedFrom: bookedFrom === null ? null : new Date(bookedFrom),
        },
      };
    }
    if (held.length >= quota) return { quota, held };
    if (leaseS > poolMaxS) return { tooLong: { maxMs: poolMaxS * 1000 } };
    return { noneFree: true, waiting };
}
