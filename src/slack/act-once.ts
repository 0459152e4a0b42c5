import type { Core } from "../core/types.js";
import { claimInteraction, forgetInteraction } from "../db/processed-interactions.js";

/** The outcome of an interaction: acted now, or already acted on by an earlier delivery of it. */
export type Once<T> = { duplicate: false; value: T } | { duplicate: true };

/** Keys are built from Slack's own IDs; this bounds them should a payload carry something odd. */
const MAX_KEY_LENGTH = 300;

/**
 * Runs `act` once per interaction key (a trigger_id, an action's action_ts…).
 * The key is committed first, by an insert whose unique key decides the race:
 * a second delivery of the same interaction, even one arriving while the first
 * is still at work, finds it and acts not at all. If `act` fails, the key is
 * removed again so Slack's retry (or the person) can try anew.
 *
 * The key cannot share the core's transaction: the core owns its transactions
 * (some on postgres.js directly). The one gap left is a process dying between
 * the key's commit and the action's; a retry of that very delivery is then
 * told it was handled, and the person's next command (a new trigger_id) acts.
 */
export async function actOnce<T>(core: Core, key: string, act: () => Promise<T>): Promise<Once<T>> {
  const bounded = key.slice(0, MAX_KEY_LENGTH);
  if (!(await claimInteraction(core.db, bounded))) return { duplicate: true };
  try {
    return { duplicate: false, value: await act() };
  } catch (err) {
    await forgetInteraction(core.db, bounded);
    throw err;
  }
}
