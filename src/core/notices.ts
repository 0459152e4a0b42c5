import { sql } from "drizzle-orm";
import * as z from "zod";
import type { Executor } from "../db/client.js";
import { isPgSql, type Fragment, type PgSql } from "./events.js";
import { adminReportSchema } from "./report-schema.js";
import type { StateCounts } from "./types.js";

/**
 * Things people must be told, queued in the outbox inside the transaction that
 * caused them. The core says what happened; the Slack adapter decides the words.
 *
 * Defined once, here: the schema is what writers must produce (enqueueNotices
 * checks it; statements that build a notice in SQL are checked by tests that
 * read them back) and what readers parse. A row written by another version of
 * vmres fails with a reason rather than delivering nonsense. Times are strings
 * as PostgreSQL wrote them, so nothing is lost to JavaScript's milliseconds.
 */
const stateCounts = z.object({
  available: z.number(),
  checked_out: z.number(),
  cleaning: z.number(),
  quarantined: z.number(),
  maintenance: z.number(),
  retired: z.number(),
  /** Absent from notices of releases before the waitlist. */
  held: z.number().default(0),
}) satisfies z.ZodType<StateCounts>;

/** A person as a notice names them; `slackUserId` null: someone Slack cannot reach (a service). */
const person = z.object({ id: z.number(), name: z.string(), slackUserId: z.string().nullable() });

