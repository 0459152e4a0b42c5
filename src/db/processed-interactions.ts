import type { Db } from "./client.js";

/**
 * Claims an interaction key (a trigger_id, an action's action_ts…) for good: true if this call
 * inserted it, false if an earlier delivery of the interaction did. The primary key decides a race.
 */
export async function claimInteraction(db: Db, key: string): Promise<boolean> {
  const fresh = await db.$client`insert into processed_interactions (key) values (${key}) on conflict (key) do nothing returning key`;
  return fresh.length > 0;
}

/** Gives a claimed key up again (its action failed), so a retry of the interaction acts. */
export async function forgetInteraction(db: Db, key: string): Promise<void> {
  await db.$client`delete from processed_interactions where key = ${key}`;
}
