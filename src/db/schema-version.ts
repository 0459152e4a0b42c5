import { readFileSync } from "node:fs";
import type postgres from "postgres";

/**
 * Whether the database's schema is the one this installation's code expects,
 * checked in one cheap query instead of running the migrator (which takes a
 * lock shared by every process; 60 CLI calls at once queued on it and timed
 * out). Drizzle records each applied migration in drizzle.__drizzle_migrations
 * with `created_at` = the journal entry's `when`, and applies exactly the
 * journal entries newer than the newest row; so comparing that newest row with
 * the journal shipped here tells behind, current, or newer.
 */
export type SchemaVersion =
  /** No vmres tables at all: a new database. */
  | { state: "missing"; applied: 0; shipped: number }
  /** Migrations of this vmres not applied yet: `applied` of `shipped`. */
  | { state: "behind"; applied: number; shipped: number }
  | { state: "current"; applied: number; shipped: number }
  /** Migrated by a newer vmres: `unknown` migrations this installation does not ship. */
  | { state: "newer"; applied: number; shipped: number; unknown: number };

interface JournalEntry {
  tag: string;
  when: number;
}

const JOURNAL = new URL("../../drizzle/meta/_journal.json", import.meta.url);

/** The migrations this installation ships, oldest first (drizzle/meta/_journal.json). */
export function shippedMigrations(): JournalEntry[] {
  const journal = JSON.parse(readFileSync(JOURNAL, "utf8")) as { entries: JournalEntry[] };
  return [...journal.entries].sort((a, b) => a.when - b.when);
}

export async function schemaVersion(sql: postgres.Sql, shipped: JournalEntry[] = shippedMigrations()): Promise<SchemaVersion> {
  const lastShipped = shipped.at(-1)?.when ?? 0;
  let rows: { at: number }[];
  try {
    // Every applied migration's time (a few dozen rows), with no parameter: postgres.js sends a
    // statement without parameters in one round trip, and with the statements after it (the CLI
    // checks the schema on every call). bigint comes back as a string; milliseconds fit a float8 exactly.
    rows = await sql<{ at: number }[]>`select created_at::float8 as at from drizzle.__drizzle_migrations`;
  } catch (err) {
    // 42P01 undefined_table, 3F000 invalid_schema_name: drizzle has never run here.
    const code = (err as { code?: unknown }).code;
    if (code === "42P01" || code === "3F000") return { state: "missing", applied: 0, shipped: shipped.length };
    throw err;
  }
  if (rows.length === 0) return { state: "missing", applied: 0, shipped: shipped.length };
  const unknown = rows.filter((m) => m.at > lastShipped).length;
  if (unknown > 0) return { state: "newer", applied: rows.length, shipped: shipped.length, unknown };
  const newest = Math.max(...rows.map((m) => m.at));
  const applied = shipped.filter((m) => m.when <= newest).length;
  return { state: applied < shipped.length ? "behind" : "current", applied, shipped: shipped.length };
}
