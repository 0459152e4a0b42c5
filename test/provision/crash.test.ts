import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Actor, Core } from "../../src/core/types.js";
import { providerSettingsProblem } from "../../src/provision/providers.js";
import { waitFor } from "../docker/command.js";
import { TEST_DOCKER } from "../docker/daemon.js";
import { dockerSkipReason } from "../docker/prerequisites.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { killService, startServiceProcess, type ServiceProcess } from "../helpers/service-process.js";
import { openDockerLab, type DockerLab } from "./docker-lab.js";

const skipReason = dockerSkipReason();
const SCRIPT = fileURLToPath(new URL("./docker-command-provider.sh", import.meta.url));
const alice: Actor = { person: { slackUserId: "U0000001" }, source: "slack" };

describe.skipIf(skipReason !== null)("kill -9 of the service in the middle of a provider call", () => {
  let lab: DockerLab;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let core: Core;
  let pool: string;
  let stallDir: string;
  let env: Record<string, string>;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    lab = await openDockerLab();
    database = await freshDatabase({ poolSize: 4 });
    core = coreFor(database);
    pool = lab.pool("crash");
    stallDir = mkdtempSync(join(tmpdir(), "vmres-stall-"));
    const set = await setProvisioning(core, { person: "operator", source: "cli" }, pool, {
      provider: "command", image: lab.image.reference, maxSize: 3, providerSettings: { command: SCRIPT },
    }, providerSettingsProblem);
    expect(set.ok).toBe(true);
    env = {
      PORT: "0",
      LOG_LEVEL: "info",
      DATABASE_URL: database.url,
      VMS_FILE: "/nonexistent/vmres-test-vms.yml",
      CLEANUP_WORKER: "off",
      PROVISION_POLL_INTERVAL_MS: "100",
      // Claims renewed every 0.5 s; a dead process's claim is stale after 2 s.
      PROVISION_CLAIM_TIMEOUT_MS: "2000",
      PROVISION_SSH_TIMEOUT_MS: "60000",
      DOCKER_HOST: `unix://${TEST_DOCKER.socket}`,
      VMRES_TEST_STALL_DIR: stallDir,
      VMRES_TEST_IMAGE_REPO: lab.settings.imageRepository,
    };
  }, 20 * 60_000);

  afterEach(async () => {
    for (const service of services.splice(0)) await killService(service);
  });
  afterAll(async () => {
    await database?.close();
    await lab?.clean();
    rmSync(stallDir, { recursive: true, force: true });
  }, 180_000);

  const start = async () => {
    const service = await startServiceProcess(env);
    services.push(service);
    return service;
  };
  /** Kills the service with SIGKILL once the step has done its work and hangs, then lets the step run freely again. */
  const killDuring = async (service: ServiceProcess, step: string) => {
    await waitFor(`the ${step} step to be reached`, 60_000, async () => (existsSync(join(stallDir, `${step}.reached`)) ? true : undefined), 100);
    service.kill("SIGKILL");
    await service.exited;
    rmSync(join(stallDir, step), { force: true });
    rmSync(join(stallDir, `${step}.reached`), { force: true });
  };
  const row = async <T extends Record<string, unknown>>(query: ReturnType<typeof sql>) => (await core.db.execute<T>(query))[0];

  it("a create killed after the container started is finished by the next process: one container, lent to its person", async () => {
    writeFileSync(join(stallDir, "create"), "");
    const first = await start();
    const asked = await checkoutFromPool(core, alice, { pool });
    if (!asked.ok || asked.value.kind !== "creating") throw new Error(`expected a create: ${JSON.stringify(asked)}`);
    const instance = asked.value.creating.instance;
    await killDuring(first, "create");
    expect(await lab.containers(pool)).toEqual([instance]);

    const second = await start();
    await waitFor("the create to be finished", 90_000, async () => {
      const r = await row<{ state: string }>(sql`select v.state::text from vms v where v.name = ${instance}`);
      return r?.state === "checked_out" ? true : undefined;
    }, 200);
    expect(second.logs()).toContain("provider jobs whose process died are due again");
    expect(await lab.containers(pool)).toEqual([instance]);
    const checkout = await row<{ person: string }>(sql`select p.slack_user_id as person from checkouts c join people p on p.id = c.person_id join vms v on v.checkout_id = c.id where v.name = ${instance}`);
    expect(checkout?.person).toBe("U0000001");
    const job = await row<{ state: string }>(sql`select state::text from provider_jobs where id = ${asked.value.creating.jobId}`);
    expect(job?.state).toBe("done");
  }, 240_000);

  it("a save killed after the commit is finished by the next process: the image kept, the container deleted, nothing leaked", async () => {
    const held = await row<{ name: string }>(sql`select v.name from vms v where v.pool = ${pool} and v.state = 'checked_out'`);
    if (!held) throw new Error("the previous test left no VM checked out");
    writeFileSync(join(stallDir, "save_image"), "");
    const first = await start();
    const done = await checkin(core, alice, held.name, { keep: true });
    if (!done.ok || done.value.instance?.action !== "save") throw new Error(`expected a save: ${JSON.stringify(done)}`);
    const image = done.value.instance.image;
    await killDuring(first, "save_image");
    expect(await lab.containers(pool)).toEqual([held.name]);

    await start();
    await waitFor("the save to be finished", 90_000, async () => {
      const r = await row<{ state: string }>(sql`select state::text from images where name = ${image}`);
      return r?.state === "ready" ? true : undefined;
    }, 200);
    expect(await lab.containers(pool)).toEqual([]);
    expect(await lab.savedImages(pool)).toEqual([image]);
    const instance = await row<{ state: string }>(sql`select state::text from instances where name = ${held.name}`);
    expect(instance?.state).toBe("deleted");
  }, 240_000);
});
