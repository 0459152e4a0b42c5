import { fileURLToPath } from "node:url";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { backoffDelayMs } from "../core/backoff.js";
import { ConfigError } from "../config.js";
import type { Logger } from "../log.js";
import { applicationName, openEmbedded, type EmbeddedServer } from "./embedded.js";
import { guardedConnections, type LoginMethod, type LoginPolicy } from "./login-guard.js";
import * as schema from "./schema.js";

/** The drizzle handle used everywhere; functions take it (or a transaction) as their first argument. */
export type Db = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql };
/** A transaction handle, the `tx` a `db.transaction` callback receives. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Either a whole database handle or a transaction: what data functions accept. */
export type Executor = Db | Tx;
/**
 * postgres.js's handle (the pool, a transaction, a reserved connection): what writers take
 * (docs/architecture.md, "One idiom for writes").
 */
export type PgSql = postgres.Sql | postgres.TransactionSql | postgres.ReservedSql;

/** An open database: drizzle over a postgres.js pool, and what it takes to close it. */
export interface Database {
  db: Db;
  sql: postgres.Sql;
  url: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  embeddedDir: string;
  embeddedPort: number;
  lockTimeoutMs: number;
  poolSize?: number;
  log: Logger;
}

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));
/** Any constant: serialises migrations when several processes start together. */
const MIGRATION_LOCK_KEY = 0x766d7265;

/** Connects to DATABASE_URL, or starts/joins the embedded PostgreSQL when it is unset. */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  let embedded: EmbeddedServer | undefined;
  let url = opts.databaseUrl;
  if (!url) {
    embedded = await openEmbedded(opts.embeddedDir, { port: opts.embeddedPort, log: opts.log });
    url = embedded.url;
  }
  const sql = connect(url, opts, embedded?.login);
  const db = drizzle(sql, { schema });
  return {
    db,
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
  opts: Pick<DatabaseOptions, "lockTimeoutMs" | "poolSize" | "log">,
  login?: LoginPolicy,
): postgres.Sql {
  const target = login ? { url, login } : loginFromUrl(url);
  return postgres(target.url, {
    max: opts.poolSize ?? 20,
    // A startup parameter instead of `SET LOCAL` in every transaction: same effect, one round trip less.
    connection: { application_name: applicationName(), lock_timeout: opts.lockTimeoutMs },
    onnotice: (notice) => opts.log.debug({ notice: notice.message }, "postgres notice"),
    backoff: reconnectDelaySeconds,
    ...guardedConnections(target.login),
  });
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

/** One round trip that succeeds only while the database answers (the health check's). */
export async function pingDatabase(database: Pick<Database, "sql">): Promise<void> {
  await database.sql`select 1`;
}

/** Applies the migrations in drizzle/, one process at a time. */
export async function migrateDatabase(database: Pick<Database, "db" | "sql">): Promise<void> {
  const lock = await database.sql.reserve();
  try {
    await lock`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migrate(database.db, { migrationsFolder: MIGRATIONS });
  } finally {
    await lock`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => undefined);
    lock.release();
  }
}
