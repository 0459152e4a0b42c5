import type { Actor, Refusal } from "../core/types.js";
import { checkFingerprint, checkIp, checkPoolName, checkSshPort, checkSshUser, checkTag, checkNote, checkPersonName, checkUserId, checkVmName } from "../core/validate.js";
import { parseDuration } from "../duration.js";
import { checkLabel } from "../core/labels.js";
import { quoted, UsageError } from "./args.js";
import type { Input } from "./command.js";
import { vmresCommand } from "./invocation.js";

/**
 * Typed, checked values from the command line. The checks are the core's own
 * (src/core/validate.ts), run here so that a malformed value is a usage error
 * (exit 2) caught before the database is opened, not a refusal after it.
 */
function checked(label: string, value: string, check: (v: string) => Refusal | null): string {
  const refusal = check(value);
  if (refusal?.code === "invalid_input") throw new UsageError(`${label}: ${refusal.message}`);
  return value;
}

function stringOption(input: Input, name: string): string | undefined {
  const value = input.options[name];
  return typeof value === "string" ? value : undefined;
}

/** `--user` when given: a person's name or Slack user ID (the core looks them up), else undefined. */
export function optionalUser(input: Input): string | undefined {
  const user = stringOption(input, "user");
  return user === undefined ? undefined : checked("--user", user, (v) => (v.trim() === "" || v.length > 200 ? checkPersonName(v, "user") : null));
}

/** The `--user` this command requires. */
export function requiredUser(input: Input): string {
  const user = optionalUser(input);
  if (user === undefined) throw new UsageError(`--user ID is required: the name or Slack user ID of the person acting (${vmresCommand()} people list shows them)`);
  return user;
}

/** The person `--user` names, acting from the CLI: found, never created (an unknown one is refused as unknown). */
export const userActor = (user: string): Actor => ({ person: { lookup: user }, source: "cli" });

/**
 * The person `--user` names, for a command that gives them something (checkout,
 * wait, reserve): a Slack user ID vmres has not met yet becomes that person, as
 * their first Slack request would make them; the operator is an admin. Read
 * commands use userActor, or a lookup, which never create anyone.
 */
export const recipientActor = (user: string): Actor => ({ person: checkUserId(user) === null ? { slackUserId: user } : { lookup: user }, source: "cli" });

/** Whom the refusal's words address: the --user given, or null for the operator. */
export function userOf(actor: Actor): string | null {
  const person = actor.person;
  if (typeof person !== "object") return null;
  return "lookup" in person ? person.lookup : "slackUserId" in person ? person.slackUserId : null;
}

/** The `--user` when given, else the local operator, who acts as an admin (see people.ts). */
export function adminActor(input: Input): Actor {
  const user = optionalUser(input);
  return user === undefined ? { person: "operator", source: "cli" } : userActor(user);
}

/**
 * After an admin's change to someone else's checkout or booking made without
 * --user: the change is recorded as the operator's, and the words say so, so
 * whoever typed it knows their own name is not on it.
 */
export function operatorNote(actor: Actor | null, onSomeoneElses: boolean): string {
  return actor?.person === "operator" && onSomeoneElses ? " Done as the operator, on record (--user NAME puts your own name on it)." : "";
}

export function vmArg(input: Input, name = "VM"): string {
  return checked(name, input.args[name] ?? "", (v) => checkVmName(v));
}

export function ipArg(input: Input, name = "IP"): string {
  return checked(name, input.args[name] ?? "", (v) => checkIp(v));
}

/** `--note TEXT`: why a VM is taken, kept on the checkout. */
export function noteOption(input: Input): string | undefined {
  const note = stringOption(input, "note");
  return note === undefined ? undefined : checked("--note", note, (v) => checkNote(v));
}

export function poolOption(input: Input): string | undefined {
  const pool = stringOption(input, "pool");
  return pool === undefined ? undefined : checked("--pool", pool, (v) => checkPoolName(v));
}

