import type { Config } from "../config.js";
import type { Core, Refusal, Result } from "../core/types.js";
import type { Database } from "../db/client.js";
import type { Input } from "../commands/parse.js";
import type { CommandSpec } from "../commands/spec.js";
import type { Failure } from "./failures.js";

export type { Input } from "../commands/parse.js";

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
 * One `vmres` command: its entry in the shared grammar (src/commands/grammar.ts:
 * words, arguments, flags, help) and how it runs here. `load` brings in the
 * implementation (the core, drizzle, YAML…) only when the command runs, so
 * `--help` and a mistyped option cost no more than starting node.
 */
export interface Command extends CommandSpec, CliHandler {}

/** How the CLI runs one command of the grammar. */
export interface CliHandler {
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
