/**
 * Sync part of `npm run bench`: `vmres pool sync` of a 100,100-VM inventory as an operator runs it
 * (the CLI as a process of its own, against a private embedded PostgreSQL), first into an empty
 * database, then the same file again (nothing changed), then with 1,000 VMs changed.
 * Targets: the first sync ≤ 15 s, the unchanged re-sync ≤ 5 s.
 *
 * BENCH_SYNC_PROF=DIR writes a CPU profile of each sync process there (node --cpu-prof), to read
 * where a miss's time went. Needs dist/ built (`npm run bench` builds it first).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { openEmbedded, type EmbeddedServer } from "../src/db/embedded.js";
import { createLogger } from "../src/log.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");
/** 100 pools of 1,000 VMs and one of 100: the inventory of the issue that measured 173–293 s. */
const POOLS = 100;
const PER_POOL = 1000;
const SMALL_POOL = 100;
const CHANGED = 1000;
const TARGET_FIRST_S = 15;
const TARGET_UNCHANGED_S = 5;

export async function benchSync(): Promise<string[]> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-sync-"));
  const log = createLogger("warn", "bench-sync");
  let server: EmbeddedServer | undefined;
  let database: Database | undefined;
  try {
    server = await openEmbedded(dir, { port: 0, log });
    database = await openDatabase({ databaseUrl: server.url, embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: 2, log });
    await migrateDatabase(database);
    const file = join(dir, "vms.yml");
    writeFileSync(file, inventory(0));
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), DATABASE_URL: server.url };
    const total = POOLS * PER_POOL + SMALL_POOL;
    const first = await timeSync(file, env);
    const unchanged = await timeSync(file, env);
    writeFileSync(file, inventory(CHANGED));
    const changed = await timeSync(file, env);
    const [count] = await database.sql<{ n: number }[]>`select count(*)::int as n from vms`;
    if (count?.n !== total) throw new Error(`the sync left ${count?.n} VMs, expected ${total}`);
    const verdict = (s: number, target: number) => (s <= target ? "PASS" : "MISS");
    return [
      `inventory: ${total.toLocaleString("en")} VMs in ${POOLS + 1} pools; node ${process.version}; load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}`,
      `${verdict(first, TARGET_FIRST_S)}  vmres pool sync, nothing in the database: ${first.toFixed(1)} s (target ≤ ${TARGET_FIRST_S} s)`,
      `${verdict(unchanged, TARGET_UNCHANGED_S)}  the same file again (nothing changes): ${unchanged.toFixed(1)} s (target ≤ ${TARGET_UNCHANGED_S} s)`,
      `      with ${CHANGED.toLocaleString("en")} VMs' addresses changed: ${changed.toFixed(1)} s`,
    ];
  } finally {
    await database?.close();
    await server?.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The inventory file, with the first `changed` VMs on another address. */
function inventory(changed: number): string {
  const lines = ["pools:"];
  let n = 0;
  for (let p = 0; p <= POOLS; p++) {
    const size = p < POOLS ? PER_POOL : SMALL_POOL;
    lines.push(`  pool-${p}:`, "    vms:");
    for (let i = 0; i < size; i++, n++) {
      const net = n < changed ? 203 : 198;
      lines.push(`      - {name: vm-${n}, ip: 10.${net}.${(n >> 8) & 255}.${n & 255}}`);
    }
  }
  return lines.join("\n") + "\n";
}

function timeSync(file: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...(process.env.BENCH_SYNC_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_SYNC_PROF] : []), CLI, "pool", "sync", "--file", file], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve((performance.now() - started) / 1000);
      else reject(new Error(`vmres pool sync exited ${code}: ${stderr.slice(0, 500)}`));
    });
  });
}

// `tsx bench/sync.ts` runs this part alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const line of await benchSync()) process.stdout.write(line + "\n");
}
