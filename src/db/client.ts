import { fileURLToPath } from "node:url";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import type postgres from "postgres";
import { openSql, type DatabaseOptions, type SqlDatabase } from "./connect.js";
import * as schema from "./schema.js";

export { connect, openSql, reconnectDelaySeconds, type DatabaseOptions, type SqlDatabase } from "./connect.js";

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
export interface Database extends SqlDatabase {
  db: Db;
}

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));
/** Any constant: serialises migrations when several processes start together. */
const MIGRATION_LOCK_KEY = 0x766d7265;

/** Connects to DATABASE_URL, or starts/joins the embedded PostgreSQL when it is unset; drizzle over the pool. */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const database = await openSql(opts);
  return { ...database, db: drizzleOver(database.sql) };
}

/** The drizzle handle over a postgres.js pool (the CLI opens its pool first, and adds drizzle only for the commands that use it). */
export function drizzleOver(sql: postgres.Sql): Db {
  return drizzle(sql, { schema });
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
