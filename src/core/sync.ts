import { sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import type { VmState } from "../db/schema.js";
import { checkVmSpec, recordEvent, retireInTx, textArray, type VmSpec } from "./admin.js";
import type { PendingUpdate } from "./checkin.js";
import { actorName, isAdmin, ok, refuse, type Actor, type Core, type Result } from "./types.js";
import { checkPoolName, firstRefusal } from "./validate.js";

/** A pool as the inventory describes it. */
export interface PoolSpec {
  name: string;
  quota: number;
  cleanupCommand: string | null;
  trustOnFirstUse: boolean;
  sshPrivateKeyFile: string | null;
}

/** What a sync changed. */
export interface SyncReport {
  added: string[];
  updated: string[];
  /** Held VMs whose changes wait for check-in. */
  pending: string[];
  /** Retired VMs listed again, back in service. */
  restored: string[];
  retired: string[];
  unchanged: number;
}

type CurrentVm = {
  id: number;
  name: string;
  ip: string;
  pool: string;
  ssh_user: string;
  ssh_port: number;
  host_key_fingerprint: string | null;
  tags: string[];
  state: VmState;
};

/** Any constant: two syncs (start-up and CLI, two replicas) never interleave. */
const SYNC_LOCK_KEY = 0x73796e63;

/**
 * Makes the database match the inventory: new VMs added, changed idle VMs updated
 * (held ones at check-in), unlisted VMs retired. All in one transaction: a bad
 * entry changes nothing.
 */
export async function syncInventory(core: Core, actor: Actor, inventory: { pools: PoolSpec[]; vms: VmSpec[] }): Promise<Result<SyncReport>> {
  if (!isAdmin(core, actor)) return refuse({ code: "not_admin", operation: "sync the inventory" });
  const bad = firstRefusal(...inventory.pools.map((p) => checkPoolName(p.name)), ...inventory.vms.map(checkVmSpec));
  if (bad) return refuse(bad);
  return core.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SYNC_LOCK_KEY})`);
    for (const p of inventory.pools) await upsertPool(tx, p);
    const current = await tx.execute<CurrentVm>(sql`
      select id, name, host(ip) as ip, pool, ssh_user, ssh_port, host_key_fingerprint, tags, state from vms for update`);
    const byName = new Map(current.map((v) => [v.name, v]));
    const report: SyncReport = { added: [], updated: [], pending: [], restored: [], retired: [], unchanged: 0 };
    const by = actorName(actor);
    for (const spec of inventory.vms) {
      const vm = byName.get(spec.name);
      byName.delete(spec.name);
      if (!vm) {
        const [row] = await tx.execute<{ id: number }>(sql`
          insert into vms (name, ip, pool, ssh_user, ssh_port, host_key_fingerprint, tags)
          values (${spec.name}, ${spec.ip}::inet, ${spec.pool}, ${spec.sshUser}, ${spec.sshPort}, ${spec.hostKeyFingerprint}, ${textArray(spec.tags)})
          returning id`);
        await recordEvent(tx, { vmId: row!.id, vmName: spec.name, actor: by, source: actor.source, kind: "added", detail: spec });
        report.added.push(spec.name);
        continue;
      }
      const changes = differences(vm, spec);
      if (vm.state === "retired") {
        await writeSpec(tx, vm.id, spec, sql`, state = 'available', state_changed_at = now(), retire_on_checkin = false`);
        await recordEvent(tx, { vmId: vm.id, vmName: vm.name, actor: by, source: actor.source, kind: "restored", detail: changes });
        report.restored.push(vm.name);
      } else if (Object.keys(changes).length === 0) {
        // Listed again after a removal was requested while held or cleaning: keep it.
        await tx.execute(sql`update vms set retire_on_checkin = false where id = ${vm.id} and retire_on_checkin`);
        report.unchanged++;
      } else if (vm.state === "checked_out") {
        await tx.execute(sql`update vms set pending_update = ${JSON.stringify(changes)}::jsonb, retire_on_checkin = false where id = ${vm.id}`);
        await recordEvent(tx, { vmId: vm.id, vmName: vm.name, actor: by, source: actor.source, kind: "update_pending", detail: changes });
        report.pending.push(vm.name);
      } else {
        await writeSpec(tx, vm.id, spec, sql`, retire_on_checkin = false`);
        await recordEvent(tx, { vmId: vm.id, vmName: vm.name, actor: by, source: actor.source, kind: "updated", detail: changes });
        report.updated.push(vm.name);
      }
    }
    for (const vm of byName.values()) {
      if (vm.state === "retired") continue;
      await retireInTx(tx, actor, vm.name);
      report.retired.push(vm.name);
    }
    return ok(report);
  });
}

async function upsertPool(tx: Executor, p: PoolSpec): Promise<void> {
  await tx.execute(sql`
    insert into pools (name, quota, cleanup_command, trust_on_first_use, ssh_private_key_file)
    values (${p.name}, ${p.quota}, ${p.cleanupCommand}, ${p.trustOnFirstUse}, ${p.sshPrivateKeyFile})
    on conflict (name) do update set quota = excluded.quota, cleanup_command = excluded.cleanup_command,
      trust_on_first_use = excluded.trust_on_first_use, ssh_private_key_file = excluded.ssh_private_key_file`);
}

async function writeSpec(tx: Executor, id: number, spec: VmSpec, extra: ReturnType<typeof sql>): Promise<void> {
  await tx.execute(sql`
    update vms set ip = ${spec.ip}::inet, pool = ${spec.pool}, ssh_user = ${spec.sshUser}, ssh_port = ${spec.sshPort},
      host_key_fingerprint = coalesce(${spec.hostKeyFingerprint}, host_key_fingerprint), tags = ${textArray(spec.tags)} ${extra}
    where id = ${id}`);
}

/** The fields of `spec` that differ from the stored VM, in PendingUpdate form. */
function differences(vm: CurrentVm, spec: VmSpec): PendingUpdate {
  const d: PendingUpdate = {};
  if (vm.ip !== spec.ip) d.ip = spec.ip;
  if (vm.pool !== spec.pool) d.pool = spec.pool;
  if (vm.ssh_user !== spec.sshUser) d.sshUser = spec.sshUser;
  if (vm.ssh_port !== spec.sshPort) d.sshPort = spec.sshPort;
  // No key in the file keeps the recorded one: it may have been pinned by trust-on-first-use,
  // and forgetting it at every sync would let the next cleanup trust whatever key it meets.
  if (spec.hostKeyFingerprint !== null && vm.host_key_fingerprint !== spec.hostKeyFingerprint) {
    d.hostKeyFingerprint = spec.hostKeyFingerprint;
  }
  if (vm.tags.join("\u0000") !== spec.tags.join("\u0000")) d.tags = spec.tags;
  return d;
}
