import { enqueueNotices } from "../notices.js";
import type { PgSql } from "../../db/client.js";
import { markPoolBlocked } from "./blocked-pools.js";
import { dueAgainLater, recordWorkerEvent, type CleanupClaim } from "./claim.js";

/** How many of the waiting VMs the admin alert names; the rest are counted. */
const VMS_NAMED = 10;

/**
 * An attempt that could not start because vmres cannot use its own private
 * key: the claim is released and the VM is due again after `retryInMs`, still
 * `cleaning`, with no attempt counted (a local misconfiguration must not bring
 * a healthy VM closer to quarantine). The reason is kept as the last error; an
 * event is written only when that reason is new for the VM, so a key missing
 * for hours does not write one event per retry, and then the admins are
 * alerted if this outage of the key file has not been told yet (see
 * `alertAdminsOncePerOutage`). Returns false when the claim was lost.
 */
export async function postponeBlockedCleanup(tx: PgSql, claim: CleanupClaim, blocked: { error: string; keyFile: string; retryInMs: number }): Promise<boolean> {
  const again = await dueAgainLater(tx, claim, { error: blocked.error, retryInMs: blocked.retryInMs, counted: false });
  if (!again) return false;
  // Checkouts and bookings in this pool now warn that check-ins will wait here.
  await markPoolBlocked(tx, claim.pool, blocked.error);
  if (again.previousError !== blocked.error) {
    await recordWorkerEvent(tx, claim, "cleanup_blocked", { error: blocked.error, keyFile: blocked.keyFile, retryAt: again.retryAt, attempts: claim.attempts });
    await alertAdminsOncePerOutage(tx, claim, blocked);
  }
  return true;
}

/**
 * Queues one `cleanup_blocked` notice per outage of a key file, however many
 * VMs, retries, processes and replicas meet it. An outage of a file begins
 * after the last cleanup that used it successfully (its `cleaned` event names
 * the file, see finish.ts): a notice for the file queued since then means the
 * admins know. So 50 VMs blocked by one missing key alert once, and a key put
 * back (a VM cleaned with it) then lost again alerts again.
 *
 * The advisory lock, taken in its own statement before the reads, serialises
 * the check and the insert per key file across every process: READ COMMITTED
 * takes a snapshot per statement, so a second VM blocked at the same moment
 * sees the first one's notice once it gets the lock. Outbox rows are pruned 14
 * days after delivery, so an outage longer than that alerts again at the next
 * VM it blocks: a reminder, not a flood.
 */
async function alertAdminsOncePerOutage(tx: PgSql, claim: CleanupClaim, blocked: { error: string; keyFile: string }): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${`vmres:cleanup_blocked:${blocked.keyFile}`}::text, 0))`;
  const [told] = await tx<{ alerted: boolean }[]>`
    select exists (
      select 1 from outbox
      where kind = 'cleanup_blocked' and payload->>'keyFile' = ${blocked.keyFile}
        and created_at >= coalesce(
          (select max(at) from events where kind = 'cleaned' and detail->>'keyFile' = ${blocked.keyFile}),
          '-infinity'::timestamptz)
    ) as alerted`;
  if (told?.alerted) return;
  const waiting = await tx<{ name: string; waiting: number }[]>`
    select name, count(*) over ()::int as waiting from vms
    where state = 'cleaning' and cleanup_last_error = ${blocked.error}
    order by name limit ${VMS_NAMED}`;
  await enqueueNotices(tx, [
    {
      kind: "cleanup_blocked",
      keyFile: blocked.keyFile,
      error: blocked.error,
      vms: waiting.map((w) => w.name),
      waiting: waiting[0]?.waiting ?? 1,
      instance: claim.claimedBy,
    },
  ]);
}
