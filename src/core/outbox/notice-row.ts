/** One outbox row as the dispatcher claimed it. */
export interface NoticeRow {
  id: number;
  kind: string;
  payload: unknown;
  attempts: number;
  /** Steps of this notice already delivered (a retry skips them). */
  deliveredSteps: string[];
  /** When it was queued, in epoch seconds as PostgreSQL prints them (exact, for the message tag). */
  queuedAt: string;
  /** How long ago it was queued, on the database's clock, when it was claimed. */
  ageMs: number;
  /** Queued longer ago than NOTICE_MAX_AGE: its messages are no longer posted one by one (see docs/slack.md, "Old notices"). */
  expired: boolean;
  /** Claimed from a process that held it too long (died, most likely), perhaps after posting a message it never recorded. */
  takenOver: boolean;
}

/** A dispatcher's identity in `claimed_by`: unique per running dispatcher, so every later write can check the claim is still its own. */
export type Claimer = string;

/** A JS array as a SQL set of bigints (drizzle would spread an array into a list). */
export const idsJson = (ids: number[]) => JSON.stringify(ids.map(String));