export const noticeSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("vm_checked_out"),
    checkoutId: z.number(),
    holder: person,
    /** The VM's name, as in every notice (migration 0023 moved the details of older rows beside it). */
    vm: z.string(),
    pool: z.string(),
    ip: z.string(),
    sshUser: z.string(),
    sshPort: z.number(),
    startedAt: z.string(),
    endsAt: z.string().nullable(),
    note: z.string().nullable(),
    /** The lease was cut short to end where a booking of the VM starts (absent before reservations). */
    bookedFrom: z.string().nullable().optional(),
    /** The booking (its label) whose start made this checkout (absent before reservations). */
    reservation: z.string().nullable().optional(),
  }),
  z.object({
    kind: z.literal("vm_checked_in"),
    /** The checkout that ended, so the adapter updates that checkout's DM and no later one; null only for a notice of the previous release it could not match. */
    checkoutId: z.number().nullable(),
    holder: person,
    vm: z.string(),
    forcedBy: person.nullable(),
    nextState: z.enum(["cleaning", "available", "retired"]),
    /** How it ended; absent in notices of earlier releases (checked in, or forced when forcedBy is set). */
    endReason: z.enum(["checked_in", "forced", "expired"]).optional(),
  }),
  /** The lease ended (plus the grace) and vmres checked the VM in; the holder is told why and how to get one again. */
  z.object({
    kind: z.literal("lease_expired"),
    checkoutId: z.number(),
    holder: person,
    vm: z.string(),
    endsAt: z.string(),
    nextState: z.enum(["cleaning", "available", "retired"]),
  }),
  /**
   * The lease ends soon: `endsAt`; the holder may extend by `extendByMs` (the pool's default lease)
   * up to `latestEnd` (the pool's maximum from the start); null when it cannot be extended any more.
   */
  z.object({
    kind: z.literal("lease_reminder"),
    checkoutId: z.number(),
    holder: person,
    vm: z.string(),
    pool: z.string(),
    endsAt: z.string(),
    extendByMs: z.number(),
    latestEnd: z.string().nullable(),
  }),
  /** An admin set, extended or pinned (endsAt null) someone else's lease. */
  z.object({
    kind: z.literal("lease_changed"),
    checkoutId: z.number(),
    holder: person,
    vm: z.string(),
    endsAt: z.string().nullable(),
    by: person,
  }),
  /** A VM is held for the first person in the pool's queue until `expiresAt`: Take it or Pass. */
  z.object({
    kind: z.literal("vm_offered"),
    waiterId: z.number(),
    person,
    vm: z.string(),
    pool: z.string(),
    expiresAt: z.string(),
  }),
  /**
   * An offer ended without a checkout: `lapsed` (the window passed; they left the queue),
   * `withdrawn` (an admin took the VM out of service; they keep their place).
   */
  z.object({
    kind: z.literal("offer_ended"),
    waiterId: z.number(),
    person,
    vm: z.string(),
    pool: z.string(),
    outcome: z.enum(["lapsed", "withdrawn"]),
  }),
  /** A booking starts soon (RESERVATION_REMINDER): its label, pool, count, range and the VMs it holds. */
  z.object({
    kind: z.literal("reservation_reminder"),
    reservationId: z.number(),
    person,
    label: z.string(),
    pool: z.string(),
    count: z.number(),
    from: z.string(),
    to: z.string(),
    vms: z.array(z.string()),
  }),
  /**
   * At a booking's start, `missing` of its `count` VMs could not be given (held past the start by
   * someone else, with no other free VM of the pool: `no_vm`), or its whole range passed while vmres
   * was down (`missed`). The person and the admins are told at once.
   */
  z.object({
    kind: z.literal("reservation_short"),
    reservationId: z.number(),
    person,
    label: z.string(),
    pool: z.string(),
    count: z.number(),
    missing: z.number(),
    given: z.array(z.string()),
    from: z.string(),
    to: z.string(),
    reason: z.enum(["no_vm", "missed"]),
  }),
  /** An admin cancelled someone's booking; VMs already given (`kept`) stay theirs until checked in or their lease ends. */
  z.object({
    kind: z.literal("reservation_cancelled"),
    reservationId: z.number(),
    person,
    label: z.string(),
    pool: z.string(),
    from: z.string(),
    to: z.string(),
    by: person,
    kept: z.array(z.string()),
  }),
  z.object({ kind: z.literal("checkin_forced"), vm: z.string(), previousHolder: person, by: person }),
  z.object({ kind: z.literal("pool_exhausted"), pool: z.string(), counts: stateCounts }),
  z.object({
    kind: z.literal("vm_quarantined"),
    vm: z.string(),
    pool: z.string(),
    reason: z.string(),
    lastError: z.string().nullable(),
    attempts: z.number(),
  }),
  z.object({ kind: z.literal("vm_state_changed"), vm: z.string(), state: z.string(), by: person }),
  /**
   * vmres cannot use its own SSH private key, so cleanups that need it wait:
   * queued once per outage of that file (src/core/cleanup/postpone-blocked-cleanup.ts).
   * `error` is the blocked VMs' last error; `vms` names (some of) those waiting
   * when it was queued, `waiting` counts them all; `instance` is the process that hit it.
   */
  z.object({
    kind: z.literal("cleanup_blocked"),
    keyFile: z.string(),
    error: z.string(),
    vms: z.array(z.string()),
    waiting: z.number(),
    instance: z.string(),
  }),
  /** A provider job ran out of attempts: the person it was for (if any) and the admins are told; a create was undone. */
  z.object({
    kind: z.literal("provision_failed"),
    jobId: z.number(),
    job: z.enum(["create", "save", "delete", "delete_image"]),
    pool: z.string(),
    instance: z.string().nullable(),
    image: z.string().nullable(),
    error: z.string(),
    attempts: z.number(),
    person: person.nullable(),
  }),
  /** The provider's listing found instances with the vmres label that vmres has no live row for; `deleted`: they were deleted. */
  z.object({ kind: z.literal("unknown_instances"), pool: z.string(), names: z.array(z.string()), deleted: z.boolean() }),
  /** The admin digest (DIGEST_CRON) of the scheduled time `period`: the admin report as it stood then (src/core/digest.ts). */
  z.object({ kind: z.literal("admin_digest"), period: z.string(), report: adminReportSchema }),
]);

export type Notice = z.infer<typeof noticeSchema>;
export type NoticeKind = Notice["kind"];
export type NoticePerson = z.infer<typeof person>;

/** The notice of a row (kind column plus JSON payload), or why it cannot be read. */
export function parseNotice(kind: string, payload: unknown): { notice: Notice } | { problem: string } {
  const parsed = noticeSchema.safeParse({ ...(typeof payload === "object" && payload !== null ? payload : {}), kind });
  if (parsed.success) return { notice: parsed.data };
  return { problem: `cannot read a "${kind}" notice: ${parsed.error.issues.map((i) => `${i.path.join(".") || "kind"}: ${i.message}`).join("; ")}` };
}

