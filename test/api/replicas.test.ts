import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { testEnv } from "../slack/harness.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "./helpers.js";

// Two replicas on one database: a retry that lands on the other replica still gets the first answer.
let h: Harness;
let second: RunningService;
let other: Harness;
beforeAll(async () => {
  h = await startApiHarness();
  await addVms(h.core, "default", 4);
  await h.core.db.execute(sql`update pools set quota = 4 where name = 'default'`);
  const config = loadConfig({ ...testEnv(h.fake, h.database.url), API_RATE_LIMIT: "100000/min" }, null);
  second = await startService(config, createLogger("silent", "replica-2"));
  other = { ...h, url: `http://127.0.0.1:${second.port}` };
});
afterAll(async () => {
  await second?.stop();
  await h?.stop();
});

it("answers retries of one Idempotency-Key spread over two replicas with one checkout", async () => {
  const ci = await personWithToken(h.core, "ci-job", { kind: "service" });
  const headers = { "idempotency-key": "two-replicas" };
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => call(i % 2 ? other : h, "POST", "/v1/checkouts", { token: ci.token, body: { note: "build" }, headers })));
  const granted = answers.filter((a) => a.status === 201);
  expect(granted.length).toBeGreaterThanOrEqual(1);
  expect(new Set(granted.map((a) => a.body.id)).size).toBe(1);
  for (const a of answers.filter((x) => x.status !== 201)) expect(a.body.code).toBe("idempotency_in_progress");
  // Once it is done, every replica replays it.
  for (const replica of [h, other]) {
    const again = await call(replica, "POST", "/v1/checkouts", { token: ci.token, body: { note: "build" }, headers });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(granted[0]?.body.id);
  }
  const [open] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from checkouts c join people p on p.id = c.person_id where p.name = 'ci-job' and c.ended_at is null`);
  expect(open?.n).toBe(1);
});
