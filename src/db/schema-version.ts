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
  let row: { rows: number; newest: number | null; unknown: number } | undefined;
  try {
    // bigint comes back as a string from postgres.js; milliseconds fit a float8 exactly.
    [row] = await sql<{ rows: number; newest: number | null; unknown: number }[]>`
      select count(*)::int as rows, max(created_at)::float8 as newest,
             (count(*) filter (where created_at > ${lastShipped}))::int as unknown
      from drizzle.__drizzle_migrations`;
  } catch (err) {
    // 42P01 undefined_table, 3F000 invalid_schema_name: drizzle has never run here.
    const code = (err as { code?: unknown }).code;
    if (code === "42P01" || code === "3F000") return { state: "missing", applied: 0, shipped: shipped.length };
    throw err;
  }
  if (!row || row.rows === 0 || row.newest === null) return { state: "missing", applied: 0, shipped: shipped.length };
  if (row.unknown > 0) return { state: "newer", applied: row.rows, shipped: shipped.length, unknown: row.unknown };
  const newest = row.newest;
  const applied = shipped.filter((m) => m.when <= newest).length;
  return { state: applied < shipped.length ? "behind" : "current", applied, shipped: shipped.length };
}
