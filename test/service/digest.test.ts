/**
 * The admin digest as the service schedules it (DIGEST_CRON): off unless set, a bad
 * schedule stops start-up naming the variable, and however many replicas tick (or
 * restart) for one scheduled time, one digest is queued for the admin channel.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { parseNotice } from "../../src/core/notices.js";
import { startDigest, type DigestComponent } from "../../src/service/digest.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
const started: DigestComponent[] = [];

/** A replica's digest component on the test database; `slack` says whether Slack is configured there. */
async function replica(cron: string, name: string, slack = true): Promise<DigestComponent> {
  const config = loadConfig({ DIGEST_CRON: cron, ...(slack ? { SLACK_BOT_TOKEN: "xoxb-test", SLACK_ADMIN_CHANNEL: "CADMINS" } : {}) }, null);
  const component = await startDigest({ config, core: coreFor(database), log: testLog, instanceId: name });
  if (component === null) throw new Error("DIGEST_CRON was set, yet no digest component started");
  started.push(component);
  return component;
}

const digestNotices = async () =>
  (await database.sql<{ kind: string; payload: unknown }[]>`select kind, payload from outbox where kind = 'admin_digest' order by id`).map((r) => {
    const parsed = parseNotice(r.kind, r.payload);
    if ("problem" in parsed) throw new Error(parsed.problem);
    return parsed.notice;
  });

beforeAll(async () => {
  database = await freshDatabase();
  await database.sql`insert into pools (name, quota) values ('digest', 1)`;
  await database.sql`insert into vms (name, ip, pool, state, cleanup_last_error) values ('digest-1', '198.51.100.81', 'digest', 'quarantined', 'ssh: connect timed out')`;
});
afterAll(async () => {
  await Promise.all(started.map((c) => c.stop()));
  await database.close();
});

describe("the admin digest", () => {
  it("is off unless DIGEST_CRON is set, and a bad schedule stops start-up naming the variable", async () => {
    expect(loadConfig({}, null).DIGEST_CRON).toBeUndefined();
    expect(loadConfig({ DIGEST_CRON: "off" }, null).DIGEST_CRON).toBeUndefined();
    expect(loadConfig({ DIGEST_CRON: "0 9 * * 1-5" }, null).DIGEST_CRON).toBe("0 9 * * 1-5");
    expect(() => loadConfig({ DIGEST_CRON: "every morning" }, null)).toThrow(/DIGEST_CRON must be a cron expression .*, not "every morning"/);
    expect(await startDigest({ config: loadConfig({}, null), core: coreFor(database), log: testLog, instanceId: "off" })).toBeNull();
  });

  it("queues one digest for a scheduled time when two replicas tick together, and none more after a restart", async () => {
    const [a, b] = [await replica("0 9 * * *", "replica-a"), await replica("0 9 * * *", "replica-b")];
    const period = new Date("2030-01-07T09:00:00Z");
    const outcomes = await Promise.all([a.runFor(period), b.runFor(period)]);
    expect(outcomes.filter((o) => o?.queued)).toHaveLength(1);
    // A replica restarted within the same minute ticks for the same time again.
    const restarted = await replica("0 9 * * *", "replica-a-again");
    expect(await restarted.runFor(period)).toEqual({ queued: false, why: "sent" });

    const notices = await digestNotices();
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ kind: "admin_digest", period: period.toISOString(), report: { quarantined: { total: 1, vms: [{ vm: "digest-1", lastError: "ssh: connect timed out" }] } } });
  });

  it("on its schedule, sends each period once with two replicas ticking", async () => {
    const before = (await digestNotices()).length;
    const [a, b] = [await replica("* * * * * *", "every-second-a"), await replica("* * * * * *", "every-second-b")];
    const deadline = Date.now() + 20_000;
    while ((await database.sql`select 1 from digests where sent_by like 'every-second-%'`).length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all([a.stop(), b.stop()]);
    const periods = await database.sql<{ period: string }[]>`select period from digests where sent_by like 'every-second-%' order by period`;
    expect(periods.length).toBeGreaterThanOrEqual(3);
    const notices = (await digestNotices()).slice(before);
    expect(notices.map((n) => (n.kind === "admin_digest" ? n.period : "")).sort()).toEqual(periods.map((p) => p.period));
  });

  it("without Slack, records the digest and queues nothing for Slack (the report goes to the log)", async () => {
    const quiet = await replica("0 9 * * *", "no-slack", false);
    const before = (await digestNotices()).length;
    const outcome = await quiet.runFor(new Date("2030-01-08T09:00:00Z"));
    expect(outcome).toMatchObject({ queued: true, report: { quarantined: { total: 1 } } });
    expect(await digestNotices()).toHaveLength(before);
  });
});
