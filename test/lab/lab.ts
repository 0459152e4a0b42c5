import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { mountPointsToProtect } from "./holder.js";
import { SshdTestHost, type LabHost } from "./host.js";
import { createNetworks, destroyNetworks, listLabLinks, listLabNetns, removeEmptyNetnsDir } from "./network.js";
import { labPrerequisites } from "./prerequisites.js";
import { forEachLimit } from "./process.js";
import {
  RUNS_DIR,
  claimSlots,
  currentOwner,
  isOwnerAlive,
  readSlots,
  releaseSlot,
  slotLayout,
  slotOfName,
  withLabLock,
  writeSlot,
} from "./slots.js";
import { generateKey } from "./sshd.js";

export type { LabHost, InsideProcess } from "./host.js";
export { labPrerequisites, labSkipReason } from "./prerequisites.js";

/** A set of running sshd test hosts and the one client key that logs in to all of them as root. */
export interface Lab {
  hosts: LabHost[];
  /** The private key (OpenSSH format) every host accepts. */
  clientKeyPath: string;
  /** Removes every host: processes, namespaces, links and files. Safe to call twice. */
  stop(): Promise<void>;
}

export interface LabOptions {
  count: number;
  /** Start every host with commands that hang (see LabHost.setHanging). */
  hangingShell?: boolean;
  /** Hosts outlive this process until `cleanupLeftovers({ includeKept: true })`: the CLI's `up`. */
  keep?: boolean;
}

/** Hosts started at once; the work is mostly waiting on ssh-keygen, mounts and sshd. */
const START_CONCURRENCY = 16;

/** Starts `count` test hosts, after clearing what killed earlier runs left behind. */
export async function startLab(options: LabOptions): Promise<Lab> {
  const prerequisites = labPrerequisites();
  if (!prerequisites.ok) throw new Error(`lab: ${prerequisites.reason}`);
  if (!Number.isInteger(options.count) || options.count < 1) throw new Error(`lab: count must be a positive integer, got ${options.count}`);

  const runDir = join(RUNS_DIR, `${process.pid}-${Date.now().toString(36)}`);
  const slots = await withLabLock(async () => {
    await removeLeftovers(false);
    mkdirSync(runDir, { recursive: true });
    return claimSlots(options.count, currentOwner(false, runDir));
  });
  const layouts = slots.map(slotLayout);
  const clientKeyPath = join(runDir, "client_ed25519");
  const hosts = layouts.map((layout) => new SshdTestHost(layout, { dir: join(runDir, layout.netns), authorizedKeysPath: `${clientKeyPath}.pub` }));

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await destroyNetworks(
      layouts.map((l) => l.netns),
      layouts.map((l) => l.veth),
    );
    await withLabLock(async () => {
      for (const slot of slots) releaseSlot(slot);
      rmSync(runDir, { recursive: true, force: true });
      await removeEmptyNetnsDir();
    });
  };

  try {
    await Promise.all([generateKey(clientKeyPath, "vmres-lab-client"), createNetworks(layouts)]);
    const protectedMounts = mountPointsToProtect();
    await forEachLimit(hosts, START_CONCURRENCY, (host) => host.start(protectedMounts, options.hangingShell ?? false));
    if (options.keep) for (const slot of slots) writeSlot(slot, currentOwner(true, runDir));
  } catch (error) {
    await stop();
    throw error;
  }
  return { hosts, clientKeyPath, stop };
}

/** What cleanupLeftovers removed. */
export interface LeftoverReport {
  netns: string[];
  links: string[];
  slots: number[];
}

/**
 * Removes hosts whose owner is gone (a killed test run): their processes,
 * network namespaces, veth links, slot files and files. Hosts of labs still
 * running, in this or another process, are left alone; so are hosts kept by
 * the CLI's `up`, unless `includeKept` (the CLI's `down`).
 */
export function cleanupLeftovers(options: { includeKept?: boolean } = {}): Promise<LeftoverReport> {
  return withLabLock(() => removeLeftovers(options.includeKept ?? false));
}

/** cleanupLeftovers' work; the caller holds the lab lock, so no lab is claiming or releasing slots meanwhile. */
async function removeLeftovers(includeKept: boolean): Promise<LeftoverReport> {
  const netnsPresent = new Set(listLabNetns());
  const liveSlots = new Set<number>();
  const liveRunDirs = new Set<string>();
  const staleSlots: number[] = [];
  for (const [slot, record] of readSlots()) {
    // A kept host whose namespace is gone (the machine rebooted) has nothing left to keep.
    const kept = record.keep && !includeKept && netnsPresent.has(slotLayout(slot).netns);
    if (isOwnerAlive(record) || kept) {
      liveSlots.add(slot);
      liveRunDirs.add(record.runDir);
    } else {
      staleSlots.push(slot);
    }
  }
  const isLeftover = (name: string) => {
    const slot = slotOfName(name);
    return slot === null || !liveSlots.has(slot);
  };
  const netns = [...netnsPresent].filter(isLeftover);
  const links = (await listLabLinks()).filter(isLeftover);
  await destroyNetworks(netns, links);
  for (const slot of staleSlots) releaseSlot(slot);
  if (existsSync(RUNS_DIR)) {
    for (const entry of readdirSync(RUNS_DIR)) {
      const dir = join(RUNS_DIR, entry);
      if (!liveRunDirs.has(dir)) rmSync(dir, { recursive: true, force: true });
    }
  }
  await removeEmptyNetnsDir();
  return { netns, links, slots: staleSlots };
}
