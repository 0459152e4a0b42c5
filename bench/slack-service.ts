/** The vmres service as the Slack bench runs it: dist/main.js in a process of its own, HTTP mode. */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Runs the compiled service (dist/main.js, built by `npm run bench`) with a clean
 * environment (no .env or vms.yml is read: the working folder is the temp folder)
 * and resolves its port from the "vmres is running" log line. Several replicas
 * may share one database: each is started the same way.
 */
export function startApp(dir: string, databaseUrl: string, slackApiUrl: string, secret: string, more: Record<string, string> = {}): { child: ChildProcess; port: Promise<number> } {
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
  const child = spawn(process.execPath, [join(ROOT, "dist", "main.js")], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
  const port = new Promise<number>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error("vmres did not start within 60 s")), 60_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const entry = parseJson(line);
        if (entry?.msg === "vmres is running" && typeof entry.port === "number") {
          clearTimeout(timer);
          resolve(entry.port);
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`vmres exited with code ${code} before it was running`));
    });
  });
  return { child, port };
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
