import type postgres from "postgres";

/**
 * WORKAROUND for a bug outside the Slack adapter (see the report of the leases
 * work): drizzle-orm's postgres-js driver replaces postgres.js's serializer of
 * timestamptz (oid 1184) with the identity, expecting strings. The lease core
 * passes JavaScript Dates straight to postgres.js (`${endsAt}::timestamptz` in
 * changeLease, `${at}` in every statement when a test clock is set), which
 * postgres.js infers as 1184 and then cannot write: "The "string" argument must
 * be of type string … Received an instance of Date". Every Extend failed.
 *
 * This puts back a serializer that writes a Date as ISO 8601 and leaves
 * anything else (drizzle's own strings) as it was. Idempotent. The right fix
 * is the same two lines in src/db/client.ts right after `drizzle(sql, …)`.
 */
export function acceptDateParameters(client: postgres.Sql): void {
  const serializers = client.options.serializers as Record<string, (x: unknown) => unknown>;
  serializers["1184"] = (x: unknown) => (x instanceof Date ? x.toISOString() : x);
}
