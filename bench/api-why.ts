/**
 * What the API part's MISS line is computed from, never a fixed sentence:
 * - statements and round trips per request, counted in this process on an API built over a
 *   client whose statements are captured (postgres.js's debug hook), against the core called
 *   directly on the same kind of client;
 * - CPU per cycle of the service process (/proc), of PostgreSQL and of this process;
 * - where the service's CPU goes, from a CPU profile (`--cpu-prof`) of a service run apart.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { buildApi } from "../src/api/server.js";
import { checkin } from "../src/core/checkin.js";
import { checkout } from "../src/core/checkout.js";
import type { Core } from "../src/core/types.js";
import * as schema from "../src/db/schema.js";
import type { Logger } from "../src/log.js";
import { fmt } from "./stats.js";

/** Statements sent, and round trips waited on (statements written in one turn of the event loop are one trip). */
export interface Sent {
  statements: number;
  trips: number;
}

export interface Trips {
  direct: { checkout: Sent; checkin: Sent };
  api: { checkout: Sent; checkin: Sent };
  keyed: { checkout: Sent; checkin: Sent };
}

/** A client whose statements are captured between start() and stop(); one connection, so what it prepared once stays prepared. */
function capturing(url: string) {
  let on = false;
  let inTrip = false;
  let sent: Sent & { texts: string[] } = { statements: 0, trips: 0, texts: [] };
  const client = postgres(url, {
    max: 1,
    onnotice: () => {},
    debug: (_c, text) => {
      if (!on) return;
      sent.statements++;
      sent.texts.push(text);
      if (inTrip) return;
      inTrip = true;
      sent.trips++;
      setImmediate(() => (inTrip = false));
    },
  });
  return {
    client,
    start: () => {
      sent = { statements: 0, trips: 0, texts: [] };
      on = true;
    },
    stop: (): Sent & { texts: string[] } => {
      on = false;
      return sent;
    },
  };
}

/**
 * A checkout and a check-in of each kind, each cycle run twice and counted the second time (a
 * running service has its statements prepared already); `person` holds nothing before and after.
 */
export async function countTrips(url: string, core: Core, person: { name: string; token: string }, pool: string, log: Logger, free: (vm: string) => Promise<void>): Promise<Trips> {
  const plain = capturing(url);
  const served = capturing(url);
  const rate = { max: 1_000_000, windowMs: 60_000 };
  const api = await buildApi({ core: { ...core, db: drizzle(served.client, { schema }) }, log, rateLimit: { token: rate, person: rate }, claimTimeoutMs: 60_000, bodyLimit: 65_536, version: "bench" });
  try {
    const directCore = { ...core, db: drizzle(plain.client, { schema }) };
    const me = { person: { lookup: person.name }, source: "cli" as const };
    const twice = async (capture: ReturnType<typeof capturing>, out: () => Promise<{ vm: string; id: number }>, back: (made: { vm: string; id: number }) => Promise<void>) => {
      let counted = { checkout: { statements: 0, trips: 0 }, checkin: { statements: 0, trips: 0 } };
      for (let i = 0; i < 2; i++) {
        capture.start();
        const made = await out();
        const checkoutSent = capture.stop();
        capture.start();
        await back(made);
        const checkinSent = capture.stop();
        await free(made.vm);
        counted = { checkout: checkoutSent, checkin: checkinSent };
      }
      return { checkout: { statements: counted.checkout.statements, trips: counted.checkout.trips }, checkin: { statements: counted.checkin.statements, trips: counted.checkin.trips } };
    };
    const direct = await twice(
      plain,
      async () => {
        const r = await checkout(directCore, me, { pool });
        if (!r.ok) throw new Error(`bench checkout refused: ${r.refusal.code}`);
        return { vm: r.value.name, id: r.value.checkoutId };
      },
      async ({ vm }) => {
        const r = await checkin(directCore, me, vm);
        if (!r.ok) throw new Error(`bench check-in refused: ${r.refusal.code}`);
      },
    );
    const viaApi = (keyed: boolean) => {
      const headers = (k: string) => ({ authorization: `Bearer ${person.token}`, ...(keyed ? { "idempotency-key": `${k}-${Math.random()}` } : {}) });
      return twice(
        served,
        async () => {
          const r = await api.app.inject({ method: "POST", url: "/v1/checkouts", headers: { ...headers("out"), "content-type": "application/json" }, payload: { pool } });
          if (r.statusCode !== 201) throw new Error(`API checkout answered ${r.statusCode}: ${r.body}`);
          return r.json() as { vm: string; id: number };
        },
        async ({ id }) => {
          const r = await api.app.inject({ method: "DELETE", url: `/v1/checkouts/${id}`, headers: headers("in") });
          if (r.statusCode !== 200) throw new Error(`API check-in answered ${r.statusCode}: ${r.body}`);
        },
      );
    };
    return { direct, api: await viaApi(false), keyed: await viaApi(true) };
  } finally {
    await api.app.close();
    await plain.client.end({ timeout: 5 });
    await served.client.end({ timeout: 5 });
  }
}

