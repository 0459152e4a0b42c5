/**
 * CPU accounting for a measured run (Linux /proc), to tell client-side cost from
 * server-side cost:
 *   client  this Node process (all its threads)
 *   tools   children this process has reaped (pgbench runs)
 *   server  the postmaster and all its children, live or already exited
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** USER_HZ: the unit of /proc/<pid>/stat times; 100 on every mainstream Linux ABI. */
const TICK_MS = 10;

export interface CpuSnapshot {
  clientMs: number;
  toolsMs: number;
  /** NaN when /proc or the postmaster is not readable. */
  serverMs: number;
}

export interface CpuUsed {
  clientMs: number;
  toolsMs: number;
  serverMs: number;
}

export function cpuSnapshot(postmasterPidFile: string): CpuSnapshot {
  const self = process.cpuUsage();
  const clientMs = (self.user + self.system) / 1000;
  const own = procTimes("self");
  const toolsMs = own ? own.childrenMs : Number.NaN;
  return { clientMs, toolsMs, serverMs: serverCpuMs(postmasterPidFile) };
}

export function cpuSince(before: CpuSnapshot, postmasterPidFile: string): CpuUsed {
  const now = cpuSnapshot(postmasterPidFile);
  return {
    clientMs: now.clientMs - before.clientMs,
    toolsMs: now.toolsMs - before.toolsMs,
    serverMs: now.serverMs - before.serverMs,
  };
}

function serverCpuMs(pidFile: string): number {
  try {
    if (!existsSync(pidFile)) return Number.NaN;
    const postmaster = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    const main = procTimes(String(postmaster));
    if (!main) return Number.NaN;
    // Exited backends were reaped by the postmaster: they are in its children times.
    let total = main.ownMs + main.childrenMs;
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const p = procTimes(entry);
      if (p && p.ppid === postmaster) total += p.ownMs;
    }
    return total;
  } catch {
    return Number.NaN;
  }
}

function procTimes(pid: string): { ppid: number; ownMs: number; childrenMs: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based overall.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const field = (n: number) => Number(rest[n - 3]);
    return {
      ppid: field(4),
      ownMs: (field(14) + field(15)) * TICK_MS,
      childrenMs: (field(16) + field(17)) * TICK_MS,
    };
  } catch {
    return null;
  }
}
