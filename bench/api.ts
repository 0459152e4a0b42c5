/**
 * HTTP API part of `npm run bench`: checkout + check-in cycles through the
 * API (the compiled service in a process of its own, the typed client from
 * src/client; plain, and with an Idempotency-Key on every POST and DELETE as the CLI sends)
 * against the same cycles through the core called directly, in this process,
 * on the same private embedded PostgreSQL; then the latency of API cycles at
 * 32 concurrent clients.
 * - Direct and API rounds alternate (ROUNDS each, CYCLE_MS long, CONCURRENCY
 *   clients), so a loaded machine shifts both alike; a returned VM is made
 *   available again as a cleanup would, in both.
 * - Then, the API's cycle latency at 32 concurrent clients against the core's at 32.
 * - A MISS says why from measurements (bench/api-why.ts): statements and round trips per
 *   request, CPU per cycle in the service, PostgreSQL and the clients, and where the service's
 *   CPU goes (a CPU profile of a service run apart, so the profiler slows no measured round).
 * Targets (issue 18): API cycles at least 0.85× the direct rate (0.8× with an Idempotency-Key);
 * the p99 at 32 clients at most 2× the core's.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, idempotencyKey, type VmresClient } from "../src/client/index.js";
import { addVm } from "../src/core/admin.js";
import { checkin } from "../src/core/checkin.js";
import { checkout } from "../src/core/checkout.js";
import { benchCore } from "./bench-core.js";
import { addPerson } from "../src/core/people.js";
import { createToken } from "../src/core/tokens.js";

import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { createLogger } from "../src/log.js";
import { FakeSlack } from "../test/helpers/fake-slack.js";
import { startApp, stopApp } from "./slack-service.js";
import { fmt, percentile } from "./stats.js";
import { cpuSince, cpuSnapshot, type CpuUsed } from "./cpu.js";
import { countTrips, partsLine, processCpuMs, profileParts, tripsLine } from "./api-why.js";

const CONCURRENCY = 8;
const CYCLE_MS = 3000;
const ROUNDS = 3;
const LATENCY_CLIENTS = 32;
const LATENCY_MS = 5000;
const RATIO_TARGET = 0.85;
const KEYED_TARGET = 0.8;
const P99_TARGET = 2;
const PROFILE_MS = 3000;
const POOL = "bench-api";
const VMS = 64;
const operator = { person: "operator", source: "cli" } as const;
const cores = availableParallelism();

export async function benchApi(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-api-"));
  const log = createLogger("warn", "bench-api");
  const fake = await FakeSlack.start();
  let database: Database | undefined;
  let app: Awaited<ReturnType<typeof startApp>>["child"] | undefined;
  let profiled: Awaited<ReturnType<typeof startApp>>["child"] | undefined;
  try {
    database = await openDatabase({ embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: CONCURRENCY + 4, log });
    await migrateDatabase(database);
    const core = benchCore(database, { defaultPool: POOL, defaultQuota: 1 });
    for (let i = 0; i < VMS; i++) {
      const r = await addVm(core, operator, { name: `${POOL}-${i}`, ip: `127.0.3.${i + 1}`, pool: POOL, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
      if (!r.ok) throw new Error(`could not add ${POOL}-${i}: ${JSON.stringify(r.refusal)}`);
    }
    // One person (and token) per client: each holds one VM at a time, the pool's quota.
    const tokens: string[] = [];
    for (let i = 0; i < LATENCY_CLIENTS; i++) {
      const name = `bench-api-${i}`;
      const added = await addPerson(core, operator, { name, kind: "service", admin: false });
      if (!added.ok) throw new Error(`could not add ${name}: ${JSON.stringify(added.refusal)}`);
      const made = await createToken(core, operator, { user: name, label: "bench" });
      if (!made.ok) throw new Error(`could not make a token for ${name}: ${JSON.stringify(made.refusal)}`);
      tokens.push(made.value.token);
    }
    const started = startApp(dir, database.url, fake.url, "bench-signing-secret", { API_RATE_LIMIT: "1000000/min", CLEANUP_WORKER: "off" });
    app = started.child;
    const url = `http://127.0.0.1:${await started.port}`;
    const clients = tokens.map((token) => createClient({ baseUrl: url, token }));
    const free = async (vm: string) => {
      await database!.sql`update vms set state = 'available', cleanup_next_at = null where name = ${vm} and state = 'cleaning'`;
    };

    const direct = async (client: number, until: number, latencies: number[] | null) => {
      const me = { person: { lookup: `bench-api-${client}` }, source: "cli" as const };
      let n = 0;
      while (performance.now() < until) {
        const t0 = performance.now();
        const r = await checkout(core, me, { pool: POOL });
        if (!r.ok) throw new Error(`bench checkout refused: ${r.refusal.code}`);
        const back = await checkin(core, me, r.value.name);
        if (!back.ok) throw new Error(`bench check-in refused: ${back.refusal.code}`);
        latencies?.push(performance.now() - t0);
        await free(r.value.name);
        n++;
      }
      return n;
    };
    const viaApiWith = (keyed: boolean) => async (client: number, until: number, latencies: number[] | null) => {
      const api: VmresClient = clients[client]!;
      const headers = () => (keyed ? { "idempotency-key": idempotencyKey() } : {});
      let n = 0;
      while (performance.now() < until) {
        const t0 = performance.now();
        const out = await api.POST("/v1/checkouts", { body: { pool: POOL }, headers: headers() });
        if (!out.data || !("id" in out.data)) throw new Error(`API checkout answered ${out.response.status}: ${JSON.stringify(out.error ?? out.data)}`);
        const back = await api.DELETE("/v1/checkouts/{id}", { params: { path: { id: out.data.id } }, headers: headers() });
        if (!back.data) throw new Error(`API check-in answered ${back.response.status}: ${JSON.stringify(back.error)}`);
        latencies?.push(performance.now() - t0);
        await free(out.data.vm);
        n++;
      }
      return n;
    };
    const viaApi = viaApiWith(false);
    const viaApiKeyed = viaApiWith(true);
    const pidFile = join(dir, "pgdata", "postmaster.pid");
    /** CPU per cycle of each kind, summed over its rounds: this process, PostgreSQL, the service. */
    const spent = new Map<string, { cycles: number; cpu: CpuUsed; serviceMs: number }>();
    let servicePid = started.child.pid;
    let lastCycles = 0;
    const rate = async (cycle: typeof direct, clientsN: number, ms: number, latencies: number[] | null = null, kind: string | null = null) => {
      const before = cpuSnapshot(pidFile);
      const serviceBefore = processCpuMs(servicePid);
      const t0 = performance.now();
      const counts = await Promise.all(Array.from({ length: clientsN }, (_, i) => cycle(i, t0 + ms, latencies)));
      const n = counts.reduce((a, b) => a + b, 0);
      lastCycles = n;
      if (kind) {
        const used = cpuSince(before, pidFile);
        const was = spent.get(kind) ?? { cycles: 0, cpu: { clientMs: 0, toolsMs: 0, serverMs: 0 }, serviceMs: 0 };
        spent.set(kind, {
          cycles: was.cycles + n,
          cpu: { clientMs: was.cpu.clientMs + used.clientMs, toolsMs: 0, serverMs: was.cpu.serverMs + used.serverMs },
          serviceMs: was.serviceMs + (processCpuMs(servicePid) - serviceBefore),
        });
      }
      return n / ((performance.now() - t0) / 1000);
    };

    // Warm both paths (connections, prepared statements, JIT) before measuring.
    await rate(direct, CONCURRENCY, 500);
    await rate(viaApi, CONCURRENCY, 500);
    await rate(viaApiKeyed, CONCURRENCY, 500);
    const directRates: number[] = [];
    const apiRates: number[] = [];
    const keyedRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      directRates.push(await rate(direct, CONCURRENCY, CYCLE_MS, null, "direct"));
      apiRates.push(await rate(viaApi, CONCURRENCY, CYCLE_MS, null, "api"));
      keyedRates.push(await rate(viaApiKeyed, CONCURRENCY, CYCLE_MS, null, "keyed"));
    }
    const directRate = percentile(directRates, 50);
    const apiRate = percentile(apiRates, 50);
    const keyedRate = percentile(keyedRates, 50);
    const ratio = apiRate / directRate;

    const latencies: number[] = [];
    const loaded = await rate(viaApi, LATENCY_CLIENTS, LATENCY_MS, latencies);
    const directLatencies: number[] = [];
    const directLoaded = await rate(direct, LATENCY_CLIENTS, LATENCY_MS, directLatencies);
    const p = (values: number[], q: number) => percentile(values, q);
    const p99Ratio = p(latencies, 99) / p(directLatencies, 99);

    // Why, measured: statements per request here, and the service's CPU profile, run apart.
    const trips = await countTrips(database.url, core, { name: "bench-api-0", token: tokens[0]! }, POOL, log, free);
    await stopApp(app);
    app = undefined;
    const profiles = mkdtempSync(join(dir, "profile-"));
    const again = startApp(dir, database.url, fake.url, "bench-signing-secret", { API_RATE_LIMIT: "1000000/min", CLEANUP_WORKER: "off" }, ["--cpu-prof", "--cpu-prof-dir", profiles]);
    profiled = again.child;
    const profiledUrl = `http://127.0.0.1:${await again.port}`;
    clients.splice(0, clients.length, ...tokens.map((token) => createClient({ baseUrl: profiledUrl, token })));
    servicePid = profiled.pid;
    await rate(viaApi, CONCURRENCY, 500);
    const from = Number(process.hrtime.bigint() / 1000n);
    await rate(viaApi, CONCURRENCY, PROFILE_MS);
    const profiledCycles = lastCycles;
    const to = Number(process.hrtime.bigint() / 1000n);
    await stopApp(profiled);
    profiled = undefined;
    const parts = profileParts(profiles, profiledCycles, from, to);
    // BENCH_API_PROF=DIR keeps the service's CPU profile (open it in Chrome's DevTools or speedscope).
    if (process.env.BENCH_API_PROF) cpSync(profiles, process.env.BENCH_API_PROF, { recursive: true });

    const perCycle = (kind: string) => {
      const s = spent.get(kind)!;
      return { service: s.serviceMs / s.cycles, server: s.cpu.serverMs / s.cycles, client: s.cpu.clientMs / s.cycles };
    };
    const cpu = { direct: perCycle("direct"), api: perCycle("api"), keyed: perCycle("keyed") };
    // The service runs during direct rounds too (it delivers their DMs, polls): its CPU then is counted for them as well.
    const cpuLine = (c: ReturnType<typeof perCycle>) =>
      `service ${fmt(c.service, 2)} + PostgreSQL ${fmt(c.server, 2)} + bench process ${fmt(c.client, 2)} = ${fmt(c.service + c.server + c.client, 2)} ms`;
    const keyedRatio = keyedRate / directRate;
    const why = (kind: "api" | "keyed") => {
      const c = cpu[kind];
      const d = cpu.direct;
      const total = c.service + c.server + c.client;
      const directTotal = d.service + d.server + d.client;
      const more = (x: number) => `${fmt(Math.abs(x), 2)} ms ${x >= 0 ? "more" : "less"}`;
      return (
        `why (measured): a cycle costs ${fmt(total, 2)} ms of CPU through the API against ${fmt(directTotal, 2)} ms direct ` +
        `(the service ${more(c.service - d.service)}, PostgreSQL ${more(c.server - d.server)}, the bench process ${more(c.client - d.client)}) on ${cores} cores at load ${fmt(loadavg()[0] ?? 0, 1)}; ` +
        `${tripsLine(trips[kind])} against ${tripsLine(trips.direct)} direct; ` +
        `the service's time by part (profile samples, busy or waiting for a core, ${fmt(parts.reduce((a, p) => a + p.msPerCycle, 0), 1)} ms per cycle): ${partsLine(parts)}`
      );
    };
    const lines = [
      `machine: 1-min load average ${fmt(loadavg()[0] ?? 0, 2)}; the service runs in its own process, the direct core in this one`,
      `checkout + check-in cycles/s with ${CONCURRENCY} clients, median of ${ROUNDS} alternating rounds of ${CYCLE_MS / 1000} s:`,
      `  core called directly: ${fmt(directRate, 0)}/s (rounds ${directRates.map((r) => fmt(r, 0)).join(", ")}); ${tripsLine(trips.direct)}; CPU per cycle ${cpuLine(cpu.direct)}`,
      `  HTTP API (typed client): ${fmt(apiRate, 0)}/s (rounds ${apiRates.map((r) => fmt(r, 0)).join(", ")}); API / direct ${fmt(ratio, 2)}×; ${tripsLine(trips.api)}; CPU per cycle ${cpuLine(cpu.api)}`,
      `  HTTP API with an Idempotency-Key on each POST and DELETE (as the CLI sends): ${fmt(keyedRate, 0)}/s (rounds ${keyedRates.map((r) => fmt(r, 0)).join(", ")}); / direct ${fmt(keyedRatio, 2)}×; ${tripsLine(trips.keyed)}; CPU per cycle ${cpuLine(cpu.keyed)}`,
      `cycles at ${LATENCY_CLIENTS} concurrent clients for ${LATENCY_MS / 1000} s: API ${fmt(loaded, 0)}/s, latency p50 ${fmt(p(latencies, 50), 1)} ms, p99 ${fmt(p(latencies, 99), 1)} ms (${latencies.length} cycles); ` +
        `core ${fmt(directLoaded, 0)}/s, p50 ${fmt(p(directLatencies, 50), 1)} ms, p99 ${fmt(p(directLatencies, 99), 1)} ms; API p99 / core p99 ${fmt(p99Ratio, 2)}×`,
      `the service's time per API cycle by part (--cpu-prof, ${profiledCycles} cycles at ${CONCURRENCY} clients, run apart; samples, busy or waiting for a core: ${fmt(parts.reduce((a, p) => a + p.msPerCycle, 0), 1)} ms per cycle): ${partsLine(parts, 10)}`,
      `${ratio >= RATIO_TARGET ? "PASS" : "MISS"}  API checkout+check-in rate ≥ ${RATIO_TARGET}× the core called directly (${fmt(ratio, 2)}×)`,
    ];
    if (ratio < RATIO_TARGET) lines.push(`      ${why("api")}`);
    lines.push(`${keyedRatio >= KEYED_TARGET ? "PASS" : "MISS"}  the same with an Idempotency-Key ≥ ${KEYED_TARGET}× (${fmt(keyedRatio, 2)}×)`);
    if (keyedRatio < KEYED_TARGET) lines.push(`      ${why("keyed")}`);
    lines.push(`${p99Ratio <= P99_TARGET ? "PASS" : "MISS"}  API cycle p99 at ${LATENCY_CLIENTS} clients ≤ ${P99_TARGET}× the core's (${fmt(p99Ratio, 2)}×)`);
    if (p99Ratio > P99_TARGET) lines.push(`      ${why("api")}`);
    return lines;
  } finally {
    if (app) await stopApp(app);
    if (profiled) await stopApp(profiled);
    await database?.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
