/** The vmres service as the Slack bench runs it: dist/main.js in a process of its own, HTTP mode. */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
let started = 0;

/**
 * Runs the compiled service (dist/main.js, built by `npm run bench`) with a clean
 * environment (no .env or vms.yml is read: the working folder is the temp folder)
 * and resolves its port from the "vmres is running" line of its log (service-N.log in `dir`). Several replicas
 * may share one database: each is started the same way.
 */
export function startApp(
  dir: string,
  databaseUrl: string,
  slackApiUrl: string,
  secret: string,
  more: Record<string, string> = {},
  /** Node options before the script, e.g. `--cpu-prof` (the API part profiles the service). */
  nodeArgs: string[] = [],
): { child: ChildProcess; port: Promise<number>; logFile: string } {
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dir,
    DATABASE_URL: databaseUrl,
    PORT: "0",
    LOG_LEVEL: "info",
    SLACK_API_URL: slackApiUrl,
    SLACK_SIGNING_SECRET: secret,
    SLACK_BOT_TOKEN: "xoxb-bench",
    SLACK_ADMIN_CHANNEL: "C0BENCH01",
    // No cleanups while the bench runs: nothing is checked in here.
    CLEANUP_POLL_INTERVAL_MS: "600000",
    RECONCILE_CRON: "0 0 1 1 *",
    // OUTBOX_POLL_INTERVAL_MS is left at its default (1000 ms), as deployed.
    ...more,
  };
  // The log goes to a file, as a deployed service's goes to journald or a container's log, so the
  // service's synchronous log writes never wait on this process, which is busy running the clients
  // (before, it read and parsed every line through a pipe).
  const logFile = join(dir, `service-${++started}.log`);
  const logFd = openSync(logFile, "a");
  // BENCH_SLACK_PROF=DIR: a CPU profile of each service process (node --cpu-prof), written when it stops.
  const profile = process.env.BENCH_SLACK_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_SLACK_PROF] : [];
  // BENCH_SLACK_DIST=FOLDER: run another build (e.g. a copy of the previous commit's dist), for before/after runs that alternate.
  const dist = process.env.BENCH_SLACK_DIST ?? join(ROOT, "dist");
  const child = spawn(process.execPath, [...profile, ...nodeArgs, join(dist, "main.js")], { cwd: dir, env, stdio: ["ignore", "ignore", logFd] });
  closeSync(logFd);
  const port = new Promise<number>((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    const poll = setInterval(() => {
      const running = runningPort(logFile);
      if (running !== null) finish(() => resolve(running));
      else if (Date.now() > deadline) finish(() => reject(new Error(`vmres did not start within 60 s; its log: ${logFile}`)));
    }, 50);
    const exited = (code: number | null) => finish(() => reject(new Error(`vmres exited with code ${code} before it was running: ${tail(logFile)}`)));
    const finish = (settle: () => void) => {
      clearInterval(poll);
      child.off("exit", exited);
      settle();
    };
    child.once("exit", exited);
  });
  return { child, port, logFile };
}

/** SIGTERM (a graceful stop), then SIGKILL if it is still there after 15 s. */
export async function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

/** A JSON log line as an object, or null for anything else. */
export function parseJson(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The port of the "vmres is running" line of a service's log, or null before it is there. */
function runningPort(logFile: string): number | null {
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const entry = parseJson(line);
    if (entry?.msg === "vmres is running" && typeof entry.port === "number") return entry.port;
  }
  return null;
}

/** The end of a service's log, for an error that says why it stopped. */
function tail(logFile: string): string {
  return readFileSync(logFile, "utf8").slice(-2000);
}
