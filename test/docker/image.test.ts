import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureBaseImage } from "./base-image.js";
import { healthOf, logsOf, OWNER_LABEL, removeLeftovers, testRun, waitUntilRunning, type TestRun } from "./containers.js";
import { openTestDocker, type TestDocker } from "./daemon.js";
import { waitFor } from "./command.js";
import { dockerSkipReason } from "./prerequisites.js";

const skipReason = dockerSkipReason();

/** The inventory mounted as /app/vms.yml. The tests check VMs out but never in, so no cleanup ever connects to them. */
const INVENTORY = ["pools:", "  lab:", "    vms:", "      - name: vm-a", "        ip: 198.51.100.250", "      - name: vm-b", "        ip: 198.51.100.251", ""].join("\n");
const LAB_POOL = { pool: "lab", total: 2, counts: expect.objectContaining({ available: 2 }) };

/** The image's user, as the Dockerfile creates it. */
const IMAGE_UID = "10001";

describe.skipIf(skipReason !== null)("the container image", () => {
  let docker: TestDocker;
  let run: TestRun;
  let image: string;
  let inventoryFile: string;
  let scratch: string | undefined;

  beforeAll(async () => {
    const say = (line: string) => console.log(`container image tests: ${line}`);
    let since = Date.now();
    const took = () => {
      const seconds = Math.round((Date.now() - since) / 1000);
      since = Date.now();
      return `${seconds} s`;
    };
    docker = await openTestDocker();
    await removeLeftovers(docker);
    run = testRun(docker);
    say(`test dockerd ready in ${took()}`);
    const base = await ensureBaseImage(docker, say);
    say(`base image ${base} ready in ${took()}`);
    image = await run.build(base);
    say(`built ${image} in ${took()}`);
    scratch = mkdtempSync(join(tmpdir(), "vmres-image-test-"));
    inventoryFile = join(scratch, "vms.yml");
    writeFileSync(inventoryFile, INVENTORY, { mode: 0o644 });
  }, 40 * 60_000);

  afterAll(async () => {
    const started = Date.now();
    try {
      await run?.clean();
    } finally {
      await docker?.release();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    }
    console.log(`container image tests: cleaned up in ${Math.round((Date.now() - started) / 1000)} s`);
  }, 180_000);

  /** `docker exec` of the vmres CLI in a container, as an operator runs it; the parsed --json output. */
  const cliIn = async (container: string, args: string[]) => JSON.parse(await docker.dockerOrThrow(["exec", container, "node", "bin/vmres.js", ...args, "--json"])) as unknown;

  describe("with DATABASE_URL set (a PostgreSQL server of its own)", () => {
    let container: string;
    let port: number;
    let databaseUrl: string;

    beforeAll(async () => {
      databaseUrl = await emptyDatabase();
      port = await freePort();
      // The host's network, to reach the test run's PostgreSQL on 127.0.0.1. HOST
      // keeps the listener on loopback, off the machine's own interfaces.
      // --health-interval only makes Docker ask sooner; the check is the image's.
      container = await run.start("db", [
        "--network=host",
        "--health-interval=1s",
        "--env", `DATABASE_URL=${databaseUrl}`,
        "--env", "HOST=127.0.0.1",
        "--env", `PORT=${port}`,
        "--volume", `${inventoryFile}:/app/vms.yml:ro`,
        image,
      ]);
      await waitUntilRunning(docker, container);
    }, 120_000);

    it("migrates the empty database, applies vms.yml and answers /healthz with 200", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: "ok", checks: { database: { ready: true } } });
      expect(await cliIn(container, ["status"])).toMatchObject({ pools: [LAB_POOL] });
    });

    it("is reported healthy by Docker, by the image's own HEALTHCHECK", async () => {
      const health = await waitFor(`${container} to be healthy`, 60_000, async () => {
        const status = await healthOf(docker, container);
        if (status === "unhealthy") throw new Error(`${container} is unhealthy:\n${await logsOf(docker, container)}`);
        return status === "healthy" ? status : undefined;
      }, 500);
      expect(health).toBe("healthy");
    }, 90_000);

    it("runs the service as its own user, not root", async () => {
      const status = await docker.dockerOrThrow(["exec", container, "cat", "/proc/1/status"]);
      expect(status).toMatch(new RegExp(`^Uid:\\s+${IMAGE_UID}\\s+${IMAGE_UID}\\s+${IMAGE_UID}\\s+${IMAGE_UID}$`, "m"));
      expect(await docker.dockerOrThrow(["exec", container, "cat", "/proc/1/cmdline"])).toBe(["node", "--enable-source-maps", "dist/main.js", ""].join("\0"));
    });

    it("carries the fix to postgres.js (patches/), without which a lost connection can kill the process", async () => {
      const source = await docker.dockerOrThrow(["exec", container, "cat", "node_modules/postgres/src/connection.js"]);
      expect(source).toContain("vmres patch (porsager/postgres#1208");
    });

    it("gives the vmres CLI, in the running container and in a one-off one", async () => {
      const checkout = JSON.stringify(await cliIn(container, ["checkout", "--user", "U0DOCKER1", "--pool", "lab"]));
      const lent = checkout.match(/"name":"(vm-[ab])"/)?.[1];
      expect(lent, checkout).toBeDefined();
      const oneOff = await docker.dockerOrThrow([
        "run", "--rm", "--network=host", "--label", `${OWNER_LABEL}=${process.pid}`, "--env", `DATABASE_URL=${databaseUrl}`,
        image, "node", "bin/vmres.js", "list", "--user", "U0DOCKER1", "--json",
      ]);
      expect(JSON.stringify(JSON.parse(oneOff))).toContain(`"name":"${lent}"`);
    }, 90_000);

    it("stops on docker stop (SIGTERM) by itself, with exit status 0, within seconds", async () => {
      const started = Date.now();
      await docker.dockerOrThrow(["stop", "--time", "30", container], { timeoutMs: 60_000 });
      const elapsed = Date.now() - started;
      const state = await docker.dockerOrThrow(["container", "inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", container]);
      expect(state.trim(), await logsOf(docker, container)).toBe("0 false");
      expect(elapsed).toBeLessThan(10_000);
      expect(await logsOf(docker, container)).toContain('"signal":"SIGTERM","msg":"stopping"');
    }, 90_000);
  });

  describe("without DATABASE_URL (the embedded PostgreSQL, on a volume at /data)", () => {
    let volume: string;

    /** A container with the image's own settings, its port published on loopback as `-p` does. */
    const startEmbedded = async (purpose: string) => {
      const container = await run.start(purpose, ["--publish", "127.0.0.1::3000", "--volume", `${volume}:/data`, "--volume", `${inventoryFile}:/app/vms.yml:ro`, image]);
      await waitUntilRunning(docker, container, 90_000);
      const published = (await docker.dockerOrThrow(["port", container, "3000/tcp"])).trim().split("\n")[0] ?? "";
      return { container, url: `http://${published}` };
    };

    beforeAll(async () => {
      volume = await run.volume("data");
    });

    it("runs PostgreSQL as the image's user and answers /healthz through the published port", async () => {
      const { container, url } = await startEmbedded("embedded");
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok" }); // through docker's proxy it is not a local caller: no details
      expect(await cliIn(container, ["status"])).toMatchObject({ pools: [LAB_POOL] });
      const owners = await docker.dockerOrThrow(["exec", container, "stat", "--format", "%u %a %n", "/data/postgres", "/data/postgres/pgdata"]);
      expect(owners.trim().split("\n")).toEqual([`${IMAGE_UID} 700 /data/postgres`, `${IMAGE_UID} 700 /data/postgres/pgdata`]);
      await cliIn(container, ["checkout", "--user", "U0DOCKER2", "--pool", "lab"]);

      await docker.dockerOrThrow(["stop", "--time", "30", container], { timeoutMs: 60_000 });
      const state = await docker.dockerOrThrow(["container", "inspect", "--format", "{{.State.ExitCode}}", container]);
      expect(state.trim(), await logsOf(docker, container)).toBe("0");
      expect(await logsOf(docker, container)).toContain("embedded PostgreSQL stopped");
    }, 180_000);

    it("keeps the database on the volume for the next container", async () => {
      const { container } = await startEmbedded("embedded-again");
      const held = (await cliIn(container, ["list", "--user", "U0DOCKER2"])) as unknown;
      expect(JSON.stringify(held)).toMatch(/"vm-[ab]"/);
      await docker.dockerOrThrow(["stop", "--time", "30", container], { timeoutMs: 60_000 });
    }, 180_000);
  });
});

/** A new, empty database on the test run's PostgreSQL: the container's start-up must create the tables. */
async function emptyDatabase(): Promise<string> {
  const name = `docker_${randomBytes(6).toString("hex")}`;
  const admin = postgres(inject("postgresUrl"), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(inject("postgresUrl"));
  url.pathname = `/${name}`;
  return url.toString();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (address && typeof address === "object" ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
