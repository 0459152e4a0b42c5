/**
 * What a checkout DM costs the database before it is posted: the statements
 * its step sends between the claim and the post, counted with postgres.js's
 * debug hook. A first attempt (nothing of it can be in Slack or on record)
 * reads only the holder's time zone; a retry also checks the DM's record.
 */
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkout } from "../../src/core/checkout.js";
import { parseNotice } from "../../src/core/notices.js";
import type { Core } from "../../src/core/types.js";
import * as schema from "../../src/db/schema.js";
import { vmCheckedOutSteps } from "../../src/slack/deliveries/vm-checked-out.js";
import type { DeliveryContext, Poster } from "../../src/slack/deliveries/step.js";
import { addPoolVms, coreFor, freshDatabase, testLog } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
let client: postgres.Sql;
let core: Core;
const sent: string[] = [];

beforeAll(async () => {
  database = await freshDatabase();
  // postgres.js reads the array types once per connection it opens: its own bookkeeping, not the step's.
  client = postgres(database.url, { max: 4, onnotice: () => {}, debug: (_connection, text) => void (text.includes("pg_catalog.pg_type") || sent.push(text)) });
  core = coreFor({ db: drizzle(client, { schema }) });
  await addPoolVms(core, "default", 4);
});
afterAll(async () => {
  await client.end({ timeout: 5 });
  await database.close();
});

/** The vm_checked_out notice of a fresh checkout by `user`, as the dispatcher reads it. */
async function checkoutNotice(user: string) {
  const r = await checkout(core, { person: { slackUserId: user }, source: "slack" });
  expect(r.ok).toBe(true);
  const [row] = await core.db.execute<{ kind: string; payload: unknown }>(
    sql`select kind, payload from outbox where kind = 'vm_checked_out' and payload->'holder'->>'slackUserId' = ${user}`,
  );
  const parsed = parseNotice(row!.kind, row!.payload);
  if (!("notice" in parsed) || parsed.notice.kind !== "vm_checked_out") throw new Error("not a checkout notice");
  return parsed.notice;
}

/** Runs the DM step and returns the statements it sent before posting. */
async function statementsBeforePost(user: string, firstAttempt: boolean): Promise<string[]> {
  const notice = await checkoutNotice(user);
  const ctx = { core, log: testLog, noticeId: 1, firstAttempt } as unknown as DeliveryContext;
  const [dm] = vmCheckedOutSteps(notice, ctx);
  let before: string[] = [];
  const poster: Poster = {
    toUser: async () => {
      before = [...sent];
      return { channel: `D${user}`, ts: "1700000000.000100" };
    },
    toChannel: () => Promise.reject(new Error("a checkout DM goes to its holder")),
  };
  sent.length = 0;
  await dm!.run(poster);
  return before;
}

describe("the database work before a checkout DM is posted", () => {
  it("is one statement on a first attempt: the holder's time zone", async () => {
    const before = await statementsBeforePost("U0STMT001", true);
    expect(before).toHaveLength(1);
    expect(before.some((text) => text.includes("slack_messages"))).toBe(false);
  });

  it("also looks for the DM's record on a retry, which an owner that lost its claim may have written", async () => {
    const before = await statementsBeforePost("U0STMT002", false);
    expect(before).toHaveLength(2);
    expect(before.some((text) => text.includes("slack_messages"))).toBe(true);
  });
});
