import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, appHomeOpened } from "../helpers/slack-requests.js";
import { addVms, outboxDrained, slash, startHarness, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  await h.fake.waitFor("auth.test");
  await addVms(h.core, "metered", 1);
});
afterAll(async () => h.stop());

async function scrape(): Promise<string> {
  return (await fetch(`${h.url}/metrics`)).text();
}

describe("/metrics of a service with Slack", () => {
  it("counts calls to Slack by method and outcome, and rate-limited ones apart", async () => {
    await slash(h, "checkout metered", ALICE.id);
    expect(await scrape()).toMatch(/vmres_slack_api_calls_total\{method="auth.test",outcome="answered"\} [1-9]/);
    expect(await scrape()).toMatch(/vmres_slack_api_calls_total\{method="response_url",outcome="answered"\} [1-9]/);

    await outboxDrained(h.core);
    h.fake.reset();
    h.fake.failNext("views.publish", 1, { kind: "rate_limited", retryAfterSeconds: 1 });
    // Opening the Home tab publishes it: one views.publish, answered 429.
    await h.send(appHomeOpened({ user: ALICE.id }));
    await h.fake.waitFor((c) => c.method === "views.publish");
    await expect.poll(scrape, { timeout: 10_000 }).toMatch(/vmres_slack_api_calls_total\{method="views.publish",outcome="rate_limited"\} 1/);
  });
});
