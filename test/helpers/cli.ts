import { spawn } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type postgres from "postgres";
import { afterAll } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A vmres installation of its own: the compiled CLI as users run it (the test
 * run's global setup builds dist/), with bin/, drizzle/ and package.json, and
 * this checkout's node_modules linked in. The CLI reads `.env` and finds its
 * data in its installation folder, so tests run a copy: a developer's own
 * .env or .data/ in the checkout cannot leak in, and a test can give the copy
 * a .env of its own. Readable by every OS user, like an installation in /srv.
 * Removed after the test file, with the working folders made below.
 */
export function copyInstallation(): string {
  const dir = temporaryFolder("vmres-install-");
  chmodSync(dir, 0o755);
  for (const part of ["dist", "bin", "drizzle", "package.json"]) cpSync(join(ROOT, part), join(dir, part), { recursive: true, dereference: true }); // dist is a link to the current build
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

const made: string[] = [];
function temporaryFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
// Registered when a test file imports this helper, so it runs after that file's tests.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  clean = undefined;
});

let clean: string | undefined;
/** One shared installation without .env, for tests that bring their database in DATABASE_URL. */
const cleanInstallation = () => (clean ??= copyInstallation());

/** What one `vmres` run did, as a user at a terminal would see it. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** DATABASE_URL of the runs; without it, the installation's embedded database. */
  databaseUrl?: string;
  /** The vmres folder whose CLI runs (default: a shared copy of this checkout with no .env). */
  installation?: string;
  /** SLACK_ADMINS of the run (default: UADMIN01). */
  admins?: string;
  /** Working directory, which `--file` paths are relative to (default: a new empty folder). */
  cwd?: string;
  /** More environment variables (DEFAULT_POOL_QUOTA=…, VMS_FILE=…). */
  env?: Record<string, string>;
  /** A run taking longer is killed, so a hung CLI fails its test (default 45 s). */
  timeoutMs?: number;
}

/** Per run: more environment, bin/vmres.js instead of dist/cli/main.js, another OS user (uid/gid; supplementary groups are dropped). */
export interface RunOptions {
  env?: Record<string, string>;
  viaLauncher?: boolean;
  as?: { uid: number; gid: number };
}

/**
 * Returns a `vmres` that runs the real CLI as a child process against the given
 * database, with stdin closed and only the environment given here (none of the
 * developer's own DATABASE_URL or .env leaks in). `viaLauncher` runs bin/vmres.js.
 */
export function cliFor(opts: CliOptions) {
  const installation = opts.installation ?? cleanInstallation();
  const cwd = opts.cwd ?? temporaryFolder("vmres-cli-");
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: process.env["HOME"] ?? cwd,
    SLACK_ADMINS: opts.admins ?? "UADMIN01",
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...opts.env,
  };
  const vmres = (args: string[], more: RunOptions = {}) =>
    run(
      more.viaLauncher ? [join(installation, "bin/vmres.js"), ...args] : ["--enable-source-maps", join(installation, "dist/cli/main.js"), ...args],
      { cwd, env: { ...env, ...more.env }, ...more.as },
      opts.timeoutMs ?? 45_000,
    );
  return Object.assign(vmres, { cwd, installation });
}

function run(nodeArgs: string[], options: { cwd: string; env: Record<string, string>; uid?: number; gid?: number }, timeoutMs: number): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { ...options, stdio: ["ignore", "pipe", "pipe"] });
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
