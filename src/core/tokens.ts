import { createHash, randomBytes } from "node:crypto";
import type postgres from "postgres";
import { formatDuration } from "../duration.js";
import { clockAt } from "./clock.js";
import type { CachedToken, TokenCache } from "./token-cache.js";
import { asAdmin, isBootstrapAdmin, OPERATOR, resolvePerson, SYSTEM, whoseListing } from "./people.js";
import { ok, refuse, type Actor, type Core, type PersonTag, type Result, type TokenSettings } from "./types.js";
import { checkNote, checkUserId, firstRefusal } from "./validate.js";

/**
 * API tokens. A token is `vmres_` and 43 base64url characters (32 random
 * bytes); only its SHA-256 is stored, so a copy of the database lets nobody
 * act as anyone. A plain hash is enough (no slow KDF): the secret has 256
 * random bits, nothing to guess. The prefix makes a leaked token easy to find
 * with secret scanners and in `vmres token list` (its first 12 characters).
 */
export const TOKEN_PREFIX = "vmres_";
const TOKEN_SHAPE = /^vmres_[A-Za-z0-9_-]{43}$/;
const SHOWN = 12;

/** A token as listings show it (never its value). */
export interface TokenInfo {
  id: number;
  person: PersonTag;
  /** The token's first characters, to tell tokens apart. */
  prefix: string;
  label: string | null;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  /** The token it was made with (over the API): it dies with that one. */
  parentId: number | null;
}

/** A token just made: its value, shown once. */
export interface NewToken extends TokenInfo {
  token: string;
}

/** Who a token acts as, once checked. */
export interface TokenHolder {
  /** null: a web page session (src/core/web-sessions.ts), not a token. */
  tokenId: number | null;
  person: PersonTag;
}

/** Why a token was not accepted; said to the caller as is (a 401). */
export type TokenRejection = "malformed" | "unknown" | "revoked" | "expired";

export const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");

export interface TokenRequest {
  /** For whom; unset: the actor themselves. Someone else needs an admin. */
  user?: string | undefined;
  label?: string | undefined;
  /** Lifetime in ms, at most MAX_TOKEN_LIFETIME; unset: that longest lifetime. */
  expiresMs?: number | undefined;
  /**
   * The token the request came with (the API). The new token expires no later
   * than it and is revoked with it, so a short-lived or revoked token cannot
   * leave a longer-lived one behind.
   */
  parentTokenId?: number | undefined;
}

/** MAX_TOKEN_LIFETIME and MAX_TOKENS_PER_PERSON when the core is given none (src/config.ts has the same defaults). */
export const TOKEN_DEFAULTS: TokenSettings = { maxLifetimeMs: 365 * 86_400_000, maxPerPerson: 5 };
const MIN_LIFETIME_MS = 60_000;

const tokenSettings = (core: Core): TokenSettings => core.tokens ?? TOKEN_DEFAULTS;

/**
 * Makes a token for a person: anyone for themselves (Slack's `/vm token`),
 * admins for anyone (`vmres token create --user`, services for CI). The
 * built-in `system` never gets one: it is vmres itself. Every token expires
 * (MAX_TOKEN_LIFETIME at most), and one person holds at most
 * MAX_TOKENS_PER_PERSON live tokens: each has its own rate limit.
 */
