import type { PgSql } from "../db/client.js";
import type { Fragment } from "./events.js";

/** Where a VM goes when it is free again: `cleaning` at check-in, `available` after a cleanup or a repair. */
export type FreeState = "available" | "cleaning";

/**
 * The retire-when-free rule, in one place: a VM removed from the inventory
 * while it was busy (held, being cleaned, quarantined) is only marked
 * (`retire_on_checkin`); the moment it would be free again it leaves service
 * (`retired`) instead of going back into circulation, and the mark is spent.
 * Retiring it earlier would pull it from under its holder or its cleanup.
 *
 * For a caller that has read the row under a lock (check-in, an admin's repair).
 */
export function stateWhenFree<S extends FreeState>(free: S, retireMarked: boolean): S | "retired" {
  return retireMarked ? "retired" : free;
}

/**
 * The same rule as the assignments of an `update vms set …`, for a statement
 * that decides on the row as it finds it (no read before): the new state and
 * the mark spent. Built from stateWhenFree, so the two cannot drift apart.
 * `returning state` tells which it became. The caller sets `state_changed_at`.
 */
export function becomeFree(tx: PgSql, free: FreeState): Fragment {
  return tx`state = case when retire_on_checkin then ${stateWhenFree(free, true)}::vm_state else ${stateWhenFree(free, false)}::vm_state end,
    retire_on_checkin = false`;
}
