import { createHash, randomBytes } from "node:crypto";
import { clockAt } from "./clock.js";
import { asAdmin, isBootstrapAdmin, OPERATOR, resolvePerson, SYSTEM } from "./people.js";
import { ok, refuse, type Actor, type Core, type PersonTag, type Result } from "./types.js";
import { checkNote, firstRefusal } from "./validate.js";

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
}

/** A token just made: its value, shown once. */
export interface NewToken extends TokenInfo {
  token: string;
}

/** Who a token acts as, once checked. */
export interface TokenHolder {
  tokenId: number;
  person: PersonTag;
}

/** Why a token was not accepted; said to the caller as is (a 401). */
export type TokenRejection = "malformed" | "unknown" | "revoked" | "expired";

export const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");

export interface TokenRequest {
  /** For whom; unset: the actor themselves. Someone else needs an admin. */
  user?: string | undefined;
  label?: string | undefined;
  /** Lifetime in ms; unset: never expires. */
  expiresMs?: number | undefined;
}

const MIN_LIFETIME_MS = 60_000;
const MAX_LIFETIME_MS = 3650 * 86_400_000;

/**
 * Makes a token for a person: anyone for themselves (Slack's `/vm token`),
 * admins for anyone (`vmres token create --user`, services for CI). The
 * built-in `system` never gets one: it is vmres itself.
 */
export async function createToken(core: Core, actor: Actor, request: TokenRequest = {}): Promise<Result<NewToken>> {
  const bad = firstRefusal(
    request.label === undefined ? null : checkNote(request.label, "label"),
    request.label !== undefined && request.label.length > 100 ? { code: "invalid_input", field: "label", message: "keep a label to 100 characters" } : null,
    request.expiresMs === undefined || (Number.isSafeInteger(request.expiresMs) && request.expiresMs >= MIN_LIFETIME_MS && request.expiresMs <= MAX_LIFETIME_MS)
      ? null
      : { code: "invalid_input", field: "expires", message: "a token lives at least 1m and at most 3650d (written like 90d, 12h or 30m)" },
  );
  if (bad) return refuse(bad);
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  let person = me.value;
  if (request.user !== undefined) {
    const named = await resolvePerson(core, { lookup: request.user });
    if (!named.ok) return named;
    person = named.value;
  }
  if (person.id !== me.value.id) {
    const admin = await asAdmin(core, actor, "make a token for someone else");
    if (!admin.ok) return admin;
  }
  if (person.name === SYSTEM) return refuse({ code: "invalid_input", field: "user", message: "system is vmres itself and gets no token: make one for a person or a service (vmres people add NAME --service)" });
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const [row] = await core.db.$client<TokenRow[]>`
    insert into api_tokens (person_id, token_hash, prefix, label, created_by, created_at, expires_at)
    values (${person.id}, ${hashToken(token)}, ${token.slice(0, SHOWN)}, ${request.label ?? null}, ${me.value.id},
            coalesce(${clockAt(core)}::timestamptz, now()),
            coalesce(${clockAt(core)}::timestamptz, now()) + make_interval(secs => ${request.expiresMs === undefined ? null : Math.ceil(request.expiresMs / 1000)}::int))
    returning id, prefix, label, created_at, expires_at, revoked_at, last_used_at`;
  if (!row) throw new Error(`token for ${person.name} not stored`);
  return ok({ ...infoOf(row, person, me.value.name), token });
}

type TokenRow = {
  id: number;
  prefix: string;
  label: string | null;
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  last_used_at: Date | string | null;
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
  };
}

/** Tokens, newest first: every token for an admin, one's own for anyone else; `user` narrows to one person's. */
export async function listTokens(core: Core, actor: Actor, filter: { user?: string | undefined } = {}): Promise<Result<TokenInfo[]>> {
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const admin = await asAdmin(core, actor, "list other people's tokens");
  let personId: number | null = admin.ok ? null : me.value.id;
  if (filter.user !== undefined) {
    const named = await resolvePerson(core, { lookup: filter.user });
    if (!named.ok) return named;
    if (!admin.ok && named.value.id !== me.value.id) return admin;
    personId = named.value.id;
  }
  const rows = await core.db.$client<ListedRow[]>`
    select t.id, t.prefix, t.label, t.created_at, t.expires_at, t.revoked_at, t.last_used_at,
           p.id as person_id, p.name, p.slack_user_id, p.display_name, c.name as created_by
    from api_tokens t join people p on p.id = t.person_id join people c on c.id = t.created_by
    where ${personId === null ? core.db.$client`true` : core.db.$client`t.person_id = ${personId}`}
    order by t.id desc`;
  return ok(rows.map((r) => infoOf(r, { id: r.person_id, name: r.name, slackUserId: r.slack_user_id, displayName: r.display_name }, r.created_by)));
}

/**
 * Revokes a token at once (every replica reads the row at each request): its
 * holder, or an admin. Revoking a revoked token says so and changes nothing.
 */
export async function revokeToken(core: Core, actor: Actor, id: number): Promise<Result<{ id: number; person: string; alreadyRevoked: boolean }>> {
  if (!Number.isSafeInteger(id) || id < 1 || id > 2_147_483_647) return refuse({ code: "invalid_input", field: "id", message: "a token id is a whole number, as vmres token list shows" });
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const [row] = await core.db.$client<{ person_id: number; name: string; revoked_at: Date | null }[]>`
    select t.person_id, p.name, t.revoked_at from api_tokens t join people p on p.id = t.person_id where t.id = ${id}`;
  const admin = actor.person === OPERATOR || isBootstrapAdmin(core, me.value) || (await asAdmin(core, actor, "revoke a token")).ok;
  // Someone else's token is, to a non-admin, no token at all: they learn nothing of its existence.
  if (!row || (row.person_id !== me.value.id && !admin)) return refuse({ code: "unknown_token", id });
  const changed = await core.db.$client`update api_tokens set revoked_at = coalesce(${clockAt(core)}::timestamptz, now()) where id = ${id} and revoked_at is null`;
  return ok({ id, person: row.name, alreadyRevoked: changed.count === 0 });
}

/**
 * The person a token acts as, or why it is refused. Read at every request
 * (nothing cached), so a revocation applies at once on every replica.
 * `last_used_at` is written at most once a minute per token, to keep
 * requests from all writing the same row.
 */
export async function authenticateToken(core: Core, token: string): Promise<{ holder: TokenHolder } | { rejected: TokenRejection }> {
  if (!TOKEN_SHAPE.test(token)) return { rejected: "malformed" };
  const [row] = await core.db.$client<
    { id: number; person_id: number; name: string; slack_user_id: string | null; display_name: string | null; revoked: boolean; expired: boolean; stale: boolean }[]
  >`
    select t.id, t.person_id, p.name, p.slack_user_id, p.display_name, t.revoked_at is not null as revoked,
           coalesce(t.expires_at <= coalesce(${clockAt(core)}::timestamptz, now()), false) as expired,
           coalesce(t.last_used_at < now() - interval '1 minute', true) as stale
    from api_tokens t join people p on p.id = t.person_id
    where t.token_hash = ${hashToken(token)}`;
  if (!row) return { rejected: "unknown" };
  if (row.revoked) return { rejected: "revoked" };
  if (row.expired) return { rejected: "expired" };
  if (row.stale) await core.db.$client`update api_tokens set last_used_at = now() where id = ${row.id}`;
  return { holder: { tokenId: row.id, person: { id: row.person_id, name: row.name, slackUserId: row.slack_user_id, displayName: row.display_name } } };
}
