/**
 * `/vm` text → a typed command, or what was wrong with it. Only the shape is
 * checked here (which subcommand, how many words, which options); names and
 * addresses are checked by the core, whose messages say what would be right.
 */
import { escape } from "../views/format.js";

/** Longer than any real command; a paste of a log or a runaway script is answered, not parsed. */
export const MAX_COMMAND_LENGTH = 500;

export type VmOperation = "remove" | "drain" | "repair" | "retry-cleanup" | "force-checkin" | "history";

/** `/vm admin add`, as typed; defaults are filled in by the caller. */
export interface AddSpec {
  name: string;
  ip: string;
  pool?: string;
  sshUser?: string;
  sshPort?: number;
  hostKey?: string;
  tags: string[];
}

export type VmCommand =
  | { kind: "help"; admin: boolean }
  | { kind: "checkout"; pool: string | undefined }
  | { kind: "checkin"; vm: string | undefined }
  | { kind: "list" }
  | { kind: "status" }
  | { kind: "admin-add"; spec: AddSpec }
  | { kind: "admin-vm"; operation: VmOperation; vm: string }
  | { kind: "usage"; problem: string; admin: boolean };

const ALIASES: Record<string, "checkout" | "checkin" | "list" | "status" | "help" | "admin"> = {
  checkout: "checkout",
  "check-out": "checkout",
  checkin: "checkin",
  "check-in": "checkin",
  list: "list",
  ls: "list",
  status: "status",
  help: "help",
  "--help": "help",
  "-h": "help",
  "?": "help",
  admin: "admin",
};
const SUBCOMMANDS = ["checkout", "checkin", "list", "status", "help", "admin"];
const OPERATIONS: VmOperation[] = ["remove", "drain", "repair", "retry-cleanup", "force-checkin", "history"];
const ADD_OPTIONS = ["--pool", "--ssh-user", "--ssh-port", "--host-key", "--tags"];

const usage = (problem: string, admin = false): VmCommand => ({ kind: "usage", problem, admin });

export function parseVmCommand(raw: string): VmCommand {
  if (raw.length > MAX_COMMAND_LENGTH) {
    return usage(`That is ${raw.length.toLocaleString("en-US")} characters; /vm commands are short (at most ${MAX_COMMAND_LENGTH}), like \`/vm checkout\`.`);
  }
  const words = tokenize(raw);
  const [first, ...rest] = words;
  if (first === undefined) return { kind: "help", admin: false };
  const sub = ALIASES[first.toLowerCase()];
  if (sub === undefined) return usage(`\`${shown(first)}\` is not a /vm command.${suggest(first, SUBCOMMANDS, "/vm ")}`);
  switch (sub) {
    case "help":
      return { kind: "help", admin: rest[0]?.toLowerCase() === "admin" };
    case "checkout":
      return rest.length <= 1 ? { kind: "checkout", pool: rest[0] } : tooMany("/vm checkout", "one pool name", rest);
    case "checkin":
      return rest.length <= 1 ? { kind: "checkin", vm: rest[0] } : tooMany("/vm checkin", "one VM name", rest);
    case "list":
    case "status":
      return rest.length === 0 ? { kind: sub } : usage(`\`/vm ${sub}\` takes nothing after it; you added “${shown(rest.join(" "))}”.`);
    case "admin":
      return parseAdmin(rest);
  }
}

function parseAdmin(words: string[]): VmCommand {
  const [first, ...rest] = words;
  if (first === undefined || first.toLowerCase() === "help") return { kind: "help", admin: true };
  const op = first.toLowerCase();
  if (op === "add") return parseAdd(rest);
  const operation = OPERATIONS.find((o) => o === op);
  if (operation === undefined) {
    return usage(`\`${shown(first)}\` is not an admin command.${suggest(first, ["add", ...OPERATIONS], "/vm admin ")}`, true);
  }
  if (rest.length === 0) return usage(`\`/vm admin ${operation}\` needs a VM name, like \`/vm admin ${operation} vm-07\`.`, true);
  if (rest.length > 1) return tooMany(`/vm admin ${operation}`, "one VM name", rest, true);
  return { kind: "admin-vm", operation, vm: rest[0] ?? "" };
}

