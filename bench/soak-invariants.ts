/**
 * The soak's invariants, read from the database: the events log replayed
 * (a VM's checkouts and check-ins alternate; no user ever above a pool's
 * quota), the VMs' current state against the log, what clients saw against
 * the log, and a live sampler of the committed state while load runs.
 *
 * Why the events' ids are a safe order to replay: a VM's checkout and its
 * check-in each hold the VM's row lock until they commit, and insert their
 * event while holding it, so one VM's events get ids in commit order. One
 * user's checkouts are serialised by the user's advisory lock the same way.
 * A check-in that a later checkout relied on (to stay within quota) committed
 * before that checkout read, so its id is the smaller one. What id order can
 * hide is a breach lasting only while a check-in was still uncommitted; the
 * live sampler, which reads committed rows only, covers that side.
 */
import type { Database } from "../src/db/client.js";
import { sleep } from "./soak-env.js";

/** What replaying the events log found. */
export interface LogCheck {
  checkouts: number;
  checkins: number;
  /** Two checkouts of one VM with no check-in between: the VM was lent twice. */
  doubleCheckouts: number;
  /** A check-in of a VM whose last event was not a checkout. */
  checkinsWithoutCheckout: number;
  /** A check-in whose recorded previous holder is not who checked the VM out. */
  wrongPreviousHolder: number;
  /** VMs whose state or holder now disagrees with their last checkout/check-in event. */
  stateMismatches: number;
  /** (user, pool) pairs whose holds, replayed in order, ever exceeded the pool's quota. */
  quotaBreaches: number;
  breachExamples: string[];
  /** Per quota: the most VMs any one user held at once in a pool with that quota (shows the quota was reached, not just respected). */
  maxHeldByQuota: Map<number, number>;
}

export async function checkLog(database: Database): Promise<LogCheck> {
  const { sql } = database;
  const [alternation] = await sql<{ checkouts: number; checkins: number; doubles: number; orphans: number; wrong: number }[]>`
    with e as (
      select kind, actor, detail->>'previousHolder' as previous,
             lag(kind) over w as prev_kind, lag(actor) over w as prev_actor
      from events where kind in ('checked_out', 'checked_in', 'checkin_forced')
      window w as (partition by vm_id order by id)
    )
    select count(*) filter (where kind = 'checked_out')::int as checkouts,
           count(*) filter (where kind <> 'checked_out')::int as checkins,
           count(*) filter (where kind = 'checked_out' and prev_kind = 'checked_out')::int as doubles,
           count(*) filter (where kind <> 'checked_out' and prev_kind is distinct from 'checked_out')::int as orphans,
           count(*) filter (where kind <> 'checked_out' and prev_kind = 'checked_out' and previous is distinct from prev_actor)::int as wrong
    from e`;
  const [mismatch] = await sql<{ n: number }[]>`
    with last as (
      select distinct on (vm_id) vm_id, kind, actor from events
      where kind in ('checked_out', 'checked_in', 'checkin_forced')
      order by vm_id, id desc
    )
    select count(*)::int as n from vms v left join last l on l.vm_id = v.id
      left join checkouts c on c.id = v.checkout_id left join people p on p.id = c.person_id
    where (v.state = 'checked_out') <> (l.kind is not distinct from 'checked_out')
       or (v.state = 'checked_out' and p.name is distinct from l.actor)`;
  const replay = await sql<{ holder: string; pool: string; quota: number; max_held: number }[]>`
    with e as (
      select ev.id, v.pool,
             case when ev.kind = 'checked_out' then ev.actor else ev.detail->>'previousHolder' end as holder,
             case when ev.kind = 'checked_out' then 1 else -1 end as delta
      from events ev join vms v on v.id = ev.vm_id
      where ev.kind in ('checked_out', 'checked_in', 'checkin_forced')
    ), running as (
      select holder, pool, sum(delta) over (partition by holder, pool order by id) as held from e
    )
    select r.holder, r.pool, p.quota, max(r.held)::int as max_held
    from running r join pools p on p.name = r.pool
    group by r.holder, r.pool, p.quota`;
  const breaches = replay.filter((r) => r.max_held > r.quota);
  const maxHeldByQuota = new Map<number, number>();
  for (const r of replay) maxHeldByQuota.set(r.quota, Math.max(maxHeldByQuota.get(r.quota) ?? 0, r.max_held));
  return {
    checkouts: alternation?.checkouts ?? 0,
    checkins: alternation?.checkins ?? 0,
    doubleCheckouts: alternation?.doubles ?? 0,
    checkinsWithoutCheckout: alternation?.orphans ?? 0,
    wrongPreviousHolder: alternation?.wrong ?? 0,
    stateMismatches: mismatch?.n ?? 0,
    quotaBreaches: breaches.length,
    breachExamples: breaches.slice(0, 5).map((b) => `${b.holder} held ${b.max_held} in ${b.pool} (quota ${b.quota})`),
    maxHeldByQuota,
  };
}

