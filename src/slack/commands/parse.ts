/**
 * `/vm` text → a command of the grammar shared with the CLI
 * (src/commands/grammar.ts), or what was wrong with it in Slack's words. Only
 * the shape is checked here (which command, how many words, which flags);
 * names and addresses are checked by the handlers and the core, whose
 * messages say what would be right.
 */
import type { CommandIdIn } from "../../commands/grammar.js";
import { findCommand, parseInput, type CommandProblem, type Found, type Input, type InputProblem } from "../../commands/parse.js";
import { COMMON_FLAGS, described, flagsIn, isAdminIn, isOptional, type CommandSpec } from "../../commands/spec.js";
import { nearest } from "../../commands/suggest.js";
import { tokenize, unescapeSlack } from "../../commands/tokenize.js";
import { escape } from "../views/format.js";

/** Longer than any real command (a 500-character note included); a paste of a log or a runaway script is answered, not parsed. */
export const MAX_COMMAND_LENGTH = 1000;

/** A command `/vm` offers. */
export type SlackCommandId = CommandIdIn<"slack">;

export type VmCommand =
  /** Help: everything (`admin` adds the admin commands), or one command's, or one group's (`/vm help pool`). */
  | { kind: "help"; admin: boolean; command?: SlackCommandId; group?: string }
  | { kind: "run"; command: Exclude<SlackCommandId, "help">; input: Input }
  /** What was wrong, with the help to show beside it: the command's own when it was recognised. */
  | { kind: "usage"; problem: string; admin: boolean; command?: SlackCommandId };

const usage = (problem: string, admin = false, command?: SlackCommandId): VmCommand => ({ kind: "usage", problem, admin, ...(command ? { command } : {}) });

export function parseVmCommand(raw: string): VmCommand {
  if (raw.length > MAX_COMMAND_LENGTH) {
    return usage(`That is ${raw.length.toLocaleString("en-US")} characters; /vm commands are short (at most ${MAX_COMMAND_LENGTH.toLocaleString("en-US")}), like \`/vm checkout\`.`);
  }
  const tokens = tokenize(unescapeSlack(raw));
  if (!tokens.ok) {
    const { quote, rest } = tokens.problem;
    return usage(`The quote in \`${shown(quote + rest)}\` is never closed; close it, like \`--note "team demo"\`.`);
  }
  if (tokens.words.length === 0) return { kind: "help", admin: false };
  const found = findCommand(tokens.words, "slack");
  if (!found.ok) return commandProblem(found.problem);
  const { spec, typed, rest, sets } = found.found;
  const id = spec.id as SlackCommandId;
  const admin = isAdminIn(spec, "slack") || typed[0]?.toLowerCase() === "admin";
  // Help first, as in the CLI: `/vm pool add --help` needs no NAME and IP.
  const flagWords = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (id !== "help" && flagWords.some((w) => w.toLowerCase() === "--help" || w === "-h")) return { kind: "help", admin, command: id };
  const parsed = parseInput(spec, "slack", rest, sets);
  if (!parsed.ok) return usage(inputProblem(found.found, parsed.problem), admin, id);
  if (id === "help") return helpTopic(parsed.input.args["COMMAND"]);
  return { kind: "run", command: id, input: parsed.input };
}

/** `/vm help`, `/vm help admin`, `/vm help checkout`, `/vm help pool`. */
function helpTopic(topic: string | undefined): VmCommand {
  if (topic === undefined) return { kind: "help", admin: false };
  const words = topic.split(" ");
  if (words.length === 1 && words[0]?.toLowerCase() === "admin") return { kind: "help", admin: true };
  const found = findCommand(words, "slack");
  if (found.ok && found.found.rest.length === 0) {
    const spec = found.found.spec;
    return { kind: "help", admin: isAdminIn(spec, "slack") || words[0]?.toLowerCase() === "admin", command: spec.id as SlackCommandId };
  }
  if (!found.ok && found.problem.code === "needs_subcommand") return { kind: "help", admin: false, group: found.problem.group };
  return found.ok ? usage(`\`/vm help\` takes one command, like \`/vm help ${found.found.spec.words.join(" ")}\`.`) : commandProblem(found.problem);
}

