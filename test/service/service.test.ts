import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { loadConfig } from "../../src/config.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { freshDatabase, testLog } from "../helpers/db.js";
import { killService, startServiceProcess, type ServiceProcess } from "../helpers/service-process.js";

const health = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, { ready: boolean; detail: string }> } };
};

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("npm start on the embedded database", () => {
  const dir = mkdtempSync(join(tmpdir(), "vmres-service-"));
  // Run as root, the embedded server runs as `postgres`, which must be able to enter this folder.
  chmodSync(dir, 0o755);
  let service: ServiceProcess | undefined;
  afterAll(async () => {
    await killService(service);
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers /healthz, and on SIGTERM stops itself and the database it started", async () => {
    const pg = join(dir, "postgres");
    service = await startServiceProcess({ EMBEDDED_PG_DIR: pg, PORT: "0", VMS_FILE: join(dir, "none.yml") });
    const running = service.logs().split("\n").find((line) => line.includes('"msg":"vmres is running"'));
    const port = (JSON.parse(running ?? "{}") as { port: number }).port;
    const { status, body } = await health(port);
    expect(status).toBe(200);
    expect(body.checks.database?.ready).toBe(true);
    // Without Slack tokens the bot is off, says what to set, and does not fail the check.
    expect(body.checks.slack).toMatchObject({ ready: false });
    expect(body.checks.slack?.detail).toContain("SLACK_BOT_TOKEN");

    const postmaster = Number(readFileSync(join(pg, "pgdata", "postmaster.pid"), "utf8").split("\n")[0]);
    expect(isAlive(postmaster)).toBe(true);
    service.kill("SIGTERM");
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(join(pg, "owner.json"))).toBe(false);
    // pg_ctl returns once postmaster.pid is gone, a moment before the process itself.
    await vi.waitFor(() => expect(isAlive(postmaster)).toBe(false), { timeout: 5000, interval: 50 });
  }, 180_000);
});

const notRoot = process.getuid?.() === 0 ? null : "only root hands the embedded server to the postgres user";
if (notRoot && process.env.CI === "true") throw new Error(`test/service/service.test.ts must run as root under CI: ${notRoot}`);
if (notRoot) console.warn(`"says plainly when the postgres user cannot reach…" skipped: ${notRoot}`);

it.skipIf(notRoot !== null)("says plainly when the postgres user cannot reach the embedded data folder set in EMBEDDED_PG_DIR", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vmres-closed-"));
  try {
    // Set explicitly, the folder is used as given (only the default moves to the system location): it refuses, and says what to do.
    const failed = startServiceProcess({ EMBEDDED_PG_DIR: join(dir, "postgres"), PORT: "0", VMS_FILE: join(dir, "none.yml") });
    await expect(failed).rejects.toThrow(/cannot enter .*vmres-closed-.*chmod o\+x .*or unset EMBEDDED_PG_DIR: vmres then keeps the data in .*\/var\/lib\/vmres\//);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("/healthz while the database is away", () => {
  let running: RunningService;
  let name: string;
  const admin = () => postgres(inject("postgresUrl"), { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    const database = await freshDatabase();
    name = database.name;
    await database.close();
    const config = loadConfig({ DATABASE_URL: database.url, PORT: "0", VMS_FILE: "/nonexistent/vms.yml", LOG_LEVEL: "silent" }, null);
    running = await startService(config, testLog);
  });
  afterAll(async () => {
    const sql = admin();
    await sql.unsafe(`alter database ${name} with allow_connections true`);
    await sql.end();
    await running?.stop();
  });

  it("answers 503 while the database refuses connections, and 200 once it is back", async () => {
    expect((await health(running.port)).status).toBe(200);
    const sql = admin();
    await sql.unsafe(`alter database ${name} with allow_connections false`);
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
    const down = await health(running.port);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "unavailable", checks: { database: { ready: false } } });

    await sql.unsafe(`alter database ${name} with allow_connections true`);
    await sql.end();
    await vi.waitFor(async () => expect((await health(running.port)).status).toBe(200), { timeout: 10_000, interval: 200 });
  });
});
