/**
 * The admin digest in Slack: queued for a scheduled time, it reaches the admin
 * channel once as Block Kit saying what needs an admin; `/vm report` shows the
 * same report to an admin who asks, and to nobody else.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueDigest } from "../../src/core/digest.js";
import { ALICE } from "../helpers/slack-requests.js";
import { ADMIN, ADMIN_CHANNEL, addVms, outboxDrained, slash, startHarness, textOf, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ DIGEST_CRON: "0 9 1 1 *" });
  await h.fake.waitFor("auth.test");
  const [vm] = await addVms(h.core, "lab", 1);
  await h.core.db.execute(sql`update vms set state = 'quarantined', cleanup_attempts = 3, cleanup_last_error = 'ssh: host key mismatch' where name = ${vm}`);
});
afterAll(async () => h.stop());

describe("the admin digest in Slack", () => {
  it("posts the digest to the admin channel once, naming the quarantined VM and its error", async () => {
    const period = new Date("2031-01-01T09:00:00Z");
    expect(await queueDigest(h.core, period, "test", { notify: true })).toMatchObject({ queued: true });
    expect(await queueDigest(h.core, period, "test-again", { notify: true })).toEqual({ queued: false, why: "sent" });
    const [post] = await h.fake.waitFor((c) => c.method === "chat.postMessage" && c.failure === undefined && c.body.channel === ADMIN_CHANNEL);
    const text = textOf(post?.body ?? {});
    expect(text).toContain("vmres digest");
    expect(text).toMatch(/\*Quarantined\*\n• \*lab-1\* \(lab\) since .*, 3 attempts: `ssh: host key mismatch`/);
    expect(text).toContain("Nothing to report: longest holds");
    await outboxDrained(h.core);
    expect(h.fake.calls("chat.postMessage").filter((c) => c.body.channel === ADMIN_CHANNEL && textOf(c.body).includes("vmres digest"))).toHaveLength(1);
  });

  it("answers /vm report to an admin with the report, and refuses anyone else", async () => {
    expect(textOf((await slash(h, "report", ADMIN.id)).body)).toContain("lab-1");
    expect(textOf((await slash(h, "report", ALICE.id)).body)).toMatch(/admin/);
  });
});