/** A checkout as a client saw it succeed: the VM, who got it, and when (epoch ms, as the core returned it). */
export interface SeenCheckout {
  vm: string;
  user: string;
  atMs: number;
}

/** The checkouts clients saw succeed that have no `checked_out` event with the same VM, user and time. */
export async function seenButNotLogged(database: Database, seen: SeenCheckout[]): Promise<SeenCheckout[]> {
  const rows = await database.sql<{ vm: string; actor: string; ms: string }[]>`
    select vm_name as vm, actor, floor(extract(epoch from at) * 1000)::bigint::text as ms
    from events where kind = 'checked_out'`;
  const logged = new Set(rows.map((r) => `${r.vm}|${r.actor}|${r.ms}`));
  return seen.filter((s) => !logged.has(`${s.vm}|${s.user}|${s.atMs}`));
}

/** Check-ins clients saw succeed, counted per (VM, user), against `checked_in` events: how many have no event. */
export async function checkinsNotLogged(database: Database, seen: { vm: string; user: string }[]): Promise<number> {
  const rows = await database.sql<{ vm: string; actor: string; n: number }[]>`
    select vm_name as vm, actor, count(*)::int as n from events where kind = 'checked_in' group by 1, 2`;
  const logged = new Map(rows.map((r) => [`${r.vm}|${r.actor}`, r.n]));
  const wanted = new Map<string, number>();
  for (const s of seen) wanted.set(`${s.vm}|${s.user}`, (wanted.get(`${s.vm}|${s.user}`) ?? 0) + 1);
  let missing = 0;
  for (const [key, n] of wanted) missing += Math.max(0, n - (logged.get(key) ?? 0));
  return missing;
}

/** What the live sampler saw. */
export interface SamplerResult {
  samples: number;
  /** Snapshots in which some user held more VMs of a pool than its quota. */
  breaches: number;
  examples: string[];
  /** The most VMs any user held at once in one pool, per quota. */
  maxHeldByQuota: Map<number, number>;
}

/**
 * Reads the committed holdings every `everyMs` (one statement: one consistent
 * snapshot) and notes any user above a pool's quota. Returns a stop function.
 */
export function startQuotaSampler(database: Database, everyMs: number): () => Promise<SamplerResult> {
  const result: SamplerResult = { samples: 0, breaches: 0, examples: [], maxHeldByQuota: new Map() };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = await database.sql<{ holder: string; pool: string; n: number; quota: number }[]>`
        select h.name as holder, v.pool, count(*)::int as n, p.quota
        from vms v join pools p on p.name = v.pool join checkouts c on c.id = v.checkout_id join people h on h.id = c.person_id
        group by h.name, v.pool, p.quota`.catch(() => null);
      if (rows) {
        result.samples++;
        const over = rows.filter((r) => r.n > r.quota);
        if (over.length > 0) {
          result.breaches++;
          if (result.examples.length < 5) result.examples.push(...over.map((r) => `${r.holder} held ${r.n} in ${r.pool} (quota ${r.quota})`));
        }
        for (const r of rows) result.maxHeldByQuota.set(r.quota, Math.max(result.maxHeldByQuota.get(r.quota) ?? 0, r.n));
      }
      await sleep(everyMs);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return result;
  };
}

/** "quota 1: 1, quota 2: 2" */
export function maxHeldWords(byQuota: Map<number, number>): string {
  return [...byQuota].sort(([a], [b]) => a - b).map(([q, n]) => `quota ${q}: ${n}`).join(", ") || "none";
}
