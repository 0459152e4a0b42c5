import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { reconcileCleanups } from "../../src/core/cleanup/reconcile-cleanups.js";
import { loadConfig } from "../../src/config.js";
import { HttpService } from "../../src/service/http.js";
import { startSlack } from "../../src/slack/index.js";
import type { CleanupSettings } from "../../src/cleanup/settings.js";
import { CleanupWorker } from "../../src/cleanup/worker.js";
import { retryCleanup } from "../../src/core/admin.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";
import { FakeSlack } from "../helpers/fake-slack.js";
import { labSkipReason, startLab, type Lab, type LabHost } from "../lab/lab.js";
import { addVmsFor, borrowAndReturnAll, eventsOf, operator, outboxOf, setPoolCleanup, testSettings, vmRow, waitForState, waitUntil, hostDealer } from "./helpers.js";

const skipReason = labSkipReason();

describe.skipIf(skipReason !== null)("the cleanup worker against real sshd hosts", () => {
  let lab: Lab;
  let database: Database;
  let core: Core;
  let worker: CleanupWorker | undefined;
  const takeHosts = hostDealer(() => lab.hosts);

  beforeAll(async () => {
    lab = await startLab({ count: 14 });
  });
  afterAll(async () => {
    await lab?.stop();
  });
  beforeEach(async () => {
    database = await freshDatabase();
    core = coreFor(database, { defaultQuota: 1000 });
  });
  afterEach(async () => {
    await worker?.stop(0);
    worker = undefined;
    await database.close();
  });

  function startWorker(overrides: Partial<Omit<CleanupSettings, "ssh">> & { ssh?: Partial<CleanupSettings["ssh"]> } = {}): CleanupWorker {
    worker = new CleanupWorker({ db: core.db, log: testLog, instanceId: "test-worker", settings: testSettings(lab.clientKeyPath, overrides) });
    worker.start();
    return worker;
  }

  async function inside(host: LabHost, ...cmd: string[]): Promise<string> {
    const result = await host.exec(cmd);
    if (result.code !== 0) throw new Error(`${cmd.join(" ")} failed in ${host.name}: ${result.stderr}`);
    return result.stdout;
  }
  const exists = async (host: LabHost, path: string) => (await host.exec(["test", "-e", path])).code === 0;
  /** Every entry under `dir`, NUL-separated so names with newlines come back whole. */
  const contents = async (host: LabHost, dir: string) => (await inside(host, "find", dir, "-mindepth", "1", "-print0")).split("\0").filter(Boolean).sort();

  it("empties a checked-in VM's /tmp as specified and returns the VM to the pool", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "wipe", [host]);
    await inside(host, "mkdir", "-p", "/root/target-dir");
    await inside(host, "touch", "/root/target-file", "/root/target-dir/inside");
    const script = [
      "set -e",
      "touch /tmp/plain.txt '/tmp/with space' '/tmp/new\nline' /tmp/.hidden-file /tmp/-rf",
      "mkdir -p /tmp/nested/a/b /tmp/.hidden/.deeper '/tmp/dir with\nnewline'",
      "touch /tmp/nested/a/b/c.txt /tmp/.hidden/.deeper/x '/tmp/dir with\nnewline/inside'",
      "ln -s /root/target-file /tmp/link-to-file",
      "ln -s /root/target-dir /tmp/link-to-dir",
      // What running services keep: must survive with their contents.
      "mkdir -p /tmp/systemd-private-abc-chronyd.service-xyz/tmp /tmp/.X11-unix",
      "touch /tmp/systemd-private-abc-chronyd.service-xyz/tmp/state /tmp/.X11-unix/X0",
    ].join("\n");
    await inside(host, "sh", "-c", script);
    const writer = await host.spawnInside(["sh", "-c", "exec 3>/tmp/open.txt; echo open; exec sleep 1000"], { readyWhen: "open" });
    try {
      await borrowAndReturnAll(core, "wipe");
      startWorker();
      await waitForState(core.db, name!, "available");

      expect(await contents(host, "/tmp")).toEqual([
        "/tmp/.X11-unix",
        "/tmp/.X11-unix/X0",
        "/tmp/systemd-private-abc-chronyd.service-xyz",
        "/tmp/systemd-private-abc-chronyd.service-xyz/tmp",
        "/tmp/systemd-private-abc-chronyd.service-xyz/tmp/state",
      ]);
      expect(await contents(host, "/root")).toEqual(["/root/target-dir", "/root/target-dir/inside", "/root/target-file"]);
      expect(await inside(host, "readlink", `/proc/${writer.pid}/fd/3`)).toBe("/tmp/open.txt (deleted)\n");
      const cleaned = (await eventsOf(core.db, name!)).filter((e) => e.kind === "cleaned");
      expect(cleaned).toEqual([
        expect.objectContaining({ source: "worker", actor: "system", detail: expect.objectContaining({ report: { removed: 17, kept: 2, remaining: 0 }, attempt: 1 }) }),
      ]);
      expect(await vmRow(core.db, name!)).toMatchObject({ cleanup_attempts: 0, cleanup_last_error: null, claimed_by: null });
      expect(await outboxOf(core.db, "vm_quarantined")).toEqual([]);
    } finally {
      await writer.stop();
    }
  });

  it("retries a VM whose sshd is down, then quarantines it and alerts the admins", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "down", [host]);
    await host.stopSshd();
    // The real Slack component, delivering the outbox to a fake Slack Web API.
    const slack = await FakeSlack.start();
    const adminChannel = "C0ADMINS1";
    const config = loadConfig(
      { SLACK_BOT_TOKEN: "xoxb-test", SLACK_SIGNING_SECRET: "test-secret", SLACK_API_URL: slack.url, SLACK_ADMIN_CHANNEL: adminChannel, SLACK_ADMINS: "UADMIN01", OUTBOX_POLL_INTERVAL_MS: "50", LOG_LEVEL: "warn" },
      null,
    );
    const bot = await startSlack({ config, log: testLog, database, core, http: new HttpService(testLog), instanceId: "test-slack" });
    try {
      await borrowAndReturnAll(core, "down");
      startWorker({ maxAttempts: 3, backoff: { baseMs: 100, maxMs: 400 } });
      await waitForState(core.db, name!, "quarantined");

      const events = (await eventsOf(core.db, name!)).filter((e) => e.source === "worker");
      expect(events.map((e) => [e.kind, e.detail.attempt ?? e.detail.attempts])).toEqual([
        ["cleanup_failed", 1],
        ["cleanup_failed", 2],
        ["quarantined", 3],
      ]);
      const row = await vmRow(core.db, name!);
      expect(row).toMatchObject({ cleanup_attempts: 3, claimed_by: null });
      expect(row.cleanup_last_error).toMatch(/^could not connect: .*ECONNREFUSED/);
      expect(await outboxOf(core.db, "vm_quarantined")).toEqual([
        { vm: name, pool: "down", reason: "cleanup failed 3 times", lastError: row.cleanup_last_error, attempts: 3 },
      ]);

      const toAdmins = (c: { method: string; body: Record<string, unknown> }) => c.method === "chat.postMessage" && c.body.channel === adminChannel;
      const [alert] = await slack.waitFor((c) => toAdmins(c) && String(c.body.text).includes("quarantined"), { timeoutMs: 20_000 });
      expect(alert?.body.text).toBe(`${name} is quarantined: cleanup failed 3 times`);
      const buttons = JSON.stringify(alert?.body.blocks);
      expect(buttons).toContain('"Retry cleanup"');
      expect(buttons).toContain('"Repaired"');
    } finally {
      await bot?.stop();
      await slack.close();
    }
  });

  it("quarantines a VM whose host key was replaced, at once and without running the command", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "rekeyed", [host]);
    await setPoolCleanup(core.db, "rekeyed", { command: "touch /root/command-ran" });
    const pinned = host.hostKeyFingerprint;
    await host.replaceHostKey();
    await borrowAndReturnAll(core, "rekeyed");
    startWorker({ maxAttempts: 3 });
    await waitForState(core.db, name!, "quarantined");

    expect(await exists(host, "/root/command-ran")).toBe(false);
    const row = await vmRow(core.db, name!);
    expect(row).toMatchObject({ cleanup_attempts: 1, host_key_fingerprint: pinned });
    expect(row.cleanup_last_error).toBe(`host key mismatch: expected ${pinned}, the host presented ${host.hostKeyFingerprint}`);
    expect((await eventsOf(core.db, name!)).map((e) => e.kind)).not.toContain("cleanup_failed");
    expect(await outboxOf(core.db, "vm_quarantined")).toEqual([
      { vm: name, pool: "rekeyed", reason: "host key changed", lastError: row.cleanup_last_error, attempts: 1 },
    ]);
  });

  it("gives up on a command that hangs at the command timeout and retries it", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "hang", [host]);
    await host.setHanging(true);
    try {
      await borrowAndReturnAll(core, "hang");
      startWorker({ maxAttempts: 20, ssh: { commandTimeoutMs: 500 }, backoff: { baseMs: 200, maxMs: 400 } });
      await waitUntil(`${name} to have failed twice`, 15_000, async () => (await vmRow(core.db, name!)).cleanup_attempts >= 2);
      const row = await vmRow(core.db, name!);
      expect(row.state).toBe("cleaning");
      expect(row.cleanup_last_error).toBe("timed out: the command did not finish within 500 ms");
    } finally {
      await host.setHanging(false);
    }
    await waitForState(core.db, name!, "available");
    expect((await eventsOf(core.db, name!)).map((e) => e.kind).at(-1)).toBe("cleaned");
  });

  it("with trust on first use, pins the first key seen and then holds the host to it", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "tofu", [host], { pinned: false });
    await setPoolCleanup(core.db, "tofu", { trustOnFirstUse: true });
    await borrowAndReturnAll(core, "tofu");
    startWorker();
    await waitForState(core.db, name!, "available");
    expect((await vmRow(core.db, name!)).host_key_fingerprint).toBe(host.hostKeyFingerprint);
    expect((await eventsOf(core.db, name!)).find((e) => e.kind === "host_key_recorded")?.detail).toMatchObject({ fingerprint: host.hostKeyFingerprint });

    const first = host.hostKeyFingerprint;
    await host.replaceHostKey();
    await borrowAndReturnAll(core, "tofu");
    await waitForState(core.db, name!, "quarantined");
    expect(await vmRow(core.db, name!)).toMatchObject({ host_key_fingerprint: first, cleanup_last_error: expect.stringContaining("host key mismatch") });
  });

  it("without trust on first use, quarantines a VM with no key on record without running the command", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "unpinned", [host], { pinned: false });
    await setPoolCleanup(core.db, "unpinned", { command: "touch /root/command-ran" });
    await borrowAndReturnAll(core, "unpinned");
    startWorker();
    await waitForState(core.db, name!, "quarantined");
    expect(await exists(host, "/root/command-ran")).toBe(false);
    expect(await vmRow(core.db, name!)).toMatchObject({ host_key_fingerprint: null, cleanup_attempts: 1 });
    expect((await outboxOf(core.db, "vm_quarantined"))[0]).toMatchObject({ vm: name, reason: "no host key on record" });
  });

  it("uses the pool's private key when it names one, and names an unreadable key file in the error", async () => {
    const [withKey, withoutKey] = takeHosts(2) as [LabHost, LabHost];
    const [good] = await addVmsFor(core, "own-key", [withKey]);
    const [bad] = await addVmsFor(core, "default-key", [withoutKey]);
    await setPoolCleanup(core.db, "own-key", { privateKeyFile: lab.clientKeyPath });
    await borrowAndReturnAll(core, "own-key");
    await borrowAndReturnAll(core, "default-key");
    startWorker({ privateKeyFile: "/nonexistent/vmres-test-key", maxAttempts: 1 });
    await waitForState(core.db, good!, "available");
    await waitUntil(`${bad} to be blocked`, 20_000, async () => (await vmRow(core.db, bad!)).cleanup_last_error !== null);
    // vmres's own missing key is not the VM's fault: it waits in cleaning, with nothing counted against it.
    expect(await vmRow(core.db, bad!)).toMatchObject({ state: "cleaning", cleanup_attempts: 0 });
    expect((await vmRow(core.db, bad!)).cleanup_last_error).toMatch(/^cleanup blocked: cannot read SSH private key file \/nonexistent\/vmres-test-key: ENOENT/);
  });

  it("with trust on first use, pins no key from an attempt that failed, and pins it once a cleanup succeeds", async () => {
    const [failing, refusing] = takeHosts(2) as [LabHost, LabHost];
    const [failed] = await addVmsFor(core, "tofu-fail", [failing], { pinned: false });
    const [refused] = await addVmsFor(core, "tofu-auth", [refusing], { pinned: false });
    await setPoolCleanup(core.db, "tofu-fail", { trustOnFirstUse: true, command: "exit 3" });
    // A key the host does not accept: the key exchange completes, the login does not.
    const dir = mkdtempSync(join(tmpdir(), "vmres-stranger-"));
    const strangerKey = join(dir, "id_ed25519");
    writeFileSync(strangerKey, utils.generateKeyPairSync("ed25519").private, { mode: 0o600 });
    try {
      await setPoolCleanup(core.db, "tofu-auth", { trustOnFirstUse: true, privateKeyFile: strangerKey });
      await borrowAndReturnAll(core, "tofu-fail");
      await borrowAndReturnAll(core, "tofu-auth");
      startWorker({ maxAttempts: 1 });
      await waitForState(core.db, failed!, "quarantined");
      await waitForState(core.db, refused!, "quarantined");
      expect((await vmRow(core.db, failed!)).cleanup_last_error).toBe("command exited with status 3");
      expect((await vmRow(core.db, refused!)).cleanup_last_error).toMatch(/^login refused: /);
      for (const name of [failed!, refused!]) {
        expect((await vmRow(core.db, name)).host_key_fingerprint).toBeNull();
        expect((await eventsOf(core.db, name)).map((e) => e.kind)).not.toContain("host_key_recorded");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    await setPoolCleanup(core.db, "tofu-fail", { trustOnFirstUse: true, command: null });
    expect(await retryCleanup(core, operator, failed!)).toMatchObject({ ok: true });
    await waitForState(core.db, failed!, "available");
    expect((await vmRow(core.db, failed!)).host_key_fingerprint).toBe(failing.hostKeyFingerprint);
    expect((await eventsOf(core.db, failed!)).filter((e) => e.kind === "host_key_recorded")).toHaveLength(1);
  });

  it("on stop, claims nothing more and lets the running cleanup finish", async () => {
    const hosts = takeHosts(2);
    const [first, second] = await addVmsFor(core, "drain", hosts);
    await setPoolCleanup(core.db, "drain", { command: "sleep 1" });
    await borrowAndReturnAll(core, "drain");
    const draining = startWorker({ concurrency: 1 });
    await waitUntil("a cleanup to start", 20_000, async () => (await vmRow(core.db, first!)).claimed_by !== null);
    expect(await draining.stop(5000)).toEqual({ finished: 1, leftForReconciler: 0 });
    expect((await vmRow(core.db, first!)).state).toBe("available");
    expect(await vmRow(core.db, second!)).toMatchObject({ state: "cleaning", claimed_by: null });
  });

  it("leaves a cleanup still running after the grace to the reconciler, which re-queues it once stale", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "slow", [host]);
    await setPoolCleanup(core.db, "slow", { command: "sleep 1" });
    await borrowAndReturnAll(core, "slow");
    const slow = startWorker();
    await waitUntil("the cleanup to start", 20_000, async () => (await vmRow(core.db, name!)).claimed_by !== null);
    expect(await slow.stop(100)).toEqual({ finished: 0, leftForReconciler: 1 });
    // The abandoned cleanup ends meanwhile; its outcome is not written, the claim stays.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await vmRow(core.db, name!)).toMatchObject({ state: "cleaning", claimed_by: "test-worker" });

    expect((await reconcileCleanups(core.db.$client, 500)).claimsReset.map((r) => r.vm)).toEqual([name]);
    startWorker();
    await waitForState(core.db, name!, "available");
  });
});
