/**
 * CLI part of `npm run bench`: how long `vmres status`, `list`, `checkout` and `checkin`
 * take, start to exit, as a person or a CI job runs them (node dist/cli/main.js …, a
 * process of its own, DATABASE_URL to a running private embedded PostgreSQL with a few
 * VMs), against `node -e ''` on the same Node (process.execPath). Target: each ≤ 3× `node -e ''`.
 *
 * Timed in alternating pairs: each round runs a command and `node -e ''` back to back, the
 * order swapping every round, and a command's ratio is its median over the median of its own
 * partner runs. A loaded machine then slows both halves of a pair alike instead of whichever
 * subject happened to run during a burst. (The 49 ms against 130 ms of issue 18 were two
 * different Nodes: the bench spawns process.execPath, Node 22, while the paired runs by hand
 * ran `node` from the PATH, Node 20 here, which starts about 2.5× slower and has no compile
 * cache; so each figure here names the Node it used.)
 *
 * `vmres --help` is held to half of its time above the floor before the CLI was bundled:
 * set BENCH_CLI_BASELINE to such a build (a dist-<hash> folder, or a checkout's dist) to
 * time it (and every other command, for before/after under the same load) in the same pairs;
 * without one, --help is reported and not judged.
 *
 * A MISS says why from one more run of that command, measured: how far it is over the target,
 * its CPU profile (--cpu-prof: how its time splits between module loading, vmres code, packages'
 * code, waiting and the rest, and how many files it loaded), and what it asked of PostgreSQL,
 * counted on the wire by a relay in front of the server (test/helpers/pg-wire.ts): connections,
 * statements, round trips, the time spent waiting for answers and the login's part of it.
 *
 * Needs dist/ built (`npm run bench` builds it first).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { addVm, setPool } from "../src/core/admin.js";
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { openEmbedded, type EmbeddedServer } from "../src/db/embedded.js";
import { createLogger } from "../src/log.js";
import { wireCounter, type WireCounts } from "../test/helpers/pg-wire.js";
import { percentile } from "./stats.js";

const RUNS = 15;
const WARMUP = 2;
/** A command's median wall time ÷ its paired `node -e ''` median. */
const TARGET_RATIO = 3;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");

/** One way to run something: its arguments to node (the script first) and its environment. */
interface Subject {
  label: string;
  args: string[];
  env: Record<string, string>;
  /** Judged against TARGET_RATIO. */
  judged: boolean;
}

