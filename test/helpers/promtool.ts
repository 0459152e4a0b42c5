import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Where promtool is, or null: Debian's `prometheus` package provides /usr/bin/promtool. */
function promtoolPath(): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, "promtool"), constants.X_OK);
      return join(dir, "promtool");
    } catch {
      // not in this folder
    }
  }
  return null;
}

/**
 * For test files: the reason to skip the promtool checks, or null to run them. On CI
 * (`CI=true`) a missing promtool is a failure, not a skip, so a broken runner cannot pass by
 * checking nothing (.ci/run installs it).
 */
export function promtoolSkipReason(): string | null {
  if (promtoolPath()) return null;
  const reason = "promtool is not on PATH (apt-get install --no-install-recommends prometheus)";
  if (process.env.CI === "true") throw new Error(`CI=true but ${reason}`);
  console.warn(`skipping promtool checks: ${reason}`);
  return reason;
}

/** What one promtool run said. */
export interface PromtoolRun {
  code: number | null;
  output: string;
}

/** Runs promtool with `args`, `stdin` fed to it; stdout and stderr together, as a person would read them. */
export function promtool(args: string[], stdin = ""): Promise<PromtoolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtoolPath() ?? "promtool", args, { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end(stdin);
  });
}
