import { sql } from "drizzle-orm";
import type { Db, PgSql } from "../db/client.js";
import type { PoolCleanup, VmState } from "../db/schema.js";
import { checkVmSpec, retireInTx, type VmSpec } from "./admin.js";
import { recordEvent, recordEvents, type EventRecord } from "./events.js";
import type { PendingUpdate } from "./checkin.js";
import { asAdmin } from "./people.js";
import { ok, refuse, type Actor, type Core, type Result } from "./types.js";
import { checkPoolName, firstRefusal } from "./validate.js";

/** A pool as the inventory describes it. */
export interface PoolSpec {
  name: string;
  quota: number;
  /** `none`: a check-in returns the VM at once; `ssh`: it is cleaned first. */
  cleanup: PoolCleanup;
  cleanupCommand: string | null;
  trustOnFirstUse: boolean;
  sshPrivateKeyFile: string | null;
  /** Default and longest lease, in seconds; null: DEFAULT_LEASE, MAX_LEASE. */
  leaseSeconds: number | null;
  maxLeaseSeconds: number | null;
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
  retire_on_checkin: boolean;
  pending_update: PendingUpdate | null;
};

/** What the sync does to one existing VM, decided from its row and its entry in the file (if any). */
type Step =
  | { kind: "none" }
  /** Listed again after a removal was requested while held or cleaning: keep it. */
  | { kind: "keep" }
  | { kind: "restore"; changes: PendingUpdate }
  | { kind: "update"; changes: PendingUpdate }
  /** Held: the changes wait in pending_update (none left: a held-back change is dropped). */
  | { kind: "hold"; changes: PendingUpdate }
  | { kind: "retire" };

/** VMs per insert, update or event statement: large enough to make round trips rare, small enough for one bind message. */
const BATCH = 2000;

/** Any constant: two syncs (start-up and CLI, two replicas) never interleave. */
const SYNC_LOCK_KEY = 0x73796e63;

/** The columns of a CurrentVm, as a fragment of `tx`'s statement. */
const vmColumns = (tx: PgSql) => tx.unsafe("id, name, host(ip) as ip, pool, ssh_user, ssh_port, host_key_fingerprint, tags, state, retire_on_checkin, pending_update");

/**
 * Makes the database match the inventory: new VMs added, changed idle VMs updated
 * (held ones at check-in), unlisted VMs retired. All in one transaction: a bad
 * entry changes nothing.
 *
 * Checkout skips locked rows and check-in waits on them, so the sync locks only
 * the rows it changes: it reads every VM without a lock, decides in memory, then
 * locks just the VMs to change and decides again on what it reads under the lock
 * (a VM may have been checked out or returned in between). A file with nothing
 * new writes and locks no VM or pool row.
 */
