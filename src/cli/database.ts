import { accessSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.js";
import type { Database, Db } from "../db/client.js";
import { openSql } from "../db/connect.js";
import type { EmbeddedLocation } from "../db/embedded.js";
import { schemaVersion, type SchemaVersion } from "../db/schema-version.js";
import type { Context } from "./command.js";
import { EXIT, failure, type Failure } from "./failures.js";
import { lazyLogger } from "./log.js";
import { notAllowed, permissionFailure } from "./permissions.js";
import { INSTALL_ROOT } from "./install-root.js";
import { vmresCommand } from "./invocation.js";

/**
 * Opens the database the way the bot does (DATABASE_URL, or the shared embedded
 * server), runs `use`, and always closes it: a CLI that had to start the
 * embedded server stops it again unless another vmres process is connected.
 *
 * Unless `migrates` (only `db migrate`), the CLI never changes the schema: it
 * checks in one query that the schema is the one this vmres ships and refuses
 * otherwise, and it never creates an embedded database. Migrating on every
 * call made concurrent calls queue on the migration lock and time out; and
 * creating a database where none was found hid a wrong folder behind an empty pool.
 */
export async function withDatabase<T>(
  config: Config,
  opts: { migrates: boolean; sqlOnly: boolean; readOnly?: boolean; readsArrays?: boolean },
  use: (database: Database) => Promise<T>,
): Promise<T | Failure> {
  if (!config.DATABASE_URL) {
    // As root the data may be in the system location instead (see embeddedLocation): look where the bot looks.
    // Loaded only here (it holds the embedded server's spawning): a DATABASE_URL call never loads it.
    const { embeddedLocation } = await import("../db/embedded.js");
    const problem = embeddedProblem(embeddedLocation(config.EMBEDDED_PG_DIR), opts.migrates);
    if (problem) return problem;
  }
  const pool = await openSql({
    databaseUrl: config.DATABASE_URL,
    embeddedDir: config.EMBEDDED_PG_DIR,
    embeddedPort: config.EMBEDDED_PG_PORT,
    lockTimeoutMs: config.LOCK_TIMEOUT_MS,
    // One command at a time; migrating holds one connection for its lock and uses another.
    // postgres.js opens the second only when it is needed. A postgres.js-only command keeps to one,
    // on which statements sent together go out together (a second connection costs a login).
    poolSize: opts.sqlOnly ? 1 : 2,
    // Its listings send arrays as JSON: no round trip to read the array types first (unless it reads arrays).
    fetchTypes: !opts.sqlOnly || opts.readsArrays === true,
    log: lazyLogger(cliLogLevel(config.LOG_LEVEL), "vmres-cli", config.LOG_FORMAT),
  });
  try {
    // drizzle (and the schema's tables it is built over) only for the commands that use it.
    const db = opts.sqlOnly ? poolOnly(pool.sql) : (await import("../db/client.js")).drizzleOver(pool.sql);
    const database: Database = { ...pool, db };
    if (opts.migrates) return await use(database);
    if (opts.readOnly && opts.sqlOnly) {
      // Sent together on the one connection: the reads wait for no answer to the check. A read
      // that fails on a schema not this vmres's own is the check's failure, not its own.
      const [version, outcome] = await Promise.all([schemaVersion(database.sql), use(database).then((value) => ({ value }), (error: unknown) => ({ error }))]);
      if (version.state !== "current") return schemaFailure(version);
      if ("error" in outcome) throw outcome.error;
      return outcome.value;
    }
    const version = await schemaVersion(database.sql);
    if (version.state !== "current") return schemaFailure(version);
    return await use(database);
  } finally {
    await pool.close();
  }
}

/**
 * `core.db` for a postgres.js-only command (`sqlOnly` in src/cli/command.ts): the pool as
 * `$client`, which is all the core's postgres.js code reads of it. Anything else (a drizzle query)
 * throws at once, naming the mistake, instead of loading drizzle behind the command's back.
 */
function poolOnly(sql: Database["sql"]): Db {
  return new Proxy({} as Db, {
    get(_target, property) {
      if (property === "$client") return sql;
      // Not a promise (await and Promise.resolve look for `then`).
      if (property === "then") return undefined;
      throw new Error(`core.db.${String(property)}: this command is marked sqlOnly (src/cli/commands/index.ts), so drizzle is not loaded; use core.db.$client or drop sqlOnly`);
    },
  });
}

/**
 * The context of a postgres.js-only command whose run turned out to need drizzle: a checkout
 * that creates an instance in a provisioned pool (it then runs the provider jobs, which use
 * drizzle), or one that waits in the queue. drizzle is put over the same pool, so nothing is
 * opened again; only these rarer paths pay for loading it.
 */
export async function withDrizzle(ctx: Context): Promise<Context> {
  const { drizzleOver } = await import("../db/client.js");
  const db = drizzleOver(ctx.database.sql);
  return { ...ctx, database: { ...ctx.database, db }, core: { ...ctx.core, db } };
}

/**
 * The service logs at info by default, which for a command line would mix
 * start-up chatter into the output: the CLI shows warnings and worse unless
 * LOG_LEVEL asks for more detail (debug, trace) or less (error, fatal, silent).
 */
export function cliLogLevel(level: Config["LOG_LEVEL"]): Config["LOG_LEVEL"] {
  return level === "info" ? "warn" : level;
}

const MIGRATE_HINT = `Run \`${vmresCommand()} db migrate\` in the vmres folder (${INSTALL_ROOT})`;

/** Why the schema is not the one this vmres ships, and what to do about it (exit 5). */
export function schemaFailure(version: Exclude<SchemaVersion, { state: "current" }>): Failure {
  const { applied, shipped } = version;
  switch (version.state) {
    case "missing":
      return failure(
        EXIT.notReady,
        "schema_missing",
        `the database has no vmres tables yet. ${MIGRATE_HINT} to create them, or start the bot, which does it at start. Nothing was changed.`,
        { applied, shipped },
      );
    case "behind":
      return failure(
        EXIT.notReady,
        "schema_behind",
        `the database is behind this vmres: ${applied} of its ${shipped} migrations are applied. ` +
          `${MIGRATE_HINT}, or start the bot, which migrates at start; then try again. Nothing was changed.`,
        { applied, shipped },
      );
    case "newer":
      return failure(
        EXIT.notReady,
        "schema_newer",
        `the database was migrated by a newer vmres (${version.unknown} migration${version.unknown === 1 ? "" : "s"} this one does not know). ` +
          `Update this vmres installation (${INSTALL_ROOT}) to the version the bot runs. Nothing was changed.`,
        { applied, shipped, unknown: version.unknown },
      );
  }
}

/**
 * Before touching the embedded database's folder: is there a database, and may
 * this user use it? Only its owner (or root) can: the folder is 0700 and holds
 * the superuser password. Without a database, only `db migrate` creates one.
 */
function embeddedProblem(location: EmbeddedLocation, creating: boolean): Failure | null {
  const { dir } = location;
  let owner: number;
  try {
    owner = statSync(dir).uid;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return creating ? null : missingDatabase(location);
    return permissionFailure(err);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0 && owner !== uid) return notAllowed(dir);
  try {
    accessSync(join(dir, "pgdata", "PG_VERSION"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return creating ? null : missingDatabase(location);
    return permissionFailure(err);
  }
  return null;
}

function missingDatabase({ dir, kind, because }: EmbeddedLocation): Failure {
  const where = kind === "system" ? `the system location the bot uses as root, as ${because}` : "EMBEDDED_PG_DIR";
  return failure(
    EXIT.notReady,
    "database_missing",
    `there is no vmres database in ${dir} (${where}). ${MIGRATE_HINT} to create it, or start the bot there; ` +
      "if the bot keeps its data elsewhere, set EMBEDDED_PG_DIR (or DATABASE_URL) as the bot has it. Nothing was created.",
    { path: dir },
  );
}
