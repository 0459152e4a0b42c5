import { createHash, randomBytes } from "node:crypto";
import { clockAt } from "./clock.js";
import type { CountWindows, TokenHolder, WindowCount } from "./tokens.js";
import { CHANGES_CHANNEL, listenForWakeups, type StopListening } from "../db/notify.js";
import type { Logger } from "../log.js";
import type { Core } from "./types.js";

/**
 * Web page sessions (the table web_sessions). A session is a random secret
 * (32 bytes, base64url) carried by an HttpOnly cookie; only its SHA-256 is
 * stored. Each session has its own CSRF token, which the page sends back as a
 * header on every state-changing request. Like tokens, a session is read at
 * every request (nothing cached), so signing out ends it at once on every
 * replica.
 */

/** How a person signed in. */
export type SignInVia = "token" | "oidc";

const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const hash = (secret: string): string => createHash("sha256").update(secret).digest("hex");

/** A session just opened: the cookie's value, the CSRF token the page sends back, and its end. */
export interface NewSession {
  secret: string;
  csrfToken: string;
  expiresAt: Date;
}

/** Opens a session for a person, valid for `lifetimeMs`. */
export async function startSession(core: Core, personId: number, via: SignInVia, lifetimeMs: number): Promise<NewSession> {
  const secret = randomBytes(32).toString("base64url");
  const csrfToken = randomBytes(24).toString("base64url");
  // The raw client returns timestamptz as text (src/db/client.ts): made a Date here, as the type says.
  const [row] = await core.db.$client<{ expires_at: Date | string }[]>`
    insert into web_sessions (secret_hash, person_id, csrf_token, via, expires_at)
    values (${hash(secret)}, ${personId}, ${csrfToken}, ${via},
            coalesce(${clockAt(core)}::timestamptz, now()) + ${lifetimeMs} * interval '1 millisecond')
    returning expires_at`;
  if (!row) throw new Error("opening a web session returned no row");
  return { secret, csrfToken, expiresAt: new Date(row.expires_at) };
}

/** A session's person, as a /v1 request acts (no token: `tokenId` null). */
export interface SessionHolder extends TokenHolder {
  sessionId: number;
  csrfToken: string;
  via: SignInVia;
}

/** Why a session cookie was not accepted. */
export type SessionRejection = "malformed" | "unknown" | "ended" | "expired";

/**
 * The session a cookie names, or why not. With `count`, the request is also
 * counted against the person's rate limit (the same rows as their tokens'
 * requests), in the same statement.
 */
export async function authenticateSession(
  core: Core,
  secret: string,
  count?: Pick<CountWindows, "personMs">,
): Promise<{ holder: SessionHolder; counts: { person: WindowCount } | null } | { rejected: SessionRejection }> {
  if (!SECRET_SHAPE.test(secret)) return { rejected: "malformed" };
  const sql = core.db.$client;
  const windowStart = count
    ? sql`to_timestamp(floor(extract(epoch from now()) * 1000 / ${count.personMs}::float8) * ${count.personMs}::float8 / 1000)`
    : sql`null::timestamptz`;
  const [row] = await sql<
    {
      id: number;
      person_id: number;
      csrf_token: string;
      via: SignInVia;
      name: string;
      slack_user_id: string | null;
      display_name: string | null;
      ended: boolean;
      expired: boolean;
      person_requests: number | null;
      person_reset_ms: number | null;
    }[]
  >`
    with found as (
      select s.id, s.person_id, s.csrf_token, s.via, p.name, p.slack_user_id, p.display_name,
             s.ended_at is not null as ended,
             s.expires_at <= coalesce(${clockAt(core)}::timestamptz, now()) as expired,
             s.last_seen_at < now() - interval '1 minute' as stale
      from web_sessions s join people p on p.id = s.person_id
      where s.secret_hash = ${hash(secret)}),
    touched as (
      update web_sessions set last_seen_at = now()
      where id = (select id from found where stale and not ended and not expired)),
    counted as (
      insert into api_request_counts (scope, subject_id, window_start)
      select 'person', found.person_id, ${windowStart}
      from found
      where ${count !== undefined} and not found.ended and not found.expired
      on conflict (scope, subject_id, window_start) do update set requests = api_request_counts.requests + 1
      returning requests, window_start)
    select found.*,
           (select requests from counted) as person_requests,
           (select extract(epoch from window_start - now())::float8 * 1000 + ${count?.personMs ?? 0}::float8 from counted) as person_reset_ms
    from found`;
  if (!row) return { rejected: "unknown" };
  if (row.ended) return { rejected: "ended" };
  if (row.expired) return { rejected: "expired" };
  const holder: SessionHolder = {
    tokenId: null,
    sessionId: row.id,
    csrfToken: row.csrf_token,
    via: row.via,
    person: { id: row.person_id, name: row.name, slackUserId: row.slack_user_id, displayName: row.display_name },
  };
  const counts = count && row.person_requests !== null ? { person: { requests: row.person_requests, resetMs: Math.max(0, row.person_reset_ms ?? 0) } } : null;
  return { holder, counts };
}

/** Ends a session (sign-out): its cookie is refused from now on, on every replica. */
export async function endSession(core: Core, secret: string): Promise<boolean> {
  if (!SECRET_SHAPE.test(secret)) return false;
  const ended = await core.db.$client`update web_sessions set ended_at = now() where secret_hash = ${hash(secret)} and ended_at is null`;
  return ended.count > 0;
}

/** Forgets sessions that ended or expired over a day ago. */
export async function pruneSessions(core: Core): Promise<number> {
  const gone = await core.db.$client`delete from web_sessions where coalesce(ended_at, expires_at) < now() - interval '1 day'`;
  return gone.count;
}

/**
 * Calls `onChange` with each change a page may show (`NOTIFY vmres_changes`, migration 0021: a
 * JSON `{kind, pool}`), and with no payload when listening (re)starts, so a page fetches again
 * what it may have missed. One LISTEN per call: the web page's live feed makes one per process.
 */
export function listenForChanges(core: Core, onChange: (payload?: string) => void, log: Logger): Promise<StopListening> {
  return listenForWakeups(core.db.$client, CHANGES_CHANNEL, onChange, log);
}
