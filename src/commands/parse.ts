import { GRAMMAR } from "./grammar.js";
import { flagsIn, isOptional, offers, positionalsIn, spellingsIn, type Adapter, type CommandSpec, type FlagSpec, type PositionalSpec } from "./spec.js";

/**
 * Words → a command of the grammar and its input, for either adapter. What is
 * wrong comes back as a value naming the problem; each adapter words it in
 * its own medium (CLI: a line and exit 2; Slack: a reply with help). Only the
 * shape is checked here (which command, how many words, which flags); values
 * are checked by the handlers and the core, whose messages say what would be right.
 */

/** The words of one invocation after parsing: positionals by name, flags by name. */
export interface Input {
  args: Record<string, string>;
  options: Record<string, string | boolean | string[] | undefined>;
}

/** Why the words name no command. */
export type CommandProblem =
  | { code: "no_command" }
  | { code: "needs_subcommand"; group: string; known: string[] }
  | { code: "unknown_subcommand"; group: string; word: string; known: string[] }
  | { code: "unknown_command"; word: string; known: string[] };

/** Why the words after the command do not fit it. */
export type InputProblem =
  | { code: "unknown_flag"; flag: string; accepted: string[] }
  | { code: "missing_value"; flag: string; spec: FlagSpec }
  | { code: "unexpected_value"; flag: string }
  | { code: "missing_arguments"; missing: PositionalSpec[]; required: PositionalSpec[] }
  | { code: "extra_arguments"; extra: string[]; given: string[]; accepted: PositionalSpec[] }
  | { code: "not_one_of"; positional: PositionalSpec; value: string }
  | { code: "given_twice"; flag: string; positional: PositionalSpec };

/** A command found: its spec, the words as typed (`admin drain`), and what follows them. */
export interface Found {
  spec: CommandSpec;
  typed: string[];
  /** Flags the spelling implies (`admin force-checkin` sets `force`). */
  sets: readonly string[];
  rest: string[];
}

/**
 * The command named by the leading words: the longest spelling offered in the
 * adapter wins (`pool add` over a group named `pool`). Case does not matter.
 */
export function findCommand(words: string[], adapter: Adapter, grammar: readonly CommandSpec[] = GRAMMAR): { ok: true; found: Found } | { ok: false; problem: CommandProblem } {
  const lower = words.map((w) => w.toLowerCase());
  let best: Found | null = null;
  for (const spec of grammar.filter((s) => offers(s, adapter))) {
    for (const spelling of spellingsIn(spec, adapter)) {
      const n = spelling.words.length;
      if (n > lower.length || (best && best.typed.length >= n)) continue;
      if (spelling.words.every((w, i) => w === lower[i])) best = { spec, typed: words.slice(0, n), sets: spelling.sets ?? [], rest: words.slice(n) };
    }
  }
  if (best) return { ok: true, found: best };
  const [first, second] = lower;
  if (first === undefined) return { ok: false, problem: { code: "no_command" } };
  const members = groupMembers(first, adapter, grammar);
  if (members.length > 0) {
    return second === undefined
      ? { ok: false, problem: { code: "needs_subcommand", group: first, known: members } }
      : { ok: false, problem: { code: "unknown_subcommand", group: first, word: words[1] ?? "", known: members } };
  }
  return { ok: false, problem: { code: "unknown_command", word: words[0] ?? "", known: firstWords(adapter, grammar) } };
}

/** The second words of the spellings under a group word (`pool` → add, remove, …), in table order. */
export function groupMembers(group: string, adapter: Adapter, grammar: readonly CommandSpec[] = GRAMMAR): string[] {
  const spellings = grammar.filter((s) => offers(s, adapter)).flatMap((s) => spellingsIn(s, adapter));
  return unique(spellings.filter((a) => a.words.length === 2 && a.words[0] === group).map((a) => a.words[1] ?? ""));
}

/** The first words a user may start with in this adapter: commands and groups, not symbols like `?`. */
export function firstWords(adapter: Adapter, grammar: readonly CommandSpec[] = GRAMMAR): string[] {
  return unique(grammar.filter((s) => offers(s, adapter)).flatMap((s) => spellingsIn(s, adapter).map((a) => a.words[0] ?? "")).filter((w) => /^[a-z]/.test(w)));
}

const unique = (words: string[]) => [...new Set(words)];

/**
 * The flags and positionals after the command's words. `--name value`,
 * `--name=value`, `-h`; `--` ends the flags (what follows is positional, as in
 * a shell). Unknown flags, missing values and extra words are problems, never
 * guesses.
 */
