import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/*
 * Each test host's mount namespace lives as long as one "holder" process
 * (`sleep infinity`) that also sits in the host's network namespace; sshd and
 * every command of a test enter both namespaces through it with nsenter.
 *
 * Inside, every mount of the machine is remounted read-only, so no cleanup bug
 * can touch the machine running the tests, and /tmp, /run, /root and /dev/shm
 * are fresh tmpfs mounts private to the host.
 */
const PRIVATE_TMPFS: ReadonlyArray<readonly [path: string, mode: string]> = [
  ["/tmp", "1777"],
  ["/run", "755"],
  ["/root", "700"],
  ["/dev/shm", "1777"],
];

/** Mounts left writable: kernel interfaces (`ip netns exec` mounts the host's own /sys), or covered by a private tmpfs. */
const NOT_REMOUNTED = ["/proc", "/sys", "/dev/pts", ...PRIVATE_TMPFS.map(([path]) => path)];

/** The machine's mount points that a host must see read-only. */
export function mountPointsToProtect(): string[] {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((field): field is string => field !== undefined && field !== "")
    // mountinfo writes space, tab, newline and backslash as octal escapes.
    .map((field) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => !NOT_REMOUNTED.some((skip) => point === skip || point.startsWith(`${skip}/`)));
  return [...new Set(points)];
}

// Generous: on a loaded CI machine (dockerd building images next door) a few mounts can take seconds.
const HOLDER_READY_TIMEOUT_MS = 60_000;

const HOLDER_SCRIPT = [
  "set -e",
  // A mount that went away between listing and remounting (a container's overlay that another
  // test's dockerd just removed) cannot be written through either; one still there must be remounted.
  'for point in "$@"; do mount -o remount,bind,ro "$point" 2>/dev/null || ! mountpoint -q "$point" || mount -o remount,bind,ro "$point"; done',
  ...PRIVATE_TMPFS.map(([path, mode]) => `mount -t tmpfs -o mode=${mode} vmres-lab ${path}`),
  // sshd refuses to start without its privilege separation directory.
  "mkdir -m 755 /run/sshd",
  "echo ready",
  // Closing the pipes lets the lab's process exit (the CLI's `up`) while the host lives on.
  "exec sleep infinity </dev/null >/dev/null 2>&1",
].join("\n");

/**
 * Starts the holder of one host and resolves with its pid once the host's
 * mounts are in place. `ip netns exec`, unshare and sh each exec the next, so
 * the pid spawned here is the holder's own.
 */
export function startHolder(netns: string, protectedMounts: readonly string[]): Promise<number> {
  const child = spawn(
    "ip",
    ["netns", "exec", netns, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", HOLDER_SCRIPT, "sh", ...protectedMounts],
    { detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // A holder that never gets ready is killed with its namespace by the lab's teardown.
    const timer = setTimeout(() => reject(new Error(`lab: holder of ${netns} not ready after ${HOLDER_READY_TIMEOUT_MS} ms: ${stderr.trim()}`)), HOLDER_READY_TIMEOUT_MS);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`lab: holder of ${netns} exited with ${code}: ${stderr.trim()}`)));
    child.stdout.once("data", () => {
      clearTimeout(timer);
      child.removeAllListeners("exit");
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      if (child.pid === undefined) reject(new Error(`lab: holder of ${netns} has no pid`));
      else resolve(child.pid);
    });
  });
}

/** The program and arguments that run `cmd` inside a host's namespaces. nsenter execs it, so it keeps nsenter's pid. */
export function insideHost(holderPid: number, cmd: readonly string[]): { file: string; args: string[] } {
  return { file: "nsenter", args: ["-t", String(holderPid), "-m", "-n", "--", ...cmd] };
}
