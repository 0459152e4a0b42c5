/**
 * Slack part of `npm run bench`. The service runs as `npm start` runs it, in a
 * process of its own (src/main.ts, HTTP mode), on a private embedded
 * PostgreSQL in a temp folder, talking to the fake Slack Web API in this
 * process. 50 concurrent signed `/vm checkout` requests, built and signed as
 * Slack does, hit POST /slack/events. The bench times:
 * - the ack: how long each request waits for its answer (Slack gives up after
 *   3 s; targets: p99 < 50 ms, and within 2.5× of a bare Node HTTP server's p99
 *   for the same requests, measured in the same run);
 * - command → DM: from sending each request to the fake Slack receiving the
 *   chat.postMessage of that user's DM (target p99 < 150 ms), with one service
 *   process and then with two on the same database, requests alternating;
 * and checks that every requester got exactly one DM and one ephemeral reply.
 *
 * Client and server in separate processes, so the client's own work is not
 * billed to the ack; on a loaded machine the numbers still include the load.
 */
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { addVm } from "../src/core/admin.js";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { createLogger } from "../src/log.js";
import { FakeSlack, RESPONSE_URL, isDmTo } from "../test/helpers/fake-slack.js";
import { slashCommand } from "../test/helpers/slack-requests.js";
import { bareBaseline, fire, type Burst } from "./slack-client.js";
import { startApp, stopApp } from "./slack-service.js";
import { explainDms, readTraces, splitDm } from "./slack-trace.js";
import { fmt, percentile } from "./stats.js";
import { sql } from "drizzle-orm";

const REQUESTS = 50;
const WARMUP = 20;
const TARGET_P99_MS = 50;
const TARGET_ACK_VS_BARE = 2.5;
const TARGET_DM_P99_MS = 150;
const SECRET = "bench-signing-secret";

/** One measured burst: its pool, users, and what came back. */
interface Measured {
  replicas: number;
  users: string[];
  burst: Burst;
  /** Per user, in request order: ms from sending the request to its DM's chat.postMessage; NaN if none came. */
  dmMs: number[];
  /** Requesters with exactly one DM; distinct ephemeral replies. */
  dmsOnce: number;
  replies: number;
  /** Web API calls the app made during the burst and its DMs, by method. */
  apiCalls: Map<string, number>;
  /** Where the DMs' time went (from the services' traces), computed after the burst. */
  why: string;
  /** Load average (1 min) when the burst's DMs were in. */
  load: number;
}

