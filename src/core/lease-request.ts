/**
 * What a lease change asks, apart from the database: the CLI's argument checks use this before
 * they load any database code (test/cli/loading.test.ts).
 */
export type LeaseRequest = { by?: number | undefined } | { until: Date } | { pin: true };

/**
 * The one rule of what a lease change may ask, for every adapter (Slack's /vm extend, the CLI's
 * extend, the API's extend): by a duration (none: the pool's lease), until a time, or pinned, one
 * of them at most. Either the request, or the options given together, for the adapter to say so
 * in its own words (`/vm extend … by`, `--until`, the body's `pin`).
 */
export function leaseRequestOf(asked: { by?: number | undefined; until?: Date | undefined; pin?: boolean | undefined }): LeaseRequest | { several: ("by" | "until" | "pin")[] } {
  const given = (["by", "until", "pin"] as const).filter((k) => (k === "pin" ? asked.pin === true : asked[k] !== undefined));
  if (given.length > 1) return { several: given };
  if (asked.pin === true) return { pin: true };
  if (asked.until !== undefined) return { until: asked.until };
  return { by: asked.by };
}
