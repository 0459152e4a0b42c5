import { sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
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

/** Writes an event row in the caller's transaction. */
export async function recordEvent(tx: Executor, e: EventRecord): Promise<void> {
  await tx.execute(sql`
    insert into events (vm_id, vm_name, actor, source, kind, detail)
    values (${e.vmId}, ${e.vmName}, ${e.actor}, ${e.source}, ${e.kind}, ${JSON.stringify(e.detail ?? {})}::jsonb)`);
}

/**
 * Writes many event rows in one statement, in the caller's transaction (a sync of 100,000 VMs is
 * a few statements, not 100,000): the same rows `recordEvent` would write one by one.
 */
export async function recordEvents(tx: Executor, events: EventRecord[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e, n) => ({ vm_id: e.vmId, vm_name: e.vmName, actor: e.actor, source: e.source, kind: e.kind, detail: e.detail ?? {}, n }));
  await tx.execute(sql`
    insert into events (vm_id, vm_name, actor, source, kind, detail)
    select r.vm_id, r.vm_name, r.actor, r.source::event_source, r.kind, r.detail
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(vm_id int, vm_name text, actor text, source text, kind text, detail jsonb, n bigint)
    order by r.n`);
}