export async function syncInventory(core: Core, actor: Actor, inventory: { pools: PoolSpec[]; vms: VmSpec[] }): Promise<Result<SyncReport>> {
  const me = await asAdmin(core, actor, "sync the inventory");
  if (!me.ok) return me;
  const bad = firstRefusal(...inventory.pools.map((p) => checkPoolName(p.name)), ...inventory.vms.map(checkVmSpec));
  if (bad) return refuse(bad);
  const specs = await withCanonicalIps(core.db, inventory.vms);
  const listed = new Map(specs.map((s) => [s.name, s]));
  return core.db.$client.begin(async (tx): Promise<Result<SyncReport>> => {
    await tx`select pg_advisory_xact_lock(${SYNC_LOCK_KEY})`;
    await syncPools(tx, inventory.pools);
    // The VMs of provisioned pools are their instances, made and deleted by the provisioner: the file does not list them.
    const seen = new Map(
      (await tx<CurrentVm[]>`select ${vmColumns(tx)} from vms where pool not in (select name from pools where kind = 'provisioned')`).map((v) => [v.name, v]),
    );
    const toChange = [...seen.values()].filter((vm) => stepFor(vm, listed.get(vm.name)).kind !== "none").map((vm) => vm.name);
    const report: SyncReport = { added: [], updated: [], pending: [], restored: [], retired: [], unchanged: 0 };
    const by = me.value.name;
    // New VMs: one insert and one event statement per batch (a first sync of 100,000 VMs is ~100 statements).
    const added = new Map<string, number>();
    const fresh = specs.filter((spec) => !seen.has(spec.name));
    for (let i = 0; i < fresh.length; i += BATCH) {
      const batch = fresh.slice(i, i + BATCH);
      for (const row of await insertVms(tx, batch)) added.set(row.name, row.id);
      await recordEvents(
        tx,
        batch.filter((spec) => added.has(spec.name)).map((spec) => ({ vmId: added.get(spec.name)!, vmName: spec.name, actor: by, source: actor.source, kind: "added", detail: spec })),
      );
    }
    for (const spec of fresh) {
      // Added by `pool add` since the read: handled below as an existing VM.
      if (added.has(spec.name)) report.added.push(spec.name);
      else toChange.push(spec.name);
    }
    const locked = await lockVms(tx, toChange);
    const inFileOrder = [...specs.flatMap((s) => locked.get(s.name) ?? []), ...[...locked.values()].filter((vm) => !listed.has(vm.name))];
    // Updates and restores (the common changes) are written in batches; the rare ones row by row.
    const rewrites: { vm: CurrentVm; spec: VmSpec; restore: boolean }[] = [];
    const events: EventRecord[] = [];
    for (const vm of inFileOrder) {
      const step = stepFor(vm, listed.get(vm.name));
      const event = { vmId: vm.id, vmName: vm.name, actor: by, source: actor.source };
      switch (step.kind) {
        case "none":
          break;
        case "keep":
          await tx`update vms set retire_on_checkin = false where id = ${vm.id}`;
          break;
        case "restore":
          rewrites.push({ vm, spec: listed.get(vm.name)!, restore: true });
          events.push({ ...event, kind: "restored", detail: step.changes });
          report.restored.push(vm.name);
          break;
        case "update":
          rewrites.push({ vm, spec: listed.get(vm.name)!, restore: false });
          events.push({ ...event, kind: "updated", detail: step.changes });
          report.updated.push(vm.name);
          break;
        case "hold": {
          const waiting = Object.keys(step.changes).length > 0;
          await tx`
            update vms set pending_update = ${waiting ? JSON.stringify(step.changes) : null}::jsonb, retire_on_checkin = false where id = ${vm.id}`;
          if (waiting || vm.pending_update) await recordEvent(tx, { ...event, kind: "update_pending", detail: step.changes });
          if (waiting) report.pending.push(vm.name);
          break;
        }
        case "retire":
          await retireInTx(tx, { name: by, source: actor.source }, vm.name);
          report.retired.push(vm.name);
          break;
      }
    }
    for (let i = 0; i < rewrites.length; i += BATCH) await writeSpecs(tx, rewrites.slice(i, i + BATCH));
    for (let i = 0; i < events.length; i += BATCH) await recordEvents(tx, events.slice(i, i + BATCH));
    report.unchanged = specs.length - report.added.length - report.updated.length - report.pending.length - report.restored.length;
    return ok(report);
  });
}

/** Decides under no lock (which rows to lock) and again under the row lock (what to write). */
function stepFor(vm: CurrentVm, spec: VmSpec | undefined): Step {
  if (!spec) {
    if (vm.state === "retired") return { kind: "none" };
    // Already retiring at check-in or after cleanup: asking again would change nothing.
    if (vm.retire_on_checkin && (vm.state === "checked_out" || vm.state === "cleaning")) return { kind: "none" };
    return { kind: "retire" };
  }
  const changes = differences(vm, spec);
  if (vm.state === "retired") return { kind: "restore", changes };
  if (vm.state === "checked_out") {
    // Compared with what already waits, so the same file twice writes nothing the second time.
    if (!sameUpdate(vm.pending_update ?? {}, changes)) return { kind: "hold", changes };
    return vm.retire_on_checkin ? { kind: "keep" } : { kind: "none" };
  }
  if (Object.keys(changes).length > 0) return { kind: "update", changes };
  return vm.retire_on_checkin ? { kind: "keep" } : { kind: "none" };
}

/** Locks the named VMs (and only them) and reads them again, now that nobody can change them. */
async function lockVms(tx: PgSql, names: string[]): Promise<Map<string, CurrentVm>> {
  if (names.length === 0) return new Map();
  const rows = await tx<CurrentVm[]>`
    select ${vmColumns(tx)} from vms
    where name in (select jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))
    order by id
    for update`;
  return new Map(rows.map((v) => [v.name, v]));
}

/**
 * IPv6 addresses as PostgreSQL prints them ("2001:DB8:0::1" → "2001:db8::1"), so an
 * address written differently but equal is not taken for a change at every sync.
 */
async function withCanonicalIps(db: Db, specs: VmSpec[]): Promise<VmSpec[]> {
  const v6 = [...new Set(specs.filter((s) => s.ip.includes(":")).map((s) => s.ip))];
  if (v6.length === 0) return specs;
  const rows = await db.execute<{ given: string; ip: string }>(sql`
    select value as given, host(value::inet) as ip from jsonb_array_elements_text(${JSON.stringify(v6)}::jsonb) as value`);
  const canonical = new Map(rows.map((r) => [r.given, r.ip]));
  return specs.map((s) => ({ ...s, ip: canonical.get(s.ip) ?? s.ip }));
}

