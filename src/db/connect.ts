import postgres from "postgres";
import { backoffDelayMs } from "../core/backoff.js";
import { ConfigError } from "../config.js";
import type { Logger } from "../log.js";
import type { EmbeddedServer } from "./embedded.js";
import { guardedConnections, type LoginMethod, type LoginPolicy } from "./login-guard.js";

/**
 * The connection to PostgreSQL without drizzle: postgres.js's pool, on DATABASE_URL or the
 * embedded server. `src/db/client.ts` puts drizzle over it; the CLI's commands whose reads and
 * writes are all postgres.js templates use it alone, so a call does not load drizzle-orm and build
 * the schema's tables (docs/architecture.md, "The CLI's start").
 */

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  embeddedDir: string;
  embeddedPort: number;
  lockTimeoutMs: number;
  poolSize?: number;
  /**
   * Whether a new connection first reads the database's array types (postgres.js's default), so
   * array columns come back as arrays. A command whose statements return no array column may skip
   * that round trip (the CLI's `sqlOnly` commands, whose listings send arrays as JSON).
   */
  fetchTypes?: boolean;
  log: Logger;
}

/** An open pool and what it takes to close it (and to release the embedded server, when it was started for it). */
export interface SqlDatabase {
  sql: postgres.Sql;
  url: string;
  close(): Promise<void>;
}

/** Connects to DATABASE_URL, or starts/joins the embedded PostgreSQL when it is unset. */
export async function openSql(opts: DatabaseOptions): Promise<SqlDatabase> {
  let embedded: EmbeddedServer | undefined;
  let url = opts.databaseUrl;
  if (!url) {
    // Loaded only here: it spawns the server (child_process and all), which a DATABASE_URL never needs.
    const { openEmbedded } = await import("./embedded.js");
    embedded = await openEmbedded(opts.embeddedDir, { port: opts.embeddedPort, log: opts.log });
    url = embedded.url;
  }
  const sql = connect(url, opts, embedded?.login);
  return {
    sql,
    url,
    async close() {
      try {
        if (embedded) await embedded.release(sql);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}

/**
 * A postgres.js pool; every connection carries lock_timeout, so no transaction
 * waits on a lock forever, and logs in only as `login` allows (by default, as
 * DATABASE_URL's sslmode and require_auth say).
 */
export function connect(
  url: string,
  opts: Pick<DatabaseOptions, "lockTimeoutMs" | "poolSize" | "log" | "fetchTypes">,
  login?: LoginPolicy,
): postgres.Sql {
  const target = login ? { url, login } : loginFromUrl(url);
  return asDrizzleSetsIt(postgres(target.url, {
    max: opts.poolSize ?? 20,
    fetch_types: opts.fetchTypes ?? true,
    // A startup parameter instead of `SET LOCAL` in every transaction: same effect, one round trip less.
    connection: { application_name: applicationName(), lock_timeout: opts.lockTimeoutMs },
    onnotice: (notice) => opts.log.debug({ notice: notice.message }, "postgres notice"),
    backoff: reconnectDelaySeconds,
    ...guardedConnections(target.login),
  }));
}

let poolsNamed = 0;

/**
 * A new application_name for each connection pool: the pid tells processes apart,
 * the counter tells apart two pools of one process, so closing one of them does
 * not stop the embedded server under the other (src/db/embedded.ts counts the others).
 */
export function applicationName(): string {
  poolsNamed += 1;
  return `vmres:${process.pid}:${poolsNamed}`;
}

/** Date and time types (timestamptz, date, time, timestamp, timetz, interval, time[] …) as drizzle-orm's postgres-js driver lists them. */
const DATE_TIME_TYPES = ["1184", "1082", "1083", "1114", "1182", "1185", "1115", "1231"];

/**
 * The pool's types as drizzle-orm sets them on the pool it is given (drizzle-orm/postgres-js's
 * driver): dates and times come back as PostgreSQL's text, and JSON parameters (json, jsonb) go
 * out as given, not through JSON.stringify. The core's postgres.js code is written against that
 * (`new Date(row.started_at)`, a JSON text cast `::jsonb`), so a pool drizzle never saw (the CLI's
 * sqlOnly commands) must behave the same, or a notice's JSON went out as one string.
 */
function asDrizzleSetsIt(sql: postgres.Sql): postgres.Sql {
  const pass = (value: unknown) => value;
  const options = sql.options as unknown as { parsers: Record<string, unknown>; serializers: Record<string, unknown> };
  for (const type of DATE_TIME_TYPES) {
    options.parsers[type] = pass;
    options.serializers[type] = pass;
  }
  options.serializers["114"] = pass;
  options.serializers["3802"] = pass;
  return sql;
}

/**
 * How long a connection waits before its next login after `failures` failed ones in a row (the
 * count is shared by the pool and reset by a login that works). postgres.js's own backoff
 * reaches 20 s after seven failures, so a PostgreSQL back from a restart stayed unused for up to
 * 20 s, and a query made during the outage waited that long to fail. Capped at 1 s: recovery
 * within a second, and no more than about one attempt a second per connection while it is away.
 */
export function reconnectDelaySeconds(failures: number): number {
  return backoffDelayMs(failures + 1, { baseMs: 10, maxMs: 1000, jitter: "equal" }) / 1000;
}

const LOGIN_METHODS: readonly LoginMethod[] = ["scram-sha-256", "md5", "password", "none"];
const TLS_MODES: Record<string, LoginPolicy["tls"]> = {
  disable: "disable",
  false: "disable",
  allow: "prefer",
  prefer: "prefer",
  require: "require",
  // As postgres.js did: any verifying mode checks the certificate and the host name.
  "verify-ca": "verify-full",
  "verify-full": "verify-full",
  true: "verify-full",
};

/**
 * DATABASE_URL's say on logging in. `sslmode` (or `ssl`) as postgres.js reads
 * it. `require_auth`, libpq's parameter, lists what the server may ask for;
 * by default SCRAM-SHA-256 or no password at all, never the password in clear
 * or its MD5 (which anyone on the path, or posing as the server, can reuse or
 * crack). It is taken out of the URL: postgres.js would pass it to the server
 * as a setting.
 */
function loginFromUrl(url: string): { url: string; login: LoginPolicy } {
  const parsed = new URL(url);
  const tlsParam = parsed.searchParams.get("sslmode") ?? parsed.searchParams.get("ssl") ?? "disable";
  const tls = TLS_MODES[tlsParam];
  if (!tls) throw new ConfigError(`DATABASE_URL: sslmode=${tlsParam} is not one of ${Object.keys(TLS_MODES).join(", ")}`);
  const required = parsed.searchParams.get("require_auth");
  const methods = (required ?? "scram-sha-256,none").split(",").map((method) => method.trim());
  const unknown = methods.filter((method) => !(LOGIN_METHODS as readonly string[]).includes(method));
  if (unknown.length > 0) throw new ConfigError(`DATABASE_URL: require_auth=${unknown.join(",")} is not a list of ${LOGIN_METHODS.join(", ")}`);
  if (required !== null) parsed.searchParams.delete("require_auth");
  const hint =
    "If that server is trusted, allow what it asks for with require_auth in DATABASE_URL (e.g. ?require_auth=scram-sha-256,md5), " +
    "or better, store its password as SCRAM (password_encryption = scram-sha-256, then set the password again).";
  return { url: required === null ? url : parsed.toString(), login: { methods: new Set(methods as LoginMethod[]), tls, hint } };
}

