import type { RemoveDone } from "../../core/admin.js";
import type { Actor, Core, Result } from "../../core/types.js";
import type { VmState } from "../../db/schema.js";
import { outcomeOf, type Prepare } from "../command.js";
import { words } from "../render.js";
import { adminActor, hostKeyOption, ipArg, poolOption, sshPortOption, sshUserOption, tagOptions, vmArg, userOf } from "../values.js";

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
  return async ({ core }) => {
    const { addVm } = await import("../../core/admin.js");
    return outcomeOf(await addVm(core, actor, spec), userOf(actor), () => `Added ${spec.name} (${spec.sshUser}@${spec.ip} -p ${spec.sshPort}) to pool ${spec.pool}.`);
  };
};

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
export const preparePoolDrain = transition("NAME", async () => (await import("../../core/admin.js")).drainVm);
export const preparePoolRepair = transition("NAME", async () => (await import("../../core/admin.js")).repairVm);
