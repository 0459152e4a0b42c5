import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startCleanup } from "../../src/cleanup/component.js";
import { loadConfig } from "../../src/config.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { HttpService } from "../../src/service/http.js";
import type { Component } from "../../src/service/context.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";
import { labSkipReason, startLab, type Lab, type LabHost } from "../lab/lab.js";
import { addVmsFor, borrowAndReturnAll, eventsOf, outboxOf, vmRow, waitForState, waitUntil } from "./helpers.js";

const skipReason = labSkipReason();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skipReason !== null)("cleanup when vmres's own SSH private key is missing", () => {
  let lab: Lab;
  let database: Database;
  let core: Core;
  let http: HttpService;
  let cleanup: Component | undefined;
  let keyDir: string;

  beforeAll(async () => {
    lab = await startLab({ count: 1 });
  });
  afterAll(async () => {
    await lab?.stop();
  });
  beforeEach(async () => {
    database = await freshDatabase();
    core = coreFor(database, { defaultQuota: 1000 });
    http = new HttpService(testLog);
    keyDir = mkdtempSync(join(tmpdir(), "vmres-key-"));
  });
  afterEach(async () => {
    await cleanup?.stop();
    cleanup = undefined;
    await http.close();
    await database.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** The cleanup component as the service starts it, with one failure enough to quarantine. */
  async function startComponent(keyFile: string): Promise<void> {
    const config = loadConfig(
      {
        SSH_PRIVATE_KEY_FILE: keyFile,
        CLEANUP_MAX_ATTEMPTS: "1",
        CLEANUP_BACKOFF_BASE_MS: "0",
        CLEANUP_POLL_INTERVAL_MS: "50",
        CLEANUP_CONNECT_TIMEOUT_MS: "3000",
        CLEANUP_COMMAND_TIMEOUT_MS: "10000",
        LOG_LEVEL: "warn",
      },
      null,
    );
    cleanup = await startCleanup({ config, log: testLog, database, core, http, instanceId: "test-cleanup" });
  }

  async function cleanupHealth(port: number): Promise<{ ready: boolean; detail: string }> {
    const body = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { checks: Record<string, { ready: boolean; detail: string }> };
    return body.checks.cleanup!;
  }

  it("keeps the VM in cleaning with no attempt counted, says why on /healthz, and cleans it once the key is back", async () => {
    const host = lab.hosts[0] as LabHost;
    const [name] = await addVmsFor(core, "keyless", [host]);
    await host.exec(["touch", "/tmp/left-behind"]);
    const keyFile = join(keyDir, "id_ed25519");
    await startComponent(keyFile);
    const port = await http.listen(0, "127.0.0.1");
    const blocked = { ready: false, detail: expect.stringMatching(new RegExp(`^cleanup blocked: cannot read SSH private key file ${keyFile}: ENOENT`)) };
    // Known at start, before any VM needs cleaning.
    expect(await cleanupHealth(port)).toEqual(blocked);

    await borrowAndReturnAll(core, "keyless");
    await waitUntil(`${name} to be blocked`, 20_000, async () => (await eventsOf(core.db, name!)).some((e) => e.kind === "cleanup_blocked"));
    // Many polls later: still waiting, nothing counted, nobody told to fix the VM.
    await sleep(1000);
    const row = await vmRow(core.db, name!);
    expect(row).toMatchObject({ state: "cleaning", cleanup_attempts: 0 });
    expect(row.cleanup_last_error).toMatch(new RegExp(`^cleanup blocked: cannot read SSH private key file ${keyFile}: ENOENT`));
    expect(await outboxOf(core.db, "vm_quarantined")).toEqual([]);
    const events = (await eventsOf(core.db, name!)).filter((e) => e.source === "worker");
    expect(events.map((e) => e.kind)).toEqual(["cleanup_blocked"]);
    expect(events[0]?.detail).toMatchObject({ keyFile, attempts: 0 });
    expect(await cleanupHealth(port)).toEqual(blocked);
    expect((await host.exec(["test", "-e", "/tmp/left-behind"])).code).toBe(0);

    // Fixed without a restart.
    copyFileSync(lab.clientKeyPath, keyFile);
    await waitForState(core.db, name!, "available");
    expect(await vmRow(core.db, name!)).toMatchObject({ cleanup_attempts: 0, cleanup_last_error: null });
    expect((await host.exec(["test", "-e", "/tmp/left-behind"])).code).not.toBe(0);
    expect(await cleanupHealth(port)).toMatchObject({ ready: true });
  });

  it("treats a key file that holds no usable key like a missing one", async () => {
    const host = lab.hosts[0] as LabHost;
    const [name] = await addVmsFor(core, "badkey", [host]);
    const keyFile = join(keyDir, "id_ed25519");
    copyFileSync(`${lab.clientKeyPath}.pub`, keyFile);
    await startComponent(keyFile);
    const port = await http.listen(0, "127.0.0.1");
    expect(await cleanupHealth(port)).toEqual({ ready: false, detail: expect.stringMatching(new RegExp(`^cleanup blocked: cannot use SSH private key file ${keyFile}: `)) });
    await borrowAndReturnAll(core, "badkey");
    await waitUntil(`${name} to be blocked`, 20_000, async () => (await vmRow(core.db, name!)).cleanup_last_error !== null);
    await sleep(500);
    expect(await vmRow(core.db, name!)).toMatchObject({ state: "cleaning", cleanup_attempts: 0 });
  });
});
