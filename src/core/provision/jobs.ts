import type postgres from "postgres";
import type { PgSql } from "../../db/client.js";
import type { JobKind } from "../../db/schema.js";
import { stillClaimedIn } from "../claims.js";
import type { Fragment } from "../events.js";
import { enqueueNotices } from "../notices.js";

/** A provider job claimed by one process: everything the provider call needs, and the claim to prove at finish. */
export interface JobClaim {
  id: number;
  kind: JobKind;
  pool: string;
  provider: "docker" | "command";
  providerSettings: Record<string, unknown>;
  attempts: number;
  claimedBy: string;
  /** Exactly as the database stamped it (text), so the finish can compare it. */
  claimedAt: string;
  instance: { id: number; name: string; providerRef: string | null; source: string } | null;
  image: { id: number; name: string; providerRef: string | null } | null;
}

type ClaimRow = {
  id: number;
  kind: JobKind;
  pool: string;
  provider: string;
  provider_settings: Record<string, unknown>;
  attempts: number;
  claimed_by: string;
  claimed_at: string;
  instance_id: number | null;
  instance_name: string | null;
  instance_ref: string | null;
  instance_source: string | null;
  image_id: number | null;
  image_name: string | null;
  image_ref: string | null;
};

/**
 * Claims up to `limit` due jobs (a job waiting for another runs once that one
 * is done), committed in one statement before any provider call, like the
 * cleanup claim: SKIP LOCKED lets processes claim side by side.
 */
export async function claimDueJobs(db: PgSql, instanceId: string, limit: number, pool: string | null = null): Promise<JobClaim[]> {
  if (limit < 1) return [];
  const rows = await db<ClaimRow[]>`
    with due as (
      select j.id from provider_jobs j
      where j.state = 'queued' and j.claimed_by is null and j.next_at <= now()
        and (${pool}::text is null or j.pool = ${pool}::text)
        and (j.after_job_id is null or exists (select 1 from provider_jobs a where a.id = j.after_job_id and a.state <> 'queued'))
      order by j.next_at, j.id
      limit ${limit}
      for update of j skip locked
    )
    update provider_jobs j set claimed_by = ${instanceId}, claimed_at = now()
    from due, pools p
    where j.id = due.id and p.name = j.pool
    returning j.id::int, j.kind, j.pool, p.provider, p.provider_settings, j.attempts, j.claimed_by, j.claimed_at::text as claimed_at,
      j.instance_id::int, (select name from instances where id = j.instance_id) as instance_name,
      (select provider_ref from instances where id = j.instance_id) as instance_ref,
      (select coalesce(im.provider_ref, i.source_ref) from instances i left join images im on im.id = i.image_id where i.id = j.instance_id) as instance_source,
      j.image_id::int, (select name from images where id = j.image_id) as image_name, (select provider_ref from images where id = j.image_id) as image_ref`;
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    pool: r.pool,
    provider: r.provider === "command" ? "command" : "docker",
    providerSettings: r.provider_settings,
    attempts: r.attempts,
    claimedBy: r.claimed_by,
    claimedAt: r.claimed_at,
    instance:
      r.instance_id === null ? null : { id: r.instance_id, name: r.instance_name ?? "", providerRef: r.instance_ref, source: r.instance_source ?? "" },
    image: r.image_id === null ? null : { id: r.image_id, name: r.image_name ?? "", providerRef: r.image_ref },
  }));
}

/** The claim's guard: the job is still this process's (the reconciler did not hand it to another). */
const stillClaimed = (tx: PgSql, claim: JobClaim): Fragment => stillClaimedIn(tx, "provider", claim.id, claim);

/** Marks the job done under its claim (the guard of `stillClaimed`); false when the claim was lost (another process owns it now). */
export async function completeJob(tx: PgSql, claim: JobClaim): Promise<boolean> {
  const rows = await tx`
    update provider_jobs set state = 'done', claimed_by = null, claimed_at = null, finished_at = now(), last_error = null,
      attempts = attempts + 1
    where ${stillClaimed(tx, claim)} returning id`;
  return rows.length === 1;
}

