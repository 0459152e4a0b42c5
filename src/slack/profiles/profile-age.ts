import type { Core } from "../../core/types.js";

/**
 * How much longer a Slack user's learned name counts as fresh, in ms on the
 * database's clock (≤ 0: it is older than `maxAgeHours`); null if it was never
 * learned; undefined if vmres has no person with that Slack ID (not recorded yet).
 * Written here because the core has no single-person read of it yet.
 */
export async function profileFreshForMs(core: Core, slackUserId: string, maxAgeHours: number): Promise<number | null | undefined> {
  const [row] = await core.db.$client<{ fresh_for_ms: number | null }[]>`
    select (extract(epoch from profile_fetched_at + make_interval(hours => ${maxAgeHours}) - now()) * 1000)::float8 as fresh_for_ms
    from people where slack_user_id = ${slackUserId}`;
  return row === undefined ? undefined : row.fresh_for_ms;
}