export async function createToken(core: Core, actor: Actor, request: TokenRequest = {}): Promise<Result<NewToken>> {
  const { maxLifetimeMs, maxPerPerson } = tokenSettings(core);
  const bad = firstRefusal(
    request.label === undefined ? null : checkNote(request.label, "label"),
    request.label !== undefined && request.label.length > 100 ? { code: "invalid_input", field: "label", message: "keep a label to 100 characters" } : null,
    request.expiresMs === undefined || (Number.isSafeInteger(request.expiresMs) && request.expiresMs >= MIN_LIFETIME_MS && request.expiresMs <= maxLifetimeMs)
      ? null
      : { code: "invalid_input", field: "expires", message: `a token lives at least 1m and at most ${formatDuration(maxLifetimeMs)} (MAX_TOKEN_LIFETIME), written like 90d, 12h or 30m` },
  );
  if (bad) return refuse(bad);
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const person = request.user === undefined ? me : await tokenHolder(core, actor, me.value, request.user);
  if (!person.ok) return person;
  if (person.value.name === SYSTEM) return refuse({ code: "invalid_input", field: "user", message: "system is vmres itself and gets no token: make one for a person or a service (vmres people add NAME --service)" });
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const lifetimeS = Math.ceil((request.expiresMs ?? maxLifetimeMs) / 1000);
  const parentId = request.parentTokenId ?? null;
  return core.db.$client.begin(async (tx) => {
    // One person's token requests one at a time, so two at once cannot both pass the count.
    await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:tokens:" + person.value.id}, 0))`;
    const [held] = await tx<{ n: number }[]>`
      select count(*)::int as n from api_tokens
      where person_id = ${person.value.id} and revoked_at is null and (expires_at is null or expires_at > coalesce(${clockAt(core)}::timestamptz, now()))`;
    if ((held?.n ?? 0) >= maxPerPerson) return refuse<NewToken>({ code: "too_many_tokens", person: person.value.name, limit: maxPerPerson });
    // FOR SHARE waits for a revocation of the parent under way, and a revocation waits for this
    // insert: either way the child is revoked with its parent. A parent revoked in between makes
    // a child born revoked (authentication refuses it), never a live orphan.
    const [parent] = parentId === null ? [] : await tx<{ expires_at: Date | null; revoked_at: Date | null }[]>`select expires_at, revoked_at from api_tokens where id = ${parentId} for share`;
    if (parentId !== null && !parent) throw new Error(`token ${parentId}, which asks for a new token, is not in api_tokens`);
    const [row] = await tx<TokenRow[]>`
      insert into api_tokens (person_id, token_hash, prefix, label, created_by, created_at, expires_at, parent_id, revoked_at)
      values (${person.value.id}, ${hashToken(token)}, ${token.slice(0, SHOWN)}, ${request.label ?? null}, ${me.value.id},
              coalesce(${clockAt(core)}::timestamptz, now()),
              least(coalesce(${clockAt(core)}::timestamptz, now()) + make_interval(secs => ${lifetimeS}::int), ${parent?.expires_at ?? null}::timestamptz),
              ${parentId}, ${parent?.revoked_at ?? null}::timestamptz)
      returning id, prefix, label, created_at, expires_at, revoked_at, last_used_at, parent_id`;
    if (!row) throw new Error(`token for ${person.value.name} not stored`);
    return ok({ ...infoOf(row, person.value, me.value.name), token });
  });
}

/**
 * Whom `user` names, for a token: oneself, or (admins only) anyone. An admin
 * may name a Slack user vmres has not met yet, who becomes a person as their
 * first Slack request would make them; nobody else's request creates anyone.
 */
async function tokenHolder(core: Core, actor: Actor, me: PersonTag, user: string): Promise<Result<PersonTag>> {
  const named = await resolvePerson(core, { lookup: user });
  if (named.ok && named.value.id === me.id) return named;
  const admin = await asAdmin(core, actor, "make a token for someone else");
  if (!admin.ok) return admin;
  if (!named.ok && named.refusal.code === "unknown_person" && checkUserId(user) === null) return resolvePerson(core, { slackUserId: user });
  return named;
}

type TokenRow = {
  id: number;
  prefix: string;
  label: string | null;
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  last_used_at: Date | string | null;
  parent_id: number | null;
};

type ListedRow = TokenRow & { person_id: number; name: string; slack_user_id: string | null; display_name: string | null; created_by: string };

const date = (d: Date | string | null) => (d === null ? null : new Date(d));

function infoOf(r: TokenRow, person: PersonTag, createdBy: string): TokenInfo {
  return {
    id: r.id,
    person,
    prefix: r.prefix,
    label: r.label,
    createdBy,
    createdAt: new Date(r.created_at),
    expiresAt: date(r.expires_at),
    revokedAt: date(r.revoked_at),
    lastUsedAt: date(r.last_used_at),
    parentId: r.parent_id,
  };
}

