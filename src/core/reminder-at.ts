import type { Fragment, PgSql } from "./events.js";

/**
 * When the next reminder before `end` is due: `end` minus the longest lead (in
 * seconds) still ahead of `at`; null when every lead has passed (no reminder).
 * One rule for a lease's reminders (checkout, a changed end, the sweep) and a
 * booking's (booking, the sweep), as a SQL fragment of the statement that sets
 * `remind_at`. The leads go as an array literal in a text parameter, so a
 * connection that has not read the array types can send it.
 */
export function reminderAt(sql: PgSql, end: Fragment, leadsS: readonly number[], at: Fragment): Fragment {
  return sql`${end} - make_interval(secs => (
    select max(l) from unnest(${`{${leadsS.join(",")}}`}::int[]) l where ${end} - make_interval(secs => l) > ${at}))`;
}