/** The outbox rows of these notices as JSON, each checked against its schema: a notice that does not fit is a bug, thrown before anything is written. */
/** Notices as `{ kind, payload }` outbox rows, each checked against the one schema. */
export const noticeRows = (notices: Notice[]): { kind: Notice["kind"]; payload: Record<string, unknown> }[] => notices.map((n) => noticeSchema.parse(n)).map(({ kind, ...payload }) => ({ kind, payload }));
const rowsOf = (notices: Notice[]) => JSON.stringify(noticeRows(notices));

/**
 * Queues notices in the caller's transaction (drizzle's or postgres.js's); a notice that does not
 * fit its schema is a bug, thrown before anything is written. The one writer of `outbox` with
 * `noticesFrom` and `noticesOf`, its fragments.
 */
export async function enqueueNotices(tx: Executor | PgSql, notices: Notice[]): Promise<void> {
  if (notices.length === 0) return;
  if (isPgSql(tx)) {
    await noticesOf(tx, notices);
    return;
  }
  // As noticesOf's statement, through drizzle's handle: no table object of the schema needed, so a
  // caller of this module (check-in, in the CLI) does not load the schema's tables.
  await tx.execute(sql`
    insert into outbox (kind, payload)
    select n.kind, n.payload from jsonb_to_recordset(${rowsOf(notices)}::jsonb) as n(kind text, payload jsonb)`);
}

/**
 * `enqueueNotices` as a fragment, for a statement that decides in SQL whether they go out: the
 * notices are written only when `when` holds (say, `exists (select 1 from changed)`), in the
 * statement's own snapshot. Checked against the schema here, in JavaScript, like enqueueNotices.
 */
export function noticesOf(tx: PgSql, notices: Notice[], opts: { when?: Fragment } = {}): Fragment {
  return tx`
    insert into outbox (kind, payload)
    select n.kind, n.payload from jsonb_to_recordset(${rowsOf(notices)}::jsonb) as n(kind text, payload jsonb)
    ${opts.when === undefined ? tx`` : tx`where ${opts.when}`}`;
}

/**
 * Notices built in SQL, for a statement that finds their rows itself (a CTE of the one-round-trip
 * checkout, a sweep's batch): one notice of `kind` per row of `payloads`, which selects one jsonb
 * column, the payload without its kind. Such payloads are checked by tests that read them back
 * with parseNotice. Embed it as a CTE body or a whole statement; append `returning …` to count.
 */
export function noticesFrom(tx: PgSql, kind: NoticeKind, payloads: Fragment): Fragment {
  return tx`
    insert into outbox (kind, payload)
    select ${kind}::text, n.payload from (${payloads}) as n(payload)`;
}

/**
 * As `noticesFrom`, for rows that each carry their kind and payload (columns `kind`, `payload`),
 * built by `noticeRows` (so checked against the schema) and carried through a batch statement.
 */
export function noticesOfKindsFrom(tx: PgSql, rows: Fragment): Fragment {
  return tx`
    insert into outbox (kind, payload)
    select n.kind::text, n.payload from (${rows}) as n(kind, payload)`;
}

/**
 * Queues a pool-exhausted alert unless one was queued for this pool within the
 * interval; the upsert's WHERE makes that check atomic across replicas.
 */
export async function enqueuePoolExhausted(
  tx: Executor,
  pool: string,
  counts: StateCounts,
  intervalMinutes: number,
): Promise<boolean> {
  const rows = await tx.execute(sql`
    insert into pool_alerts (pool, last_exhausted_alert_at) values (${pool}, now())
    on conflict (pool) do update set last_exhausted_alert_at = now()
      where pool_alerts.last_exhausted_alert_at <= now() - make_interval(mins => ${intervalMinutes})
    returning pool`);
  if (rows.length === 0) return false;
  await enqueueNotices(tx, [{ kind: "pool_exhausted", pool, counts }]);
  return true;
}
