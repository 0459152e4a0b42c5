import { sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { clockAt } from "./clock.js";
import { leaseParams } from "./leases.js";
import { asAdmin } from "./people.js";
import { adminReportSchema, type AdminReport } from "./report-schema.js";
import { ok, refuse, type Actor, type Core, type Result } from "./types.js";

export type { AdminReport } from "./report-schema.js";

/** Rows each list of the report shows at most; the totals count them all. */
export const REPORT_LIST = 10;
/** Bookings ahead, by default and at most. */
export const REPORT_DAYS = { default: 3, max: 30 } as const;

/** How far back each section looks. */
const USUAL_WINDOW = "30 days";
const USUAL_SAMPLES = 1000;
const USUAL_MIN_SAMPLES = 10;
const IDLE_AFTER = "7 days";
const WAITS_WINDOW = "7 days";
const FAILURES_WINDOW = "1 day";

/** What to report on: at a time (a test's clock, else the database's now) and bookings `days` ahead. */
export interface ReportParams {
  at: string | null;
  days: number;
  /** The lease of a pool that sets none (DEFAULT_LEASE, capped by MAX_LEASE), in seconds. */
  defaultLeaseS: number;
  maxLeaseS: number;
}

/**
 * The admin report (`vmres report`, the daily digest): admins only. `days`
 * is how far ahead bookings are listed (1 to 30; default 3).
 */
export async function adminReport(core: Core, viewer: Actor, opts: { days?: number } = {}): Promise<Result<AdminReport>> {
  const days = opts.days ?? REPORT_DAYS.default;
  if (!Number.isSafeInteger(days) || days < 1 || days > REPORT_DAYS.max) {
    return refuse({ code: "invalid_input", field: "days", message: `bookings are reported 1 to ${REPORT_DAYS.max} days ahead` });
  }
  const admin = await asAdmin(core, viewer, "read the admin report");
  if (!admin.ok) return admin;
  // One snapshot, so the sections agree with each other (a hold is not both ended and open).
  const report = await core.db.transaction((tx) => readReport(tx, reportParams(core, days)), { isolationLevel: "repeatable read", accessMode: "read only" });
  return ok(report);
}

/** The report's parameters from the core's settings and clock. */
export function reportParams(core: Core, days: number = REPORT_DAYS.default): ReportParams {
  const { defaultS, maxS } = leaseParams(core);
  return { at: clockAt(core), days, defaultLeaseS: defaultS, maxLeaseS: maxS };
}

/**
 * Reads the report in the caller's transaction. Every list is a LIMIT over an
 * index (per pool where the index starts with the pool: pools are few, VMs
 * may be a million), and every total a count over the same index range.
 */
export async function readReport(tx: Executor, p: ReportParams): Promise<AdminReport> {
  const [{ at }] = (await tx.execute<{ at: string }>(sql`select coalesce(${p.at}::timestamptz, now()) as at`)) as unknown as [{ at: string }];
  const now = sql`${at}::timestamptz`;
  const rows = async <T>(query: SQL): Promise<T[]> => (await tx.execute(query)) as unknown as T[];

  const person = sql`json_build_object('id', p.id, 'name', p.name, 'slackUserId', p.slack_user_id, 'displayName', p.display_name)`;
  const holdColumns = sql`c.id as "checkoutId", v.name as vm, c.pool, ${person} as person, c.started_at as since, c.ends_at as "endsAt"`;

  const longestHolds = await rows(sql`
    select ${holdColumns}
    from pools pl
      cross join lateral (select * from checkouts c where c.pool = pl.name and c.ended_at is null order by c.started_at limit ${REPORT_LIST}) c
      join vms v on v.id = c.vm_id join people p on p.id = c.person_id
    order by c.started_at, c.id limit ${REPORT_LIST}`);

  // A pool's usual length: the 90th percentile of its latest checkouts, or its lease when they are too few to tell.
  const usual = sql`
    select pl.name as pool, u.samples,
           case when u.samples >= ${USUAL_MIN_SAMPLES} then u.p90
                else least(coalesce(pl.lease_seconds, ${p.defaultLeaseS}::int), coalesce(pl.max_lease_seconds, ${p.maxLeaseS}::int)) end as usual_s,
           case when u.samples >= ${USUAL_MIN_SAMPLES} then 'p90' else 'lease' end as basis
    from pools pl cross join lateral (
      select count(*)::int as samples,
             percentile_cont(0.9) within group (order by extract(epoch from r.ended_at - r.started_at)) as p90
      from (select c.started_at, c.ended_at from checkouts c
            where c.pool = pl.name and c.ended_at is not null and c.ended_at > ${now} - interval '${sql.raw(USUAL_WINDOW)}' and c.ended_at <= ${now}
            order by c.ended_at desc limit ${USUAL_SAMPLES}) r) u`;
  const pools = await rows<{ pool: string; usual_s: number; basis: "p90" | "lease"; samples: number; over: number }>(sql`
    with usual as (${usual})
    select u.pool, u.usual_s, u.basis, u.samples,
           (select count(*) from checkouts c where c.pool = u.pool and c.ended_at is null and c.started_at < ${now} - make_interval(secs => u.usual_s))::int as over
    from usual u order by u.pool`);
  const pastHolds = await rows(sql`
    with usual as (${usual})
    select ${holdColumns}, round(u.usual_s * 1000) as "usualMs"
    from usual u
      cross join lateral (select * from checkouts c where c.pool = u.pool and c.ended_at is null and c.started_at < ${now} - make_interval(secs => u.usual_s)
                          order by c.started_at limit ${REPORT_LIST}) c
      join vms v on v.id = c.vm_id join people p on p.id = c.person_id
    order by c.started_at, c.id limit ${REPORT_LIST}`);

  // Idle: available and unchanged for 7 days, read from the checkout pick's own index (pool, state_changed_at).
  const idleCut = sql`${now} - interval '${sql.raw(IDLE_AFTER)}'`;
  const [idleTotal] = await rows<{ n: number }>(sql`
    select coalesce(sum((select count(*) from vms v where v.pool = pl.name and v.state = 'available' and v.state_changed_at < ${idleCut})), 0)::int as n from pools pl`);
  const idleVms = await rows(sql`
    select v.name as vm, v.pool, v.state_changed_at as since,
           (select max(c.started_at) from checkouts c where c.vm_id = v.id) as "lastCheckoutAt"
    from pools pl
      cross join lateral (select id, name, pool, state_changed_at from vms v where v.pool = pl.name and v.state = 'available' and v.state_changed_at < ${idleCut}
                          order by v.state_changed_at limit ${REPORT_LIST}) v
    order by v.state_changed_at, v.name limit ${REPORT_LIST}`);

  const queues = await rows<{ pool: string; waiting: number; oldestSince: string | null; served: number; medianWaitS: number | null }>(sql`
    select pl.name as pool,
           (select count(*) from waiters w where w.pool = pl.name and w.state = 'waiting')::int as waiting,
           (select w.joined_at from waiters w where w.pool = pl.name and w.state = 'waiting' order by w.id limit 1) as "oldestSince",
           s.served, s.median_s as "medianWaitS"
    from pools pl cross join lateral (
      select count(*)::int as served, percentile_cont(0.5) within group (order by extract(epoch from coalesce(t.offered_at, t.ended_at) - t.joined_at)) as median_s
      from (select w.joined_at, w.offered_at, w.ended_at from waiters w
            where w.pool = pl.name and w.state = 'taken' and w.ended_at > ${now} - interval '${sql.raw(WAITS_WINDOW)}' and w.ended_at <= ${now}
            order by w.ended_at desc limit ${USUAL_SAMPLES}) t) s
    order by pl.name`);

  const [quarantinedTotal] = await rows<{ n: number }>(sql`select count(*)::int as n from vms where state = 'quarantined'`);
  const quarantined = await rows(sql`
    select name as vm, pool, state_changed_at as since, cleanup_last_error as "lastError", cleanup_attempts as attempts
    from vms where state = 'quarantined' order by state_changed_at, name limit ${REPORT_LIST}`);

  const bookingRange = sql`r.state = 'booked' and r.starts_at < ${now} + make_interval(days => ${p.days}::int)`;
  const [bookingTotal] = await rows<{ n: number }>(sql`select count(*)::int as n from reservations r where ${bookingRange}`);
  const bookings = await rows(sql`
    select r.id, r.label, r.pool, r.count, ${person} as person, r.starts_at as "startsAt", r.ends_at as "endsAt"
    from reservations r join people p on p.id = r.person_id
    where ${bookingRange} order by r.starts_at, r.id limit ${REPORT_LIST}`);

  const failedRange = sql`j.state = 'failed' and j.finished_at > ${now} - interval '${sql.raw(FAILURES_WINDOW)}'`;
  const [failureTotal] = await rows<{ n: number }>(sql`select count(*)::int as n from provider_jobs j where ${failedRange}`);
  const failures = await rows(sql`
    select j.id, j.kind, j.pool, i.name as instance, j.last_error as error, j.attempts, j.finished_at as "failedAt"
    from provider_jobs j left join instances i on i.id = j.instance_id
    where ${failedRange} order by j.finished_at desc, j.id desc limit ${REPORT_LIST}`);

  const overPools = pools.filter((u) => u.over > 0);
  return adminReportSchema.parse({
    at,
    days: p.days,
    longestHolds,
    pastUsual: {
      pools: pools.map((u) => ({ pool: u.pool, usualMs: Math.round(Number(u.usual_s) * 1000), basis: u.basis, samples: u.samples, over: u.over })),
      holds: pastHolds,
      total: overPools.reduce((n, u) => n + u.over, 0),
    },
    idle: { total: idleTotal?.n ?? 0, vms: idleVms },
    queues: queues
      .filter((q) => q.waiting > 0 || q.served > 0)
      .map(({ medianWaitS, ...q }) => ({ ...q, medianWaitMs: medianWaitS === null ? null : Math.round(Number(medianWaitS) * 1000) })),
    quarantined: { total: quarantinedTotal?.n ?? 0, vms: quarantined },
    bookings: { total: bookingTotal?.n ?? 0, list: bookings },
    providerFailures: { total: failureTotal?.n ?? 0, jobs: failures },
  });
}
