/**
 * The shape of the one command grammar that `/vm` (Slack) and `vmres` (CLI)
 * share: what a command is called, what it takes, and what help says about
 * it. Pure data and small lookups, no I/O: the CLI loads this for `--help`,
 * so it must stay light (see test/cli/loading.test.ts).
 */

/** Where a command can be typed. */
export type Adapter = "slack" | "cli";

/** Text that reads differently in Slack and in a terminal (`/vm checkout gpu` vs `vmres checkout --user …`). */
export type Text = string | Readonly<Record<Adapter, string>>;

/** An example invocation, written without the `/vm ` or `vmres ` in front; per adapter when they differ. */
export type Example = string | Readonly<Partial<Record<Adapter, string>>>;

/** A `--name` a command accepts. */
export interface FlagSpec {
  /** `string` takes a value (`--pool gpu`, `--pool=gpu`, `--note "team demo"`); `boolean` is there or not. */
  readonly type: "string" | "boolean";
  /** Shown after the flag in help: `P` in `--pool P`. */
  readonly placeholder?: string;
  /** A real-looking value, for "needs a value, like `--pool=gpu`". */
  readonly example?: string;
  /** May be given several times; the values are collected in order. */
  readonly repeatable?: boolean;
  /** Shown without brackets in usage lines; the handler enforces it (its message says why). */
  readonly required?: boolean;
  readonly help: Text;
  /** Offered only in these adapters (default: wherever the command is): `--user` is the CLI's, Slack knows who typed. */
  readonly adapters?: readonly Adapter[];
  /** Only admins may use it: Slack's help shows it to admins only. The core still decides. */
  readonly adminOnly?: boolean;
  /**
   * In Slack, the flag may also be written as this word and its value, as people say it:
   * keyword `for` makes `/vm checkout for 4h` the same as `/vm checkout --for 4h`.
   */
  readonly keyword?: string;
  /**
   * A string flag whose value may be left out (`--restore` or `--restore gpu-alice-3`):
   * alone, or followed by another flag or nothing, it is `true`.
   */
  readonly optionalValue?: boolean;
  /** A one-letter spelling, `-h`. */
  readonly short?: string;
  /**
   * An old spelling kept so that what people typed keeps working, hidden from help:
   * its values go into flag `into`, split on `split` (`--tags a,b` = `--tag a --tag b`).
   */
  readonly into?: string;
  readonly split?: string;
}

/** A word a command takes by position. */
export interface PositionalSpec {
  /** As help shows it and as handlers read it from `Input.args`: `VM`, `NAME`. */
  readonly name: string;
  /** What it is, in words for messages: `VM name` ("needs a VM name"). */
  readonly noun: string;
  /** The article before the noun in messages (default "a"/"an"): "its IP address". */
  readonly article?: string;
  /** A real-looking value, for "like `/vm pool drain vm-07`". */
  readonly example: string;
  /** May be left out: everywhere (`true`) or in these adapters only (`/vm checkin` alone checks in the VM you hold). */
  readonly optional?: boolean | readonly Adapter[];
  /** Offered only in these adapters (default: wherever the command is). */
  readonly adapters?: readonly Adapter[];
  /** The only words allowed (`on`, `off`). */
  readonly values?: readonly string[];
  /** Takes every remaining word (only the last positional), joined by spaces. */
  readonly variadic?: boolean;
  /** A shorthand for this flag: `/vm checkout gpu` is `/vm checkout --pool gpu`. Help then shows only the positional. */
  readonly flag?: string;
}

/** Another spelling of a command (Slack's older forms), possibly with flags it implies. */
export interface Alias {
  readonly words: readonly string[];
  /** Boolean flags the spelling sets: `admin force-checkin` is `checkin --force`. */
  readonly sets?: readonly string[];
}

/** One command of the grammar. Adding a command: one of these in grammar.ts, and a handler in each adapter it names. */
export interface CommandSpec<I extends string = string, A extends readonly Adapter[] = readonly Adapter[]> {
  /** Stable key the adapters' handler tables use: `pool.add`. */
  readonly id: I;
  /** The words that name it: `["pool", "add"]`. */
  readonly words: readonly string[];
  readonly adapters: A;
  /** Older or shorter spellings Slack keeps accepting (`ls`, `admin drain`): Slack only, so the CLI's contract stays as it is. */
  readonly slackAliases?: readonly Alias[];
  readonly positionals: readonly PositionalSpec[];
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** One sentence for listings. */
  readonly summary: Text;
  /** More text for the command's own help. */
  readonly details?: Text;
  readonly examples?: readonly Example[];
  /** Admins only: everywhere (`true`) or in these adapters. The core or handler enforces it; this is for help. */
  readonly admin?: boolean | readonly Adapter[];
}

/** Declares one command, keeping its id and adapters as literal types so each adapter's handler table can be checked for completeness. */
export function command<const I extends string, const A extends readonly Adapter[]>(spec: CommandSpec<I, A>): CommandSpec<I, A> {
  return spec;
}

/** Flags every command takes, in the adapters named. */
export const COMMON_FLAGS: Readonly<Record<string, FlagSpec>> = {
  json: { type: "boolean", help: "print the result (or the refusal) as JSON on stdout", adapters: ["cli"] },
  insecure: { type: "boolean", help: "allow an http:// VMRES_URL or login on another machine (the API token then travels unencrypted)", adapters: ["cli"] },
  help: { type: "boolean", short: "h", help: "show this help" },
};

const within = (list: readonly Adapter[] | undefined, adapter: Adapter) => list === undefined || list.includes(adapter);

export const offers = (spec: CommandSpec, adapter: Adapter): boolean => spec.adapters.includes(adapter);

/** The command's flags in this adapter, then the common ones, in help order; `hidden` includes the old spellings. */
export function flagsIn(spec: CommandSpec, adapter: Adapter, opts: { hidden?: boolean } = {}): [string, FlagSpec][] {
  return Object.entries({ ...spec.flags, ...COMMON_FLAGS }).filter(([, f]) => within(f.adapters, adapter) && (opts.hidden === true || f.into === undefined));
}

export const positionalsIn = (spec: CommandSpec, adapter: Adapter): PositionalSpec[] => spec.positionals.filter((p) => within(p.adapters, adapter));

export function isOptional(p: PositionalSpec, adapter: Adapter): boolean {
  return p.optional === true || (Array.isArray(p.optional) && p.optional.includes(adapter));
}

export function isAdminIn(spec: CommandSpec, adapter: Adapter): boolean {
  return spec.admin === true || (Array.isArray(spec.admin) && spec.admin.includes(adapter));
}

export function textIn(text: Text, adapter: Adapter): string {
  return typeof text === "string" ? text : text[adapter];
}

export function examplesIn(spec: CommandSpec, adapter: Adapter): string[] {
  return (spec.examples ?? []).flatMap((e) => (typeof e === "string" ? [e] : e[adapter] !== undefined ? [e[adapter]] : []));
}

/** Every spelling of the command in this adapter: its words first, then Slack's aliases. */
export function spellingsIn(spec: CommandSpec, adapter: Adapter): Alias[] {
  return [{ words: spec.words }, ...(adapter === "slack" ? (spec.slackAliases ?? []) : [])];
}

/** "a VM name", "its IP address", "an IP address". */
export function described(p: PositionalSpec): string {
  return `${p.article ?? (/^[aeiou]/i.test(p.noun) ? "an" : "a")} ${p.noun}`;
}
