/**
 * What every part of the soak shares: its knobs, the private embedded
 * PostgreSQL in a temp folder, the child processes it started (killed on any
 * way out), a seeded random source, and the pools and VMs it adds.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { openEmbedded, type EmbeddedServer } from "../src/db/embedded.js";
import { createLogger, type Logger } from "../src/log.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The soak's knobs (environment variables, read once here). */
export interface Knobs {
  /** Phase 1: seconds of contended checkouts. */
  contentionSeconds: number;
  /** Phase 1: worker processes, and concurrent checkout loops in each. */
  processes: number;
  concurrency: number;
  /** Phase 2: how many times the service is killed with SIGKILL. */
  kills: number;
  /** Phase 2: concurrent Slack clients and CLI loops. */
  slackClients: number;
  cliLoops: number;
  /** One seed for every random choice the soak makes (which user, which pool, when to kill). */
  seed: number;
  /** Which phases run (SOAK_SKIP=kill,hostile …). */
  skip: Set<string>;
}

function intKnob(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}=${raw}: expected a whole number from ${min} to ${max}`);
  return value;
}

export function readKnobs(): Knobs {
  return {
    contentionSeconds: intKnob("SOAK_SECONDS", 60, 1, 3600),
    processes: intKnob("SOAK_PROCESSES", 3, 1, 16),
    concurrency: intKnob("SOAK_CONCURRENCY", 16, 1, 64),
    kills: intKnob("SOAK_KILLS", 12, 0, 200),
    slackClients: intKnob("SOAK_SLACK_CLIENTS", 6, 1, 64),
    cliLoops: intKnob("SOAK_CLI_LOOPS", 2, 0, 16),
    seed: intKnob("SOAK_SEED", 20240601, 0, 2 ** 31 - 1),
    skip: new Set((process.env.SOAK_SKIP ?? "").split(",").map((s) => s.trim()).filter(Boolean)),
  };
}

/** mulberry32: small, fast, and the same sequence for the same seed. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, maxInclusive: number): number {
    return min + Math.floor(this.next() * (maxInclusive - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The soak's own world: a temp folder, the embedded server in it, and a pool of connections for checks. */
export interface SoakEnv {
  /** Working folder for the service and the CLI (no .env, no vms.yml in it). */
  workDir: string;
  server: EmbeddedServer;
  database: Database;
  log: Logger;
  /** Set on Ctrl-C: loops stop, and everything is cleaned up. */
  aborted(): boolean;
  /** Registers a child so that it is killed whatever way the soak ends. */
  track(child: ChildProcess): ChildProcess;
}

const children = new Set<ChildProcess>();
let interrupted = false;

/** SIGKILL every child still running; synchronous, so it also works from an `exit` handler. */
export function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/**
 * Runs `body` with a fresh environment and removes it afterwards, also on
 * error and on Ctrl-C: children killed first (they hold connections), then
 * the pool closed, the server stopped, the folder removed.
 */
export async function withSoakEnv<T>(body: (env: SoakEnv) => Promise<T>): Promise<T> {
  const log = createLogger(process.env.SOAK_LOG_LEVEL ?? "warn", "soak");
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the soak and cleaning up…\n`);
    interrupted = true;
    // The workers and the service would otherwise run on to the end of their phase.
    killChildren();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", killChildren);
  const dir = mkdtempSync(join(tmpdir(), "vmres-soak-"));
  let server: EmbeddedServer | undefined;
  let database: Database | undefined;
  try {
    // The folder itself, as test/global-setup.ts does: as root the server runs as `postgres`,
    // and openEmbedded opens exactly this folder to it (a folder below would stay closed).
    server = await openEmbedded(dir, { port: 0, log });
    database = await openDatabase({ databaseUrl: server.url, embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: 8, log });
    await migrateDatabase(database);
    const workDir = join(dir, "work");
    mkdirSync(workDir);
    const env: SoakEnv = {
      workDir,
      server,
      database,
      log,
      aborted: () => interrupted,
      track: (child) => {
        children.add(child);
        child.once("exit", () => children.delete(child));
        return child;
      },
    };
    return await body(env);
  } finally {
    killChildren();
    await waitForChildren(10_000);
    await database?.close().catch((err: unknown) => log.warn({ err }, "closing the soak's pool failed"));
    await server?.release().catch((err: unknown) => log.warn({ err }, "stopping the embedded PostgreSQL failed"));
    rmSync(dir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function waitForChildren(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (children.size > 0 && Date.now() < deadline) await sleep(50);
}

/** A pool of `count` VMs named `<pool>-<n>`, on loopback addresses (nothing here may reach another host). */
export async function addPool(database: Database, pool: string, quota: number, count: number): Promise<string[]> {
  await database.sql`insert into pools (name, quota) values (${pool}, ${quota})`;
  const rows = await database.sql<{ name: string }[]>`
    insert into vms (name, ip, pool)
    select ${pool} || '-' || i, ('127.0.2.' || i)::inet, ${pool} from generate_series(1, ${count}::int) as i
    returning name`;
  return rows.map((r) => r.name);
}

/**
 * Stand-in for the cleanup worker (no SSH here): every `everyMs`, VMs of the
 * given pools that were checked in and are not claimed by a worker go back to
 * `available`. It writes no event, so the checks below see only checkouts and
 * check-ins. Returns a function that stops it.
 */
export function startReturner(database: Database, pools: string[], everyMs: number, log: Logger): () => Promise<number> {
  let stopped = false;
  let returned = 0;
  const loop = (async () => {
    while (!stopped) {
      try {
        const result = await database.sql`
          update vms set state = 'available', state_changed_at = now(), cleanup_next_at = null,
                         cleanup_attempts = 0, cleanup_last_error = null
          where pool in ${database.sql(pools)} and state = 'cleaning' and claimed_by is null`;
        returned += result.count;
      } catch (err) {
        log.warn({ err }, "returner: update failed; trying again");
      }
      await sleep(everyMs);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return returned;
  };
}
