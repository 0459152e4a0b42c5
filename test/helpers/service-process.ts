import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// Generous: a first start runs initdb, which takes tens of seconds on a loaded 2-core machine.
const START_TIMEOUT_MS = 90_000;

/** `npm start` as a child process, as it runs in production. */
export interface ServiceProcess {
  pid: number;
  /** Everything it logged so far (pino JSON lines on stderr). */
  logs(): string;
  /** Resolves with how it ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts the compiled service (`dist/main.js`, as `npm start` runs it; the
 * test run's global setup builds it) with only the given settings (plus PATH
 * and HOME), and resolves once it logs that it is running.
 */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ["--enable-source-maps", "dist/main.js"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error("the service did not start");
  const service: ServiceProcess = { pid, logs: () => output, exited, kill: (signal) => child.kill(signal) };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start within ${START_TIMEOUT_MS} ms:\n${output.slice(-2000)}`)), START_TIMEOUT_MS);
    const check = () => {
      if (output.includes('"msg":"vmres is running"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr.on("data", check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the service exited at start (${code ?? signal}):\n${output.slice(-2000)}`));
    });
  });
  return service;
}

/** Stops the service if it still runs (SIGKILL) and waits for it; for test teardown. */
export async function killService(service: ServiceProcess | undefined): Promise<void> {
  if (!service) return;
  service.kill("SIGKILL");
  await service.exited;
}
