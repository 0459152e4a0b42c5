import { sql } from "drizzle-orm";
import { addVm } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import type { Core } from "../../src/core/types.js";
import type { Executor } from "../../src/db/client.js";
import type { VmState } from "../../src/db/schema.js";
import type { CleanupSettings } from "../../src/cleanup/settings.js";
import type { SshTimeouts } from "../../src/cleanup/ssh.js";
import type { LabHost } from "../lab/lab.js";
import { userId } from "../helpers/db.js";

/** The operator (CLI without --user): an admin. */
export const operator = { person: "operator", source: "cli" } as const;
/** The person who borrows and returns VMs in these tests. */
export const borrower = { person: { slackUserId: userId(1) }, source: "slack" } as const;

/** Worker settings fit for tests: short timeouts, fast polls, no backoff unless asked. */
export function testSettings(privateKeyFile: string, overrides: Partial<Omit<CleanupSettings, "ssh">> & { ssh?: Partial<SshTimeouts> } = {}): CleanupSettings {
  const { ssh, ...rest } = overrides;
  return {
    concurrency: 8,
    maxAttempts: 3,
    privateKeyFile,
    ssh: { connectTimeoutMs: 3000, commandTimeoutMs: 10_000, keepaliveIntervalMs: 1000, ...ssh },
    backoff: { baseMs: 0, maxMs: 0 },
    pollIntervalMs: 50,
    staleClaimAfterMs: 60_000,
    shutdownGraceMs: 5000,
    ...rest,
  };
}

/** Adds one VM per host to `pool` (created with room for all of them), pinned to the host's key unless told otherwise. */
export async function addVmsFor(core: Core, pool: string, hosts: readonly LabHost[], opts: { pinned?: boolean } = {}): Promise<string[]> {
  const names: string[] = [];
  for (const [i, host] of hosts.entries()) {
    const name = `${pool}-${i}`;
    const added = await addVm(core, operator, {
      name,
      ip: host.ip,
      pool,
      sshUser: host.user,
      sshPort: host.port,
      hostKeyFingerprint: opts.pinned === false ? null : host.hostKeyFingerprint,
      tags: [],
    });
    if (!added.ok) throw new Error(`adding ${name}: ${JSON.stringify(added.refusal)}`);
    names.push(name);
  }
  await core.db.execute(sql`update pools set quota = 1000 where name = ${pool}`);
  return names;
}

/** Sets a pool's cleanup settings the way vms.yml would. */
export async function setPoolCleanup(
  db: Executor,
  pool: string,
  settings: { command?: string | null; trustOnFirstUse?: boolean; privateKeyFile?: string | null },
): Promise<void> {
  await db.execute(sql`
    update pools set
      cleanup_command = ${settings.command === undefined ? sql`cleanup_command` : settings.command},
      trust_on_first_use = ${settings.trustOnFirstUse ?? false},
      ssh_private_key_file = ${settings.privateKeyFile === undefined ? sql`ssh_private_key_file` : settings.privateKeyFile}
    where name = ${pool}`);
}

/** Borrows every available VM of the pool and checks each in again, through the core: they are now `cleaning`, due. */
export async function borrowAndReturnAll(core: Core, pool: string): Promise<string[]> {
  const names: string[] = [];
  // Bounded: a pool in these tests never holds this many.
  for (let i = 0; i < 1000; i++) {
    const out = await checkout(core, borrower, { pool });
    if (!out.ok) break;
    names.push(out.value.name);
  }
  for (const name of names) {
    const back = await checkin(core, borrower, name);
    if (!back.ok || back.value.nextState !== "cleaning") throw new Error(`checking in ${name}: ${JSON.stringify(back)}`);
  }
  return names.sort();
}

export interface VmRow {
  state: VmState;
  cleanup_attempts: number;
  cleanup_last_error: string | null;
  host_key_fingerprint: string | null;
  claimed_by: string | null;
}

export async function vmRow(db: Executor, name: string): Promise<VmRow> {
  const [row] = await db.execute<VmRow & Record<string, unknown>>(sql`
    select state, cleanup_attempts, cleanup_last_error, host_key_fingerprint, claimed_by from vms where name = ${name}`);
  if (!row) throw new Error(`no VM ${name}`);
  return row;
}

/** The VM's events, oldest first: kind, source and detail. */
export async function eventsOf(db: Executor, name: string): Promise<{ kind: string; source: string; actor: string; detail: Record<string, unknown> }[]> {
  return db.execute(sql`select kind, source, actor, detail from events where vm_name = ${name} order by id`);
}

/** Outbox rows of one kind, oldest first. */
export async function outboxOf(db: Executor, kind: string): Promise<Record<string, unknown>[]> {
  const rows = await db.execute<{ payload: Record<string, unknown> }>(sql`select payload from outbox where kind = ${kind} order by id`);
  return rows.map((r) => r.payload);
}

/** Polls `check` every 50 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until the VM is in `state`. */
export function waitForState(db: Executor, name: string, state: VmState, timeoutMs = 20_000): Promise<void> {
  return waitUntil(`${name} to be ${state}`, timeoutMs, async () => (await vmRow(db, name)).state === state);
}

/**
 * Hands out the lab's hosts a few at a time, so every test has hosts of its own
 * and a stopped sshd or a new host key cannot leak into another test.
 */
export function hostDealer(hosts: () => readonly LabHost[]): (n: number) => LabHost[] {
  let next = 0;
  return (n) => {
    const taken = hosts().slice(next, next + n);
    next += n;
    if (taken.length < n) throw new Error("the lab has too few hosts for this file");
    return taken;
  };
}
