import type { components } from "../../../src/client/index.js";

/**
 * What the Pools page just did (a checkout, a VM being created, a queue joined), for the Mine
 * page it goes to next to say first. Kept in the module, not the URL: a reload should not repeat it.
 */
export type JustDone =
  | { kind: "lent"; vm: components["schemas"]["CheckedOut"] }
  | { kind: "creating"; creating: components["schemas"]["Creating"] }
  | { kind: "queued"; place: components["schemas"]["QueueJoin"] };

let pending: JustDone | null = null;

export function tellMine(done: JustDone): void {
  pending = done;
}

/** The news for the Mine page, once. */
export function takeNews(): JustDone | null {
  const news = pending;
  pending = null;
  return news;
}
