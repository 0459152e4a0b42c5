import type { Actor, Refusal } from "../core/types.js";
import { checkFingerprint, checkIp, checkPoolName, checkSshPort, checkSshUser, checkTag, checkNote, checkPersonName, checkUserId, checkVmName } from "../core/validate.js";
import { quoted, UsageError } from "./args.js";
import type { Input } from "./command.js";

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
  if (user === undefined) throw new UsageError("--user ID is required: the name or Slack user ID of the person acting (npx vmres people list shows them)");
  return user;
}

/** The person `--user` names, acting from the CLI. */
export const userActor = (user: string): Actor => ({ person: { lookup: user }, source: "cli" });

/** Whom the refusal's words address: the --user given, or null for the operator. */
export const userOf = (actor: Actor): string | null => (typeof actor.person === "object" && "lookup" in actor.person ? actor.person.lookup : null);

/** The `--user` when given, else the local operator, who acts as an admin (see people.ts). */
export function adminActor(input: Input): Actor {
  const user = optionalUser(input);
  return user === undefined ? { person: "operator", source: "cli" } : userActor(user);
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