/** Tokens, newest first: every token for an admin, one's own for anyone else; `user` narrows to one person's. */
export async function listTokens(core: Core, actor: Actor, filter: { user?: string | undefined } = {}): Promise<Result<TokenInfo[]>> {
  const whose = await whoseListing(core, actor, filter.user, "list other people's tokens");
  if (!whose.ok) return whose;
  const personId = whose.value;
  const rows = await core.db.$client<ListedRow[]>`
    select t.id, t.prefix, t.label, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.parent_id,
           p.id as person_id, p.name, p.slack_user_id, p.display_name, c.name as created_by
    from api_tokens t join people p on p.id = t.person_id join people c on c.id = t.created_by
    where ${personId === null ? core.db.$client`true` : core.db.$client`t.person_id = ${personId}`}
    order by t.id desc`;
  return ok(rows.map((r) => infoOf(r, { id: r.person_id, name: r.name, slackUserId: r.slack_user_id, displayName: r.display_name }, r.created_by)));
}

/** A revocation: the token, and the tokens made with it (and with those), revoked with it now. */
export interface TokenRevoked {
  id: number;
  person: string;
  alreadyRevoked: boolean;
  /** Tokens made with this one, directly or not, that this revocation revoked. */
  alsoRevoked: number[];
}

/**
 * Revokes a token at once (on every replica, token caches included: the update bumps
 * `api_token_epoch`, see authenticateToken): its
 * holder, or an admin. The tokens made with it (over the API, with it or with
 * one of them) are revoked with it, on record: a leaked token cannot leave
 * heirs. Revoking a revoked token revokes any heir still live and says the
 * token itself was revoked already.
 */
export async function revokeToken(core: Core, actor: Actor, id: number): Promise<Result<TokenRevoked>> {
  if (!Number.isSafeInteger(id) || id < 1 || id > 2_147_483_647) return refuse({ code: "invalid_input", field: "id", message: "a token id is a whole number, as vmres token list shows" });
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const admin = actor.person === OPERATOR || isBootstrapAdmin(core, me.value) || (await asAdmin(core, actor, "revoke a token")).ok;
  return core.db.$client.begin(async (tx) => {
    // FOR UPDATE: a token being made with this one (it holds FOR SHARE) is committed first, so it is found below.
    const [row] = await tx<{ person_id: number; name: string; revoked_at: Date | null }[]>`
      select t.person_id, p.name, t.revoked_at from api_tokens t join people p on p.id = t.person_id where t.id = ${id} for update of t`;
    // Someone else's token is, to a non-admin, no token at all: they learn nothing of its existence.
    if (!row || (row.person_id !== me.value.id && !admin)) return refuse<TokenRevoked>({ code: "unknown_token", id });
    const at = clockAt(core);
    const changed = await tx`update api_tokens set revoked_at = coalesce(${at}::timestamptz, now()) where id = ${id} and revoked_at is null`;
    // Each statement sees what was committed when it began: a grandchild made while the first
    // pass waited on its parent shows up in the next. Parents are older (a CHECK), so chains end.
    const alsoRevoked: number[] = [];
    for (let more = true; more; ) {
      const heirs = await tx<{ id: number }[]>`
        with recursive heirs as (
          select id from api_tokens where parent_id = ${id}
          union all
          select t.id from api_tokens t join heirs h on t.parent_id = h.id)
        update api_tokens set revoked_at = coalesce(${at}::timestamptz, now())
        where id in (select id from heirs) and revoked_at is null returning id`;
      alsoRevoked.push(...heirs.map((h) => h.id));
      more = heirs.length > 0;
    }
    return ok({ id, person: row.name, alreadyRevoked: changed.count === 0, alsoRevoked: alsoRevoked.sort((a, b) => a - b) });
  });
}

/** The fixed windows API requests are counted in, per token and per person (API_RATE_LIMIT, API_PERSON_RATE_LIMIT). */
export interface CountWindows {
  tokenMs: number;
  personMs: number;
}

/** Requests counted in the current window, this one included, and when that window ends. */
export interface WindowCount {
  requests: number;
  resetMs: number;
}

