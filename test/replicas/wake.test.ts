/**
 * Another process (the CLI) committing work wakes the bot at once through
 * PostgreSQL's LISTEN/NOTIFY (drizzle/0003), not at its next poll: both polls
 * are set to ten minutes here, far beyond every wait in this file.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliFor } from "../helpers/cli.js";
import { addVms, eventually, startHarness, textOf, waitForDm, type Harness } from "../slack/harness.js";

const TEN_MINUTES = "600000";
const ALICE = "UALICE01";

describe("work committed by the CLI wakes the bot at once", () => {
  let h: Harness;
  let vmres: ReturnType<typeof cliFor>;

  beforeAll(async () => {
    h = await startHarness({ OUTBOX_POLL_INTERVAL_MS: TEN_MINUTES, CLEANUP_WORKER: "on", CLEANUP_POLL_INTERVAL_MS: TEN_MINUTES });
    await addVms(h.core, "default", 2, "wake");
    vmres = cliFor({ databaseUrl: h.database.url });
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  });

  it("a checkout made with the CLI is told in a Slack DM within seconds, although the outbox poll is ten minutes", async () => {
    const r = await vmres(["checkout", "--user", ALICE, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const [dm] = await waitForDm(h.fake, ALICE);
    expect(textOf(dm!.body)).toMatch(/wake-\d/);
  }, 30_000);

  it("a check-in made with the CLI is picked up by the bot's cleanup worker within seconds, although its poll is ten minutes", async () => {
    const [held] = await h.core.db.execute<{ name: string }>(sql`select name from vms where (select p.slack_user_id from checkouts c join people p on p.id = c.person_id where c.id = vms.checkout_id) = ${ALICE}`);
    expect(held).toBeDefined();
    const r = await vmres(["checkin", held!.name, "--user", ALICE]);
    expect(r.code, r.stderr).toBe(0);
    // The test's key file does not exist, so the worker's attempt ends "blocked": proof that it claimed the VM.
    await eventually(
      "the worker tried the cleanup",
      async () => {
        const [row] = await h.core.db.execute<{ error: string | null }>(sql`select cleanup_last_error as error from vms where name = ${held!.name}`);
        return row?.error != null;
      },
      10_000,
    );
  }, 30_000);
});
