import type { PoolSettings, RemoveDone } from "../../core/admin.js";
import type { ProvisioningChange } from "../../core/provision/configure.js";
import type { Actor, Core, Result } from "../../core/types.js";
import type { VmState } from "../../db/schema.js";
import { UsageError } from "../args.js";
import { outcomeOf, type Prepare } from "../command.js";
import { words } from "../render.js";
import { lengthText, localTime } from "../times.js";
import { adminActor, hostKeyOption, ipArg, leaseOption, poolArg, poolOption, quotaOption, sshPortOption, sshUserOption, tagOptions, vmArg, userOf } from "../values.js";
import { vmresCommand } from "../invocation.js";

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
  const change = {
    leaseMs: leaseOption(input, "lease"),
    maxLeaseMs: leaseOption(input, "max-lease"),
    quota: quotaOption(input),
    maxBookingAheadMs: leaseOption(input, "max-booking-ahead"),
    maxBookingLengthMs: leaseOption(input, "max-booking-length"),
    cleanup: cleanupOption(input),
  };
  const provisioning = provisioningOptions(input);
  const leases = Object.values(change).some((v) => v !== undefined);
  if (!leases && provisioning === null) {
    throw new UsageError(
      `say what to change: --lease D, --max-lease D, --quota N, --max-booking-ahead D, --max-booking-length D or --cleanup none|ssh (like ${vmresCommand()} pool set gpu --lease 4h --max-lease 3d), or --kind provisioned …`,
    );
  }
  checkLeaseOrder(change.leaseMs, change.maxLeaseMs);
  return async ({ core }) => {
    const lines: string[] = [];
    if (provisioning !== null) {
      const { setProvisioning } = await import("../../core/provision/configure.js");
      const { providerSettingsProblem } = await import("../../provision/providers.js");
      const set = await setProvisioning(core, actor, pool, provisioning, providerSettingsProblem);
      if (!set.ok) return outcomeOf(set, userOf(actor), () => "");
      const p = set.value;
      lines.push(
        `Pool ${p.name} is provisioned by ${p.provider} from ${p.image}: at most ${p.maxSize} instances, ${p.minIdle} kept ready, ` +
          `${p.reuse ? "instances cleaned and reused" : "instances deleted"} at check-in, at most ${p.maxImages} saved images per person.`,
      );
      if (!leases) return outcomeOf(set, userOf(actor), () => lines.join("\n"));
    }
    const { setPool } = await import("../../core/admin.js");
    return outcomeOf(await setPool(core, actor, pool, change), userOf(actor), (settings) => [...lines, describeSettings(settings, core.leases)].join("\n"));
  };
};

/** `--cleanup none|ssh`, checked before the database is opened. */
function cleanupOption(input: Parameters<Prepare>[0]): "none" | "ssh" | undefined {
  const value = input.options["cleanup"];
  if (typeof value !== "string") return undefined;
  const word = value.trim().toLowerCase();
  if (word === "none" || word === "ssh") return word;
  throw new UsageError(`--cleanup: ${JSON.stringify(value)}: use none (a checked-in VM is available again at once) or ssh (cleaned over SSH first, the default)`);
}

/** The provisioned-pool flags of `pool set`, checked before the database is opened; null when none is given. */
function provisioningOptions(input: Parameters<Prepare>[0]): ProvisioningChange | null {
  const text = (name: string) => (typeof input.options[name] === "string" ? (input.options[name] as string) : undefined);
  const count = (name: string) => {
    const value = text(name);
    if (value === undefined) return undefined;
    if (!/^\d{1,5}$/.test(value)) throw new UsageError(`--${name}: ${JSON.stringify(value)} is not a whole number (like --${name} 2)`);
    return Number(value);
  };
  const kind = text("kind");
  if (kind !== undefined && kind !== "provisioned") {
    throw new UsageError(`--kind: ${JSON.stringify(kind)}: only provisioned can be set (a static pool is one whose VMs are added with pool add or vms.yml)`);
  }
  const provider = text("provider");
  if (provider !== undefined && provider !== "docker" && provider !== "command") throw new UsageError(`--provider: ${JSON.stringify(provider)}: use docker or command`);
  const reuse = text("reuse");
  if (reuse !== undefined && reuse !== "on" && reuse !== "off") throw new UsageError(`--reuse: ${JSON.stringify(reuse)}: use on or off`);
  const settingsText = text("provider-settings");
  let providerSettings: Record<string, unknown> | undefined;
  if (settingsText !== undefined) {
    try {
      const parsed: unknown = JSON.parse(settingsText);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      providerSettings = parsed as Record<string, unknown>;
    } catch {
      throw new UsageError(`--provider-settings: not a JSON object: ${settingsText.slice(0, 80)} (like '{"socket":"/var/run/docker.sock"}')`);
    }
  }
  const change: ProvisioningChange = {
    minIdle: count("min-idle"),
    maxSize: count("max-size"),
    maxImages: count("max-images"),
    image: text("image"),
    provider: provider as "docker" | "command" | undefined,
    providerSettings,
    reuse: reuse === undefined ? undefined : reuse === "on",
  };
  const given = kind !== undefined || Object.values(change).some((v) => v !== undefined);
  return given ? change : null;
}

/** A default lease longer than the maximum given with it is a slip: the maximum would cut every checkout short. */
function checkLeaseOrder(leaseMs: number | undefined, maxLeaseMs: number | undefined): void {
  if (leaseMs !== undefined && maxLeaseMs !== undefined && leaseMs > maxLeaseMs) {
    throw new UsageError(`--lease ${lengthText(leaseMs)} is longer than --max-lease ${lengthText(maxLeaseMs)}: the default lease must fit in the maximum`);
  }
}

function describeSettings(s: PoolSettings, defaults: { defaultMs: number; maxMs: number }): string {
  const lease = s.leaseMs === null ? `${lengthText(defaults.defaultMs)} (DEFAULT_LEASE)` : lengthText(s.leaseMs);
  const max = s.maxLeaseMs === null ? `${lengthText(defaults.maxMs)} (MAX_LEASE)` : lengthText(s.maxLeaseMs);
  const ahead = s.maxBookingAheadMs === null ? "MAX_BOOKING_AHEAD" : lengthText(s.maxBookingAheadMs);
  const length = s.maxBookingLengthMs === null ? "MAX_BOOKING_LENGTH, else the longest lease" : lengthText(s.maxBookingLengthMs);
  const cleanup = s.cleanup === "none" ? "no cleanup: a checked-in VM is available again at once, nothing wiped" : "cleaned over SSH after each check-in";
  return `Pool ${s.pool}: lease ${lease}, at most ${max} from a checkout's start, quota ${s.quota} per person; bookings start at most ${ahead} ahead and last at most ${length}; ${cleanup}. Open checkouts keep their ends.`;
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
