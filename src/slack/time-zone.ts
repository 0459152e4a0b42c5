import { nowOf } from "../core/clock.js";
import { timeZoneOf, timeZoneOfSlackUser } from "../core/people.js";
import type { Core } from "../core/types.js";

/** How a reader reads times: their zone as Slack last told it (null: UTC, said so) and the time "in 3 h" counts from. */
export interface Reading {
  timeZone: string | null;
  now: Date;
}

/** The reading of a person vmres knows by id (a notice's holder). */
export async function readingOfPerson(core: Core, personId: number): Promise<Reading> {
  return { timeZone: await timeZoneOf(core, personId), now: nowOf(core) };
}

/** The reading of whoever typed or clicked; someone vmres has not recorded yet reads UTC. */
export async function readingOfSlackUser(core: Core, slackUserId: string): Promise<Reading> {
  return { timeZone: await timeZoneOfSlackUser(core, slackUserId), now: nowOf(core) };
}
