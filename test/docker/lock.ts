import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isAlive, sleep } from "./command.js";

/**
 * Runs `work` holding an exclusive lock file (created with O_EXCL, holding our
 * pid), so two test runs on one machine do not both start the test dockerd or
 * both make the base image. A lock whose holder is dead is taken over.
 */
export async function withLock<T>(file: string, what: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx", mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = readHolder(file);
      // An empty file is one being written this instant, unless it has been empty for a while.
      if (holder === undefined ? ageMs(file) > 5000 : !isAlive(holder)) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${what}: lock ${file} held by pid ${holder ?? "?"} for more than ${timeoutMs} ms`, { cause: err });
      await sleep(250);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(file, { force: true });
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0; // removed meanwhile: try again
  }
}

function readHolder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // removed meanwhile
  }
}
