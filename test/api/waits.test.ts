import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import type { Core } from "../../src/core/types.js";
import { cliFor } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { FakeSlack } from "../helpers/fake-slack.js";
import { killService, startServiceProcess, type ServiceProcess } from "../helpers/service-process.js";
import { testEnv } from "../slack/harness.js";
import { personWithToken } from "./helpers.js";

// Waiting checkouts against the service as it runs in production (a child process): they are woken
// by the database instead of sweeping, capped per person, answer 503 and leave the queue when the
// service stops, and a place whose waiter died gets no VM.
let fake: FakeSlack;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;
let service: ServiceProcess | undefined;
let url: string;
let vmres: ReturnType<typeof cliFor>;
const operator = { person: "operator", source: "cli" } as const;

// Quiet: no outbox polling, no provisioner, a lease sweep a minute, so what the database counts is
// the waiting requests' own work.
const env = () => ({
  ...testEnv(fake, database.url),
  PORT: "0",
  LOG_LEVEL: "info",
  OUTBOX_POLL_INTERVAL_MS: "600000",
  LEASE_SWEEP_INTERVAL_MS: "60000",
  PROVISION_WORKER: "off",
  API_RATE_LIMIT: "100000/min",
  SHUTDOWN_TIMEOUT_MS: "20000",
});

async function start(): Promise<void> {
  service = await startServiceProcess(env());
  const port = /"port":(\d+)/.exec(service.logs())?.[1];
  if (!port) throw new Error("no port in the service's log");
  url = `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  fake = await FakeSlack.start();
  database = await freshDatabase({ poolSize: 4 });
  core = coreFor(database);
  vmres = cliFor({ databaseUrl: database.url });
  await add("solo-1", 1, "solo");
  await start();
});
afterAll(async () => {
  await killService(service);
  await database?.close();
  await fake?.close();
});

async function add(name: string, n: number, pool: string): Promise<void> {
  const added = await addVm(core, operator, { name, ip: `198.51.100.${n}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
  expect(added.ok).toBe(true);
}

