import { sql } from "drizzle-orm";
import type { Config } from "../config.js";
import { migrateDatabase, openDatabase, type Database } from "../db/client.js";
import type { Logger } from "../log.js";
import type { MigrationReport } from "./command.js";

/**
 * Opens the database the way the bot does (DATABASE_URL, or the shared embedded
 * server), migrates it, runs `use`, and always closes it: a CLI that had to start
 * the embedded server stops it again unless another vmres process is connected.
 */
export async function withDatabase<T>(
  config: Config,
  log: Logger,
  use: (database: Database, migrations: MigrationReport) => Promise<T>,
): Promise<T> {
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    embeddedDir: config.EMBEDDED_PG_DIR,
    embeddedPort: config.EMBEDDED_PG_PORT,
    lockTimeoutMs: config.LOCK_TIMEOUT_MS,
    // One command at a time; migrating holds one connection for its lock and uses another.
    poolSize: 3,
    log,
  });
  try {
    const before = await appliedMigrations(database);
    await migrateDatabase(database);
    const total = await appliedMigrations(database);
    return await use(database, { applied: total - before, total });
  } finally {
    await database.close();
  }
}

/** How many migrations drizzle has recorded (0 on a new database, before its bookkeeping table exists). */
async function appliedMigrations(database: Database): Promise<number> {
  // Two statements: a query naming a missing table fails at parse time, whatever a CASE around it says.
  const [table] = await database.db.execute<{ exists: boolean }>(sql`
    select to_regclass('drizzle.__drizzle_migrations') is not null as exists`);
  if (!table?.exists) return 0;
  const [row] = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
  return row?.n ?? 0;
}
