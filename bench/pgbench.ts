/** Finding and running pgbench against the bench's own embedded server. */
import { spawn } from "node:child_process";
import { accessSync, constants, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { percentile } from "./stats.js";

/** pgbench from $PGBENCH (only there, if set), else /usr/lib/postgresql/15/bin, PATH, any /usr/lib/postgresql/<v>/bin; null when absent. */
export function findPgbench(): string | null {
  const candidates = process.env.PGBENCH
    ? [process.env.PGBENCH]
    : [
        "/usr/lib/postgresql/15/bin/pgbench",
        ...(process.env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "pgbench")),
        ...installedVersions().map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`),
      ];
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // next candidate
    }
  }
  return null;
}

function installedVersions(): string[] {
  try {
    return readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}

/** What to print when pgbench is missing. */
export function pgbenchMissingHelp(): string[] {
  return [
    process.env.PGBENCH
      ? `pgbench not found: PGBENCH=${process.env.PGBENCH} is not an executable.`
      : "pgbench not found (looked at /usr/lib/postgresql/15/bin/pgbench, PATH, /usr/lib/postgresql/*/bin).",
    "  The pgbench comparisons are SKIPPED. To enable them, install pgbench, e.g. on Debian 12:",
    "    apt-get install postgresql-15          # Debian 12 ships /usr/lib/postgresql/15/bin/pgbench in the server package",
    "    apt-get install postgresql-contrib     # alternative: depends on the server package of the default version",
    "  (other layouts may ship it in postgresql-client-NN; `dpkg -S pgbench` shows which package owns it)",
    "  or point PGBENCH=/path/to/pgbench at one (any version >= 14: the script uses \\startpipeline).",
  ];
}

export interface PgbenchTarget {
  /** Superuser URL of the server; the database part is replaced per run. */
  url: string;
  bin: string;
  /** Folder for scripts and per-transaction logs. */
  workDir: string;
  signal: AbortSignal;
}

export interface PgbenchRun {
  tps: number;
  transactions: number;
  failed: number;
  /** Per-transaction latency percentiles (ms) from pgbench's -l log; NaN without log. */
  p50: number;
  p99: number;
  command: string;
}

let runNo = 0;

/**
 * One timed pgbench run: `-c C -j min(C,2) -M prepared -T seconds` plus `extra`,
 * logging each transaction (-l) so p50/p99 can be compared with the core's.
 */
export async function pgbenchRun(
  target: PgbenchTarget,
  database: string,
  opts: { clients: number; seconds: number; extra: string[] },
): Promise<PgbenchRun> {
  const logDir = join(target.workDir, `log-${++runNo}`);
  mkdirSync(logDir, { recursive: true });
  const args = [
    "-c", String(opts.clients),
    "-j", String(Math.min(opts.clients, 2)),
    "-M", "prepared",
    "-T", String(opts.seconds),
    "-l", `--log-prefix=${join(logDir, "tx")}`,
    ...opts.extra,
  ];
  const { stdout, stderr, code } = await runPgbench(target, database, args);
  const command = `pgbench ${args.filter((a) => !a.startsWith("--log-prefix")).join(" ")} ${database}`;
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  if (code !== 0 || tps === undefined) {
    throw new Error(`${command} failed (exit ${code}):\n${tail(stdout)}\n${tail(stderr)}`);
  }
  const latencies: number[] = [];
  for (const file of readdirSync(logDir)) {
    for (const line of readFileSync(join(logDir, file), "utf8").split("\n")) {
      // client_id transaction_no time_us script_no time_epoch time_us_part
      const us = Number(line.split(" ")[2]);
      if (line && Number.isFinite(us)) latencies.push(us / 1000);
    }
  }
  return {
    tps: Number(tps),
    transactions: Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? NaN),
    failed: Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    command,
  };
}

/** `pgbench -i -s scale` into an existing database. */
export async function pgbenchInit(target: PgbenchTarget, database: string, scale: number): Promise<void> {
  const { stdout, stderr, code } = await runPgbench(target, database, ["-i", "-s", String(scale), "-q"]);
  if (code !== 0) throw new Error(`pgbench -i failed (exit ${code}):\n${tail(stdout)}\n${tail(stderr)}`);
}

/** Runs pgbench as a child (killed by PID when the bench is interrupted); password via PGPASSWORD. */
function runPgbench(target: PgbenchTarget, database: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const url = new URL(target.url);
  const env = {
    ...process.env,
    PGPASSWORD: decodeURIComponent(url.password),
    PGAPPNAME: "vmres-bench-pgbench",
  };
  const full = ["-h", "127.0.0.1", "-p", url.port, "-U", decodeURIComponent(url.username), ...args, database];
  return new Promise((resolve, reject) => {
    if (target.signal.aborted) return reject(new Error("interrupted"));
    const child = spawn(target.bin, full, { env, cwd: target.workDir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const abort = () => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGINT");
    };
    target.signal.addEventListener("abort", abort, { once: true });
    child.on("error", (err) => {
      target.signal.removeEventListener("abort", abort);
      reject(err);
    });
    child.on("close", (code) => {
      target.signal.removeEventListener("abort", abort);
      if (target.signal.aborted) reject(new Error("interrupted"));
      // pgbench prints its report on stdout (>= 15) and progress/errors on stderr.
      else resolve({ stdout: stdout + "\n" + stderr, stderr, code });
    });
  });
}

function tail(text: string, lines = 15): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}
