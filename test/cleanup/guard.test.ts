import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { guardCommand, WAITING_FOR_EARLIER_CLEANUP } from "../../src/cleanup/guard-command.js";
import type { CleanupSettings } from "../../src/cleanup/settings.js";
import { runRemoteCommand } from "../../src/cleanup/ssh.js";
import { CleanupWorker } from "../../src/cleanup/worker.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";
import { labSkipReason, startLab, type Lab, type LabHost } from "../lab/lab.js";
import { addVmsFor, borrowAndReturnAll, eventsOf, hostDealer, setPoolCleanup, testSettings, vmRow, waitForState, waitUntil } from "./helpers.js";

const skipReason = labSkipReason();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A shell loop that appends a nanosecond time to `file` every 50 ms, `times` times (forever when omitted). */
const ticker = (file: string, times?: number) =>
  times === undefined
    ? `while :; do date +%s%N >> ${file}; sleep 0.05; done`
    : `i=0; while [ $i -lt ${times} ]; do date +%s%N >> ${file}; sleep 0.05; i=$((i+1)); done`;

describe.skipIf(skipReason !== null)("a cleanup's remote command ends with its attempt", () => {
  let lab: Lab;
  let database: Database;
  let core: Core;
  let worker: CleanupWorker | undefined;
  const takeHosts = hostDealer(() => lab.hosts);

  beforeAll(async () => {
    lab = await startLab({ count: 3 });
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

  /** The nanosecond times a ticker wrote into `file` on the host. */
  async function ticks(host: LabHost, file: string): Promise<bigint[]> {
    const out = await host.exec(["sh", "-c", `cat ${file} 2>/dev/null || true`]);
    return out.stdout.split("\n").filter(Boolean).map(BigInt);
  }

  it("kills a timed-out cleanup on the VM, and what it started, instead of letting it run on", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "runaway", [host]);
    // A command that never ends on its own, with a child that keeps writing: what deleted the next borrower's files.
    await setPoolCleanup(core.db, "runaway", { command: `echo $$ > /root/cleanup.pid; (${ticker("/root/ticks")}) & wait` });
    await borrowAndReturnAll(core, "runaway");
    startWorker({ maxAttempts: 1, ssh: { commandTimeoutMs: 1000 } });
    await waitForState(core.db, name!, "quarantined");
    expect((await vmRow(core.db, name!)).cleanup_last_error).toBe("timed out: the command did not finish within 1000 ms");

    // The VM's own kill starts counting when the command starts there, after the worker's clock
    // (later still on a loaded machine): wait for it, bounded; without it the command never dies.
    const pid = (await host.exec(["cat", "/root/cleanup.pid"])).stdout.trim();
    await waitUntil("the timed-out command to be killed on the VM", 30_000, async () => (await host.exec(["sh", "-c", `kill -0 ${pid}`])).code !== 0);
    await sleep(300);
    const afterKill = await ticks(host, "/root/ticks");
    await sleep(1000);
    expect(afterKill.length).toBeGreaterThan(0);
    expect(await ticks(host, "/root/ticks")).toEqual(afterKill);
  });

  it("does not start a retry on the VM while something the earlier attempt left running is still there", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const [name] = await addVmsFor(core, "escapee", [host]);
    // The first attempt leaves a process that escapes the kill (its own session) and writes for ~3 s,
    // then hangs until it times out. Every later attempt records when it ran.
    const command = [
      "if [ -e /root/attempted ]; then date +%s%N >> /root/retries; exit 0; fi",
      "touch /root/attempted",
      `setsid sh -c '${ticker("/root/ticks", 60)}; touch /root/escapee-done' </dev/null >/dev/null 2>&1 &`,
      "sleep 100",
    ].join("\n");
    await setPoolCleanup(core.db, "escapee", { command });
    await borrowAndReturnAll(core, "escapee");
    startWorker({ maxAttempts: 20, ssh: { commandTimeoutMs: 1000 }, backoff: { baseMs: 0, maxMs: 0 } });
    await waitForState(core.db, name!, "available");
    await waitUntil("the escaped process to end", 30_000, async () => (await host.exec(["test", "-e", "/root/escapee-done"])).code === 0);

    const [retried] = await ticks(host, "/root/retries");
    const escapee = await ticks(host, "/root/ticks");
    expect(retried).toBeGreaterThan(escapee.at(-1)!);
    expect(escapee).toHaveLength(60);
    // The retries that came while it ran waited on the VM and said why they timed out.
    const failures = (await eventsOf(core.db, name!)).filter((e) => e.kind === "cleanup_failed").map((e) => String(e.detail.error));
    expect(failures[0]).toBe("timed out: the command did not finish within 1000 ms");
    expect(failures.slice(1).length).toBeGreaterThan(0);
    for (const error of failures.slice(1)) expect(error).toBe(`timed out: the command did not finish within 1000 ms: ${WAITING_FOR_EARLIER_CLEANUP}`);
  });

  it("passes a pool's command to the VM's login shell unchanged, quotes and all", async () => {
    const [host] = takeHosts(1) as [LabHost];
    const target = { host: host.ip, port: host.port, username: host.user, privateKey: readFileSync(lab.clientKeyPath), expectedFingerprint: host.hostKeyFingerprint, trustOnFirstUse: false };
    const command = `echo "it's $((1 + 1))" '$HOME' "$HOME"; echo 'to stderr' >&2; exit 0`;
    const result = await runRemoteCommand(target, guardCommand(command, 5000), { connectTimeoutMs: 5000, commandTimeoutMs: 5000, keepaliveIntervalMs: 1000 });
    expect(result).toMatchObject({ kind: "ok", stdout: "it's 2 $HOME /root\n", stderr: "to stderr\n" });
  });
});