/** An accepted token's holder, and (when asked to count) its requests so far per token and per person. */
export interface Authenticated {
  holder: TokenHolder;
  counts: { token: WindowCount; person: WindowCount } | null;
}

/**
 * The person a token acts as, or why it is refused. A token made with another
 * is refused once any token it was made from is revoked or expired, whatever
 * its own row says (the record catches up at revocation). `last_used_at` is
 * written at most once a minute per token (per replica, with a cache), to keep
 * requests from all writing the same row.
 *
 * With `count`, the same statement counts the request for the token and for
 * its person in `api_request_counts` (one row per subject and fixed window),
 * so the API's rate limit costs no extra round trip and holds across a
 * person's tokens and across replicas. Refused tokens are not counted.
 *
 * With a `cache` (the API keeps one per process), a token accepted before is
 * not read again: one short statement checks that nothing changed since
 * (`api_token_epoch`, bumped with every revocation, expiry or person change)
 * and that it has not expired, and counts the request. When it finds the entry
 * stale, the token is read as without a cache. So a revocation applies at once
 * on every replica, cached or not (src/core/token-cache.ts).
 */
export async function authenticateToken(core: Core, token: string, count?: CountWindows, cache?: TokenCache): Promise<Authenticated | { rejected: TokenRejection }> {
  if (!TOKEN_SHAPE.test(token)) return { rejected: "malformed" };
  const hash = hashToken(token);
  cache?.listen(core);
  const cached = cache?.get(hash);
  if (cached) {
    const still = await recount(core, cached, count);
    if (still) return still;
    cache!.forget(hash);
  }
  const read = await readToken(core, hash, count);
  if (cache && "holder" in read) cache.set(hash, { holder: read.holder, epoch: read.epoch, expiresAt: read.expiresAt, touchedAt: Date.now() });
  return "holder" in read ? { holder: read.holder, counts: read.counts } : read;
}

/** How often a replica writes a token's `last_used_at` while it uses it. */
const TOUCH_EVERY_MS = 60_000;

/** Window starts are aligned on the epoch, so every replica puts a request in the same row. */
const windowOf = (sql: postgres.Sql, ms: number) => sql`to_timestamp(floor(extract(epoch from now()) * 1000 / ${ms}::float8) * ${ms}::float8 / 1000)`;

type CountColumns = { token_requests: number | null; token_reset_ms: number | null; person_requests: number | null; person_reset_ms: number | null };

/** The request counted (one insert for the token and its person), as CTE `counted` over the rows of `source` (holding `id` and `person_id`). */
function countedCte(sql: postgres.Sql, source: postgres.PendingQuery<postgres.Row[]>, count: CountWindows | undefined) {
  return sql`
    counted as (
      insert into api_request_counts (scope, subject_id, window_start)
      select s.scope, s.subject_id, s.window_start
      from (${source}) as src, lateral (values ('token', src.id, ${count ? windowOf(sql, count.tokenMs) : sql`null::timestamptz`}),
                                ('person', src.person_id, ${count ? windowOf(sql, count.personMs) : sql`null::timestamptz`})) as s(scope, subject_id, window_start)
      where ${count !== undefined}
      on conflict (scope, subject_id, window_start) do update set requests = api_request_counts.requests + 1
      returning scope, requests, window_start)`;
}

function countColumns(sql: postgres.Sql, count: CountWindows | undefined) {
  return sql`
    (select requests from counted where scope = 'token') as token_requests,
    (select extract(epoch from window_start - now())::float8 * 1000 + ${count?.tokenMs ?? 0}::float8 from counted where scope = 'token') as token_reset_ms,
    (select requests from counted where scope = 'person') as person_requests,
    (select extract(epoch from window_start - now())::float8 * 1000 + ${count?.personMs ?? 0}::float8 from counted where scope = 'person') as person_reset_ms`;
}

