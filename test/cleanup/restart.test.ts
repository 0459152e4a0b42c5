import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { labSkipReason, startLab, type Lab } from "../lab/lab.js";
import { cleanupRuns, loggingCommand, overlaps } from "./cleanup-log.js";
import { addVmsFor, borrowAndReturnAll, eventsOf, setPoolCleanup, waitUntil, hostDealer } from "./helpers.js";
import { killService, startServiceProcess, type ServiceProcess } from "../helpers/service-process.js";

const skipReason = labSkipReason();
/** Each test starts service processes (a few seconds each on a busy machine) and waits out stale claims. */
const PROCESS_TEST_TIMEOUT_MS = 180_000;

/**
 * A claim is stale after connect + command timeout + margin = 3 + 4 + 1 s. These tests are about
 * crashes and restarts, not failures: a loaded machine's slow SSH handshakes (8 at once) get
 * 3 s and 10 attempts, so none of them ends in quarantine (CI saw 1 s and 3 attempts do that).
 */
const SERVICE_SETTINGS = {
  PORT: "0",
  LOG_LEVEL: "info",
  VMS_FILE: "/nonexistent/vmres-test-vms.yml",
  CLEANUP_CONNECT_TIMEOUT_MS: "3000",
  CLEANUP_MAX_ATTEMPTS: "10",
  CLEANUP_COMMAND_TIMEOUT_MS: "4000",
  CLEANUP_CLAIM_MARGIN_MS: "1000",
  CLEANUP_POLL_INTERVAL_MS: "100",
  CLEANUP_BACKOFF_BASE_MS: "100",
  CLEANUP_SHUTDOWN_GRACE_MS: "5000",
  SHUTDOWN_TIMEOUT_MS: "15000",
  RECONCILE_CRON: "* * * * * *",
};

describe.skipIf(skipReason !== null)("cleanup across service processes, crashes and restarts", () => {
  let lab: Lab;
  let database: Database;
  let core: Core;
  const services: ServiceProcess[] = [];
  const takeHosts = hostDealer(() => lab.hosts);

  beforeAll(async () => {
    lab = await startLab({ count: 30 });
  });
  afterAll(async () => {
    await lab?.stop();
  });
  beforeEach(async () => {
    database = await freshDatabase();
    core = coreFor(database, { defaultQuota: 1000 });
  });
  afterEach(async () => {
    for (const service of services.splice(0)) await killService(service);
    await database.close();
  });

  async function startService(extra: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = await startServiceProcess({ ...SERVICE_SETTINGS, DATABASE_URL: database.url, SSH_PRIVATE_KEY_FILE: lab.clientKeyPath, ...extra });
    services.push(service);
    return service;
  }

  /** The VMs not available, with their last cleanup error: what a failed expectation shows. */
  const notAvailable = async () =>
    core.db.execute<{ name: string; state: string; attempts: number; error: string | null }>(
      sql`select name, state::text, cleanup_attempts as attempts, cleanup_last_error as error from vms where state <> 'available' order by name`,
    );
  const countIn = async (state: string) =>
    (await core.db.execute<{ n: number }>(sql`select count(*)::int as n from vms where state = ${state}::vm_state`))[0]?.n ?? -1;
  const cleanedBy = async (name: string) =>
    (await eventsOf(core.db, name)).filter((e) => e.kind === "cleaned").map((e) => String(e.detail.instance));

  it("after a kill -9 mid-cleanup, the restarted service finishes every cleanup, none twice at once", async () => {
    const hosts = takeHosts(8);
    const names = await addVmsFor(core, "crash", hosts);
    // Long enough that the first of the 4 is still running when the 4th starts, even on a busy machine.
    await setPoolCleanup(core.db, "crash", { command: loggingCommand(2.5) });
    const first = await startService({ CLEANUP_CONCURRENCY: "4" });
    await borrowAndReturnAll(core, "crash");
    await waitUntil("4 cleanups to be running on the hosts", 30_000, async () => {
      const started = await Promise.all(hosts.map(async (h) => (await cleanupRuns(h)).length));
      return started.filter((n) => n > 0).length >= 4;
    });
    first.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const inFlight = await core.db.execute<{ name: string; claimed_by: string }>(sql`select name, claimed_by from vms where claimed_by is not null order by name`);
    // Bounded concurrency: the dead process held exactly as many claims as it may run at once.
    expect(inFlight).toHaveLength(4);

    await startService();
    await waitUntil("no VM left in cleaning", 60_000, async () => (await countIn("cleaning")) === 0);

    expect(await notAvailable()).toEqual([]);
    for (const host of hosts) {
      const runs = await cleanupRuns(host);
      expect(overlaps(runs), `${host.name}: ${JSON.stringify(runs, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`).toEqual([]);
      expect(runs.length).toBeGreaterThanOrEqual(1);
    }
    for (const { name, claimed_by } of inFlight) {
      const events = await eventsOf(core.db, name);
      expect(events.filter((e) => e.kind === "cleanup_claim_reset")).toEqual([
        expect.objectContaining({ source: "reconciler", actor: "system", detail: expect.objectContaining({ claimedBy: claimed_by }) }),
      ]);
    }
    for (const name of names) expect(await cleanedBy(name)).toHaveLength(1);
  }, PROCESS_TEST_TIMEOUT_MS);

  it("two services on one database clean 20 VMs, each exactly once", async () => {
    const hosts = takeHosts(20);
    const names = await addVmsFor(core, "pair", hosts);
    await setPoolCleanup(core.db, "pair", { command: loggingCommand(0.5) });
    await Promise.all([startService(), startService()]);
    await borrowAndReturnAll(core, "pair");
    await waitUntil("no VM left in cleaning", 60_000, async () => (await countIn("cleaning")) === 0);

    expect(await notAvailable()).toEqual([]);
    expect(await countIn("available")).toBe(20);
    for (const host of hosts) {
      const runs = await cleanupRuns(host);
      expect(runs, host.name).toHaveLength(1);
      expect(runs[0]?.end, host.name).not.toBeNull();
    }
    const instances = new Set<string>();
    for (const name of names) {
      const by = await cleanedBy(name);
      expect(by).toHaveLength(1);
      instances.add(by[0]!);
    }
    // Each may run 8 at once, so neither can have taken all 20.
    expect(instances.size).toBe(2);
  }, PROCESS_TEST_TIMEOUT_MS);

  it("on SIGTERM, lets the running cleanups finish, records them, and exits cleanly", async () => {
    const hosts = takeHosts(2);
    const names = await addVmsFor(core, "term", hosts);
    await setPoolCleanup(core.db, "term", { command: loggingCommand(1) });
    const service = await startService();
    await borrowAndReturnAll(core, "term");
    await waitUntil("both cleanups to be running", 30_000, async () => (await Promise.all(hosts.map(cleanupRuns))).every((runs) => runs.length === 1));
    service.kill("SIGTERM");
    expect(await service.exited).toEqual({ code: 0, signal: null });
    for (const name of names) expect(await cleanedBy(name)).toHaveLength(1);
    expect(await countIn("available")).toBe(2);
  }, PROCESS_TEST_TIMEOUT_MS);
});
