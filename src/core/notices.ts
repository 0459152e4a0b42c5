import { sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { outbox } from "../db/schema.js";
import type { CheckedOutVm, StateCounts } from "./types.js";

/**
 * Things people must be told, queued in the outbox inside the transaction that
 * caused them. The core says what happened; the Slack adapter decides the words.
 */
export type Notice =
  | { kind: "vm_checked_out"; user: string; vm: CheckedOutVm }
  | { kind: "vm_checked_in"; user: string; vm: string; checkedOutAt: string; forcedBy: string | null; nextState: "cleaning" | "retired" }
  | { kind: "checkin_forced"; vm: string; previousHolder: string; by: string }
  | { kind: "pool_exhausted"; pool: string; counts: StateCounts }
  | { kind: "vm_quarantined"; vm: string; pool: string; reason: string; lastError: string | null; attempts: number }
  | { kind: "vm_state_changed"; vm: string; state: string; by: string }
  /**
   * vmres cannot use its own SSH private key, so cleanups that need it wait:
   * queued once per outage of that file (src/core/cleanup/postpone-blocked-cleanup.ts).
   * `error` is the blocked VMs' last error; `vms` names (some of) those waiting
   * when it was queued, `waiting` counts them all; `instance` is the process that hit it.
   */
  | { kind: "cleanup_blocked"; keyFile: string; error: string; vms: string[]; waiting: number; instance: string };

export type NoticeKind = Notice["kind"];

/** Queues notices in the caller's transaction. */
export async function enqueueNotices(tx: Executor, notices: Notice[]): Promise<void> {
  if (notices.length === 0) return;
  await tx.insert(outbox).values(notices.map(({ kind, ...payload }) => ({ kind, payload })));
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
