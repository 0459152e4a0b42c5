import { COMMON_FLAGS, flagsIn, isOptional, positionalsIn, textIn, type Adapter, type CommandSpec, type FlagSpec, type PositionalSpec } from "./spec.js";

/** Building blocks of both helps, so `/vm help` and `vmres --help` describe a command from the same entry. */

/** `VM`, `[VM]`, `[COMMAND ...]`, `on|off`. */
export function positionalLabel(p: PositionalSpec, adapter: Adapter): string {
  const label = p.values ? p.values.join("|") : p.name;
  const many = p.variadic ? `${label} ...` : label;
  return isOptional(p, adapter) ? `[${many}]` : many;
}

/** `--pool P`, `--tag T ...`, `--force`. */
export function flagLabel(name: string, flag: FlagSpec, opts: { repeat?: boolean } = {}): string {
  const value = flag.type === "string" ? ` ${flag.placeholder ?? "VALUE"}${opts.repeat !== false && flag.repeatable ? " ..." : ""}` : "";
  return `--${name}${value}`;
}

/**
 * The words of a usage line after the program: `pool add NAME IP [--pool P] [--tag T ...]`.
 * Common flags (`--help`, `--json`) are left out; so is a flag a positional stands for
 * (`/vm checkout [POOL]`), and, unless `admin`, the flags only admins may use.
 */
export function usageWords(spec: CommandSpec, adapter: Adapter, opts: { admin?: boolean } = {}): string {
  const positionals = positionalsIn(spec, adapter);
  const standIns = new Set(positionals.flatMap((p) => (p.flag ? [p.flag] : [])));
  const flags = flagsIn(spec, adapter)
    .filter(([name, f]) => !(name in COMMON_FLAGS) && !standIns.has(name) && (opts.admin === true || !f.adminOnly))
    .map(([name, f]) => (f.required ? flagLabel(name, f) : `[${flagLabel(name, f)}]`));
  return [...spec.words, ...positionals.map((p) => positionalLabel(p, adapter)), ...flags].join(" ");
}

/** One `[label, help]` per flag the command takes in this adapter, common ones last. */
export function flagHelp(spec: CommandSpec, adapter: Adapter, opts: { admin?: boolean } = {}): [string, string][] {
  return flagsIn(spec, adapter)
    .filter(([, f]) => opts.admin === true || !f.adminOnly)
    .map(([name, f]) => [`${f.short ? `-${f.short}, ` : ""}${flagLabel(name, f, { repeat: false })}`, textIn(f.help, adapter)]);
}

/** `[label, summary]` lines padded into two columns. */
export function columns(rows: [string, string][], indent = "  "): string[] {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, text]) => `${indent}${label.padEnd(width)}  ${text}`);
}
