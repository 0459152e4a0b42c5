import type postgres from "postgres";
import type { Db } from "./client.js";

/**
 * Storage of the API's Idempotency-Key claims and answers (`idempotency_keys`), one statement per
 * operation; src/api/idempotency.ts decides when each runs. Every write after the claim checks
 * `claimed_by`, so a process whose claim was taken over changes nothing.
 */

/** How long a key's first answer is kept, and so replayed. */
export const IDEMPOTENCY_TTL_HOURS = 24;

/** One key of one token, as claimed by one process (`claimed_by`). */
export interface KeyClaim {
  tokenId: number;
  key: string;
  owner: string;
}

/** A claim of a key, as `claimKey` and `claimKeyFirst` make it. */
export type ClaimRequest = KeyClaim & { requestHash: string; claimTimeoutMs: number };

/**
 * The claim's insert: new, expired, or taken over when its claim has no answer and no heartbeat
 * for `claimTimeoutMs` (its process stopped), for the same request only. A conflicting insert of
 * a transaction still running waits for its end, then sees what it left.
 */
const claimInsert = (sql: postgres.Sql, claim: ClaimRequest) => sql`
    insert into idempotency_keys (token_id, key, request_hash, claimed_by, heartbeat_at) values (${claim.tokenId}, ${claim.key}, ${claim.requestHash}, ${claim.owner}, now())
    on conflict (token_id, key) do update
      set request_hash = excluded.request_hash, status = null, body = null, secret_withheld = false, created_at = now(),
          claimed_by = excluded.claimed_by, heartbeat_at = now()
      where idempotency_keys.created_at < now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})
         or (idempotency_keys.status is null and idempotency_keys.request_hash = excluded.request_hash
             and coalesce(idempotency_keys.heartbeat_at, idempotency_keys.created_at) < now() - make_interval(secs => ${claim.claimTimeoutMs / 1000}::float8))`;

const previousClaim = (sql: postgres.Sql, claim: ClaimRequest) => sql`
    previous as (select claimed_by, status from idempotency_keys where token_id = ${claim.tokenId} and key = ${claim.key})`;

/**
 * Claims a key with one insert (the primary key decides between replicas): new, expired, or
 * taken over when its claim has no answer and no heartbeat for `claimTimeoutMs` (its process
 * stopped), for the same request only. Null when another claim or an answer holds it; else
 * the process it was taken over from (null when it was free).
 */
export async function claimKey(db: Db, claim: ClaimRequest): Promise<{ previous: string | null } | null> {
  const sql = db.$client;
  const [claimed] = await sql<{ previous: string | null }[]>`
    with ${previousClaim(sql, claim)}
    ${claimInsert(sql, claim)}
    returning (select coalesce(claimed_by, 'a process of an earlier release') from previous where status is null) as previous`;
  return claimed ?? null;
}

/**
 * The same claim as the first statement of a transaction (after BEGIN), so the claim commits or
 * rolls back with what the request changes. When the key is not claimed (another claim or an
 * answer holds it) the statement fails with division_by_zero, on purpose: the transaction is
 * aborted, nothing after it runs, and `keyNotClaimed` recognises the error. Its one row says
 * which process a stale claim was taken over from (null: the key was free).
 */
export function claimKeyFirst(sql: postgres.Sql, claim: ClaimRequest): postgres.PendingQuery<{ claimed: number; previous: string | null }[]> {
  return sql<{ claimed: number; previous: string | null }[]>`
    with ${previousClaim(sql, claim)}, claimed as (
    ${claimInsert(sql, claim)}
    returning 1)
    select 1 / (select count(*)::int from claimed) as claimed,
           (select coalesce(claimed_by, 'a process of an earlier release') from previous where status is null) as previous`;
}

/** The error `claimKeyFirst` fails with when the key was not claimed. */
export const keyNotClaimed = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === "22012";

/** The first request's hash and answer (status null: still running), or null if the key is gone. */
export async function firstAnswer(
  db: Db,
  at: { tokenId: number; key: string },
): Promise<{ requestHash: string; status: number | null; body: unknown; secretWithheld: boolean } | null> {
  const [first] = await db.$client<{ request_hash: string; status: number | null; body: unknown; secret_withheld: boolean }[]>`
    select request_hash, status, body, secret_withheld from idempotency_keys where token_id = ${at.tokenId} and key = ${at.key}`;
  return first ? { requestHash: first.request_hash, status: first.status, body: first.body, secretWithheld: first.secret_withheld } : null;
}

/** Drops a claim that has no answer yet; returns whether it was there (and this process's). */
export async function dropClaim(db: Db, claim: KeyClaim): Promise<boolean> {
  const done = await db.$client`
    delete from idempotency_keys where token_id = ${claim.tokenId} and key = ${claim.key} and claimed_by = ${claim.owner} and status is null`;
  return done.count > 0;
}

/** A key's answer as stored (`secretWithheld`: its secret fields were left out). */
export interface KeyAnswer {
  status: number;
  body: unknown;
  secretWithheld: boolean;
}

/** Stores the answer of a claimed key. */
export async function storeAnswer(db: Db, claim: KeyClaim, answer: KeyAnswer): Promise<void> {
  await storeAnswerStatement(db.$client, claim, answer);
}

/** `storeAnswer`'s statement, built but not sent: a transaction sends it with its COMMIT. */
export function storeAnswerStatement(sql: postgres.Sql, claim: KeyClaim, answer: KeyAnswer): postgres.PendingQuery<postgres.Row[]> {
  return sql`
    update idempotency_keys set status = ${answer.status}, body = ${JSON.stringify(answer.body)}::jsonb, secret_withheld = ${answer.secretWithheld}
    where token_id = ${claim.tokenId} and key = ${claim.key} and claimed_by = ${claim.owner} and status is null`;
}

/** Forgets answers older than the TTL; returns how many. */
export async function pruneKeys(db: Db): Promise<number> {
  const done = await db.$client`delete from idempotency_keys where created_at < now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`;
  return done.count;
}

/** Renews the heartbeat of these claims of `owner` still without an answer; returns how many. */
export async function renewKeyClaims(db: Db, owner: string, claims: { tokenId: number; key: string }[]): Promise<number> {
  if (claims.length === 0) return 0;
  const done = await db.$client`
    update idempotency_keys set heartbeat_at = now()
    where claimed_by = ${owner} and status is null
      and (token_id, key) in (select * from unnest(${claims.map((c) => c.tokenId)}::int[], ${claims.map((c) => c.key)}::text[]))`;
  return done.count;
}
