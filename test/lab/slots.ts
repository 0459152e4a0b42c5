import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/*
 * Several labs may run on one machine at once (vitest runs test files in
 * parallel forks, a benchmark may run beside them), so every test host takes a
 * numbered slot recorded in a file here. The slot fixes the host's names and
 * addresses, and the file names the process that owns it, so a later run can
 * tell a live neighbour's host from a leftover of a killed run.
 *
 * The directory is under /var/tmp, not /tmp: a test host mounts a private
 * tmpfs over /tmp, and its sshd must still see its config and keys (read-only).
 */
export const LAB_DIR = "/var/tmp/vmres-lab";
const SLOTS_DIR = join(LAB_DIR, "slots");
export const RUNS_DIR = join(LAB_DIR, "runs");
const LOCK_FILE = join(LAB_DIR, "lock");

/** Slots 0–127 use 198.51.100.0/24 and 128–255 use 203.0.113.0/24, one /31 each. */
export const MAX_SLOTS = 256;
/** Every lab name starts with this, so leftovers can be found by name. */
export const LAB_PREFIX = "vmres-lab-";

/** Who owns a slot. */
export interface SlotRecord {
  ownerPid: number;
  /** The owner's start time (clock ticks after boot), so a reused pid is not taken for the owner. */
  ownerStartTime: string;
  /** Set by the CLI's `up`: the hosts outlive the process that made them, until `down`. */
  keep: boolean;
  runDir: string;
}

/** The names and addresses that follow from a slot number. */
export interface SlotLayout {
  slot: number;
  netns: string;
  /** The veth end left in the machine's namespace; its peer is `eth0` inside the host. */
  veth: string;
  machineIp: string;
  hostIp: string;
}

export function slotLayout(slot: number): SlotLayout {
  const network = slot < 128 ? "198.51.100" : "203.0.113";
  const base = (slot % 128) * 2;
  return {
    slot,
    netns: `${LAB_PREFIX}${slot}`,
    veth: `${LAB_PREFIX}v${slot}`,
    machineIp: `${network}.${base}`,
    hostIp: `${network}.${base + 1}`,
  };
}

/** The slot a lab network namespace or veth name belongs to, or null for other names. */
export function slotOfName(name: string): number | null {
  const match = new RegExp(`^${LAB_PREFIX}v?(\\d+)$`).exec(name);
  return match ? Number(match[1]) : null;
}

/** Field 22 of /proc/PID/stat, or null when the process is gone. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses; the fields after its last ")" are plain.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

export function currentOwner(keep: boolean, runDir: string): SlotRecord {
  return { ownerPid: process.pid, ownerStartTime: processStartTime(process.pid) ?? "", keep, runDir };
}

export function isOwnerAlive(record: SlotRecord): boolean {
  return processStartTime(record.ownerPid) === record.ownerStartTime;
}

export function readSlots(): Map<number, SlotRecord> {
  const slots = new Map<number, SlotRecord>();
  let names: string[];
  try {
    names = readdirSync(SLOTS_DIR);
  } catch {
    return slots;
  }
  for (const name of names) {
    const slot = /^(\d+)\.json$/.exec(name);
    if (!slot) continue;
    try {
      slots.set(Number(slot[1]), JSON.parse(readFileSync(join(SLOTS_DIR, name), "utf8")) as SlotRecord);
    } catch {
      // A record cut short by a crash: an unreadable owner is a dead owner.
      slots.set(Number(slot[1]), { ownerPid: 0, ownerStartTime: "", keep: false, runDir: "" });
    }
  }
  return slots;
}

/** Takes the lowest `count` free slots for `owner`. Call only while holding the lab lock. */
export function claimSlots(count: number, owner: SlotRecord): number[] {
  const taken = readSlots();
  const free: number[] = [];
  for (let slot = 0; slot < MAX_SLOTS && free.length < count; slot++) {
    if (!taken.has(slot)) free.push(slot);
  }
  if (free.length < count) {
    throw new Error(`lab: ${count} hosts asked for, only ${free.length} of ${MAX_SLOTS} slots are free`);
  }
  mkdirSync(SLOTS_DIR, { recursive: true });
  for (const slot of free) writeSlot(slot, owner);
  return free;
}

export function writeSlot(slot: number, owner: SlotRecord): void {
  writeFileSync(join(SLOTS_DIR, `${slot}.json`), JSON.stringify(owner));
}

export function releaseSlot(slot: number): void {
  rmSync(join(SLOTS_DIR, `${slot}.json`), { force: true });
}

/**
 * Runs `work` holding the machine-wide lab lock. The lock is flock(1) on a
 * file, held by a child that exits when its stdin closes, so the kernel drops
 * the lock even when this process is killed mid-way.
 */
export async function withLabLock<T>(work: () => Promise<T>): Promise<T> {
  mkdirSync(LAB_DIR, { recursive: true });
  const holder = spawn("flock", ["-x", LOCK_FILE, "sh", "-c", "echo locked; exec cat >/dev/null"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => holder.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let stderr = "";
    holder.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    holder.stdout.once("data", () => resolve());
    holder.once("error", reject);
    holder.once("close", (code) => reject(new Error(`lab: flock ${LOCK_FILE} exited with ${code}: ${stderr.trim()}`)));
  });
  try {
    return await work();
  } finally {
    holder.stdin.end();
    await exited;
  }
}
