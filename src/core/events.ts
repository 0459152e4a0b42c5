import type postgres from "postgres";
import type { PgSql } from "../db/client.js";
import type { EventSource } from "../db/schema.js";

/**
 * Every kind of row in the append-only event log, in one place: writers can
 * only name one of these, and readers (history, `vmres checkouts`) can switch
 * over them exhaustively.
 */
export const EVENT_KINDS = [
  // Inventory
  "added",
  "updated",
  "update_pending",
  "restored",
  "retire_requested",
  "retired",
  // Lending
  "checked_out",
  "checked_in",
  "checkin_forced",
  // Leases and the waitlist
  "lease_extended",
  "lease_set",
  "lease_expired",
  "held_for_waiter",
  "hold_ended",
  // Reservations (per booked VM)
  "booked",
  "booking_cancelled",
  "booking_started",
  "booking_moved",
  // Admin transitions
  "drained",
  "repaired",
  "cleanup_retry",
  // Cleanup
  "cleaned",
  "cleanup_failed",
  "quarantined",
  "cleanup_made_due",
  "cleanup_blocked",
  "cleanup_done_by_hand",
  "cleanup_skipped",
  "cleanup_claim_reset",
  "host_key_recorded",
  // Provisioned pools
  "instance_created",
] as const;

export type EventKind = (typeof EVENT_KINDS)[number];

/** One event as a writer describes it. `actor` is who acted as the log names them (see actorName). */
export interface EventRecord {
  vmId: number;
  vmName: string;
  actor: string;
  source: EventSource;
  kind: EventKind;
  detail?: unknown;
}

/** A postgres.js handle: the pool, a transaction or a reserved connection; its tagged templates build fragments. */
export type { PgSql };
/** A piece of SQL built with a postgres.js tag, to embed in a statement of the same handle. */
export type Fragment = postgres.PendingQuery<postgres.Row[]>;



/** Writes an event row in the caller's postgres.js transaction. */
export async function recordEvent(tx: PgSql, e: EventRecord): Promise<void> {
  await recordEvents(tx, [e]);
}

/**
 * Writes many event rows in one statement, in the caller's transaction (a sync of 100,000 VMs is
 * a few statements, not 100,000): the same rows `recordEvent` would write one by one.
 */
export async function recordEvents(tx: PgSql, events: EventRecord[]): Promise<void> {
  if (events.length === 0) return;
  const rows = JSON.stringify(events.map((e, n) => ({ vm_id: e.vmId, vm_name: e.vmName, actor: e.actor, source: e.source, kind: e.kind, detail: e.detail ?? {}, n })));
  await tx`
    insert into events (vm_id, vm_name, actor, source, kind, detail)
    select r.vm_id, r.vm_name, r.actor, r.source::event_source, r.kind, r.detail
    from jsonb_to_recordset(${rows}::jsonb) as r(vm_id int, vm_name text, actor text, source text, kind text, detail jsonb, n bigint)
    order by r.n`;
}

/**
 * The same write as a fragment, for a statement that finds its rows itself (a CTE of the
 * one-round-trip checkout, a sweep's batch): one event of `kind` per row of `rows`, which selects,
 * in this order, the VM's id, its name, the actor (as the log names them), the source (text or
 * event_source) and the detail (jsonb). Embed it as a CTE body (`logged as (${eventsFrom(…)})`) or
 * as a whole statement; append `returning …` where the caller counts.
 */
export function eventsFrom(tx: PgSql, kind: EventKind, rows: Fragment): Fragment {
  return tx`
    insert into events (vm_id, vm_name, actor, source, kind, detail)
    select e.vm_id, e.vm_name, e.actor, e.source::text::event_source, ${kind}::text, e.detail
    from (${rows}) as e(vm_id, vm_name, actor, source, detail)`;
}

/**
 * As `eventsFrom`, for rows that each name their own kind (a sixth column, after the detail): a
 * check-in batch writes `lease_expired` and, in a pool with no cleanup, `cleanup_skipped`. The
 * kinds come from typed code (`EventKind`), never from input.
 */
export function eventsOfKindsFrom(tx: PgSql, rows: Fragment): Fragment {
  return tx`
    insert into events (vm_id, vm_name, actor, source, kind, detail)
    select e.vm_id, e.vm_name, e.actor, e.source::text::event_source, e.kind::text, e.detail
    from (${rows}) as e(vm_id, vm_name, actor, source, detail, kind)`;
}