export async function benchSlack(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-slack-"));
  const log = createLogger("warn", "bench-slack");
  const fake = await FakeSlack.start();
  let database: Database | undefined;
  const apps: ChildProcess[] = [];
  const logFiles: string[] = [];
  try {
    database = await openDatabase({ embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, log });
    await migrateDatabase(database);
    const core = { db: database.db, people: new Map(), bootstrapAdmins: new Set<string>(), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: "bench", defaultQuota: 1 };
    const pools = [
      { pool: "bench1", count: REQUESTS },
      { pool: "bench2", count: REQUESTS },
      { pool: "warmup", count: 2 * WARMUP },
    ];
    let n = 0;
    for (const { pool, count } of pools) {
      for (let i = 0; i < count; i++, n++) {
        const r = await addVm(core, { person: "operator", source: "cli" }, { name: `${pool}-${i}`, ip: `127.0.${1 + Math.floor(n / 250)}.${(n % 250) + 1}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
        if (!r.ok) throw new Error(`could not add ${pool}-${i}: ${JSON.stringify(r.refusal)}`);
      }
    }
    const start = async () => {
      fake.reset();
      // Each delivered notice's trace goes to the log, so a MISS can say where the time went.
      const started = startApp(dir, database!.url, fake.url, SECRET, { OUTBOX_TRACE: "true" });
      apps.push(started.child);
      logFiles.push(started.logFile);
      const url = `http://127.0.0.1:${await started.port}/slack/events`;
      await fake.waitFor("auth.test", { timeoutMs: 30_000 });
      await warm(fake, database!, url, apps.length);
      return url;
    };

    const first = await start();
    const one = await measure(fake, database, logFiles, [first], "A");
    const second = await start();
    const two = await measure(fake, database, logFiles, [first, second], "B");

    const acks = one.burst.results.map((a) => a.ms);
    const p99 = percentile(acks, 99);
    const bare = await bareBaseline(
      one.users.map((user) => slashCommand({ text: "checkout bench1", user_id: user, response_url: fake.responseUrl(user) })),
      WARMUP,
      SECRET,
    );
    const ratio = p99 / percentile(bare, 99);
    return [
      `${REQUESTS} concurrent signed /vm checkout requests to POST /slack/events of a separate vmres process (${one.burst.results.filter((a) => a.status === 200).length}/${REQUESTS} answered 200); load average ${loadavg().map((l) => fmt(l, 1)).join(" ")}`,
      `ack latency: p50 ${fmt(percentile(acks, 50))} ms, p99 ${fmt(p99)} ms, max ${fmt(Math.max(...acks))} ms; target p99 < ${TARGET_P99_MS} ms: ${p99 < TARGET_P99_MS ? "met" : "MISSED"}`,
      `baseline on this machine now: a bare Node HTTP server in its own process answers the same ${REQUESTS} concurrent POSTs with p50 ${fmt(percentile(bare, 50))} ms, p99 ${fmt(percentile(bare, 99))} ms`,
      `${ratio <= TARGET_ACK_VS_BARE ? "PASS" : "MISS"} ack p99 ÷ bare Node p99 = ${fmt(p99)} / ${fmt(percentile(bare, 99))} = ${fmt(ratio, 2)}× (target ≤ ${TARGET_ACK_VS_BARE}×)`,
      `command → DM (sent → chat.postMessage of that user's DM at the fake Slack), OUTBOX_POLL_INTERVAL_MS unset (default 1000 ms):`,
      ...[one, two].map(dmLine),
      ...[one, two].map((m) => `  ${m.replicas} replica(s): DMs ${m.dmsOnce}/${REQUESTS} requesters got exactly one${m.dmsOnce === REQUESTS ? "" : " (MISSING OR DUPLICATED)"}; ephemeral replies ${m.replies}/${REQUESTS}; all acked ${m.burst.endedAt - m.burst.startedAt} ms after the first was sent`),
    ];
  } finally {
    for (const app of apps) await stopApp(app);
    await fake.close();
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Warm-up along the measured path (module loading, JIT, connection pools) in a
 * pool of its own; then lets the service finish what it caused (quiet).
 */
async function warm(fake: FakeSlack, database: Database, url: string, replica: number): Promise<void> {
  const users = Array.from({ length: WARMUP }, (_, i) => `U0WARM${replica}${String(i).padStart(3, "0")}`);
  fake.reset();
  await fire([url], users.map((user) => slashCommand({ text: "checkout warmup", user_id: user, response_url: fake.responseUrl(user) })), SECRET);
  await fake.waitFor((c) => c.method === "chat.postMessage", { count: WARMUP, timeoutMs: 30_000 });
  await fake.waitFor(RESPONSE_URL, { count: WARMUP, timeoutMs: 30_000 });
  await quiet(fake, database, users);
  fake.reset();
}

/**
 * Waits until the service has done all that `users`' requests caused: every
 * notice delivered (Home tabs published after the DMs) and each person's name
 * learned (users.info, once the outbox is idle). Otherwise that work would run
 * inside the next burst and be billed to its acks and DMs (the Home renders and
 * lookups of a warm-up's 20 people ran during the measured burst before).
 */
async function quiet(fake: FakeSlack, database: Database, users: string[]): Promise<void> {
  await outboxDone(database);
  const asked = (c: { method: string; body: Record<string, unknown> }) => c.method === "users.info" && users.includes(String(c.body.user));
  await fake.waitFor(asked, { count: users.length, timeoutMs: 30_000 }).catch(() => undefined);
}

/** One burst of REQUESTS checkouts of pool bench<replicas>, alternating over the urls, then the DMs it caused. */
async function measure(fake: FakeSlack, database: Database, logFiles: string[], urls: string[], tag: string): Promise<Measured> {
  const pool = `bench${urls.length}`;
  const users = Array.from({ length: REQUESTS }, (_, i) => `U0BENCH${tag}${String(i).padStart(3, "0")}`);
  const requests = users.map((user) => slashCommand({ text: `checkout ${pool}`, user_id: user, user_name: user.toLowerCase(), response_url: fake.responseUrl(user) }));
  fake.reset();
  const burst = await fire(urls, requests, SECRET);
  await fake.waitFor((c) => c.method === "chat.postMessage" && c.failure === undefined, { count: REQUESTS, timeoutMs: 30_000 }).catch(() => []);
  const replies = await fake.waitFor(RESPONSE_URL, { count: REQUESTS, timeoutMs: 10_000 }).catch(() => fake.calls(RESPONSE_URL));
  const posts = fake.calls("chat.postMessage").filter((c) => c.failure === undefined);
  const dms = users.map((u) => posts.filter((c) => isDmTo(c.body.channel, u)));
  const load = loadavg()[0] ?? 0;
  const dmMs = dms.map((calls, i) => (calls[0] ? calls[0].at.getTime() - (burst.results[i]?.sentAt ?? Number.NaN) : Number.NaN));
  // Each trace is logged once its notice is done (its Home published too): wait for them before reading,
  // and for the names of this burst's people, so the next burst starts on a quiet service.
  await quiet(fake, database, users);
  const traces = readTraces(logFiles);
  const noticeOf = new Map(
    (await database.db.execute<{ id: string | number; user: string }>(sql`select id, payload->'holder'->>'slackUserId' as user from outbox where kind = 'vm_checked_out'`)).map((r) => [r.user, Number(r.id)]),
  );
  const why = explainDms(
    users.flatMap((user, i) => {
      const dm = dms[i]?.[0];
      const trace = traces.get(noticeOf.get(user) ?? -1);
      const result = burst.results[i];
      if (!dm || result === undefined) return [];
      return [{ ms: dmMs[i] ?? Number.NaN, split: trace ? splitDm(result.sentAt, result.sentAt + result.ms, dm.at.getTime(), trace) : null }];
    }),
  );
  return {
    why,
    load,
    replicas: urls.length,
    users,
    burst,
    dmMs,
    dmsOnce: dms.filter((calls) => calls.length === 1).length,
    replies: new Set(replies.map((r) => r.responseId)).size,
    apiCalls: fake.calls().reduce((by, c) => by.set(c.method, (by.get(c.method) ?? 0) + 1), new Map<string, number>()),
  };
}

function dmLine(m: Measured): string {
  const arrived = m.dmMs.filter((ms) => !Number.isNaN(ms));
  // A DM that never came counts as infinitely late.
  const all = m.dmMs.map((ms) => (Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms));
  const p99 = percentile(all, 99);
  return (
    `  ${p99 < TARGET_DM_P99_MS ? "PASS" : "MISS"} ${m.replicas} replica(s)${m.replicas > 1 ? ", requests alternating" : ""}: ` +
    `first ${fmt(Math.min(...arrived))} ms, p50 ${fmt(percentile(all, 50))} ms, p99 ${fmt(p99)} ms, max ${fmt(Math.max(...arrived))} ms (${arrived.length}/${REQUESTS} DMs; target p99 < ${TARGET_DM_P99_MS} ms; load average ${fmt(m.load, 1)})\n` +
    `      ${p99 < TARGET_DM_P99_MS ? "" : "why: "}${m.why}\n` +
    `      Slack calls meanwhile: ${[...m.apiCalls].map(([method, count]) => `${method} ${count}`).join(", ")}`
  );
}

/** Waits (up to 30 s) until every notice is delivered, so each has logged its trace. */
async function outboxDone(database: Database): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    const [row] = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox where delivered_at is null`);
    if (row?.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
