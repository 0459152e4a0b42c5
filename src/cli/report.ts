import type { Outcome } from "./command.js";
import { EXIT, type Failure } from "./failures.js";
import { describeRefusal } from "./render.js";

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
    this.io.err(describeRefusal(outcome.refusal, outcome.userId) + "\n");
    if (this.json) this.io.out(JSON.stringify({ error: outcome.refusal }, null, 2) + "\n");
    return EXIT.refused;
  }

  /** `help`, when given, follows the message on stderr only: JSON carries the message alone. */
  failure(failure: Failure, help?: string): number {
    this.io.err(`vmres: ${failure.message}${help ? `\n\n${help}` : ""}\n`);
    if (this.json) this.io.out(JSON.stringify({ error: { code: failure.code, message: failure.message, ...failure.fields } }, null, 2) + "\n");
    return failure.exit;
  }
}
