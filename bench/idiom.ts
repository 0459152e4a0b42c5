/**
 * One idiom for writes (issue 19 item 3): the same write through drizzle's builder, drizzle's
 * `sql` and postgres.js's template, on a private embedded PostgreSQL. Each way runs the insert
 * of an interaction key (`insert … on conflict do nothing returning`, as src/db/processed-interactions.ts)
 * and an update in a transaction; reported per statement: the Node process's CPU (user +
 * system) and wall time, median of ROUNDS rounds taken in turn so a loaded machine shifts all alike.
 * Run: `npx tsx bench/idiom.ts`. Not part of `npm run bench` (it measures a choice, not a regression).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { migrateDatabase, openDatabase } from "../src/db/client.js";
import { openEmbedded } from "../src/db/embedded.js";
import { processedInteractions } from "../src/db/schema.js";
import { createLogger } from "../src/log.js";

const N = Number(process.env.IDIOM_N ?? 500);
const ROUNDS = Number(process.env.IDIOM_ROUNDS ?? 3);

const dir = mkdtempSync(join(tmpdir(), "vmres-bench-idiom-"));
const log = createLogger("warn", "bench-idiom");
const server = await openEmbedded(dir, { port: 0, log });
const database = await openDatabase({ databaseUrl: server.url, embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: 2, log });
try {
  await migrateDatabase(database);
  const { db } = database;
  let n = 0;
  const key = () => `bench-${n++}`;
  const ways: Record<string, { insert: () => Promise<unknown>; update: () => Promise<unknown> }> = {
    "drizzle builder": {
      insert: () => db.insert(processedInteractions).values({ key: key() }).onConflictDoNothing().returning({ key: processedInteractions.key }),
      update: () => db.transaction((tx) => tx.update(processedInteractions).set({ at: sql`now()` }).where(sql`${processedInteractions.key} = ${"bench-0"}`)),
    },
    "drizzle sql": {
      insert: () => db.execute(sql`insert into processed_interactions (key) values (${key()}) on conflict (key) do nothing returning key`),
      update: () => db.transaction((tx) => tx.execute(sql`update processed_interactions set at = now() where key = ${"bench-0"}`)),
    },
    "postgres.js": {
      insert: () => db.$client`insert into processed_interactions (key) values (${key()}) on conflict (key) do nothing returning key`,
      update: () => db.$client.begin((tx) => tx`update processed_interactions set at = now() where key = ${"bench-0"}`),
    },
  };
  const results: Record<string, { insertCpu: number[]; insertWall: number[]; updateCpu: number[]; updateWall: number[] }> = {};
  for (const name of Object.keys(ways)) results[name] = { insertCpu: [], insertWall: [], updateCpu: [], updateWall: [] };
  const measure = async (run: () => Promise<unknown>): Promise<{ cpu: number; wall: number }> => {
    for (let i = 0; i < 50; i++) await run(); // warm-up: JIT, prepared statements
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await run();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { cpu: (cpu.user + cpu.system) / N, wall: (wall * 1000) / N };
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, way] of Object.entries(ways)) {
      const insert = await measure(way.insert);
      const update = await measure(way.update);
      results[name]!.insertCpu.push(insert.cpu);
      results[name]!.insertWall.push(insert.wall);
      results[name]!.updateCpu.push(update.cpu);
      results[name]!.updateWall.push(update.wall);
      console.error(`round ${round + 1}: ${name} done`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`per statement, median of ${ROUNDS} rounds of ${N} (µs): insert CPU / wall, update-in-transaction CPU / wall`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(16)} insert ${median(r.insertCpu).toFixed(0).padStart(4)} / ${median(r.insertWall).toFixed(0).padStart(4)}   update tx ${median(r.updateCpu).toFixed(0).padStart(4)} / ${median(r.updateWall).toFixed(0).padStart(4)}`);
  }
} finally {
  await database.close();
  await server.release().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