function commandProblem(problem: CommandProblem): VmCommand {
  switch (problem.code) {
    case "no_command":
      return { kind: "help", admin: false };
    case "needs_subcommand":
      return problem.group === "admin" ? { kind: "help", admin: true } : { kind: "help", admin: false, group: problem.group };
    case "unknown_subcommand": {
      const { group, word, known } = problem;
      if (word.toLowerCase() === "help") return problem.group === "admin" ? { kind: "help", admin: true } : { kind: "help", admin: false, group };
      const article = /^[aeiou]/.test(group) ? "an" : "a";
      return usage(`\`${shown(word)}\` is not ${article} ${group} command.${suggest(word, known, `/vm ${group} `)}`, group === "admin");
    }
    case "unknown_command":
      return usage(`\`${shown(problem.word)}\` is not a /vm command.${suggest(problem.word, problem.known, "/vm ")}`);
  }
}

/** What was wrong after the command's words, naming the command as it was typed (`/vm admin drain`). */
function inputProblem(found: Found, problem: InputProblem): string {
  const typed = `/vm ${found.typed.join(" ").toLowerCase()}`;
  switch (problem.code) {
    case "unknown_flag": {
      const name = problem.flag.toLowerCase().slice(2);
      const takes = problem.accepted.filter((f) => f !== "--help").map((f) => `\`${f}\``);
      const options = takes.length > 0 ? `takes ${takes.join(", ")}` : "takes no options";
      // `--user` and `--json` are real flags, of the CLI: say so rather than "not an option".
      if (name in found.spec.flags || name in COMMON_FLAGS) {
        return `\`${shown(problem.flag)}\` works only on the command line (\`vmres\`): in Slack you act as yourself and get a message back. \`${typed}\` ${options}.`;
      }
      return `\`${shown(problem.flag)}\` is not an option of \`${typed}\`; it ${options}.`;
    }
    case "missing_value":
      return `\`${shown(problem.flag)}\` needs a value, like \`${problem.flag}=${problem.spec.example ?? problem.spec.placeholder ?? "…"}\`.`;
    case "unexpected_value":
      return `\`${shown(problem.flag)}\` takes no value; write just \`${shown(problem.flag)}\`.`;
    case "missing_arguments": {
      const nouns = problem.required.map(described).join(" and ");
      return `\`${typed}\` needs ${nouns}, like \`${typed} ${problem.required.map((p) => p.example).join(" ")}\`.`;
    }
    case "extra_arguments":
      return extraArguments(typed, problem.given, problem.extra, problem.accepted, found.spec);
    case "not_one_of": {
      const allowed = (problem.positional.values ?? []).map((v) => `\`${v}\``).join(" or ");
      return `\`${typed}\` takes ${allowed} as ${problem.positional.name}, not \`${shown(problem.value)}\`.`;
    }
    case "given_twice":
      return `\`${typed}\` got the ${problem.positional.noun} twice, as a word and as \`${problem.flag}\`; give it once.`;
  }
}

function extraArguments(typed: string, given: string[], extra: string[], accepted: CommandSpec["positionals"], spec: CommandSpec): string {
  if (accepted.length === 0) return `\`${typed}\` takes nothing after it; you added “${shown(extra.join(" "))}”.`;
  if (accepted.length === 1 && accepted[0] && isOptional(accepted[0], "slack")) {
    return `\`${typed}\` takes one ${accepted[0].noun} at most; you gave ${given.length}: “${shown(given.join(" "))}”.`;
  }
  const options = flagsIn(spec, "slack").some(([name]) => !(name in COMMON_FLAGS)) ? ", then options" : "";
  return `\`${typed}\` takes ${accepted.map(described).join(" and ")}${options}; “${shown(extra.join(" "))}” is left over.`;
}

/**
 * A word fit to quote back: cut short, no backticks that would end the code
 * span, and `<`, `>`, `&` escaped, so a typed `<!channel>` or `<@U…>` comes back
 * as text, never as a live mention or link (Slack parses those even in code spans).
 */
export function shown(word: string): string {
  const clean = word.replace(/`/g, "'");
  return escape(clean.length > 40 ? clean.slice(0, 40) + "…" : clean);
}

/** " Did you mean `/vm checkout`?" for a near miss, else nothing. */
function suggest(word: string, known: string[], prefix: string): string {
  const best = nearest(word, known);
  return best === null ? "" : ` Did you mean \`${prefix}${best}\`?`;
}
