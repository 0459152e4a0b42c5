import { readdirSync, readlinkSync, rmdirSync, statSync } from "node:fs";
import { forEachLimit, run, runOrThrow, waitFor } from "./process.js";
import { LAB_PREFIX, type SlotLayout } from "./slots.js";

const NETNS_DIR = "/run/netns";

/**
 * Gives each slot a network namespace joined to the machine by a veth pair
 * carrying a /31: the machine's end is the even address, the host's `eth0` the
 * odd one. Point-to-point links need no shared bridge, so labs running side by
 * side share nothing but the slot files.
 */
export async function createNetworks(layouts: readonly SlotLayout[]): Promise<void> {
  // One `ip -batch` for the machine's side of every host: two processes instead of a hundred.
  const machineSide = layouts.flatMap((l) => [
    `netns add ${l.netns}`,
    `link add ${l.veth} type veth peer name eth0 netns ${l.netns}`,
    `addr add ${l.machineIp}/31 dev ${l.veth}`,
    `link set ${l.veth} up`,
  ]);
  await runOrThrow("ip", ["-batch", "-"], machineSide.join("\n") + "\n");
  await forEachLimit(layouts, 8, async (l) => {
    const hostSide = [`addr add ${l.hostIp}/31 dev eth0`, "link set eth0 up", "link set lo up"];
    await runOrThrow("ip", ["-n", l.netns, "-batch", "-"], hostSide.join("\n") + "\n");
  });
}

/** Lab network namespaces present on the machine. */
export function listLabNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR).filter((name) => name.startsWith(LAB_PREFIX));
  } catch {
    return [];
  }
}

/** Lab veth ends present in the machine's namespace. */
export async function listLabLinks(): Promise<string[]> {
  const out = await runOrThrow("ip", ["-o", "link", "show"]);
  return out
    .split("\n")
    .map((line) => /^\d+: ([^:@]+)[:@]/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name.startsWith(LAB_PREFIX));
}

/** Every process whose network namespace is one of `netnsNames`, found by one pass over /proc. */
export function processesInNetns(netnsNames: readonly string[]): number[] {
  const wanted = new Set<string>();
  for (const name of netnsNames) {
    try {
      wanted.add(`net:[${statSync(`${NETNS_DIR}/${name}`).ino}]`);
    } catch {
      // Already deleted: nothing can be found through it.
    }
  }
  if (wanted.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (wanted.has(readlinkSync(`/proc/${entry}/ns/net`))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked, or is a zombie without namespaces.
    }
  }
  return pids;
}

/**
 * Removes hosts completely: their veth pairs, every process in their network
 * namespaces (holders, sshd and its sessions, anything a test started), which
 * also ends their mount namespaces, and then the network namespaces.
 */
export async function destroyNetworks(netnsNames: readonly string[], veths: readonly string[]): Promise<void> {
  if (veths.length > 0) {
    // -force: a veth already gone (its namespace died first) is not an error here.
    await run("ip", ["-force", "-batch", "-"], veths.map((v) => `link del ${v}`).join("\n") + "\n");
  }
  await waitFor("lab processes to exit", 10_000, () => {
    const pids = processesInNetns(netnsNames);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Exited between the scan and the kill.
      }
    }
    return pids.length === 0;
  });
  if (netnsNames.length > 0) {
    await run("ip", ["-force", "-batch", "-"], netnsNames.map((n) => `netns del ${n}`).join("\n") + "\n");
  }
}

/**
 * `ip netns add` turns /run/netns into a mount of its own the first time it
 * runs; when no namespace is left there, undo that so no mount outlives the
 * lab. `ip` recreates it when next needed. Call only while holding the lab lock.
 */
export async function removeEmptyNetnsDir(): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(NETNS_DIR);
  } catch {
    return;
  }
  if (entries.length > 0) return;
  const mounts = await runOrThrow("findmnt", ["-n", "-o", "TARGET", NETNS_DIR]).catch(() => "");
  if (mounts.trim() !== "") await run("umount", [NETNS_DIR]);
  try {
    rmdirSync(NETNS_DIR);
  } catch {
    // Still a mount point or not empty: leave it as ip left it.
  }
}
