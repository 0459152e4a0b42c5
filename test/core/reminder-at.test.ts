import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reminderAt } from "../../src/core/reminder-at.js";
import { freshDatabase } from "../helpers/db.js";

// One rule for when the next reminder is due, shared by leases and bookings (issue 19: no two places do the same job).

let database: Awaited<ReturnType<typeof freshDatabase>>;
beforeAll(async () => {
  database = await freshDatabase({ poolSize: 2 });
});
afterAll(async () => database.close());

const END = "2026-12-08T12:00:00Z";

/** When the next reminder before END is due, asked at `at`, with leads in seconds. */
async function nextReminder(at: string, leadsS: number[]): Promise<string | null> {
  const sql = database.sql;
  const [row] = await sql<{ due: string | null }[]>`
    select to_char((${reminderAt(sql, sql`${END}::timestamptz`, leadsS, sql`${at}::timestamptz`)}) at time zone 'UTC', 'HH24:MI') as due`;
  return row?.due ?? null;
}

describe("the next reminder before an end", () => {
  it("is the longest lead still ahead, then the next shorter one, and none once every lead has passed", async () => {
    expect(await nextReminder("2026-12-08T09:00:00Z", [3600, 600])).toBe("11:00");
    expect(await nextReminder("2026-12-08T11:30:00Z", [3600, 600])).toBe("11:50");
    expect(await nextReminder("2026-12-08T11:55:00Z", [3600, 600])).toBeNull();
    expect(await nextReminder("2026-12-08T09:00:00Z", [])).toBeNull();
  });
});