/** Records a progress note (what the provider gave back so far), so a retry after a crash resumes with it. */
export async function recordProviderRef(db: PgSql, claim: JobClaim, instanceRef: string): Promise<void> {
  await db`
    update instances set provider_ref = ${instanceRef}
    where id = ${claim.instance?.id ?? 0} and exists (select 1 from provider_jobs where ${stillClaimed(db, claim)})`;
}

/** Records the image a save made, before the instance is deleted: a crash between the two leaves the image known. */
export async function recordImageRef(db: PgSql, imageId: number, imageRef: string): Promise<void> {
  await db`update images set provider_ref = ${imageRef} where id = ${imageId}`;
}

/** What a failed attempt leads to. */
export type JobFailure = { retried: true; nextInMs: number } | { retried: false; gaveUp: true } | { lost: true };

/**
 * A failed attempt: due again after `retryDelayMs(failures)` (the runner's
 * one backoff, src/core/backoff.ts), or, after `maxAttempts`,
 * `failed` for good: a create is undone (its instance deleted), the person
 * who asked and the admins are told, and an admin may retry or abandon it.
 */
export async function failJob(
  sql: postgres.Sql,
  claim: JobClaim,
  error: string,
  opts: { maxAttempts: number; retryDelayMs: (failures: number) => number },
): Promise<JobFailure> {
  return sql.begin(async (tx): Promise<JobFailure> => {
    const attempts = claim.attempts + 1;
    const message = error.slice(0, 2000);
    if (attempts < opts.maxAttempts) {
      const wait = opts.retryDelayMs(attempts);
      const rows = await tx`
        update provider_jobs set attempts = ${attempts}, last_error = ${message}, claimed_by = null, claimed_at = null,
          next_at = now() + ${wait}::int * interval '1 millisecond'
        where ${stillClaimed(tx, claim)} returning id`;
      return rows.length === 1 ? { retried: true, nextInMs: wait } : { lost: true };
    }
    const rows = await tx<{ person_id: number | null }[]>`
      update provider_jobs set attempts = ${attempts}, last_error = ${message}, claimed_by = null, claimed_at = null, state = 'failed', finished_at = now()
      where ${stillClaimed(tx, claim)} returning person_id`;
    if (rows.length !== 1) return { lost: true };
    await afterFailure(tx, claim, message, rows[0]?.person_id ?? null);
    return { retried: false, gaveUp: true };
  });
}

/** The failure's consequences, in the transaction that marks it failed. */
async function afterFailure(tx: PgSql, claim: JobClaim, error: string, personId: number | null): Promise<void> {
  if (claim.kind === "create" && claim.instance) await undoCreate(tx, claim.pool, claim.instance.id, error);
  if ((claim.kind === "save" || claim.kind === "delete_image") && claim.image) await tx`update images set last_error = ${error} where id = ${claim.image.id}`;
  if (claim.kind === "delete" && claim.instance) await tx`update instances set last_error = ${error} where id = ${claim.instance.id}`;
  const [person] = personId === null ? [] : await tx<{ id: number; name: string; slack_user_id: string | null }[]>`
    select id, name, slack_user_id from people where id = ${personId}`;
  await enqueueNotices(tx, [
    {
      kind: "provision_failed",
      jobId: claim.id,
      job: claim.kind,
      pool: claim.pool,
      instance: claim.instance?.name ?? null,
      image: claim.image?.name ?? null,
      error,
      attempts: claim.attempts + 1,
      person: person ? { id: person.id, name: person.name, slackUserId: person.slack_user_id } : null,
    },
  ]);
}

/** A create that will not be finished: the instance is deleted (whatever the provider made of it) and counts no more. */
async function undoCreate(tx: PgSql, pool: string, instanceId: number, error: string): Promise<void> {
  await tx`update instances set state = 'deleting', state_changed_at = now(), last_error = ${error}, for_person_id = null where id = ${instanceId}`;
  await tx`insert into provider_jobs (kind, pool, instance_id) values ('delete', ${pool}, ${instanceId})`;
}
