import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { inject } from "vitest";
import { connect } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { testLog, urlFor } from "./db.js";

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** A database of an earlier release, for the upgrade tests: its pool, its URL, and what closes it and removes its migrations' copy. */
export interface ReleaseDatabase {
  sql: postgres.Sql;
  url: string;
  close(): Promise<void>;
}

/** How many shipped migrations come before the one whose tag ends with `suffix` (`_event-counts`). */
export function migrationsBefore(suffix: string): number {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS, "meta", "_journal.json"), "utf8")) as { entries: { tag: string }[] };
  const index = journal.entries.findIndex((e) => e.tag.endsWith(suffix));
  if (index < 0) throw new Error(`no shipped migration's tag ends with ${suffix}`);
  return index;
}

/** A new database with the schema of the release that shipped the first `count` migrations (drizzle's migrator over a copy of the journal cut there). */
export async function databaseOfRelease(count: number, label: string): Promise<ReleaseDatabase> {
  const folder = mkdtempSync(join(tmpdir(), `vmres-${label}-`));
  cpSync(MIGRATIONS, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: unknown[] };
  journal.entries = journal.entries.slice(0, count);
  writeFileSync(journalPath, JSON.stringify(journal));

  const name = `${label.replaceAll("-", "_")}_${count}_${process.pid}_${Date.now()}`;
  const admin = postgres(inject("postgresUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const sql = connect(urlFor(name), { lockTimeoutMs: 5000, poolSize: 4, log: testLog });
  const close = async () => {
    await sql.end({ timeout: 5 });
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    await migrate(drizzle(sql, { schema }), { migrationsFolder: folder });
  } catch (err) {
    await close();
    throw err;
  }
  return { sql, url: urlFor(name), close };
}
