import { isRetryableDatabaseError } from "../db/errors.js";
import { vmresCommand } from "./invocation.js";

/** The exit codes, as docs/cli.md documents them. */
export const EXIT = {
  done: 0,
  /** A bug, or a failure nobody foresaw: the message carries its causes. */
  unexpected: 1,
  /** The command line, the configuration or the inventory file is wrong. */
  usage: 2,
  /** Refused by a rule: no VM free, quota, not the holder… */
  refused: 3,
  /** The database was busy or unreachable; the same command may well succeed in a moment. */
  temporary: 4,
  /** The installation needs an operator first: no database yet, schema not migrated, files this user may not read. */
  notReady: 5,
} as const;

/**
 * Why a command could not run, in the CLI's terms: exit code, the code JSON
 * carries, the words for people, and any facts a script may want (`fields`).
 */
export interface Failure {
  kind: "failure";
  exit: (typeof EXIT)[keyof typeof EXIT];
  code: string;
  message: string;
  fields?: Record<string, unknown>;
}

export const failure = (exit: Failure["exit"], code: string, message: string, fields?: Record<string, unknown>): Failure => ({
  kind: "failure",
  exit,
  code,
  message,
  ...(fields ? { fields } : {}),
});

/** Connections that never opened: nothing reached the database. */
const NOT_CONNECTED = new Set(["ECONNREFUSED", "CONNECT_TIMEOUT", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "57P03"]);
/** Connections lost mid-way: a commit may or may not have reached the server. */
const CONNECTION_LOST = new Set(["ECONNRESET", "EPIPE", "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "57P01", "57P02"]);

/**
 * A thrown error that is a temporary condition (exit 4, `retryable: true`), or
 * null when it is not. Drizzle wraps the driver's error, so the whole cause
 * chain is looked at. Busy means a lock not granted within LOCK_TIMEOUT_MS, a
 * deadlock or serialization victim, or no free connection slot: the statement
 * failed, its transaction rolled back, and every command is one transaction,
 * so nothing was changed.
 */
export function temporaryFailure(err: unknown): Failure | null {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    const detail = clip(e instanceof Error ? e.message : String(e));
    const lockTimeout = code === "57014" && /lock timeout/i.test(detail);
    if (lockTimeout || ["55P03", "40P01", "40001", "53300"].includes(code)) {
      return failure(EXIT.temporary, "database_busy", `the database is busy (${detail}); nothing was changed. Try again in a moment.`, { retryable: true });
    }
    if (NOT_CONNECTED.has(code)) {
      return failure(
        EXIT.temporary,
        "database_unreachable",
        `cannot reach the database (${detail}). Try again in a moment; if it persists, check DATABASE_URL and that the server is running.`,
        { retryable: true },
      );
    }
    if (CONNECTION_LOST.has(code) || isRetryableDatabaseError(e)) {
      return failure(
        EXIT.temporary,
        "database_connection_lost",
        `lost the connection to the database (${detail}) before the command finished; it may or may not have been applied ` +
          `(${vmresCommand()} list shows the VMs and their holders). Try again in a moment.`,
        { retryable: true },
      );
    }
  }
  return null;
}

/** Anything else thrown: exit 1, with the whole cause chain, and the error's own code when it has one. */
export function unexpectedFailure(err: unknown): Failure {
  const code = typeof (err as { code?: unknown })?.code === "string" ? (err as { code: string }).code : "unexpected";
  return failure(EXIT.unexpected, code, `unexpected error: ${causeChain(err)}`);
}

/** The error and its causes, outermost first (bounded: a cycle must not hang the report). */
export function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

/** "message: caused by: cause message…" — drizzle wraps the driver's error, whose message says what went wrong. */
export function causeChain(err: unknown): string {
  return causes(err)
    .map((e) => (e instanceof Error ? e.message : String(e)))
    .join(": caused by: ");
}

const clip = (text: string) => (text.length > 200 ? text.slice(0, 200) + "…" : text);
