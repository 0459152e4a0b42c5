import { spawn } from "node:child_process";

/** What a finished command printed and how it ended. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
  /** Exit status; null when a signal ended it (also when it ran past its time and was killed). */
  code: number | null;
}

export interface RunOptions {
  /** Killed (SIGKILL) after this long; every command here is bounded. */
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
}

/** Runs a command to completion; throws only when it cannot start or runs past its time. */
export function run(file: string, args: readonly string[], opts: RunOptions): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env, cwd: opts.cwd });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const output = { stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString(), code };
      if (timedOut) reject(new Error(`\`${describe(file, args)}\` ran longer than ${opts.timeoutMs} ms:\n${tail(output)}`));
      else resolve(output);
    });
    // A command that exits without reading its input shows that in its exit status, not here.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs a command that must succeed and returns its stdout; the error names the command and carries what it printed. */
export async function runOrThrow(file: string, args: readonly string[], opts: RunOptions): Promise<string> {
  const output = await run(file, args, opts);
  if (output.code !== 0) throw new Error(`\`${describe(file, args)}\` exited with ${output.code}:\n${tail(output)}`);
  return output.stdout;
}

/** The end of what a command printed, enough to see why it failed without flooding the report. */
export function tail(output: Pick<CommandOutput, "stdout" | "stderr">, chars = 4000): string {
  const text = [output.stdout.trim(), output.stderr.trim()].filter(Boolean).join("\n");
  return text.length > chars ? "…" + text.slice(-chars) : text;
}

function describe(file: string, args: readonly string[]): string {
  return [file, ...args].join(" ");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** True while a process with this id exists (a zombie counts until reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
