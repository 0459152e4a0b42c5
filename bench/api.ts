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
 * Targets: API cycles at least 0.7× the direct rate; the p99 at 32 clients is reported.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
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

const CONCURRENCY = 8;
const CYCLE_MS = 3000;
const ROUNDS = 3;
const LATENCY_CLIENTS = 32;
const LATENCY_MS = 5000;
const RATIO_TARGET = 0.7;
const POOL = "bench-api";
const VMS = 64;
const operator = { person: "operator", source: "cli" } as const;

export async function benchApi(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-api-"));
  const log = createLogger("warn", "bench-api");
  const fake = await FakeSlack.start();
  let database: Database | undefined;
  let app: Awaited<ReturnType<typeof startApp>>["child"] | undefined;
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
    const rate = async (cycle: typeof direct, clientsN: number, ms: number, latencies: number[] | null = null) => {
      const t0 = performance.now();
      const counts = await Promise.all(Array.from({ length: clientsN }, (_, i) => cycle(i, t0 + ms, latencies)));
      return counts.reduce((a, b) => a + b, 0) / ((performance.now() - t0) / 1000);
    };

    // Warm both paths (connections, prepared statements, JIT) before measuring.
    await rate(direct, CONCURRENCY, 500);
    await rate(viaApi, CONCURRENCY, 500);
    await rate(viaApiKeyed, CONCURRENCY, 500);
    const directRates: number[] = [];
    const apiRates: number[] = [];
    const keyedRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      directRates.push(await rate(direct, CONCURRENCY, CYCLE_MS));
      apiRates.push(await rate(viaApi, CONCURRENCY, CYCLE_MS));
      keyedRates.push(await rate(viaApiKeyed, CONCURRENCY, CYCLE_MS));
    }
    const directRate = percentile(directRates, 50);
    const apiRate = percentile(apiRates, 50);
    const keyedRate = percentile(keyedRates, 50);
    const ratio = apiRate / directRate;

    const latencies: number[] = [];
    const loaded = await rate(viaApi, LATENCY_CLIENTS, LATENCY_MS, latencies);
    const p = (q: number) => fmt(percentile(latencies, q), 1);
    return [
      `machine: 1-min load average ${fmt(loadavg()[0] ?? 0, 2)}; the service runs in its own process, the direct core in this one`,
      `checkout + check-in cycles/s with ${CONCURRENCY} clients, median of ${ROUNDS} alternating rounds of ${CYCLE_MS / 1000} s:`,
      `  core called directly: ${fmt(directRate, 0)}/s (rounds ${directRates.map((r) => fmt(r, 0)).join(", ")})`,
      `  HTTP API (typed client): ${fmt(apiRate, 0)}/s (rounds ${apiRates.map((r) => fmt(r, 0)).join(", ")}); API / direct ${fmt(ratio, 2)}×`,
      `  HTTP API with an Idempotency-Key on each POST and DELETE (as the CLI sends): ${fmt(keyedRate, 0)}/s (rounds ${keyedRates.map((r) => fmt(r, 0)).join(", ")}); / direct ${fmt(keyedRate / directRate, 2)}×`,
      `API cycles at ${LATENCY_CLIENTS} concurrent clients for ${LATENCY_MS / 1000} s: ${fmt(loaded, 0)}/s; cycle latency p50 ${p(50)} ms, p99 ${p(99)} ms (${latencies.length} cycles)`,
      `${ratio >= RATIO_TARGET ? "PASS" : "MISS"}  API checkout+check-in rate ≥ ${RATIO_TARGET}× the core called directly (${fmt(ratio, 2)}×)`,
    ];
  } finally {
    if (app) await stopApp(app);
    await database?.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
