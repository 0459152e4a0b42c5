import type { Input } from "../../commands/parse.js";
import type { Caller, SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { adminAdd, adminVm, type AddSpec } from "./admin.js";
import { checkinCommand, checkinNamed } from "./checkin.js";
import { checkoutCommand } from "./checkout.js";
import { checkoutsCommand, listCommand, statusCommand } from "./list.js";
import type { SlackCommandId } from "./parse.js";
import { shown } from "./parse.js";
import { usageReply } from "./usage-reply.js";

/** Runs one `/vm` command whose words fit the grammar, and returns the ephemeral answer. */
export type SlackHandler = (deps: SlackDeps, caller: Caller, input: Input) => Promise<SlackMessage>;

/**
 * How Slack runs each command the grammar (src/commands/grammar.ts) offers it;
 * the words, flags and help come from the grammar. The compiler refuses this
 * table when the grammar offers Slack a command it lacks. `help` is answered
 * by the parser.
 */
export const SLACK_HANDLERS: Record<Exclude<SlackCommandId, "help">, SlackHandler> = {
  checkout: (deps, caller, input) => checkoutCommand(deps, caller, text(input, "pool"), text(input, "note")),
  checkouts: (deps, caller, input) =>
    checkoutsCommand(deps, caller.userId, { vm: text(input, "vm"), open: input.options["open"] === true }),
  checkin: async (deps, caller, input) => {
    const vm = input.args["VM"];
    if (input.options["force"] !== true) return checkinCommand(deps, caller, vm);
    if (vm === undefined) return usageReply(deps, caller.userId, "`--force` needs the VM's name, like `/vm checkin vm-07 --force`.", { admin: true, command: "checkin" });
    return checkinNamed(deps, caller, vm, { force: true });
  },
  list: (deps, caller) => listCommand(deps, caller.userId),
  status: (deps) => statusCommand(deps),
  history: (deps, caller, input) => adminVm(deps, caller, "history", input.args["VM"] ?? ""),
  "pool.add": async (deps, caller, input) => {
    const spec = addSpec(input);
    return typeof spec === "string" ? usageReply(deps, caller.userId, spec, { admin: true, command: "pool.add" }) : adminAdd(deps, caller, spec);
  },
  "pool.remove": (deps, caller, input) => adminVm(deps, caller, "remove", input.args["NAME"] ?? ""),
  "pool.drain": (deps, caller, input) => adminVm(deps, caller, "drain", input.args["NAME"] ?? ""),
  "pool.repair": (deps, caller, input) => adminVm(deps, caller, "repair", input.args["NAME"] ?? ""),
  "cleanup.retry": (deps, caller, input) => adminVm(deps, caller, "retry-cleanup", input.args["VM"] ?? ""),
};

function text(input: Input, name: string): string | undefined {
  const value = input.options[name];
  return typeof value === "string" ? value : undefined;
}

/** `/vm pool add`'s input as the core's add wants it, or what is wrong with the port (the core checks the rest). */
export function addSpec(input: Input): AddSpec | string {
  const port = text(input, "ssh-port");
  // Number("") is 0 and Number("0x16") is 22: accept plain decimal digits only; the core checks the range.
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return `\`${shown(port)}\` is not a port number: use a whole number from 1 to 65535.`;
  const tags = input.options["tag"];
  const sshUser = text(input, "ssh-user");
  const pool = text(input, "pool");
  const hostKey = text(input, "host-key");
  return {
    name: input.args["NAME"] ?? "",
    ip: input.args["IP"] ?? "",
    ...(pool !== undefined ? { pool } : {}),
    ...(sshUser !== undefined ? { sshUser } : {}),
    ...(port !== undefined ? { sshPort: Number(port) } : {}),
    ...(hostKey !== undefined ? { hostKey } : {}),
    tags: Array.isArray(tags) ? tags : [],
  };
}