export function parseInput(spec: CommandSpec, adapter: Adapter, words: string[], sets: readonly string[] = []): { ok: true; input: Input } | { ok: false; problem: InputProblem } {
  const flags = flagsIn(spec, adapter, { hidden: true });
  const byName = new Map(flags);
  const byShort = new Map(flags.flatMap(([name, f]) => (f.short ? [[f.short, name] as const] : [])));
  const byKeyword = new Map(adapter === "slack" ? flags.flatMap(([name, f]) => (f.keyword ? [[f.keyword, name] as const] : [])) : []);
  const options: Input["options"] = Object.fromEntries(sets.map((name) => [name, true]));
  const positionals: string[] = [];
  let flagsEnded = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    const keyword = flagsEnded ? undefined : byKeyword.get(word.toLowerCase());
    // `for 4h`: the keyword and the word after it, when there is one (a lone `for` stays a word).
    if (keyword !== undefined && words[i + 1] !== undefined && options[keyword] === undefined) {
      store(options, keyword, byName.get(keyword)!, words[i + 1]!);
      i++;
      continue;
    }
    if (flagsEnded || word === "-" || !word.startsWith("-")) {
      positionals.push(word);
      continue;
    }
    if (word === "--") {
      flagsEnded = true;
      continue;
    }
    const eq = word.indexOf("=");
    const typedName = word.startsWith("--") ? (eq === -1 ? word.slice(2) : word.slice(2, eq)) : word.slice(1);
    const name = word.startsWith("--") ? typedName.toLowerCase() : byShort.get(typedName);
    const flag = name === undefined ? undefined : byName.get(name);
    const shown = word.startsWith("--") ? `--${typedName}` : word;
    if (name === undefined || flag === undefined) {
      return { ok: false, problem: { code: "unknown_flag", flag: shown, accepted: flags.filter(([, f]) => f.into === undefined).map(([n]) => `--${n}`) } };
    }
    const inline = word.startsWith("--") && eq !== -1 ? word.slice(eq + 1) : undefined;
    if (flag.type === "boolean") {
      if (inline !== undefined) return { ok: false, problem: { code: "unexpected_value", flag: shown } };
      options[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = words[i + 1];
      if (flag.optionalValue && (next === undefined || (next.startsWith("-") && next !== "-"))) {
        options[name] = true;
        continue;
      }
      // `--pool --json` is a forgotten value, not a pool called "--json".
      if (next === undefined || (next.startsWith("-") && next !== "-")) return { ok: false, problem: { code: "missing_value", flag: shown, spec: flag } };
      value = next;
      i++;
    }
    store(options, name, flag, value);
  }
  return placePositionals(spec, adapter, positionals, options);
}

function store(options: Input["options"], name: string, flag: FlagSpec, value: string): void {
  const target = flag.into ?? name;
  const values = flag.split === undefined ? [value] : value.split(flag.split).filter((v) => v !== "");
  if (flag.repeatable) {
    const before = options[target];
    options[target] = [...(Array.isArray(before) ? before : []), ...values];
  } else {
    options[target] = value;
  }
}

function placePositionals(spec: CommandSpec, adapter: Adapter, given: string[], options: Input["options"]): { ok: true; input: Input } | { ok: false; problem: InputProblem } {
  const accepted = positionalsIn(spec, adapter);
  const required = accepted.filter((p) => !isOptional(p, adapter));
  const variadic = accepted.at(-1)?.variadic === true;
  if (given.length < required.length) {
    return { ok: false, problem: { code: "missing_arguments", missing: required.slice(given.length), required } };
  }
  if (!variadic && given.length > accepted.length) {
    return { ok: false, problem: { code: "extra_arguments", extra: given.slice(accepted.length), given, accepted } };
  }
  const args: Record<string, string> = {};
  for (const [i, p] of accepted.entries()) {
    const value = p.variadic ? given.slice(i).join(" ") : given[i];
    if (value === undefined || (p.variadic && value === "")) continue;
    if (p.values && !p.values.includes(value.toLowerCase())) return { ok: false, problem: { code: "not_one_of", positional: p, value } };
    const word = p.values ? value.toLowerCase() : value;
    if (p.flag !== undefined) {
      if (options[p.flag] !== undefined) return { ok: false, problem: { code: "given_twice", flag: `--${p.flag}`, positional: p } };
      options[p.flag] = word;
    } else {
      args[p.name] = word;
    }
  }
  return { ok: true, input: { args, options } };
}
