import type { PgSql } from "../db/client.js";
import type { Fragment } from "./events.js";

/**
 * The queues whose rows are their own jobs, claimed by one process at a time: a VM in `cleaning`
 * is its cleanup (src/core/cleanup/), a `queued` provider job is a provider call
 * (src/core/provision/jobs.ts). A claim is `claimed_by` plus the exact `claimed_at`: every write
 * after it presents both (the guard), a live claimer renews the stamp, and the claims of a dead
 * one are taken back. Written once here for both tables, so the protocol cannot drift between
 * them; each queue's claim query and finishes stay with it, as they read and write its own columns.
 */
export type ClaimQueue = "cleanup" | "provider";

/** A claim as its holder presents it: who claimed and the stamp as PostgreSQL printed it (text keeps the microseconds). */
export interface HeldClaim {
  claimedBy: string;
  claimedAt: string;
}

/**
 * The table, the state its claimable rows are in, the column that says when one is due and what
 * logs and events call a row (of the table aliased `t`), as SQL text written here (never input).
 * The state stays a literal, not a parameter, so the planner can use the partial indexes on it
 * (`vms_cleanup_due`, `provider_jobs_due`).
 */
function queueSql(tx: PgSql, queue: ClaimQueue) {
  return queue === "cleanup"
    ? { table: tx`vms`, pending: tx`'cleaning'`, dueAt: tx`cleanup_next_at`, label: tx`t.name` }
    : { table: tx`provider_jobs`, pending: tx`'queued'`, dueAt: tx`next_at`, label: tx`t.kind::text` };
}

/**
 * The WHERE every write under a claim carries: the row is still waiting to be done and still
 * this claim. A claim taken back (its holder taken for dead) or taken again matches no row, so a
 * late holder's write changes nothing.
 */
export function stillClaimedIn(tx: PgSql, queue: ClaimQueue, id: number, claim: HeldClaim): Fragment {
  const q = queueSql(tx, queue);
  return tx`id = ${id} and state = ${q.pending} and claimed_by = ${claim.claimedBy} and claimed_at = ${claim.claimedAt}::timestamptz`;
}

/**
 * The heartbeat of a running job: renews its claim, so the takeover never takes a live one for
 * dead. Sets `claim.claimedAt` to the new stamp, which later writes present; false when the claim
 * was taken back meanwhile (the job is another process's now).
 */
export async function renewClaim(tx: PgSql, queue: ClaimQueue, id: number, claim: HeldClaim): Promise<boolean> {
  const q = queueSql(tx, queue);
  const [row] = await tx<{ claimed_at: string }[]>`
    update ${q.table} set claimed_at = now()
    where ${stillClaimedIn(tx, queue, id, claim)}
    returning claimed_at::text as claimed_at`;
  if (!row) return false;
  claim.claimedAt = row.claimed_at;
  return true;
}

/** A claim taken back: the row (its id, and its label: a VM's name, a job's kind) and the claim as its dead holder left it. */
export interface TakenBack extends HeldClaim {
  id: number;
  label: string;
}

/**
 * Claims older than `staleAfterMs` belong to a process that died (a live one renews well within
 * it): their rows become due now. The age is measured on the database's clock, the one that
 * stamped the claim, so clock skew between replicas does not matter. SKIP LOCKED passes over a
 * row whose holder is finishing right now. Idempotent.
 */
export async function takeBackStaleClaims(tx: PgSql, queue: ClaimQueue, staleAfterMs: number): Promise<TakenBack[]> {
  const q = queueSql(tx, queue);
  const rows = await tx<{ id: number; label: string; claimed_by: string; claimed_at: string }[]>`
    with stale as (
      select id, claimed_by, claimed_at from ${q.table}
      where state = ${q.pending} and claimed_at < now() - ${staleAfterMs}::int * interval '1 millisecond'
      for update skip locked
    )
    update ${q.table} t set claimed_by = null, claimed_at = null, ${q.dueAt} = now()
    from stale where t.id = stale.id
    returning t.id::int as id, ${q.label} as label, stale.claimed_by, stale.claimed_at::text as claimed_at`;
  return rows.map((r) => ({ id: r.id, label: r.label, claimedBy: r.claimed_by, claimedAt: r.claimed_at }));
}
