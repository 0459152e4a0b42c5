import type { Config } from "../config.js";
import type { Core, Refusal, Result } from "../core/types.js";
import type { Database } from "../db/client.js";
import type { Input } from "../commands/parse.js";
import type { CommandSpec } from "../commands/spec.js";
import type { Failure } from "./failures.js";
import type { Answer, Remote } from "./remote/api.js";

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

/**
 * A command over the HTTP API (VMRES_URL and VMRES_TOKEN, or `vmres login`):
 * checks the values as `Prepare` does, then asks the service. The token's
 * person acts; the output, --json and exit codes are the same as in direct mode.
 */
export type RemotePrepare = (input: Input) => (remote: Remote) => Promise<Outcome | Failure>;

/** A command that needs neither the database nor the API (`login`, `logout`). */
export type StandalonePrepare = (input: Input) => () => Promise<Outcome | Failure>;

/** How the CLI runs one command of the grammar. */
export interface CliHandler {
  /**
   * `db migrate` only: it brings the schema up to date itself (and may create the
   * embedded database), where every other command first checks that the schema
   * is current and refuses to run otherwise.
   */
  migrates?: true;
  /**
   * Its run reaches the database only through postgres.js (`core.db.$client`, `database.sql`):
   * the call then loads neither drizzle-orm nor the schema's tables, and `core.db` is only that
   * pool (src/cli/database.ts; any other use of it fails loudly). The commands a person runs most.
   * A function decides per call (check-in, unless --keep waits for a save with the provisioner).
   */
  sqlOnly?: true | ((input: Input) => boolean);
  /**
   * A postgres.js-only command that reads arrays (a checkout's quota refusal lists the VMs held):
   * its connection reads the array types first, as drizzle's does, one round trip more. Without
   * them postgres.js hands arrays over as their text ("{a,b}").
   */
  readsArrays?: true;
  /**
   * It changes nothing: its statements go out with the schema check instead of after it (one
   * round trip less), and its outcome is dropped when the schema is not the one this vmres ships.
   */
  readOnly?: true;
  /** Direct mode: on the database. Absent for the commands that never touch it. */
  load?(): Promise<Prepare>;
  /** Over the API, when one is set: the person-level commands. Without it, a command always uses the database. */
  remote?(): Promise<RemotePrepare>;
  /** Neither database nor API. */
  standalone?(): Promise<StandalonePrepare>;
}

/** A successful outcome. */
export const done = (value: unknown, text: string): Outcome => ({ ok: true, value, text });

/** Maps a core Result to an Outcome, with the words for success. */
export function outcomeOf<T>(result: Result<T>, userId: string | null, text: (value: T) => string): Outcome {
  return result.ok ? done(result.value, text(result.value)) : { ok: false, refusal: result.refusal, userId };
}

/** Maps an API answer to an Outcome as outcomeOf does a core Result: `shape` makes the body the core's value (src/cli/remote/shapes.ts). */
export function outcomeOfAnswer<B, T>(answer: Answer<B>, userId: string | null, shape: (body: B) => T, text: (value: T) => string): Outcome | Failure {
  if ("kind" in answer) return answer;
  return outcomeOf(answer.ok ? { ok: true, value: shape(answer.value) } : answer, userId, text);
}
