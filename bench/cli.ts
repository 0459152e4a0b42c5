/**
 * CLI part of `npm run bench`: how long one `vmres status` takes, start to exit,
 * as a person or a CI job runs it (node dist/cli/main.js status, a process of
 * its own), on a private embedded PostgreSQL in a temp folder with a few VMs.
 * Measured both ways the CLI reaches a database: DATABASE_URL, and the
 * embedded server the bot would be running (EMBEDDED_PG_DIR), which the CLI
 * joins. `node -e ''` is timed in the same run, interleaved, so a loaded
 * machine shows as a high floor rather than as a slow CLI; and each process
 * reports the CPU time it used (user + system), which other processes' load
 * does not inflate the way it inflates wall time. Target: median wall time
 * under 300 ms.
 *
 * Needs dist/ built (`npm run bench` builds it first).
 */
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { addVm } from "../src/core/admin.js";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { openEmbedded, type EmbeddedServer } from "../src/db/embedded.js";
import { createLogger } from "../src/log.js";
import { percentile } from "./stats.js";

const RUNS = 15;
const WARMUP = 2;
const TARGET_MS = 300;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");

/** One way to run a command: its arguments to node and its environment. */
interface Subject {
  label: string;
  args: string[];
  env: Record<string, string>;
}

/** One run: wall time seen from here, CPU time the process reports for itself. */
interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** Preloaded into every measured process (the same for all): writes its CPU time to fd 3 at exit. */
const CPU_REPORTER = `process.on("exit", () => { const u = process.cpuUsage(); require("node:fs").writeSync(3, String((u.user + u.system) / 1000)); });`;

export async function benchCli(): Promise<string[]> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-cli-"));
  const log = createLogger("warn", "bench-cli");
  let server: EmbeddedServer | undefined;
  let database: Database | undefined;
  try {
    // The folder itself, as test/global-setup.ts does: as root the server runs as `postgres`,
    // which may pass through the folder openEmbedded prepares but not through a private one above it.
    const pgDir = dir;
    server = await openEmbedded(pgDir, { port: 0, log });
    database = await openDatabase({ databaseUrl: server.url, embeddedDir: pgDir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: 2, log });
    await migrateDatabase(database);
    const core = { db: database.db, people: new Map(), bootstrapAdmins: new Set<string>(), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: "bench", defaultQuota: 1 };
    for (let i = 1; i <= 5; i++) {
      const r = await addVm(core, { person: "operator", source: "cli" }, { name: `bench-${i}`, ip: `127.0.2.${i}`, pool: "bench", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
      if (!r.ok) throw new Error(`could not add bench-${i}: ${JSON.stringify(r.refusal)}`);
    }
    const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() };
    const subjects: Subject[] = [
      { label: "node -e ''", args: ["-e", ""], env: base },
      { label: "vmres status (DATABASE_URL)", args: [CLI, "status"], env: { ...base, DATABASE_URL: server.url } },
      { label: "vmres status (embedded, joined)", args: [CLI, "status"], env: { ...base, EMBEDDED_PG_DIR: pgDir } },
      { label: "vmres --help (no database)", args: [CLI, "--help"], env: base },
    ];
    const reporter = join(dir, "cpu-reporter.cjs");
    writeFileSync(reporter, CPU_REPORTER);
    for (const subject of subjects) subject.args.unshift("--require", reporter);
    const times = await measure(subjects, tmpdir());
    return report(subjects, times);
  } finally {
    await database?.close();
    await server?.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every subject RUNS times, interleaved round by round, after WARMUP unmeasured rounds. */
async function measure(subjects: Subject[], cwd: string): Promise<Timing[][]> {
  const times = subjects.map(() => [] as Timing[]);
  for (let round = 0; round < WARMUP + RUNS; round++) {
    for (const [i, subject] of subjects.entries()) {
      const ms = await timeRun(subject, cwd);
      if (round >= WARMUP) times[i]!.push(ms);
    }
  }
  return times;
}

function timeRun(subject: Subject, cwd: string): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, subject.args, { cwd, env: subject.env, stdio: ["ignore", "ignore", "pipe", "pipe"] });
    let stderr = "";
    let cpu = "";
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    (child.stdio[3] as NodeJS.ReadableStream).setEncoding("utf8").on("data", (s: string) => (cpu += s));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      if (code === 0) resolve({ wallMs, cpuMs: Number(cpu) });
      else reject(new Error(`${subject.label} exited ${code}: ${stderr.slice(0, 500)}`));
    });
  });
}

function report(subjects: Subject[], times: Timing[][]): string[] {
  const wall = times.map((runs) => runs.map((t) => t.wallMs));
  const cpu = times.map((runs) => runs.map((t) => t.cpuMs));
  const floor = { wall: percentile(wall[0]!, 50), cpu: percentile(cpu[0]!, 50) };
  const lines = [
    `${RUNS} runs each after ${WARMUP} warm-up rounds, interleaved; node ${process.version}, load average ${loadAverage()}`,
    `${"".padEnd(34)} ${"wall median".padStart(11)} ${"p90".padStart(7)} ${"× node".padStart(7)}   ${"CPU median".padStart(10)} ${"× node".padStart(7)}`,
  ];
  for (const [i, subject] of subjects.entries()) {
    const median = { wall: percentile(wall[i]!, 50), cpu: percentile(cpu[i]!, 50) };
    lines.push(
      `${subject.label.padEnd(34)} ${ms(median.wall).padStart(11)} ${ms(percentile(wall[i]!, 90)).padStart(7)} ${(median.wall / floor.wall).toFixed(1).padStart(6)}×` +
        `   ${ms(median.cpu).padStart(10)} ${(median.cpu / floor.cpu).toFixed(1).padStart(6)}×`,
    );
  }
  for (const i of [1, 2]) {
    const median = percentile(wall[i]!, 50);
    lines.push(`${subjects[i]!.label}: median ${median.toFixed(0)} ms ${median < TARGET_MS ? "<" : "≥"} ${TARGET_MS} ms target: ${median < TARGET_MS ? "met" : "missed"}`);
  }
  return lines;
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const loadAverage = () => loadavg().map((n) => n.toFixed(2)).join(" ");

// `tsx bench/cli.ts` runs this part alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const line of await benchCli()) process.stdout.write(line + "\n");
}
