import { addVm, drainVm, removeVm, repairVm, type RemoveDone } from "../../core/admin.js";
import type { Actor, Core, Result } from "../../core/types.js";
import type { VmState } from "../../db/schema.js";
import { outcomeOf, type Command } from "../command.js";
import { words } from "../render.js";
import {
  ADMIN_USER_OPTION,
  adminActor,
  hostKeyOption,
  ipArg,
  poolOption,
  sshPortOption,
  sshUserOption,
  tagOptions,
  vmArg,
} from "../values.js";

/** `vmres pool add NAME IP …`: one VM into a pool, created if new. Defaults match vms.yml's. */
export const poolAddCommand: Command = {
  words: ["pool", "add"],
  positionals: ["NAME", "IP"],
  options: {
    pool: { type: "string", value: "P", help: "pool to add it to, created if new (default: DEFAULT_POOL)" },
    "ssh-user": { type: "string", value: "U", help: "user to SSH in as (default: root)" },
    "ssh-port": { type: "string", value: "N", help: "SSH port (default: 22)" },
    "host-key": { type: "string", value: "FP", help: "pinned host key fingerprint, SHA256:… as ssh-keygen -lf prints it" },
    tag: { type: "string", multiple: true, value: "T", help: "a tag; repeat for several" },
    user: ADMIN_USER_OPTION,
  },
  summary: "Add a VM to a pool (admin).",
  details: "Example:\n  vmres pool add vm-07 203.0.113.7 --pool gpu --ssh-user ubuntu --tag a100",
  prepare(input, config) {
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
    return async ({ core }) =>
      outcomeOf(await addVm(core, actor, spec), actor.userId, () => `Added ${spec.name} (${spec.sshUser}@${spec.ip} -p ${spec.sshPort}) to pool ${spec.pool}.`);
  },
};

export const poolRemoveCommand: Command = {
  words: ["pool", "remove"],
  positionals: ["NAME"],
  options: { user: ADMIN_USER_OPTION },
  summary: "Retire a VM, keeping its history; a held VM is retired when checked in (admin).",
  prepare(input) {
    const actor = adminActor(input);
    const vm = vmArg(input, "NAME");
    return async ({ core }) => outcomeOf(await removeVm(core, actor, vm), actor.userId, describeRemoval);
  },
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

/** A command that moves one VM between states through a guarded core transition. */
export function transitionCommand(commandWords: string[], summary: string, transition: Transition): Command {
  // `pool drain NAME` as the issue spells it; `cleanup retry VM`.
  const positional = commandWords[0] === "pool" ? "NAME" : "VM";
  return {
    words: commandWords,
    positionals: [positional],
    options: { user: ADMIN_USER_OPTION },
    summary,
    prepare(input) {
      const actor = adminActor(input);
      const vm = vmArg(input, positional);
      return async ({ core }) =>
        outcomeOf(await transition(core, actor, vm), actor.userId, (t) => `${t.vm}: ${words(t.from)} → ${words(t.to)}.`);
    },
  };
}

export const poolDrainCommand = transitionCommand(
  ["pool", "drain"],
  "Take an available or quarantined VM out of service (maintenance) (admin).",
  drainVm,
);

export const poolRepairCommand = transitionCommand(
  ["pool", "repair"],
  "Return a VM from maintenance or quarantine to the pool (admin).",
  repairVm,
);
