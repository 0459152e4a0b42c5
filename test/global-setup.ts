import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { connect, migrateDatabase } from "../src/db/client.js";
import * as schema from "../src/db/schema.js";
import { openEmbedded, type EmbeddedServer } from "../src/db/embedded.js";
import { createLogger } from "../src/log.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL (database `vmres`); files create their own databases. */
    postgresUrl: string;
    /** A database of that server migrated once per run, which test files copy (`create database … template`). */
    templateDatabase: string;
  }
}

let server: EmbeddedServer | undefined;
let dir: string | undefined;

/**
 * The compiled service and CLI (dist/), which tests run as child processes, built from the sources under test; then one real
 * PostgreSQL per test run, in a throwaway folder, with a migrated template database.
 */
export async function setup(project: TestProject): Promise<void> {
  execFileSync(process.execPath, [fileURLToPath(new URL("../scripts/build.js", import.meta.url))], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "vmres-test-pg-"));
  server = await openEmbedded(dir, { port: 0, log: createLogger("warn", "test-postgres") });
  project.provide("postgresUrl", server.url);
  project.provide("templateDatabase", await migratedTemplate(server.url));
}

/**
 * Migrates a database once for the whole run. Copying it is a file copy inside PostgreSQL (about a tenth of a
 * second), where running every migration took 1 to 5 s per test file on a loaded 2-core machine. The upgrade
 * tests (test/db/) still migrate databases of their own from old releases.
 */
async function migratedTemplate(url: string): Promise<string> {
  const name = "vmres_test_template";
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const target = new URL(url);
  target.pathname = `/${name}`;
  const sql = connect(target.toString(), { lockTimeoutMs: 5000, poolSize: 2, log: createLogger("warn", "test-template") });
  try {
    await migrateDatabase({ db: drizzle(sql, { schema }), sql });
  } finally {
    // No session may stay connected to a template while it is copied.
    await sql.end({ timeout: 5 });
  }
  return name;
}

export async function teardown(): Promise<void> {
  await server?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
