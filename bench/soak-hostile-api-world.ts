/**
 * The API hostile phase's world: a raw HTTP call to `/v1` that keeps what a
 * forger would look at (status, headers, body), and the people, tokens,
 * checkouts and bookings the cases aim at, made the ways vmres makes them
 * (tokens by the operator as `vmres token create` does, the victim's checkout
 * and booking over the API with the victim's own token).
 */
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import { addPerson, OPERATOR } from "../src/core/people.js";
import { createToken } from "../src/core/tokens.js";
import type { Core } from "../src/core/types.js";
import type { Database } from "../src/db/client.js";
import { addPool } from "./soak-env.js";
import { ADMIN } from "./soak-service.js";

/** What one request got back; `status` is text when the connection ended without an answer. */
export interface ApiAnswer {
  status: number | string;
  headers: Headers | null;
  text: string;
  json: unknown;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is instead of JSON of `body`; `{ stream: n }` sends n bytes chunked, with no length. */
  raw?: string | { stream: number };
  headers?: Record<string, string>;
}

/** One request to the running service, with `Authorization: Bearer <token>` unless `token` is null. */
export async function call(baseUrl: string, token: string | null, method: string, path: string, opts: CallOptions = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...opts.headers };
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal: AbortSignal.timeout(30_000) };
  if (opts.raw !== undefined || opts.body !== undefined) headers["content-type"] ??= "application/json";
  if (typeof opts.raw === "object") {
    const total = opts.raw.stream;
    const chunk = new TextEncoder().encode("a".repeat(64 * 1024));
    let sent = 0;
    init.body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    init.duplex = "half";
  } else if (opts.raw !== undefined) init.body = opts.raw;
  else if (opts.body !== undefined) init.body = JSON.stringify(opts.body);
  try {
    const response = await fetch(baseUrl + path, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: parse(text) };
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    return { status: `conn: ${String(cause?.code ?? cause?.message ?? (err as Error).message)}`, headers: null, text: "", json: null };
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A person of the soak and a token of theirs. */
export interface Holder {
  slackId: string;
  token: string;
  tokenId: number;
}

/** What the cases aim at, and what must never come back to the wrong reader. */
export interface ApiWorld {
  readonly url: string;
  database: Database;
  /** Pool of quota 1 where the victim holds a VM and has a booking. */
  victimPool: string;
  /** Pool of quota 30: there only idempotency can keep a retry from making a second checkout. */
  replayPool: string;
  victim: Holder & { name: string; displayName: string; checkoutId: number; vm: string; note: string; label: string; bookingNote: string };
  /** A quarantined VM whose last cleanup output only admins may read. */
  quarantined: { vm: string; output: string };
  /** Every token value made in the soak, and whose it is: none may show up where it should not. */
  secrets: Map<string, string>;
  /** A new person (Slack ID U0API<n>) with a token of their own, made by the operator. */
  person(label: string, expiresMs?: number, name?: { name: string; displayName: string }): Promise<Holder>;
  /** Shared between cases (the rate-limit key and when its window ends). */
  notes: Map<string, unknown>;
}

export const VICTIM_POOL = "api1";
export const REPLAY_POOL = "api2";

export async function makeWorld(database: Database, url: () => string): Promise<ApiWorld> {
  await addPool(database, VICTIM_POOL, 1, 12);
  await addPool(database, REPLAY_POOL, 30, 30);
  const core: Core = { db: database.db, people: new Map(), bootstrapAdmins: new Set([ADMIN]), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: VICTIM_POOL, defaultQuota: 1 };
  const secrets = new Map<string, string>();
  let people = 0;
  const person = async (label: string, expiresMs?: number, named?: { name: string; displayName: string }): Promise<Holder> => {
    const slackId = `U0API${String(++people).padStart(3, "0")}`;
    // Added as an admin adds people (`vmres people add`): lookups may not create anyone.
    const made = await addPerson(core, { person: OPERATOR, source: "cli" }, { name: named?.name ?? slackId, slackUserId: slackId, kind: "person", admin: false, displayName: named?.displayName });
    if (!made.ok) throw new Error(`setup: person ${slackId} refused: ${made.refusal.code}`);
    const token = await createToken(core, { person: OPERATOR, source: "cli" }, { user: slackId, label, expiresMs });
    if (!token.ok) throw new Error(`setup: token for ${slackId} refused: ${token.refusal.code}`);
    secrets.set(token.value.token, `${label}'s token (${slackId})`);
    return { slackId, token: token.value.token, tokenId: token.value.id };
  };

  // A name and a display name that no request of the attacker contains, so finding them in an answer is a leak, not an echo.
  const name = "victoria-api";
  const displayName = "Victoria Hidden-Holder";
  const v = await person("victim", undefined, { name, displayName });
  const note = "victim-note-7f3a: release candidate for ACME";
  const out = await call(url(), v.token, "POST", "/v1/checkouts", { body: { pool: VICTIM_POOL, note } });
  const checkout = out.json as { id?: number; vm?: string } | null;
  if (out.status !== 201 || typeof checkout?.id !== "number" || typeof checkout.vm !== "string") throw new Error(`setup: the victim's checkout answered ${out.status}: ${out.text.slice(0, 300)}`);
  const label = "victim-booking-9c1e";
  const bookingNote = "victim-booking-note-51d0: board demo";
  const from = new Date(Date.now() + 2 * 86_400_000);
  const booked = await call(url(), v.token, "POST", "/v1/reservations", {
    body: { pool: VICTIM_POOL, count: 2, from: from.toISOString(), to: new Date(from.getTime() + 3_600_000).toISOString(), label, note: bookingNote },
  });
  if (booked.status !== 201) throw new Error(`setup: the victim's booking answered ${booked.status}: ${booked.text.slice(0, 300)}`);

  // As the worker leaves a VM after failed cleanups: quarantined, with what the cleanup command printed.
  const quarantinedVm = `${VICTIM_POOL}-12`;
  const output = "rm: cannot remove '/tmp/build-secret-e41b/id_rsa': Operation not permitted";
  await database.sql`update vms set state = 'quarantined', state_changed_at = now(), cleanup_attempts = 3, cleanup_last_error = ${output} where name = ${quarantinedVm}`;

  return {
    get url() {
      return url();
    },
    database,
    victimPool: VICTIM_POOL,
    replayPool: REPLAY_POOL,
    victim: { ...v, name, displayName, checkoutId: checkout.id, vm: checkout.vm, note, label, bookingNote },
    quarantined: { vm: quarantinedVm, output },
    secrets,
    person,
    notes: new Map(),
  };
}
