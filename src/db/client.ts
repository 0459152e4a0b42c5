import { fileURLToPath } from "node:url";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { Logger } from "../log.js";
import { applicationName, openEmbedded, type EmbeddedServer } from "./embedded.js";
import * as schema from "./schema.js";

/** The drizzle handle used everywhere; functions take it (or a transaction) as their first argument. */
export type Db = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql };
/** A transaction handle, the `tx` a `db.transaction` callback receives. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Either a whole database handle or a transaction: what data functions accept. */
export type Executor = Db | Tx;

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
  const sql = connect(url, opts);
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

/** A postgres.js pool; every connection carries lock_timeout, so no transaction waits on a lock forever. */
export function connect(url: string, opts: Pick<DatabaseOptions, "lockTimeoutMs" | "poolSize" | "log">): postgres.Sql {
  return postgres(url, {
    max: opts.poolSize ?? 20,
    // A startup parameter instead of `SET LOCAL` in every transaction: same effect, one round trip less.
    connection: { application_name: applicationName(), lock_timeout: opts.lockTimeoutMs },
    onnotice: (notice) => opts.log.debug({ notice: notice.message }, "postgres notice"),
  });
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
