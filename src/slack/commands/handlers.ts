import type { Input } from "../../commands/parse.js";
import type { Caller, SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { leaseRequestOf, type LeaseRequest } from "../../core/lease-request.js";
import { parseDuration } from "../../duration.js";
import { adminAdd, adminCleanupDone, adminPoolSet, adminVm, type AddSpec } from "./admin.js";
import { extendCommand } from "./extend.js";
import { unwaitCommand, waitCommand } from "./waitlist.js";
import { checkinCommand, checkinNamed } from "./checkin.js";
import { checkoutCommand } from "./checkout.js";
import { checkoutsCommand, listCommand, statusCommand } from "./list.js";
import { cancelCommand, reservationsCommand, reserveCommand } from "./reservations.js";
import type { SlackCommandId } from "./parse.js";
import { shown } from "./parse.js";
import { usageReply } from "./usage-reply.js";
import { tokenCommand } from "./token.js";
import { reportCommand } from "./report.js";
import { imagesCommand, imagesDeleteCommand, instancesCommand, jobActionCommand, jobsCommand } from "./provision.js";

/** Runs one `/vm` command whose words fit the grammar, and returns the ephemeral answer. */
export type SlackHandler = (deps: SlackDeps, caller: Caller, input: Input) => Promise<SlackMessage>;

/**
 * How Slack runs each command the grammar (src/commands/grammar.ts) offers it;
 * the words, flags and help come from the grammar. The compiler refuses this
 * table when the grammar offers Slack a command it lacks. `help` is answered
 * by the parser.
 */
export const SLACK_HANDLERS: Record<Exclude<SlackCommandId, "help">, SlackHandler> = {
  checkout: async (deps, caller, input) => {
    const forMs = duration(input, "for");
    if (typeof forMs === "string") return usageReply(deps, caller.userId, forMs, { command: "checkout" });
    const restore = input.options["restore"];
    return checkoutCommand(deps, caller, text(input, "pool"), text(input, "note"), forMs, restore === true || typeof restore === "string" ? restore : undefined);
  },
  extend: async (deps, caller, input) => {
    const request = leaseRequest(input);
    if (typeof request === "string") return usageReply(deps, caller.userId, request, { command: "extend" });
    return extendCommand(deps, caller, input.args["VM"], request);
  },
  wait: (deps, caller, input) => waitCommand(deps, caller, text(input, "pool")),
  unwait: (deps, caller, input) => unwaitCommand(deps, caller, text(input, "pool")),
  checkouts: (deps, caller, input) =>
    checkoutsCommand(deps, caller.userId, { vm: text(input, "vm"), open: input.options["open"] === true }),
  checkin: async (deps, caller, input) => {
    const vm = input.args["VM"];
    const keep = input.options["keep"] === true;
    if (input.options["force"] !== true) return checkinCommand(deps, caller, vm, keep);
    if (vm === undefined) return usageReply(deps, caller.userId, "`--force` needs the VM's name, like `/vm checkin vm-07 --force`.", { admin: true, command: "checkin" });
    return checkinNamed(deps, caller, vm, { force: true, keep });
  },
  reserve: (deps, caller, input) => reserveCommand(deps, caller, input),
  reservations: (deps, caller, input) => reservationsCommand(deps, caller, input),
  "reservation.cancel": (deps, caller, input) => cancelCommand(deps, caller, input.args["LABEL"] ?? ""),
  list: (deps, caller) => listCommand(deps, caller.userId),
  token: async (deps, caller, input) => {
    const expiresMs = duration(input, "expires");
    if (typeof expiresMs === "string") return usageReply(deps, caller.userId, expiresMs, { command: "token" });
    return tokenCommand(deps, caller, { label: text(input, "label"), expiresMs });
  },
  status: (deps) => statusCommand(deps),
  history: (deps, caller, input) => adminVm(deps, caller, "history", input.args["VM"] ?? ""),
  "pool.add": async (deps, caller, input) => {
    const spec = addSpec(input);
    return typeof spec === "string" ? usageReply(deps, caller.userId, spec, { admin: true, command: "pool.add" }) : adminAdd(deps, caller, spec);
  },
  "pool.set": async (deps, caller, input) => {
    const lease = duration(input, "lease");
    const maxLease = duration(input, "max-lease");
    const ahead = duration(input, "max-booking-ahead");
    const length = duration(input, "max-booking-length");
    const quota = text(input, "quota");
    const problem = [lease, maxLease, ahead, length].find((d) => typeof d === "string") ?? (quota !== undefined && !/^\d{1,4}$/.test(quota) ? `\`${shown(quota)}\` is not a quota: use a whole number, like \`--quota 2\`.` : undefined);
    if (typeof problem === "string") return usageReply(deps, caller.userId, problem, { admin: true, command: "pool.set" });
    return adminPoolSet(deps, caller, input.args["POOL"] ?? "", {
      leaseMs: lease as number | undefined,
      maxLeaseMs: maxLease as number | undefined,
      maxBookingAheadMs: ahead as number | undefined,
      maxBookingLengthMs: length as number | undefined,
      quota: quota === undefined ? undefined : Number(quota),
      // The core checks the word (none or ssh) and says what would be right.
      cleanup: text(input, "cleanup")?.toLowerCase(),
    });
  },
  "pool.remove": (deps, caller, input) => adminVm(deps, caller, "remove", input.args["NAME"] ?? ""),
  "pool.drain": (deps, caller, input) => adminVm(deps, caller, "drain", input.args["NAME"] ?? ""),
  "pool.repair": (deps, caller, input) => adminVm(deps, caller, "repair", input.args["NAME"] ?? ""),
  "cleanup.retry": (deps, caller, input) => adminVm(deps, caller, "retry-cleanup", input.args["VM"] ?? ""),
  "cleanup.done": async (deps, caller, input) => {
    const reason = text(input, "reason");
    const vm = input.args["VM"] ?? "";
    if (reason === undefined || reason.trim() === "") {
      return usageReply(deps, caller.userId, `Say why, it is kept on record: \`/vm cleanup done ${shown(vm)} wiped /tmp by hand\`.`, { admin: true, command: "cleanup.done" });
    }
    return adminCleanupDone(deps, caller, vm, reason);
  },
  images: (deps, caller) => imagesCommand(deps, caller),
  "images.delete": (deps, caller, input) => imagesDeleteCommand(deps, caller, input.args["NAME"] ?? ""),
  instances: (deps, caller) => instancesCommand(deps, caller),
  jobs: (deps, caller, input) => jobsCommand(deps, caller, input.options["failed"] === true),
  "jobs.retry": (deps, caller, input) => jobActionCommand(deps, caller, "retry", input.args["ID"] ?? ""),
  "jobs.abandon": (deps, caller, input) => jobActionCommand(deps, caller, "abandon", input.args["ID"] ?? ""),
  report: (deps, caller, input) => reportCommand(deps, caller, text(input, "days")),
};

function text(input: Input, name: string): string | undefined {
  const value = input.options[name];
  return typeof value === "string" ? value : undefined;
}

/** A duration option in ms, unset, or what is wrong with it (nothing is changed then). */
function duration(input: Input, name: string): number | undefined | string {
  const value = text(input, name);
  if (value === undefined) return undefined;
  const ms = parseDuration(value.trim().toLowerCase());
  if (value.trim().startsWith("-")) return `\`${shown(value)}\`: a duration here is positive, like 90m, 4h, 2d or 1d12h. A lease is never shortened this way; to give the VM back sooner, check it in.`;
  if (ms === null || ms === 0) return `\`${shown(value)}\` is not a duration for \`${name}\`: write it like 90m, 4h, 2d or 1d12h (whole numbers, largest unit first).`;
  return ms;
}

/** What `/vm extend` asks: by a duration (default: the pool's lease), until a time, or pinned; or what is wrong. */
export function leaseRequest(input: Input): LeaseRequest | string {
  const by = duration(input, "by");
  if (typeof by === "string") return by;
  const until = text(input, "until");
  const pin = input.options["pin"] === true;
  // An --until that is not an ISO 8601 time with its zone is an invalid Date here, refused below.
  const at = until === undefined ? undefined : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(until) ? new Date(until) : new Date(NaN);
  const request = leaseRequestOf({ by, until: at, pin });
  if ("several" in request) return "Give one of `by`, `--until` and `--pin`, not several.";
  if ("until" in request && Number.isNaN(request.until.getTime())) {
    return `\`${shown(until ?? "")}\` is not a time for \`--until\`: write it in ISO 8601 with its zone, like \`2026-12-24T18:00Z\` or \`2026-12-24T18:00+01:00\`.`;
  }
  return request;
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
  const lease = duration(input, "lease");
  const maxLease = duration(input, "max-lease");
  if (typeof lease === "string") return lease;
  if (typeof maxLease === "string") return maxLease;
  return {
    name: input.args["NAME"] ?? "",
    ip: input.args["IP"] ?? "",
    ...(pool !== undefined ? { pool } : {}),
    ...(sshUser !== undefined ? { sshUser } : {}),
    ...(port !== undefined ? { sshPort: Number(port) } : {}),
    ...(hostKey !== undefined ? { hostKey } : {}),
    tags: Array.isArray(tags) ? tags : [],
    leases: { leaseMs: lease, maxLeaseMs: maxLease },
  };
}