export async function benchCli(): Promise<string[]> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const baselineDir = process.env["BENCH_CLI_BASELINE"];
  const baseline = baselineDir ? join(isAbsolute(baselineDir) ? baselineDir : join(ROOT, baselineDir), "cli/main.js") : undefined;
  if (baseline && !existsSync(baseline)) throw new Error(`BENCH_CLI_BASELINE: ${baseline} is missing`);
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-cli-"));
  const log = createLogger("warn", "bench-cli");
  let server: EmbeddedServer | undefined;
  let database: Database | undefined;
  try {
    // The folder itself, as test/global-setup.ts does: as root the server runs as `postgres`,
    // which may pass through the folder openEmbedded prepares but not through a private one above it.
    server = await openEmbedded(dir, { port: 0, log });
    database = await openDatabase({ databaseUrl: server.url, embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: 2, log });
    await migrateDatabase(database);
    const core = { db: database.db, people: new Map(), bootstrapAdmins: new Set<string>(), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: "bench", defaultQuota: 1 };
    // Five VMs to list; a pool of one with no cleanup for checkout and checkin, so each checkout lends the VM the checkin returned.
    const vms = [1, 2, 3, 4, 5].map((i) => ({ name: `bench-${i}`, pool: "bench" })).concat({ name: "bench-solo", pool: "solo" });
    for (const [i, vm] of vms.entries()) {
      const r = await addVm(core, { person: "operator", source: "cli" }, { ...vm, ip: `127.0.2.${i + 1}`, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
      if (!r.ok) throw new Error(`could not add ${vm.name}: ${JSON.stringify(r.refusal)}`);
    }
    const solo = await setPool(core, { person: "operator", source: "cli" }, "solo", { cleanup: "none" });
    if (!solo.ok) throw new Error(`could not set pool solo's cleanup: ${JSON.stringify(solo.refusal)}`);
    const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() };
    const db = { ...base, DATABASE_URL: server.url };
    const subjects: Subject[] = [
      { label: "vmres status", args: [CLI, "status"], env: db, judged: true },
      { label: "vmres list", args: [CLI, "list"], env: db, judged: true },
      { label: "vmres checkout", args: [CLI, "checkout", "--pool", "solo", "--user", "UBENCH01"], env: db, judged: true },
      { label: "vmres checkin", args: [CLI, "checkin", "bench-solo", "--user", "UBENCH01"], env: db, judged: true },
      { label: "vmres --help", args: [CLI, "--help"], env: base, judged: false },
    ];
    if (baseline) {
      // Every command of the earlier build too, in the same rounds: before and after under the same load.
      // (Its checkout and checkin follow each other as the current ones do, so the solo VM is free again after each round.)
      for (const subject of subjects.slice()) {
        subjects.push({ label: `${subject.label}, baseline`, args: [baseline, ...subject.args.slice(1)], env: subject.env, judged: false });
      }
    }
    const floor: Subject = { label: "node -e ''", args: ["-e", ""], env: base, judged: false };
    const pairs = await measure(subjects, floor, tmpdir());
    const lines = [
      `${RUNS} alternating pairs per command (after ${WARMUP}), each against its own node -e ''; ${process.execPath} ${process.version}; load average ${loadAverage()}`,
    ];
    for (const [i, subject] of subjects.entries()) {
      const own = percentile(pairs[i]!.own, 50);
      const node = percentile(pairs[i]!.node, 50);
      lines.push(`${subject.label.padEnd(24)} ${ms(own).padStart(7)} (p90 ${ms(percentile(pairs[i]!.own, 90))}), node -e '' ${ms(node).padStart(6)}: ${(own / node).toFixed(2)}×`);
    }
    for (const [i, subject] of subjects.entries()) {
      if (!subject.judged) continue;
      const ratio = percentile(pairs[i]!.own, 50) / percentile(pairs[i]!.node, 50);
      if (ratio <= TARGET_RATIO) lines.push(`PASS ${subject.label}: ${ratio.toFixed(2)}× node -e '' ≤ ${TARGET_RATIO}×`);
      else {
        const over = percentile(pairs[i]!.own, 50) - TARGET_RATIO * percentile(pairs[i]!.node, 50);
        lines.push(`MISS ${subject.label}: ${ratio.toFixed(2)}× node -e '' > ${TARGET_RATIO}×, ${ms(over)} over; ${await why(subject, dir)}`);
      }
    }
    const help = subjects.findIndex((s) => s.label === "vmres --help");
    const before = subjects.findIndex((s) => s.label === "vmres --help, baseline");
    if (before < 0) lines.push("--help not judged: set BENCH_CLI_BASELINE to the build before bundling to compare");
    else {
      const above = (i: number) => percentile(pairs[i]!.own, 50) - percentile(pairs[i]!.node, 50);
      const [now, then] = [above(help), above(before)];
      const verdict = now <= then / 2 ? "PASS" : "MISS";
      lines.push(
        `${verdict} vmres --help: ${ms(now)} above node -e '' against ${ms(then)} before (${(then / Math.max(now, 0.1)).toFixed(2)}× faster, target 2×)` +
          (verdict === "MISS" ? `; ${await why(subjects[help]!, dir)}` : ""),
      );
    }
    return lines;
  } finally {
    await database?.close();
    await server?.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** For each subject, RUNS wall times of its own and RUNS of the `node -e ''` run paired with it, the order swapped every round. */
async function measure(subjects: Subject[], floor: Subject, cwd: string): Promise<{ own: number[]; node: number[] }[]> {
  const pairs = subjects.map(() => ({ own: [] as number[], node: [] as number[] }));
  for (let round = 0; round < WARMUP + RUNS; round++) {
    for (const [i, subject] of subjects.entries()) {
      const first = round % 2 === 0;
      const a = await timeRun(first ? subject : floor, cwd);
      const b = await timeRun(first ? floor : subject, cwd);
      if (round < WARMUP) continue;
      pairs[i]!.own.push(first ? a : b);
      pairs[i]!.node.push(first ? b : a);
    }
  }
  return pairs;
}

function timeRun(subject: Subject, cwd: string, extra: string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...extra, ...subject.args], { cwd, env: subject.env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      if (code === 0) resolve(wallMs);
      else reject(new Error(`${subject.label} exited ${code}: ${stderr.slice(0, 500)}`));
    });
  });
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/**
 * Where one more run of the subject spends its time, from its CPU profile: a sample counts as
 * module loading when any frame of its stack is Node's module loader (resolving, reading,
 * compiling, linking, evaluating a module's top level), else by the frame it was in.
 */
