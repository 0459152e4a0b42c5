import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startCleanup } from "../../src/cleanup/component.js";
import { loadConfig, type Config } from "../../src/config.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { HttpService } from "../../src/service/http.js";
import type { Component } from "../../src/service/context.js";
import { startSlack } from "../../src/slack/index.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";
import { FakeSlack, type SlackCall } from "../helpers/fake-slack.js";
import { labSkipReason, startLab, type Lab, type LabHost } from "../lab/lab.js";
import { addVmsFor, borrowAndReturnAll, eventsOf, outboxOf, vmRow, waitForState, waitUntil } from "./helpers.js";

const skipReason = labSkipReason();
const ADMIN_CHANNEL = "C0ADMINS1";
const ADMIN = "UADMIN01";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const blockedAlert = (c: SlackCall) => c.method === "chat.postMessage" && c.body.channel === ADMIN_CHANNEL && String(c.body.text).startsWith("Cleanup is blocked");

describe.skipIf(skipReason !== null)("admins told once when vmres cannot read its SSH private key", () => {
  let lab: Lab;
  let database: Database;
  let core: Core;
  let slack: FakeSlack;
  let keyDir: string;
  let keyFile: string;
  const running: Component[] = [];

  beforeAll(async () => {
    lab = await startLab({ count: 2 });
  });
  afterAll(async () => {
    await lab?.stop();
  });
  beforeEach(async () => {
    database = await freshDatabase();
    core = coreFor(database, { defaultQuota: 1000, bootstrapAdmins: new Set([ADMIN]) });
    slack = await FakeSlack.start();
    keyDir = mkdtempSync(join(tmpdir(), "vmres-key-"));
    keyFile = join(keyDir, "id_ed25519");
  });
  afterEach(async () => {
    for (const component of running.splice(0).reverse()) await component.stop();
    await slack.close();
    await database.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** The cleanup and Slack components as the service starts them: retries every poll, the outbox delivered to the fake Slack. */
  async function startService(): Promise<void> {
    const config: Config = loadConfig(
      {
        SSH_PRIVATE_KEY_FILE: keyFile,
        CLEANUP_BACKOFF_BASE_MS: "0",
        CLEANUP_POLL_INTERVAL_MS: "50",
        CLEANUP_CONNECT_TIMEOUT_MS: "3000",
        CLEANUP_COMMAND_TIMEOUT_MS: "10000",
        SLACK_BOT_TOKEN: "xoxb-test",
        SLACK_SIGNING_SECRET: "test-secret",
        SLACK_API_URL: slack.url,
        SLACK_ADMIN_CHANNEL: ADMIN_CHANNEL,
        SLACK_ADMINS: ADMIN,
        OUTBOX_POLL_INTERVAL_MS: "50",
        LOG_LEVEL: "warn",
      },
      null,
    );
    const http = new HttpService(testLog);
    const bot = await startSlack({ config, log: testLog, database, core, http, instanceId: "test-slack" });
    if (!bot) throw new Error("the Slack component did not start");
    running.push(bot);
    running.push(await startCleanup({ config, log: testLog, database, core, http, instanceId: "test-cleanup" }));
  }

  /** Waits until every named VM has met the missing key, then lets the worker retry them many more times. */
  async function blockedAndRetried(names: string[]): Promise<void> {
    for (const name of names) {
      await waitUntil(`${name} to be blocked`, 20_000, async () => (await vmRow(core.db, name)).cleanup_last_error?.startsWith("cleanup blocked: ") === true);
    }
    await sleep(1000);
  }

  it("posts one alert to the admin channel for two VMs blocked by the same key, however often they are retried, and shows it on an admin's Home", async () => {
    const names = await addVmsFor(core, "keyless", lab.hosts.slice(0, 2) as LabHost[]);
    await startService();
    await borrowAndReturnAll(core, "keyless");
    await blockedAndRetried(names);

    const [alert] = await slack.waitFor(blockedAlert, { timeoutMs: 20_000 });
    expect(alert?.body.text).toMatch(
      new RegExp(
        `^Cleanup is blocked: vmres cannot read its SSH private key file ${keyFile} \\(ENOENT[^)]*\\)\\. Nothing is wrong with the VMs: [12] VMs? waits? in cleaning and will be cleaned as soon as the file can be read; no restart needed\\.$`,
      ),
    );
    // Time for a second alert to arrive, were one queued.
    await sleep(500);
    expect(slack.calls("chat.postMessage").filter(blockedAlert)).toHaveLength(1);
    expect(await outboxOf(core.db, "cleanup_blocked")).toEqual([expect.objectContaining({ keyFile, error: expect.stringMatching(/^cleanup blocked: cannot read SSH private key file .*: ENOENT/) })]);
    for (const name of names) {
      expect(await vmRow(core.db, name)).toMatchObject({ state: "cleaning", cleanup_attempts: 0 });
    }

    // The alert republishes admins' Homes, which read the waiting VMs from the database when it is
    // delivered: 1 if it went out while the second VM was still on its way to the missing key (a
    // Home opened later reads the count again), as the alert's own count above.
    const [home] = await slack.waitFor(
      (c) => c.method === "views.publish" && c.body.user_id === ADMIN && /[12] VMs? waits? in cleaning/.test(JSON.stringify(c.body.view)),
      { timeoutMs: 20_000 },
    );
    const view = JSON.stringify(home?.body.view);
    expect(view).toContain("Cleanup is blocked");
    expect(view).toContain(`cannot read SSH private key file ${keyFile}: ENOENT`);
  });

  it("alerts again when the key, once put back and used, goes missing again", async () => {
    const [name] = await addVmsFor(core, "flaky", lab.hosts.slice(0, 1) as LabHost[]);
    await startService();
    await borrowAndReturnAll(core, "flaky");
    await blockedAndRetried([name!]);
    await slack.waitFor(blockedAlert, { timeoutMs: 20_000 });

    // Put back: the VM is cleaned, the outage is over.
    copyFileSync(lab.clientKeyPath, keyFile);
    await waitForState(core.db, name!, "available");
    expect((await eventsOf(core.db, name!)).filter((e) => e.kind === "cleaned").map((e) => e.detail.keyFile)).toEqual([keyFile]);

    // Lost again: a new outage, told again, once.
    rmSync(keyFile);
    await borrowAndReturnAll(core, "flaky");
    await blockedAndRetried([name!]);
    await slack.waitFor(blockedAlert, { timeoutMs: 20_000, count: 2 });
    await sleep(500);
    expect(slack.calls("chat.postMessage").filter(blockedAlert)).toHaveLength(2);
    expect(await outboxOf(core.db, "cleanup_blocked")).toHaveLength(2);
  });
});