async function post(path: string, token: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url + path, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** Reads one number; every probe is one statement (one commit) of this test's own, counted by `probes`. */
let probes = 0;
async function one(query: Promise<{ n: number }[]>): Promise<number> {
  probes++;
  const [row] = await query;
  return row?.n ?? 0;
}
const liveWaits = (pool: string) => one(database.sql<{ n: number }[]>`select count(*)::int as n from waits where pool = ${pool}`);
const waiting = (pool: string) => one(database.sql<{ n: number }[]>`select count(*)::int as n from waiters where pool = ${pool} and state = 'waiting'`);
const commits = () => one(database.sql<{ n: number }[]>`select xact_commit::int as n from pg_stat_database where datname = current_database()`);

/** Polls `check` (each a counted probe) until it holds; a probe every 50 ms keeps the test's own commits few. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("waiting checkouts", { timeout: 180_000 }, () => {
  it("four waiting requests of one person sweep nothing: their commits stay bounded, not one sweep per 500 ms", async () => {
    const holder = await personWithToken(core, "holder");
    expect((await post("/v1/checkouts", holder.token, { pool: "solo" })).status).toBe(201);
    const alice = await personWithToken(core, "alice");
    // Each waits 8 s: a sweep per 500 ms per request (the old way) is 64 sweeps of several statements each.
    const before = await commits();
    probes = 0;
    const runs = [1, 2, 3, 4].map(() => post("/v1/checkouts", alice.token, { pool: "solo", wait: "8s" }));
    await until("alice waits", async () => (await waiting("solo")) === 1);
    const answers = await Promise.all(runs);
    for (const a of answers) expect(a.body).toMatchObject({ code: "no_vm_free", pool: "solo" });
    const spent = (await commits()) - before - probes;
    // Measured: about 100 (each request's authentication, checkout attempt, join, one look, leave), whether
    // they wait 8 s or 8 min. Sweeping every 500 ms spent 544 for 6 s waits.
    expect(spent).toBeLessThan(250);
    expect(await liveWaits("solo")).toBe(0);
    expect(await waiting("solo")).toBe(0);
  });

  it("a fifth waiting request of one person is refused with 429 too_many_waits and Retry-After, and joins nothing", async () => {
    const erin = await personWithToken(core, "erin");
    // Four live waits of erin's, as four waiting requests keep them (the cap itself: test/core/wait-for-checkout.test.ts).
    await database.sql`insert into waits (person_id, pool, owner, alive_until)
                       select p.id, 'solo', 'test', now() + interval '1 hour' from people p, generate_series(1, 4) where p.name = 'erin'`;
    const fifth = await post("/v1/checkouts", erin.token, { pool: "solo", wait: "3s" });
    expect(fifth.status).toBe(429);
    expect(fifth.headers.get("retry-after")).toBe("30");
    expect(fifth.body).toMatchObject({ code: "too_many_waits", person: "erin", limit: 4 });
    expect(String(fifth.body.detail)).toContain("API_WAITS_PER_PERSON");
    expect(await liveWaits("solo")).toBe(4);
    const [joined] = await database.sql`select count(*)::int as n from waiters w join people p on p.id = w.person_id where p.name = 'erin'`;
    expect(joined).toEqual({ n: 0 });
    await database.sql`delete from waits where owner = 'test'`;
  });

  it("a waiting request is woken when a VM comes: it gets the VM added to its pool", async () => {
    const bob = await personWithToken(core, "bob");
    const run = post("/v1/checkouts", bob.token, { pool: "solo", wait: "2m" });
    await until("bob waits", async () => (await waiting("solo")) === 1);
    await add("solo-2", 2, "solo");
    const got = await run;
    expect(got.status).toBe(201);
    expect(got.body).toMatchObject({ vm: "solo-2", pool: "solo" });
  });

  it("a waiting request stays alive while it waits: its process renews it, and it still gets the VM", async () => {
    await add("r-1", 31, "r");
    expect((await vmres(["checkout", "--user", "UKEEP001", "--pool", "r"])).code).toBe(0);
    const frank = await personWithToken(core, "frank");
    const run = post("/v1/checkouts", frank.token, { pool: "r", wait: "2m" });
    await until("frank waits", async () => (await liveWaits("r")) === 1);
    const [first] = await database.sql<{ t: number }[]>`select extract(epoch from alive_until)::float8 as t from waits where pool = 'r'`;
    await until(
      "the wait is renewed (every 10 s)",
      async () => {
        probes++;
        const [now] = await database.sql<{ t: number }[]>`select extract(epoch from alive_until)::float8 as t from waits where pool = 'r'`;
        return now !== undefined && now.t > first!.t;
      },
      30_000,
    );
    await add("r-2", 32, "r");
    const got = await run;
    expect(got.status).toBe(201);
    expect(got.body).toMatchObject({ vm: "r-2", pool: "r" });
  });

  it("a place whose waiting process was killed (kill -9) gets no VM: it leaves the queue and the VM goes to the next in line", async () => {
    await add("k-1", 11, "k");
    expect((await vmres(["checkout", "--user", "UKEEP001", "--pool", "k"])).code).toBe(0);
    const child = spawn(process.execPath, [join(vmres.installation, "dist/cli/main.js"), "checkout", "--user", "UDEAD001", "--pool", "k", "--wait"], {
      cwd: vmres.cwd,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: vmres.cwd, SLACK_ADMINS: "UADMIN01", DATABASE_URL: database.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise((resolve) => child.on("close", resolve));
    await until("the CLI waits", async () => (await waiting("k")) === 1 && (await liveWaits("k")) === 1);
    child.kill("SIGKILL");
    await exited;
    // Its row is no longer renewed: three heartbeats later it is dead. Stand in for that time passing.
    await database.sql`update waits set alive_until = now() - interval '1 second' where pool = 'k'`;
    const carol = await personWithToken(core, "carol");
    const run = post("/v1/checkouts", carol.token, { pool: "k", wait: "2m" });
    await until("carol waits behind the dead place", async () => (await waiting("k")) === 2);
    await add("k-2", 12, "k");
    const got = await run;
    expect(got.status).toBe(201);
    expect(got.body).toMatchObject({ vm: "k-2", pool: "k" });
    const places = await database.sql<{ name: string; state: string; checkout_id: string | null }[]>`
      select p.name, w.state, w.checkout_id from waiters w join people p on p.id = w.person_id where w.pool = 'k' order by w.id`;
    expect(places).toEqual([
      { name: "UDEAD001", state: "left", checkout_id: null },
      { name: "carol", state: "taken", checkout_id: expect.any(String) },
    ]);
    const [dead] = await database.sql`select count(*)::int as n from checkouts c join people p on p.id = c.person_id where p.name = 'UDEAD001'`;
    expect(dead).toEqual({ n: 0 });
  });

  it("SIGTERM: a waiting request answers 503 with Retry-After, leaves the queue, its Idempotency-Key is released, and the service exits 0", async () => {
    await add("t-1", 21, "t");
    expect((await vmres(["checkout", "--user", "UKEEP001", "--pool", "t"])).code).toBe(0);
    const dave = await personWithToken(core, "dave");
    const key = "wait-shutdown-1";
    const run = post("/v1/checkouts", dave.token, { pool: "t", wait: "2m" }, { "idempotency-key": key });
    await until("dave waits", async () => (await waiting("t")) === 1);
    const running = service!;
    running.kill("SIGTERM");
    const answer = await run;
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("5");
    expect(answer.body).toMatchObject({ code: "shutting_down" });
    expect(await running.exited).toEqual({ code: 0, signal: null });
    service = undefined;
    const [place] = await database.sql`select w.state from waiters w join people p on p.id = w.person_id where p.name = 'dave'`;
    expect(place).toEqual({ state: "left" });
    expect(await liveWaits("t")).toBe(0);
    const [stored] = await database.sql`select count(*)::int as n from idempotency_keys where key = ${key}`;
    expect(stored).toEqual({ n: 0 });

    // The retry with the same key, once the service is back, runs anew: no replay, and no VM came meanwhile.
    await start();
    const retry = await post("/v1/checkouts", dave.token, { pool: "t" }, { "idempotency-key": key });
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({ code: "no_vm_free", pool: "t" });
    const [taken] = await database.sql`select count(*)::int as n from checkouts c join people p on p.id = c.person_id where p.name = 'dave'`;
    expect(taken).toEqual({ n: 0 });
  });
});
