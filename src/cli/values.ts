import type { Actor, Refusal } from "../core/types.js";
import { checkFingerprint, checkIp, checkPoolName, checkSshPort, checkSshUser, checkTag, checkUserId, checkVmName } from "../core/validate.js";
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

/** `--user` when given (checked), else undefined. */
export function optionalUser(input: Input): string | undefined {
  const user = stringOption(input, "user");
  return user === undefined ? undefined : checked("--user", user, (v) => checkUserId(v));
}

/** The `--user` this command requires. */
export function requiredUser(input: Input): string {
  const user = optionalUser(input);
  if (user === undefined) throw new UsageError("--user ID is required (the Slack user ID of the person acting)");
  return user;
}

/** The `--user` when given, else the local operator (userId null), who acts as an admin (see isAdmin). */
export function adminActor(input: Input): Actor {
  return { userId: optionalUser(input) ?? null, source: "cli" };
}

export function vmArg(input: Input, name = "VM"): string {
  return checked(name, input.args[name] ?? "", (v) => checkVmName(v));
}

export function ipArg(input: Input, name = "IP"): string {
  return checked(name, input.args[name] ?? "", (v) => checkIp(v));
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
