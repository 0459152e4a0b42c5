import type postgres from "postgres";
import type { Result } from "./types.js";

/** The connection statements alongside are made on (the core's transaction). */
export type AlongsideSql = postgres.Sql;

/**
 * Statements another layer sends inside one of the core's transactions, in the core's own round
 * trips: the API's Idempotency-Key is claimed right after BEGIN and its answer stored with the
 * COMMIT (src/api/idempotency.ts), so a crash can never leave a change without its stored answer,
 * nor a claim without its change, and a key costs no round trip of its own. The core does not
 * know what they do; it sends them where this says, and hands `last` what it decided. They are
 * postgres.js queries made on the `sql` given, not yet awaited (so sent in the core's order).
 */
export interface Alongside<T> {
  /**
   * Sent right after BEGIN, before any lock or read; null: nothing. If it fails, nothing after it
   * runs, the transaction changes nothing, and its error is what the core throws.
   */
  first(sql: postgres.Sql): PromiseLike<unknown> | null;
  /**
   * Sent with the COMMIT, given the outcome decided in the transaction; null: nothing. `undefined`:
   * the transaction ends without its final outcome (e.g. a refusal whose details are read after
   * the commit); the caller then finishes on its own.
   */
  last(sql: postgres.Sql, outcome: Result<T> | undefined): PromiseLike<unknown> | null;
}
