import type { LabHost } from "../lab/lab.js";

/**
 * A pool cleanup command that records on the host when it ran: a start and an
 * end line with nanosecond times and the shell's pid, in /root (outside the
 * /tmp it would wipe). Overlapping intervals on one host mean one VM was
 * cleaned twice at once.
 */
export function loggingCommand(seconds: number): string {
  const mark = (what: string) => `echo "${what} $(date +%s%N) $$" >> /root/cleanups.log`;
  return `${mark("start")}; sleep ${seconds}; ${mark("end")}`;
}

/** One run of the logging command; `end` is null when it never logged its end. */
export interface CleanupRun {
  pid: string;
  start: bigint;
  end: bigint | null;
}

export async function cleanupRuns(host: LabHost): Promise<CleanupRun[]> {
  const result = await host.exec(["sh", "-c", "cat /root/cleanups.log 2>/dev/null || true"]);
  const runs = new Map<string, CleanupRun>();
  for (const line of result.stdout.split("\n").filter(Boolean)) {
    const [what, time, pid] = line.split(" ") as [string, string, string];
    if (what === "start") runs.set(pid, { pid, start: BigInt(time), end: null });
    else {
      const run = runs.get(pid);
      if (!run) throw new Error(`${host.name}: end without start: ${line}`);
      run.end = BigInt(time);
    }
  }
  return [...runs.values()].sort((a, b) => (a.start < b.start ? -1 : 1));
}

/** Pairs of runs on one host that overlapped in time; a run without an end overlaps everything after it. */
export function overlaps(runs: readonly CleanupRun[]): [CleanupRun, CleanupRun][] {
  const found: [CleanupRun, CleanupRun][] = [];
  runs.forEach((run, i) => {
    for (const later of runs.slice(i + 1)) {
      if (run.end === null || later.start < run.end) found.push([run, later]);
    }
  });
  return found;
}
