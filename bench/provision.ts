/**
 * Provisioned-pools part of `npm run bench`: how long a checkout takes in a
 * docker-backed pool when an instance is ready (min_idle kept one warm)
 * against when it must be created from the pool's image (container created
 * and started, SSH answering, checkout written). Real docker (the tests' own
 * dockerd and sshd image, test/docker), a private embedded PostgreSQL.
 * Rounds alternate warm and cold, so a loaded machine shifts both alike; the
 * ratio of the medians is measured in this one run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { checkin } from "../src/core/checkin.js";
import { benchCore } from "./bench-core.js";
import { setProvisioning } from "../src/core/provision/configure.js";
import { checkoutFromPool } from "../src/core/provision/request.js";
import type { Actor } from "../src/core/types.js";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { openEmbedded, type EmbeddedServer } from "../src/db/embedded.js";
import { createLogger } from "../src/log.js";
import { providerSettingsProblem } from "../src/provision/providers.js";
import { ProvisionWorker } from "../src/provision/worker.js";
import { TEST_DOCKER, openTestDocker, type TestDocker } from "../test/docker/daemon.js";
import { dockerPrerequisites } from "../test/docker/prerequisites.js";
import { ensureSshImage } from "../test/docker/ssh-image.js";
import { percentile } from "./stats.js";

const ROUNDS = 5;
const POOL = `bench-prov-${process.pid}`;

export async function benchProvision(): Promise<string[]> {
  const prerequisites = dockerPrerequisites();
  if (!prerequisites.ok) return [`skipped: ${prerequisites.reason}`];
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-provision-"));
  const log = createLogger("warn", "bench-provision");
  const repository = `vmres-bench-saved-${process.pid}`;
  let server: EmbeddedServer | undefined;
  let database: Database | undefined;
  let docker: TestDocker | undefined;
  try {
    docker = await openTestDocker();
    const image = await ensureSshImage(docker);
    server = await openEmbedded(dir, { port: 0, log });
    database = await openDatabase({ databaseUrl: server.url, embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: 6, log });
    await migrateDatabase(database);
    const core = benchCore(database, { defaultPool: POOL, defaultQuota: 1 });
    const operator: Actor = { person: "operator", source: "cli" };
    const settings = { socket: TEST_DOCKER.socket, imageRepository: repository };
    const set = await setProvisioning(core, operator, POOL, { provider: "docker", image: image.reference, maxSize: 4, minIdle: 0, providerSettings: settings }, providerSettingsProblem);
    if (!set.ok) throw new Error(JSON.stringify(set.refusal));
    const worker = new ProvisionWorker({
      core,
      log,
      instanceId: "bench",
      settings: { concurrency: 4, maxAttempts: 1, backoffMs: 0, providerTimeoutMs: 60_000, sshTimeoutMs: 60_000, pollMs: 100, claimTimeoutMs: 60_000, imageRetentionMs: 0, listIntervalMs: 3_600_000, orphans: "report" },
    });
    const drain = async () => {
      for (let i = 0; i < 50 && (await worker.runDue()) > 0; i++);
    };
    const person: Actor = { person: { slackUserId: "U0BENCH01" }, source: "slack" };
    const warm: number[] = [];
    const cold: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Warm: an instance made ready beforehand (what min_idle keeps), then the checkout alone.
      await setProvisioning(core, operator, POOL, { minIdle: 1 }, providerSettingsProblem);
      await worker.maintain();
      await drain();
      await setProvisioning(core, operator, POOL, { minIdle: 0 }, providerSettingsProblem);
      let started = performance.now();
      const ready = await checkoutFromPool(core, person, { pool: POOL });
      warm.push(performance.now() - started);
      if (!ready.ok || ready.value.kind !== "ready") throw new Error(`expected a ready instance: ${JSON.stringify(ready)}`);
      await checkin(core, person, ready.value.vm.name);
      await drain();
      // Cold: nothing ready, the checkout creates the instance from the image and waits for SSH.
      started = performance.now();
      const creating = await checkoutFromPool(core, person, { pool: POOL });
      if (!creating.ok || creating.value.kind !== "creating") throw new Error(`expected a create: ${JSON.stringify(creating)}`);
      await drain();
      cold.push(performance.now() - started);
      await checkin(core, person, creating.value.creating.instance);
      await drain();
    }
    const warmMs = percentile(warm, 50);
    const coldMs = percentile(cold, 50);
    return [
      `docker pool, ${ROUNDS} rounds alternating; node ${process.version}, load average ${loadavg().map((n) => n.toFixed(1)).join(" ")}`,
      `checkout from a warm pool (instance ready):   median ${warmMs.toFixed(1)} ms (max ${Math.max(...warm).toFixed(1)})`,
      `checkout creating from the image (to SSH up): median ${coldMs.toFixed(1)} ms (max ${Math.max(...cold).toFixed(1)})`,
      `create / warm: ${(coldMs / warmMs).toFixed(0)}× (what min_idle saves a person at checkout)`,
    ];
  } finally {
    if (docker) {
      const names = (await docker.docker(["container", "ls", "--all", "--filter", `label=vmres.pool=${POOL}`, "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean);
      if (names.length > 0) await docker.docker(["container", "rm", "--force", ...names]);
      await docker.release();
    }
    await database?.close();
    await server?.release();
    rmSync(dir, { recursive: true, force: true });
  }
}
