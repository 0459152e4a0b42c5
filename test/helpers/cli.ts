import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type postgres from "postgres";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// The compiled CLI, as users run it; the test run's global setup builds dist/.
const ENTRY = join(ROOT, "dist/cli/main.js");
const LAUNCHER = join(ROOT, "bin/vmres.js");

/** What one `vmres` run did, as a user at a terminal would see it. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  databaseUrl: string;
  /** SLACK_ADMINS of the run (default: UADMIN01). */
  admins?: string;
  /** Working directory: where .env and the default vms.yml are looked for (default: a new empty folder). */
  cwd?: string;
  /** More environment variables (DEFAULT_POOL_QUOTA=…, VMS_FILE=…). */
  env?: Record<string, string>;
  /** A run taking longer is killed, so a hung CLI fails its test (default 45 s). */
  timeoutMs?: number;
}

/**
 * Returns a `vmres` that runs the real CLI as a child process against the given
 * database, with stdin closed and only the environment given here (none of the
 * developer's own DATABASE_URL or .env leaks in). `viaLauncher` runs bin/vmres.js.
 */
export function cliFor(opts: CliOptions) {
  const cwd = opts.cwd ?? mkdtempSync(join(tmpdir(), "vmres-cli-"));
  const env = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: process.env["HOME"] ?? cwd,
    DATABASE_URL: opts.databaseUrl,
    SLACK_ADMINS: opts.admins ?? "UADMIN01",
    ...opts.env,
  };
  const vmres = (args: string[], more: { env?: Record<string, string>; viaLauncher?: boolean } = {}) =>
    run(more.viaLauncher ? [LAUNCHER, ...args] : ["--enable-source-maps", ENTRY, ...args], cwd, { ...env, ...more.env }, opts.timeoutMs ?? 45_000);
  return Object.assign(vmres, { cwd });
}

function run(nodeArgs: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    // A hung CLI must fail its test, not the whole run at the hook timeout.
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every row of `vms` and `events`, to show that a refused or mistaken command changed nothing. */
export async function databaseSnapshot(sql: postgres.Sql): Promise<string> {
  const vms = await sql`select * from vms order by id`;
  const events = await sql`select * from events order by id`;
  return JSON.stringify({ vms, events });
}
