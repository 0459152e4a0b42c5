import type { PoolSettings, RemoveDone } from "../../core/admin.js";
import type { Actor, Core, Result } from "../../core/types.js";
import type { VmState } from "../../db/schema.js";
import { UsageError } from "../args.js";
import { outcomeOf, type Prepare } from "../command.js";
import { words } from "../render.js";
import { lengthText, localTime } from "../times.js";
import { adminActor, hostKeyOption, ipArg, leaseOption, poolArg, poolOption, quotaOption, sshPortOption, sshUserOption, tagOptions, vmArg, userOf } from "../values.js";

/** `vmres pool add NAME IP …`: one VM into a pool, created if new. Defaults match vms.yml's. */
export const preparePoolAdd: Prepare = (input, config) => {
  const actor = adminActor(input);
  const spec = {
    name: vmArg(input, "NAME"),
    ip: ipArg(input),
    pool: poolOption(input) ?? config.DEFAULT_POOL,
    sshUser: sshUserOption(input) ?? "root",
    sshPort: sshPortOption(input) ?? 22,
    hostKeyFingerprint: hostKeyOption(input),
    tags: tagOptions(input),
  };
  // For the pool, when this VM creates it; an existing pool keeps its settings (pool set changes them).
  const newPool = { leaseMs: leaseOption(input, "lease"), maxLeaseMs: leaseOption(input, "max-lease") };
  checkLeaseOrder(newPool.leaseMs, newPool.maxLeaseMs);
  return async ({ core }) => {
    const { addVm } = await import("../../core/admin.js");
    return outcomeOf(await addVm(core, actor, spec, newPool), userOf(actor), () => `Added ${spec.name} (${spec.sshUser}@${spec.ip} -p ${spec.sshPort}) to pool ${spec.pool}.`);
  };
};

/** `vmres pool set POOL [--lease D] [--max-lease D] [--quota N]`: a pool's lease settings and quota. */
export const preparePoolSet: Prepare = (input) => {
  const actor = adminActor(input);
  const pool = poolArg(input);
  const change = { leaseMs: leaseOption(input, "lease"), maxLeaseMs: leaseOption(input, "max-lease"), quota: quotaOption(input) };
  if (change.leaseMs === undefined && change.maxLeaseMs === undefined && change.quota === undefined) {
    throw new UsageError("say what to change: --lease D, --max-lease D or --quota N (like npx vmres pool set gpu --lease 4h --max-lease 3d)");
  }
  checkLeaseOrder(change.leaseMs, change.maxLeaseMs);
  return async ({ core }) => {
    const { setPool } = await import("../../core/admin.js");
    return outcomeOf(await setPool(core, actor, pool, change), userOf(actor), (settings) => describeSettings(settings, core.leases));
  };
};

/** A default lease longer than the maximum given with it is a slip: the maximum would cut every checkout short. */
function checkLeaseOrder(leaseMs: number | undefined, maxLeaseMs: number | undefined): void {
  if (leaseMs !== undefined && maxLeaseMs !== undefined && leaseMs > maxLeaseMs) {
    throw new UsageError(`--lease ${lengthText(leaseMs)} is longer than --max-lease ${lengthText(maxLeaseMs)}: the default lease must fit in the maximum`);
  }
}

function describeSettings(s: PoolSettings, defaults: { defaultMs: number; maxMs: number }): string {
  const lease = s.leaseMs === null ? `${lengthText(defaults.defaultMs)} (DEFAULT_LEASE)` : lengthText(s.leaseMs);
  const max = s.maxLeaseMs === null ? `${lengthText(defaults.maxMs)} (MAX_LEASE)` : lengthText(s.maxLeaseMs);
  return `Pool ${s.pool}: lease ${lease}, at most ${max} from a checkout's start, quota ${s.quota} per person. Open checkouts keep their ends.`;
}

/** `vmres pool remove NAME`: retires the VM, keeping its history. */
export const preparePoolRemove: Prepare = (input) => {
  const actor = adminActor(input);
  const vm = vmArg(input, "NAME");
  return async ({ core }) => {
    const { removeVm } = await import("../../core/admin.js");
    return outcomeOf(await removeVm(core, actor, vm), userOf(actor), describeRemoval);
  };
};

function describeRemoval(done: RemoveDone): string {
  switch (done.retired) {
    case "now":
      return `Retired ${done.vm}.`;
    case "at_checkin":
      return `${done.vm} is checked out; it will be retired when it is checked in.`;
    case "after_cleanup":
      return `${done.vm} is being cleaned; it will be retired after that.`;
    case "already":
      return `${done.vm} was already retired.`;
  }
}

type Transition = (core: Core, actor: Actor, vm: string) => Promise<Result<{ vm: string; from: VmState; to: VmState }>>;

/**
 * A command that moves one VM, named by the positional `argument`, between states
 * through a guarded core transition (which `load` imports when the run starts).
 */
export function transition(argument: string, load: () => Promise<Transition>): Prepare {
  return (input) => {
    const actor = adminActor(input);
    const vm = vmArg(input, argument);
    return async ({ core }) => {
      const move = await load();
      return outcomeOf(await move(core, actor, vm), userOf(actor), (t) => `${t.vm}: ${words(t.from)} → ${words(t.to)}.`);
    };
  };
}

/** `vmres pool drain NAME` / `vmres pool repair NAME`. */
export const preparePoolDrain: Prepare = (input) => {
  const actor = adminActor(input);
  const vm = vmArg(input, "NAME");
  return async ({ core }) => {
    const { drainVm } = await import("../../core/admin.js");
    const { bookingsOfVm } = await import("../../core/reservations.js");
    const result = await drainVm(core, actor, vm);
    // Shown against the bookings it would break: they start on this VM unless it is repaired by then (else another VM, or the person and admins are told).
    const bookings = result.ok ? await bookingsOfVm(core, vm) : [];
    return outcomeOf(result, userOf(actor), (t) =>
      [
        `${t.vm}: ${words(t.from)} → ${words(t.to)}.`,
        ...(bookings.length > 0
          ? [
              `Booked ${bookings.length === 1 ? "once" : `${bookings.length} times`} ahead; unless repaired by then, each booking gets another free VM at its start, or its person and the admins are told:`,
              ...bookings.map((b) => `  ${b.label} (${b.person}): ${localTime(b.from)} to ${localTime(b.to)}`),
            ]
          : []),
      ].join("\n"),
    );
  };
};
export const preparePoolRepair = transition("NAME", async () => (await import("../../core/admin.js")).repairVm);
