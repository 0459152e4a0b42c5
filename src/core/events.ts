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
