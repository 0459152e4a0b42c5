import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { setPool } from "../../src/core/admin.js";
import { RESPONSE_URL } from "../helpers/fake-slack.js";
import { slashCommand } from "../helpers/slack-requests.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "./helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startApiHarness();
  await addVms(h.core, "race", 12);
  const quota = await setPool(h.core, { person: "operator", source: "cli" }, "race", { quota: 2 });
  if (!quota.ok) throw new Error(JSON.stringify(quota.refusal));
});
afterAll(async () => h?.stop());

it("holds the quota when 50 API checkouts race 20 Slack checkouts of the same person: 2 VMs, every other request refused", async () => {
  const slackId = "U0RACE001";
  const racer = await personWithToken(h.core, "racer", { slackId });
  const api = Array.from({ length: 50 }, () => call(h, "POST", "/v1/checkouts", { token: racer.token, body: { pool: "race" } }));
  const slack = Array.from({ length: 20 }, (_, i) =>
    h.send(slashCommand({ text: "checkout race", user_id: slackId, response_url: h.fake.responseUrl(`race-${i}`) })),
  );
  const [answers, acks] = await Promise.all([Promise.all(api), Promise.all(slack)]);
  expect(acks.every((a) => a.status === 200)).toBe(true);
  const replies = await h.fake.waitFor((c) => c.method === RESPONSE_URL && String(c.responseId).startsWith("race-"), { count: 20, timeoutMs: 30_000 });
  expect(replies).toHaveLength(20);
  const granted = answers.filter((a) => a.status === 201);
  for (const a of answers.filter((x) => x.status !== 201)) {
    expect(a.status).toBe(409);
    expect(a.body.code).toBe("quota_reached");
  }
  const [open] = await h.core.db.execute<{ n: number; vms: number }>(
    sql`select count(*)::int as n, count(distinct vm_id)::int as vms from checkouts c join people p on p.id = c.person_id where p.name = 'racer' and c.ended_at is null`,
  );
  expect(open).toEqual({ n: 2, vms: 2 });
  // Whichever adapter won, the two checkouts are the person's one quota: at most 2 API answers were grants.
  expect(granted.length).toBeLessThanOrEqual(2);
  const [sources] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from events where kind = 'checked_out' and vm_name like 'race-%' and source in ('api', 'slack')`);
  expect(sources?.n).toBe(2);
});