export const tripsLine = (s: { checkout: Sent; checkin: Sent }) =>
  `${s.checkout.statements + s.checkin.statements} statements in ${s.checkout.trips + s.checkin.trips} round trips (checkout ${s.checkout.statements}/${s.checkout.trips}, check-in ${s.checkin.statements}/${s.checkin.trips})`;

/** CPU time (user + system) of a live process so far, in ms; NaN when /proc cannot tell. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/**
 * Where the service spent its CPU between `from` and `to` (process.hrtime, µs: the profile's
 * clock), ms per cycle by part, largest first (idle left out). A sample in native code counts for
 * the nearest JavaScript frame that called it (a write to a socket, for its caller).
 */
export function profileParts(dir: string, cycles: number, from: number, to: number): { part: string; msPerCycle: number }[] {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`the profiled service wrote no CPU profile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const spent = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < from || at > to) return;
    const part = partOf(byId.get(id)!, parent);
    if (part === null) return;
    spent.set(part, (spent.get(part) ?? 0) + delta / 1000);
  });
  return [...spent].map(([part, ms]) => ({ part, msPerCycle: ms / Math.max(1, cycles) })).sort((a, b) => b.msPerCycle - a.msPerCycle);
}

/** A sample's part: a package, a vmres folder, Node's own code (by its nearest JavaScript frame); null when idle. */
function partOf(leaf: ProfileNode, parent: Map<number, ProfileNode>): string | null {
  const { functionName } = leaf.callFrame;
  if (functionName === "(idle)") return null;
  if (functionName === "(program)") return "V8 (program)";
  if (functionName === "(garbage collector)") return "garbage collection";
  let node: ProfileNode | undefined = leaf;
  while (node && node.callFrame.url === "") node = parent.get(node.id);
  const url = node?.callFrame.url ?? "";
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/dist[^/]*\/(?:([^/]+)\/)?[^/]+\.js$/.exec(url);
  if (own) return `vmres ${own[1] ?? "(top folder)"}`;
  const internal = /^node:internal\/(.+?)(?:\.js)?$/.exec(url);
  if (internal) return `node ${internal[1]!.split("/").slice(0, 2).join("/")}`;
  if (url.startsWith("node:")) return url;
  return `native (${functionName || "?"})`;
}

/**
 * The profile's parts as shares of its samples. A sample is taken while the thread is not idle,
 * also while the kernel has it waiting for a core (a busy machine: a write to a socket that wakes
 * the reader often ends so), so shares say where the service's time goes, not CPU milliseconds:
 * those are /proc's figure.
 */
export function partsLine(parts: { part: string; msPerCycle: number }[], n = 6): string {
  const total = parts.reduce((a, p) => a + p.msPerCycle, 0);
  return parts
    .slice(0, n)
    .map((p) => `${p.part} ${fmt((100 * p.msPerCycle) / Math.max(total, Number.MIN_VALUE), 0)}%`)
    .join(", ");
}