function parseAdd(words: string[]): VmCommand {
  const positional: string[] = [];
  const spec: Omit<AddSpec, "name" | "ip"> = { tags: [] };
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    if (!word.startsWith("--")) {
      positional.push(word);
      continue;
    }
    const [name = "", inline] = splitOption(word);
    if (!ADD_OPTIONS.includes(name)) {
      return usage(`\`${shown(name)}\` is not an option of \`/vm admin add\`; it takes ${ADD_OPTIONS.join(", ")}.`, true);
    }
    const value = inline ?? words[++i];
    if (value === undefined || value.startsWith("--")) return usage(`\`${name}\` needs a value, like \`${name}=${exampleOf(name)}\`.`, true);
    if (name === "--pool") spec.pool = value;
    if (name === "--ssh-user") spec.sshUser = value;
    if (name === "--host-key") spec.hostKey = value;
    if (name === "--tags") spec.tags = value.split(",").filter(Boolean);
    if (name === "--ssh-port") {
      if (!/^\d{1,5}$/.test(value)) return usage(`\`${shown(value)}\` is not a port number: use a whole number from 1 to 65535.`, true);
      spec.sshPort = Number(value);
    }
  }
  const [name, ip, ...extra] = positional;
  if (name === undefined || ip === undefined) {
    return usage("`/vm admin add` needs a VM name and its IP address, like `/vm admin add vm-07 198.51.100.7 --pool gpu`.", true);
  }
  if (extra.length > 0) return usage(`\`/vm admin add\` takes a name and an IP, then options; “${shown(extra.join(" "))}” is left over.`, true);
  return { kind: "admin-add", spec: { name, ip, ...spec } };
}

function splitOption(word: string): [string, string | undefined] {
  const eq = word.indexOf("=");
  return eq === -1 ? [word.toLowerCase(), undefined] : [word.slice(0, eq).toLowerCase(), word.slice(eq + 1)];
}

function exampleOf(option: string): string {
  return { "--pool": "gpu", "--ssh-user": "ubuntu", "--ssh-port": "2222", "--host-key": "SHA256:…", "--tags": "big,ssd" }[option] ?? "…";
}

function tooMany(command: string, what: string, words: string[], admin = false): VmCommand {
  return usage(`\`${command}\` takes ${what} at most; you gave ${words.length}: “${shown(words.join(" "))}”.`, admin);
}

/**
 * Words as typed, undoing what Slack and chat clients do to them: Slack
 * escapes &, < and > even with should_escape off; macOS and phones turn "--"
 * into a dash and quotes into curly ones.
 */
export function tokenize(raw: string): string[] {
  const text = raw.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  return text
    .split(/\s+/u)
    .map((w) => w.replace(/^[\u2012-\u2015\u2212]/u, "--").replace(/^["'`“”‘’]+|["'`“”‘’]+$/gu, ""))
    .filter((w) => w.length > 0);
}

/**
 * A word fit to quote back: cut short, no backticks that would end the code
 * span, and `<`, `>`, `&` escaped, so a typed `<!channel>` or `<@U…>` comes back
 * as text, never as a live mention or link (Slack parses those even in code spans).
 */
function shown(word: string): string {
  const clean = word.replace(/`/g, "'");
  return escape(clean.length > 40 ? clean.slice(0, 40) + "…" : clean);
}

/** " Did you mean `/vm checkout`?" for a near miss, else nothing. */
function suggest(word: string, known: string[], prefix: string): string {
  const w = word.toLowerCase();
  const best = known.map((k) => ({ k, d: distance(w, k) })).sort((a, b) => a.d - b.d)[0];
  return best && best.d <= Math.max(1, Math.floor(best.k.length / 3)) ? ` Did you mean \`${prefix}${best.k}\`?` : "";
}

/** Edit distance counting a swap of two neighbours as one edit ("drian" → "drain"), for typo suggestions. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] ?? 0) + 1);
      cur[j] = d;
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length] ?? Infinity;
}
