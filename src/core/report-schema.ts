import * as z from "zod";

/**
 * The admin report's shape, once: what `adminReport` (report.ts) returns, what
 * `vmres report --json` prints, and what the `admin_digest` notice carries in
 * the outbox (notices.ts). Times are Dates here and ISO strings in JSON; the
 * schema turns the strings back into Dates when a notice is read.
 */
const time = z.coerce.date();
/** Row ids of bigserial columns come from PostgreSQL as text. */
const id = z.coerce.number();
const person = z.object({ id: z.number(), name: z.string(), slackUserId: z.string().nullable(), displayName: z.string().nullable() });

/** An open checkout as the report lists it. */
const hold = z.object({
  checkoutId: id,
  vm: z.string(),
  pool: z.string(),
  person,
  since: time,
  /** The lease's end; null: pinned. */
  endsAt: time.nullable(),
});

/**
 * How long a pool's checkouts usually last: the 90th percentile of its last
 * checkouts (at most 1,000, ended in the last 30 days) when there are at least
 * 10 of them (`basis: "p90"`), else the pool's lease (`basis: "lease"`).
 */
const usual = z.object({
  pool: z.string(),
  usualMs: z.number(),
  basis: z.enum(["p90", "lease"]),
  /** Checkouts the percentile was taken over. */
  samples: z.number(),
  /** Open holds older than usualMs. */
  over: z.number(),
});

export const adminReportSchema = z.object({
  at: time,
  /** How many days ahead `bookings` looks. */
  days: z.number(),
  longestHolds: z.array(hold),
  pastUsual: z.object({ pools: z.array(usual), holds: z.array(hold.extend({ usualMs: z.coerce.number() })), total: z.number() }),
  /** Available VMs untouched (no checkout, hold or state change) for 7 days; `vms` the longest idle. */
  idle: z.object({
    total: z.number(),
    vms: z.array(z.object({ vm: z.string(), pool: z.string(), since: time, lastCheckoutAt: time.nullable() })),
  }),
  /** Pools with people waiting now or waits that ended with a VM in the last 7 days. */
  queues: z.array(
    z.object({
      pool: z.string(),
      waiting: z.number(),
      /** When the longest current wait began; null: nobody waits. */
      oldestSince: time.nullable(),
      /** Waits that ended with a VM in the last 7 days (at most the last 1,000 are measured). */
      served: z.number(),
      /** Their median length, from joining to the VM being held for (or given to) them; null: none. */
      medianWaitMs: z.number().nullable(),
    }),
  ),
  quarantined: z.object({
    total: z.number(),
    vms: z.array(z.object({ vm: z.string(), pool: z.string(), since: time, lastError: z.string().nullable(), attempts: z.number() })),
  }),
  bookings: z.object({
    total: z.number(),
    list: z.array(z.object({ id, label: z.string(), pool: z.string(), count: z.number(), person, startsAt: time, endsAt: time })),
  }),
  /** Provider jobs that failed for good in the last day. */
  providerFailures: z.object({
    total: z.number(),
    jobs: z.array(
      z.object({ id, kind: z.string(), pool: z.string(), instance: z.string().nullable(), error: z.string().nullable(), attempts: z.number(), failedAt: time }),
    ),
  }),
});

/** What an admin is told about the pools: see adminReportSchema. */
export type AdminReport = z.infer<typeof adminReportSchema>;
export type ReportHold = AdminReport["longestHolds"][number];
