import { afterEach, describe, expect, it } from "vitest";
import { FakeSlack } from "../helpers/fake-slack.js";
import { eventually, startHarness, type Harness } from "./harness.js";

type Health = { status: string; checks: Record<string, { ready: boolean; detail: string }> };

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function health(harness: Harness): Promise<{ code: number; body: Health }> {
  const res = await fetch(`${harness.url}/healthz`);
  return { code: res.status, body: (await res.json()) as Health };
}

describe("starting while Slack is not there", () => {
  it("runs, says why Slack is not ready, and becomes ready once Slack answers", async () => {
    const fake = await FakeSlack.start();
    await fake.down();
    h = await startHarness({}, fake);

    await eventually("a failed attempt is reported", async () => (await health(h!)).body.checks.slack?.detail.includes("could not be reached") ?? false);
    const down = await health(h);
    expect(down.code).toBe(200);
    expect(down.body.checks.slack).toMatchObject({ ready: false, detail: expect.stringMatching(/auth\.test failed: Slack could not be reached.*retrying in \d+ s/) });
    expect(down.body.checks.database?.ready).toBe(true);

    await fake.up();
    await eventually("Slack becomes ready", async () => (await health(h!)).body.checks.slack?.ready === true);
    expect((await health(h)).body.checks.slack?.detail).toMatch(/^connected to vmres test as <@U0VMRESBOT> \(HTTP, POST \/slack\/events\); 0 notices waiting$/);
  });

  it("keeps running when Slack refuses the token, naming what to fix", async () => {
    const fake = await FakeSlack.start();
    fake.setMode("auth.test", { kind: "error", error: "invalid_auth" });
    h = await startHarness({}, fake);

    await eventually("the refusal is reported", async () => (await health(h!)).body.checks.slack?.detail.includes("invalid_auth") ?? false);
    const refused = await health(h);
    expect(refused.code).toBe(200);
    expect(refused.body.checks.slack?.detail).toContain("SLACK_BOT_TOKEN is not valid");
  });

  it("runs without Slack settings and says which to set", async () => {
    const fake = await FakeSlack.start();
    h = await startHarness({ SLACK_BOT_TOKEN: "", SLACK_SIGNING_SECRET: "" }, fake);

    const off = await health(h);
    expect(off.code).toBe(200);
    expect(off.body.checks.slack).toEqual({
      ready: false,
      detail: expect.stringContaining("set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)"),
    });
    expect((await fetch(`${h.url}/slack/events`, { method: "POST" })).status).toBe(404);
    expect(fake.calls()).toEqual([]);
  });

  it("in Socket Mode, keeps running while the app-level token is refused", async () => {
    const fake = await FakeSlack.start();
    fake.setMode("apps.connections.open", { kind: "error", error: "invalid_auth" });
    h = await startHarness({ SLACK_APP_TOKEN: "xapp-1-refused" }, fake);

    await eventually("the Socket Mode refusal is reported", async () => (await health(h!)).body.checks.slack?.detail.includes("Socket Mode connection failed") ?? false);
    const refused = await health(h);
    expect(refused.code).toBe(200);
    expect(refused.body.checks.slack).toMatchObject({ ready: false, detail: expect.stringContaining('Slack answered "invalid_auth"') });
    const opened = fake.calls("apps.connections.open");
    expect(opened[0]?.headers.authorization).toBe("Bearer xapp-1-refused");
  });
});
