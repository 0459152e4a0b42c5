import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import type { JobClaim } from "../../src/core/provision/jobs.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Core } from "../../src/core/types.js";
import { PROVIDER_JOBS_CHANNEL } from "../../src/db/notify.js";
import { JobRunner } from "../../src/jobs/runner.js";
import { providerFor, providerSettingsProblem } from "../../src/provision/providers.js";
import { providerJobKind, type JobOutcome } from "../../src/provision/job-kind.js";
import type { FinishJob } from "../../src/provision/run-job.js";
import type { ProvisionSettings } from "../../src/provision/settings.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";

const SETTINGS: ProvisionSettings = {
  concurrency: 1, maxAttempts: 1, backoffMs: 0, providerTimeoutMs: 10_000, sshTimeoutMs: 1000,
  // Ten minutes: only the notification can start the job within the test.
  pollMs: 600_000,
  claimTimeoutMs: 10_000, imageRetentionMs: 86_400_000, listIntervalMs: 0, orphans: "report",
};

describe("provider jobs and the job runner", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let core: Core;
  let dir: string;
  beforeAll(async () => {
    database = await freshDatabase({ poolSize: 4 });
    core = coreFor(database);
    dir = mkdtempSync(join(tmpdir(), "vmres-wakeup-"));
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts a job another process queued at once, woken by its NOTIFY, not by the poll", async () => {
    // A provider that refuses every create at once: the job's one attempt fails, which the test waits for.
    const command = join(dir, "provider");
    writeFileSync(command, '#!/bin/sh\nif [ "$1" = create ]; then echo "no capacity (test)" >&2; exit 1; fi\nexit 0\n');
    chmodSync(command, 0o755);
    const set = await setProvisioning(core, { person: "operator", source: "cli" }, "woken", { provider: "command", image: "base", maxSize: 2, providerSettings: { command } }, providerSettingsProblem);
    expect(set.ok).toBe(true);
    let ended!: (o: { claim: JobClaim; outcome: JobOutcome }) => void;
    const outcome = new Promise<{ claim: JobClaim; outcome: JobOutcome }>((resolve) => (ended = resolve));
    const runner = new JobRunner<JobClaim, FinishJob, string | null>({
      kind: providerJobKind({
        core,
        log: testLog,
        instanceId: "woken-runner",
        settings: SETTINGS,
        provider: async (claim) => providerFor(claim.pool, claim.provider, claim.providerSettings, SETTINGS.providerTimeoutMs, "test-installation"),
        onOutcome: (claim, o) => ended({ claim, outcome: o }),
      }),
      log: testLog,
      concurrency: 1,
      pollIntervalMs: SETTINGS.pollMs,
      claimTimeoutMs: SETTINGS.claimTimeoutMs,
      jobTimeoutMs: 60_000,
      listen: { sql: database.sql, channel: PROVIDER_JOBS_CHANNEL },
    });
    try {
      runner.start();
      await runner.nextClaim();
      await runner.whenIdle();
      const asked = await checkoutFromPool(core, { person: { slackUserId: "U0000001" }, source: "slack" }, { pool: "woken" });
      expect(asked.ok).toBe(true);
      const { claim, outcome: how } = await outcome;
      expect(claim).toMatchObject({ kind: "create", pool: "woken" });
      expect(how).toBe("failed");
    } finally {
      await runner.stop(5000);
    }
  });
});
