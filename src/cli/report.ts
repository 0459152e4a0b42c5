import type { Refusal } from "../core/types.js";
import type { Outcome } from "./command.js";
import { EXIT, type Failure } from "./failures.js";
import { describeRefusal } from "./render.js";

/** The refusal's facts besides its code; an `invalid_input`'s own message is in the words already ("field: message"). */
function withoutCode(refusal: Refusal): Record<string, unknown> {
  const { code: _code, ...facts } = refusal as Refusal & { message?: string };
  delete facts.message;
  return facts;
}

/** Where the CLI writes: stdout for results, stderr for people. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** Writes outcomes and failures: words on stderr always, JSON on stdout with --json. Returns the exit code. */
export class Reporter {
  constructor(
    private readonly io: Io,
    private readonly json: boolean,
  ) {}

  outcome(outcome: Outcome | Failure): number {
    if ("kind" in outcome) return this.failure(outcome);
    if (outcome.ok) {
      this.io.out((this.json ? JSON.stringify(outcome.value, null, 2) : outcome.text) + "\n");
      return EXIT.done;
    }
    // The same words on stderr and in the JSON: a script that logs `.error.message` tells people what happened.
    const message = describeRefusal(outcome.refusal, outcome.userId);
    this.io.err(message + "\n");
    if (this.json) this.io.out(JSON.stringify({ error: { code: outcome.refusal.code, message, ...withoutCode(outcome.refusal) } }, null, 2) + "\n");
    return EXIT.refused;
  }

  /** `help` (a usage line, where to read on), when given, follows the message on stderr only: JSON carries the message alone. */
  failure(failure: Failure, help?: string): number {
    this.io.err(`vmres: ${failure.message}${help ? `\n${help}` : ""}\n`);
    if (this.json) this.io.out(JSON.stringify({ error: { code: failure.code, message: failure.message, ...failure.fields } }, null, 2) + "\n");
    return failure.exit;
  }
}