function countsOf(row: CountColumns, count: CountWindows | undefined): Authenticated["counts"] {
  return count && row.token_requests !== null && row.person_requests !== null
    ? {
        token: { requests: row.token_requests, resetMs: Math.max(0, row.token_reset_ms ?? 0) },
        person: { requests: row.person_requests, resetMs: Math.max(0, row.person_reset_ms ?? 0) },
      }
    : null;
}

/**
 * A cached token's request: one statement that checks the entry still holds (the epoch it was
 * read with, its expiry) and, if so, counts the request and (once a minute) writes `last_used_at`.
 * Null when the entry no longer holds: nothing was counted or written, and the token is read anew.
 */
async function recount(core: Core, cached: CachedToken, count: CountWindows | undefined): Promise<Authenticated | null> {
  const sql = core.db.$client;
  const touch = Date.now() - cached.touchedAt >= TOUCH_EVERY_MS;
  const { tokenId, person } = cached.holder;
  const [row] = await sql<(CountColumns & { holds: boolean })[]>`
    with holds as (
      select ${tokenId}::int as id, ${person.id}::int as person_id from api_token_epoch
      where epoch = ${cached.epoch}::bigint
        and (${cached.expiresAt}::timestamptz is null or ${cached.expiresAt}::timestamptz > coalesce(${clockAt(core)}::timestamptz, now()))),
    touched as (
      update api_tokens set last_used_at = now() where ${touch} and id = (select id from holds)),
    ${countedCte(sql, sql`select id, person_id from holds`, count)}
    select exists (select 1 from holds) as holds, ${countColumns(sql, count)}`;
  if (!row?.holds) return null;
  if (touch) cached.touchedAt = Date.now();
  return { holder: cached.holder, counts: countsOf(row, count) };
}

/** The token read from its rows (its chain of parents, its person), counted when accepted; with the epoch and expiry a cache keeps. */
async function readToken(
  core: Core,
  hash: string,
  count: CountWindows | undefined,
): Promise<(Authenticated & { epoch: string; expiresAt: string | null }) | { rejected: TokenRejection }> {
  const sql = core.db.$client;
  const [row] = await sql<
    (CountColumns & {
      id: number;
      person_id: number;
      name: string;
      slack_user_id: string | null;
      display_name: string | null;
      revoked: boolean;
      expired: boolean;
      epoch: string;
      expires_at: string | null;
    })[]
  >`
    with recursive line as (
      select id, parent_id, revoked_at, expires_at from api_tokens where token_hash = ${hash}
      union all
      select t.id, t.parent_id, t.revoked_at, t.expires_at from api_tokens t join line l on t.id = l.parent_id),
    found as (
      select t.id, t.person_id, p.name, p.slack_user_id, p.display_name,
             exists (select 1 from line where revoked_at is not null) as revoked,
             exists (select 1 from line where expires_at <= coalesce(${clockAt(core)}::timestamptz, now())) as expired,
             coalesce(t.last_used_at < now() - interval '1 minute', true) as stale
      from api_tokens t join people p on p.id = t.person_id
      where t.token_hash = ${hash}),
    touched as (
      update api_tokens set last_used_at = now()
      where id = (select id from found where stale and not revoked and not expired)),
    ${countedCte(sql, sql`select id, person_id from found where not revoked and not expired`, count)}
    select found.id, found.person_id, found.name, found.slack_user_id, found.display_name, found.revoked, found.expired,
           (select epoch::text from api_token_epoch) as epoch,
           (select min(expires_at)::text from line) as expires_at,
           ${countColumns(sql, count)}
    from found`;
  if (!row) return { rejected: "unknown" };
  if (row.revoked) return { rejected: "revoked" };
  if (row.expired) return { rejected: "expired" };
  const holder = { tokenId: row.id, person: { id: row.person_id, name: row.name, slackUserId: row.slack_user_id, displayName: row.display_name } };
  return { holder, counts: countsOf(row, count), epoch: row.epoch, expiresAt: row.expires_at };
}

/** Forgets request counts of windows that ended more than an hour ago (the longest window is an hour). */
export async function pruneRequestCounts(core: Core): Promise<number> {
  const done = await core.db.$client`delete from api_request_counts where window_start < now() - interval '2 hours'`;
  return done.count;
}
