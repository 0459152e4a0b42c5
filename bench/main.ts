/**
 * `npm run bench`: starts a private embedded PostgreSQL in a temp folder, runs the
 * core bench (bench/core.ts) on it, stops it and removes the folder (also on
 * error and on Ctrl-C), then runs the other parts (each brings its own server),
 * and ends with the core targets.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { createLogger } from "../src/log.js";
import { benchCleanup } from "./cleanup.js";
import { benchApi } from "./api.js";
import { benchCli } from "./cli.js";
import { benchCore, type CoreBenchResult } from "./core.js";
import { benchLeases } from "./leases.js";
import { benchReservations } from "./reservations.js";
import { benchSlack } from "./slack.js";
import { benchSync } from "./sync.js";
import { benchProvision } from "./provision.js";
import { sleep } from "./stats.js";

const log = createLogger(process.env.BENCH_LOG_LEVEL ?? "warn", "bench");
const print = (line = "") => process.stdout.write(line + "\n");

/** Parts written alongside the core bench; each starts and removes what it needs itself. */
const OTHER_PARTS: { name: string; title: string; run: () => Promise<string[]> }[] = [
  { name: "slack", title: "Slack: /vm checkout acks, and command → DM with one and two replicas", run: benchSlack },
  { name: "cleanup", title: "Cleanup: parallel cleanups over SSH", run: benchCleanup },
  { name: "cli", title: "CLI: vmres status, list, checkout, checkin and --help, start to exit", run: benchCli },
  { name: "leases", title: "Leases: the sweep with 100,000 open checkouts, and checkouts while it sweeps", run: benchLeases },
  { name: "api", title: "HTTP API: checkout + check-in cycles against the core called directly, and p99 at 32 clients", run: benchApi },
  { name: "provision", title: "Provisioned pools: checkout from a warm pool vs a create from the image (docker)", run: benchProvision },
  { name: "reservations", title: "Reservations: booking throughput, and checkout latency with 10,000 future bookings", run: benchReservations },
  { name: "sync", title: "Inventory: vmres pool sync of 100,100 VMs, into an empty database and again unchanged", run: benchSync },
];
/** BENCH_SKIP=slack,cleanup,cli,leases,api,provision,reservations,sync runs the core part only; BENCH_SKIP=core skips it (names: core, slack, cleanup, cli, leases, api, provision, reservations, sync). */
const SKIP = new Set((process.env.BENCH_SKIP ?? "").split(",").map((s) => s.trim()));

const controller = new AbortController();
let runningPart: string | null = null;

function onSignal(signal: NodeJS.Signals): void {
  if (runningPart) {
    process.stderr.write(`\n${signal}: waiting for the ${runningPart} part to finish and remove what it started…\n`);
  } else if (controller.signal.aborted) {
    process.stderr.write(`${signal}: still stopping the embedded PostgreSQL and removing its folder, please wait\n`);
  } else {
    process.stderr.write(`\n${signal}: interrupting the bench, cleaning up…\n`);
  }
  controller.abort();
}

async function main(): Promise<number> {
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const started = Date.now();

  print("=== Core: checkout + check-in ===");
  let core: CoreBenchResult | null = { report: [`skipped (BENCH_SKIP=${process.env.BENCH_SKIP})`], targets: ["SKIP  core (BENCH_SKIP=core)"], failed: false };
  if (!SKIP.has("core")) core = await runCore();
  if (!core) return controller.signal.aborted ? 130 : 1;
  print();
  for (const line of core.report) print(line);

  let failed = core.failed;
  for (const part of OTHER_PARTS) {
    if (controller.signal.aborted) return 130;
    print();
    print(`=== ${part.title} ===`);
    if (SKIP.has(part.name)) {
      print(`skipped (BENCH_SKIP=${process.env.BENCH_SKIP})`);
      continue;
    }
    runningPart = part.title;
    try {
      for (const line of await part.run()) print(line);
    } catch (err) {
      failed = true;
      print(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    } finally {
      runningPart = null;
    }
  }
  if (controller.signal.aborted) return 130;

  print();
  print(`=== Targets (core) — whole bench ${Math.round((Date.now() - started) / 1000)} s ===`);
  for (const line of core.targets) print(line);
  return failed ? 1 : 0;
}

/** The core bench on its own embedded server, always stopped and removed afterwards. */
async function runCore(): Promise<CoreBenchResult | null> {
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-"));
  let database: Database | undefined;
  try {
    print(`embedded PostgreSQL in ${dir}`);
    database = await openDatabase({ embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: 40, log });
    if (controller.signal.aborted) return null;
    await migrateDatabase(database);
    const workDir = join(dir, "work");
    mkdirSync(workDir, { mode: 0o755 });
    return await benchCore({
      database,
      workDir,
      postmasterPidFile: join(dir, "pgdata", "postmaster.pid"),
      signal: controller.signal,
      log,
      print,
    });
  } catch (err) {
    if (controller.signal.aborted) process.stderr.write("core bench interrupted\n");
    else process.stderr.write(`core bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return null;
  } finally {
    await shutdown(database, dir);
  }
}

/** Stops the embedded server (by the project's own release, else its postmaster PID) and removes the temp folder. */
async function shutdown(database: Database | undefined, dir: string): Promise<void> {
  try {
    if (database) {
      // Anything still connected that is not this pool (an interrupted pgbench) would make
      // release() leave the server running: end those sessions first. Same test as release():
      // the pool's own application_name.
      const ended = await database.sql<{ pid: number; app: string; db: string | null }[]>`
        select pid, application_name as app, datname as db, pg_terminate_backend(pid) from pg_stat_activity
        where backend_type = 'client backend' and pid <> pg_backend_pid() and application_name <> current_setting('application_name')`.catch(
        (err: unknown) => {
          log.warn({ err }, "could not end leftover sessions");
          return [];
        },
      );
      if (ended.length > 0) log.warn({ sessions: ended }, "ended sessions left on the embedded server");
      await database.close().catch((err: unknown) => log.warn({ err }, "closing the database failed"));
    }
    await stopLeftoverPostmaster(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fallback: if our server still runs (start interrupted, stop failed), ask its postmaster for a fast shutdown. */
async function stopLeftoverPostmaster(dir: string): Promise<void> {
  const pidFile = join(dir, "pgdata", "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.stderr.write(`stopping leftover embedded PostgreSQL (postmaster pid ${pid})\n`);
  process.kill(pid, "SIGINT");
  const deadline = Date.now() + 30_000;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.stderr.write(`embedded PostgreSQL (pid ${pid}) did not stop within 30 s\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

process.exitCode = await main();
