import type { Config } from "../config.js";
import type { Core, Refusal, Result } from "../core/types.js";
import type { Database } from "../db/client.js";
import type { Failure } from "./failures.js";

/** An option a command accepts, as node:util parseArgs wants it plus its help line. */
export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `ID` in `--user ID`. */
  value?: string;
  /** Shown without brackets in the usage line; the command itself enforces it. */
  required?: boolean;
  help: string;
}

/** Options every command takes. */
export const COMMON_OPTIONS: Record<string, OptionSpec & { short?: string }> = {
  json: { type: "boolean", help: "print the result (or the refusal) as JSON on stdout" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

/** The words of one invocation after parsing: positionals by name, options by name. */
export interface Input {
  args: Record<string, string>;
  options: Record<string, string | boolean | string[] | undefined>;
}

/** What a command runs with, once its arguments are valid and the database is open (and its schema current). */
export interface Context {
  config: Config;
  core: Core;
  database: Database;
}

/**
 * How a command ended: a value (printed as text, or as JSON with --json), or a
 * refusal by a rule. `userId` is who asked, so the refusal's words can address them.
 */
export type Outcome =
  | { ok: true; value: unknown; text: string }
  | { ok: false; refusal: Refusal; userId: string | null };

/** The database work of a command whose arguments are already checked; a Failure when it cannot be done (`db migrate` on a newer schema). */
export type Run = (ctx: Context) => Promise<Outcome | Failure>;

/**
 * Checks every value and reads any input file, before the database is opened,
 * so a mistake changes nothing. Throws UsageError or InventoryError.
 */
export type Prepare = (input: Input, config: Config) => Run;

/**
 * One `vmres` command (or one subcommand of a group such as `pool`): what help
 * and parsing need, kept apart from what running it needs. `load` brings in
 * the implementation (the core, drizzle, YAML…) only when the command runs, so
 * `--help` and a mistyped option cost no more than starting node.
 */
export interface Command {
  /** The words that name it: `["checkout"]`, `["pool", "add"]`. */
  words: string[];
  /** Names of the required positional arguments, in order, as help shows them. */
  positionals: string[];
  options: Record<string, OptionSpec>;
  /** One sentence for help listings. */
  summary: string;
  /** More help text (what it does, an example), shown by `--help`. */
  details?: string;
  /**
   * `db migrate` only: it brings the schema up to date itself (and may create the
   * embedded database), where every other command first checks that the schema
   * is current and refuses to run otherwise.
   */
  migrates?: true;
  load(): Promise<Prepare>;
}

/** A successful outcome. */
export const done = (value: unknown, text: string): Outcome => ({ ok: true, value, text });

/** Maps a core Result to an Outcome, with the words for success. */
export function outcomeOf<T>(result: Result<T>, userId: string | null, text: (value: T) => string): Outcome {
  return result.ok ? done(result.value, text(result.value)) : { ok: false, refusal: result.refusal, userId };
}