export function sshUserOption(input: Input): string | undefined {
  const user = stringOption(input, "ssh-user");
  return user === undefined ? undefined : checked("--ssh-user", user, (v) => checkSshUser(v));
}

export function hostKeyOption(input: Input): string | null {
  const key = stringOption(input, "host-key");
  return key === undefined ? null : checked("--host-key", key, (v) => checkFingerprint(v));
}

export function sshPortOption(input: Input): number | undefined {
  const text = stringOption(input, "ssh-port");
  if (text === undefined) return undefined;
  // Number("") is 0 and Number("0x16") is 22: accept plain decimal digits only.
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (checkSshPort(port)) throw new UsageError(`--ssh-port: ${quoted(text)} is not a TCP port: use a whole number from 1 to 65535`);
  return port;
}

export function tagOptions(input: Input): string[] {
  const tags = input.options["tag"];
  return (Array.isArray(tags) ? tags : []).map((t) => checked("--tag", t, (v) => checkTag(v)));
}

export function fileOption(input: Input): string | undefined {
  const file = stringOption(input, "file");
  if (file === "") throw new UsageError("--file: give the path of an inventory file");
  return file;
}

export function flag(input: Input, name: string): boolean {
  return input.options[name] === true;
}

/** A string option as given, unchecked (the caller checks it). */
export const stringValue = (input: Input, name: string): string | undefined => stringOption(input, name);

/** `--NAME VM` when given (checked), else undefined. */
export function vmArgOptional(input: Input, option: string): string | undefined {
  const vm = stringOption(input, option);
  return vm === undefined ? undefined : checked(`--${option}`, vm, (v) => checkVmName(v));
}

/** A person's name as a positional argument (checked). */
export function personNameArg(input: Input, name: string): string {
  return checked(name, input.args[name] ?? "", (v) => checkPersonName(v));
}

/** `--slack-id U…` when given (checked), else undefined. */
export function slackIdOption(input: Input): string | undefined {
  const id = stringOption(input, "slack-id");
  return id === undefined ? undefined : checked("--slack-id", id, (v) => checkUserId(v, "slack-id"));
}

const MINUTE = 60_000;
const LONGEST = 3650 * 86_400_000;

/**
 * `--for 4h`, `--by 2h`, `--lease 8h`, `--max-lease 3d`: a lease length as
 * src/duration.ts reads it, from 1m to 3650d (the core's bounds), else a usage
 * error saying what would be right. Undefined when not given.
 */
export function leaseOption(input: Input, name: string): number | undefined {
  const text = stringOption(input, name);
  if (text === undefined) return undefined;
  const ms = parseDuration(text.trim());
  if (ms === null) throw new UsageError(`--${name}: ${quoted(text)} is not a duration: ${DURATION_WORDS}`);
  if (ms < MINUTE || ms > LONGEST) throw new UsageError(`--${name}: ${quoted(text)} is ${ms < MINUTE ? "too short" : "too long"}: a lease is at least 1m and at most 3650d, ${DURATION_EXAMPLES}`);
  return ms;
}

/** `--timeout 30m` (with --wait): how long to wait, from 1s; undefined: no limit. */
export function timeoutOption(input: Input): number | undefined {
  const text = stringOption(input, "timeout");
  if (text === undefined) return undefined;
  const ms = parseDuration(text.trim());
  if (ms === null) throw new UsageError(`--timeout: ${quoted(text)} is not a duration: ${DURATION_WORDS}`);
  if (ms < 1000) throw new UsageError(`--timeout: ${quoted(text)} is no time at all: give how long to wait, ${DURATION_EXAMPLES} (leave --timeout out to wait as long as it takes)`);
  return ms;
}

const DURATION_EXAMPLES = "like 90m, 4h, 2d or 1d12h";
const DURATION_WORDS = `write it ${DURATION_EXAMPLES} (whole numbers; units d, h, m, s, largest first; no spaces)`;