async function why(subject: Subject, dir: string): Promise<string> {
  const profiles = mkdtempSync(join(dir, "profile-"));
  // The pairs leave bench-solo available: a checkin needs it lent first, a checkout gives it back after.
  if (subject.label === "vmres checkin") await timeRun({ ...subject, args: [CLI, "checkout", "--pool", "solo", "--user", "UBENCH01"] }, tmpdir());
  const url = subject.env["DATABASE_URL"];
  const wire = url ? await wireCounter(url) : null;
  try {
    await timeRun(wire ? { ...subject, env: { ...subject.env, DATABASE_URL: wire.url } } : subject, tmpdir(), ["--cpu-prof", "--cpu-prof-dir", profiles]);
  } finally {
    await wire?.close();
  }
  const counts = wire?.counts();
  if (subject.label === "vmres checkout") await timeRun({ ...subject, args: [CLI, "checkin", "bench-solo", "--user", "UBENCH01"] }, tmpdir());
  const file = readdirSync(profiles).find((f) => f.endsWith(".cpuprofile"));
  if (!file) return "no CPU profile was written";
  const profile = JSON.parse(readFileSync(join(profiles, file), "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const parent = new Map<number, ProfileNode>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const category = (leaf: ProfileNode): string => {
    for (let n: ProfileNode | undefined = leaf; n; n = parent.get(n.id)) if (/^node:internal\/modules\//.test(n.callFrame.url)) return "module loading (top-level code included)";
    const { url, functionName } = leaf.callFrame;
    if (functionName === "(idle)") return "waiting (database, I/O)";
    if (functionName === "(garbage collector)") return "garbage collection";
    if (url.includes("/node_modules/")) return "packages' code";
    if (/\/dist[^/]*\//.test(url)) return "vmres code";
    return "Node and V8 (startup, native)";
  };
  const spent = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const c = category(byId.get(id)!);
    spent.set(c, (spent.get(c) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const urls = new Set(profile.nodes.map((n) => n.callFrame.url));
  const files = { vmres: [...urls].filter((u) => /\/dist[^/]*\//.test(u) && !u.includes("/node_modules/")).length, packages: [...urls].filter((u) => u.includes("/node_modules/")).length };
  const total = [...spent.values()].reduce((a, b) => a + b, 0);
  const parts = [...spent].sort((a, b) => b[1] - a[1]).map(([c, t]) => `${c} ${ms(t)}`);
  const profiled = `of its ${ms(total)} (CPU profile of one run): ${parts.join(", ")}; code ran from ${files.vmres} vmres files and ${files.packages} package files`;
  return counts ? `${profiled}; ${onTheWire(counts)}` : profiled;
}

/** What the profiled run asked of PostgreSQL, as the relay counted it. */
function onTheWire(c: WireCounts): string {
  return (
    `on the wire: ${c.connections} connection${c.connections === 1 ? "" : "s"}, ${c.statements} statements, ${c.roundTrips} round trips ` +
    `(waiting ${ms(c.waitMs)} for PostgreSQL's answers), login ${ms(c.loginMs)} from connect to the first statement`
  );
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const loadAverage = () => loadavg().map((n) => n.toFixed(2)).join(" ");

// `tsx bench/cli.ts` runs this part alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const line of await benchCli()) process.stdout.write(line + "\n");
}