type CurrentPool = {
  name: string;
  quota: number;
  cleanup: PoolCleanup;
  cleanup_command: string | null;
  trust_on_first_use: boolean;
  ssh_private_key_file: string | null;
  lease_seconds: number | null;
  max_lease_seconds: number | null;
};

/** Writes only new or changed pools: an upsert locks the pool row even when it changes nothing. */
async function syncPools(tx: PgSql, pools: PoolSpec[]): Promise<void> {
  const current = new Map(
    (await tx<CurrentPool[]>`select name, quota, cleanup, cleanup_command, trust_on_first_use, ssh_private_key_file, lease_seconds, max_lease_seconds from pools`).map((p) => [p.name, p]),
  );
  for (const p of pools) {
    const now = current.get(p.name);
    const same =
      now &&
      now.quota === p.quota &&
      now.cleanup === p.cleanup &&
      now.cleanup_command === p.cleanupCommand &&
      now.trust_on_first_use === p.trustOnFirstUse &&
      now.ssh_private_key_file === p.sshPrivateKeyFile &&
      now.lease_seconds === p.leaseSeconds &&
      now.max_lease_seconds === p.maxLeaseSeconds;
    if (!same) await upsertPool(tx, p);
  }
}

async function upsertPool(tx: PgSql, p: PoolSpec): Promise<void> {
  await tx`
    insert into pools (name, quota, cleanup, cleanup_command, trust_on_first_use, ssh_private_key_file, lease_seconds, max_lease_seconds)
    values (${p.name}, ${p.quota}, ${p.cleanup}, ${p.cleanupCommand}, ${p.trustOnFirstUse}, ${p.sshPrivateKeyFile}, ${p.leaseSeconds}, ${p.maxLeaseSeconds})
    on conflict (name) do update set quota = excluded.quota, cleanup = excluded.cleanup, cleanup_command = excluded.cleanup_command,
      trust_on_first_use = excluded.trust_on_first_use, ssh_private_key_file = excluded.ssh_private_key_file,
      lease_seconds = excluded.lease_seconds, max_lease_seconds = excluded.max_lease_seconds`;
}

/** The file's VMs as rows for jsonb_to_recordset (tags as a JSON array). */
function specRows(specs: VmSpec[]) {
  return specs.map((s) => ({ name: s.name, ip: s.ip, pool: s.pool, ssh_user: s.sshUser, ssh_port: s.sshPort, host_key_fingerprint: s.hostKeyFingerprint, tags: s.tags }));
}

/** Inserts new VMs in one statement; a name taken meanwhile (`pool add`) is skipped and not returned. */
async function insertVms(tx: PgSql, specs: VmSpec[]): Promise<{ id: number; name: string }[]> {
  return tx<{ id: number; name: string }[]>`
    insert into vms (name, ip, pool, ssh_user, ssh_port, host_key_fingerprint, tags)
    select s.name, s.ip::inet, s.pool, s.ssh_user, s.ssh_port, s.host_key_fingerprint, array(select jsonb_array_elements_text(s.tags))
    from jsonb_to_recordset(${JSON.stringify(specRows(specs).map((row, n) => ({ ...row, n })))}::jsonb)
      as s(name text, ip text, pool text, ssh_user text, ssh_port int, host_key_fingerprint text, tags jsonb, n bigint)
    order by s.n
    on conflict (name) do nothing
    returning id, name`;
}

/** Writes the file's fields over locked VMs in one statement; a restored VM is available again. */
async function writeSpecs(tx: PgSql, rewrites: { vm: CurrentVm; spec: VmSpec; restore: boolean }[]): Promise<void> {
  const rows = rewrites.map(({ vm, spec, restore }, i) => ({ ...specRows([spec])[0], id: vm.id, restore, n: i }));
  await tx`
    update vms v set ip = s.ip::inet, pool = s.pool, ssh_user = s.ssh_user, ssh_port = s.ssh_port,
      host_key_fingerprint = coalesce(s.host_key_fingerprint, v.host_key_fingerprint), tags = array(select jsonb_array_elements_text(s.tags)),
      retire_on_checkin = false,
      state = case when s.restore then 'available'::vm_state else v.state end,
      state_changed_at = case when s.restore then now() else v.state_changed_at end
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as s(id int, ip text, pool text, ssh_user text, ssh_port int, host_key_fingerprint text, tags jsonb, restore boolean, n int)
    where v.id = s.id`;
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

/** jsonb keeps its own key order, so two updates are compared field by field. */
function sameUpdate(a: PendingUpdate, b: PendingUpdate): boolean {
  const fields = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof PendingUpdate)[]);
  return [...fields].every((f) => JSON.stringify(a[f]) === JSON.stringify(b[f]));
}