/** ISO 8601 date and time: 2026-12-24T18:00Z, 2026-12-24 18:00:30+01:00, 2026-12-24T18:00 (local time). */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A time in ISO 8601 given to option `--NAME`: without an offset, the local time of this machine.
 * An impossible date (2026-02-30) or a shape that is not ISO is a usage error saying what would be right.
 */
export function isoTimeOption(input: Input, name: string): Date | undefined {
  const text = stringOption(input, name);
  if (text === undefined) return undefined;
  const parts = ISO_TIME.exec(text.trim());
  const shape = `give a date and time in ISO 8601, like 2026-12-24T18:00Z or 2026-12-24T18:00+01:00 (without an offset it is this machine's local time)`;
  if (!parts) throw new UsageError(`--${name}: ${quoted(text)} is not a time: ${shape}`);
  const [, y, mo, d, h, mi, s, zone] = parts;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? "0")] as const;
  // Date would roll 2026-02-30 over to March: rebuild the fields and compare, so an impossible date is refused.
  const local = new Date(...fields);
  const utc = new Date(Date.UTC(...fields));
  const check = zone === undefined ? local : utc;
  const same = zone === undefined
    ? [check.getFullYear(), check.getMonth(), check.getDate(), check.getHours(), check.getMinutes()]
    : [check.getUTCFullYear(), check.getUTCMonth(), check.getUTCDate(), check.getUTCHours(), check.getUTCMinutes()];
  if (same.some((v, i) => v !== fields[i]) || fields[5] > 59) throw new UsageError(`--${name}: ${quoted(text)} is not a real date and time: ${shape}`);
  const at = new Date(zone === undefined ? text.trim().replace(" ", "T") : text.trim().replace(" ", "T").replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
  if (Number.isNaN(at.getTime())) throw new UsageError(`--${name}: ${quoted(text)} is not a time: ${shape}`);
  return at;
}

/** `--until TIME`: a moment in the future, in ISO 8601; without an offset, the local time of this machine. */
export function untilOption(input: Input, now: Date = new Date()): Date | undefined {
  const at = isoTimeOption(input, "until");
  if (at === undefined) return undefined;
  if (at.getTime() <= now.getTime()) throw new UsageError(`--until: ${quoted(stringOption(input, "until") ?? "")} has passed: give an end in the future (or check the VM in)`);
  return at;
}

/** `--quota N`: VMs one person may hold at once in a pool, 1 to 1000. */
export function quotaOption(input: Input): number | undefined {
  const text = stringOption(input, "quota");
  if (text === undefined) return undefined;
  const n = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 1000)) throw new UsageError(`--quota: ${quoted(text)} is not a quota: use a whole number from 1 to 1000`);
  return n;
}

/** A pool's name as a positional argument (checked). */
export function poolArg(input: Input, name = "POOL"): string {
  return checked(name, input.args[name] ?? "", (v) => checkPoolName(v));
}

/** `--count N`: how many VMs, 1 to 1000. */
/** `--vm NAME ...` (repeatable, each checked) when given, else undefined. */
export function vmOptions(input: Input): string[] | undefined {
  const vms = input.options["vm"];
  return Array.isArray(vms) && vms.length > 0 ? vms.map((v) => checked("--vm", v, (x) => checkVmName(x))) : undefined;
}

export function countOption(input: Input): number | undefined {
  const text = stringOption(input, "count");
  if (text === undefined) return undefined;
  const n = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 1000)) throw new UsageError(`--count: ${quoted(text)} is not a number of VMs: use a whole number from 1 to 1000`);
  return n;
}

/** `--label L` (checked like a pool's name) when given. */
export function labelOption(input: Input, name = "label"): string | undefined {
  const label = stringOption(input, name);
  return label === undefined ? undefined : checked(`--${name}`, label, (v) => checkLabel(v));
}

/** A label as a positional argument (checked). */
export function labelArg(input: Input, name = "LABEL"): string {
  return checked(name, input.args[name] ?? "", (v) => checkLabel(v));
}
