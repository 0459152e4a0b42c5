import type { Db } from "../db/client.js";
import type { Actor, Refusal } from "./types.js";

/** What was refused: the two requests people make most, counted apart. */
export type RefusedRequest = "checkout" | "checkin";

/**
 * Counts a refusal in the database (`event_count_deltas`), so /metrics on every replica counts
 * the refusals of every process and of the CLI alike. A refusal changes no state, so it is no
 * event; it is only counted. `invalid_input` is not: it is decided before the database is
 * read, and a mistyped command must neither write nor fail because the database is away.
 */
export async function countRefusal(db: Db, request: RefusedRequest, actor: Actor, refusal: Refusal): Promise<void> {
  if (refusal.code === "invalid_input") return;
  const pool = poolKnownBy(refusal);
  await db.$client`
    insert into event_count_deltas (kind, code, pool, source, n)
    values (${`${request}_refused`}, ${refusal.code}, ${pool ?? ""}, ${actor.source}, 1)`;
}

/**
 * The pool a refusal was decided in, or null when the pool asked for was never found (unknown,
 * malformed, or the refusal came first): what a person typed must not become a metric's label,
 * or anyone could add series at will.
 */
export function poolKnownBy(refusal: Refusal): string | null {
  return "pool" in refusal && refusal.code !== "unknown_pool" ? refusal.pool : null;
}
