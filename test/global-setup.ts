import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { openEmbedded, type EmbeddedServer } from "../src/db/embedded.js";
import { createLogger } from "../src/log.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL (database `vmres`); files create their own databases. */
    postgresUrl: string;
  }
}

let server: EmbeddedServer | undefined;
let dir: string | undefined;

/** The compiled service and CLI (dist/), which tests run as child processes, built from the sources under test; then one real PostgreSQL per test run, in a throwaway folder. */
export async function setup(project: TestProject): Promise<void> {
  execFileSync(process.execPath, [fileURLToPath(new URL("../scripts/build.js", import.meta.url))], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "vmres-test-pg-"));
  server = await openEmbedded(dir, { port: 0, log: createLogger("warn", "test-postgres") });
  project.provide("postgresUrl", server.url);
}

export async function teardown(): Promise<void> {
  await server?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
