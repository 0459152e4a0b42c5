import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/client.js";
import { backoffDelayMs } from "../../src/core/backoff.js";
import { JobRunner, type JobKind } from "../../src/jobs/runner.js";
import { freshDatabase, testLog } from "../helpers/db.js";

/** A queue for the runner's tests, with the claim columns of the real ones (claimed_by + the exact claimed_at). */
const TABLE = `
  create table test_jobs (
    id serial primary key,
    name text not null unique,
    state text not null default 'queued',
    next_at timestamptz not null default now(),
    attempts int not null default 0,
    claimed_by text,
    claimed_at timestamptz,
    done_by text,
    last_error text
  )`;
const CHANNEL = "vmres_test_jobs";
const CLAIM_TIMEOUT_MS = 1000;

interface TestJob {
  id: number;
  name: string;
  attempts: number;
  claimedBy: string;
  claimedAt: string;
}

/** What a test makes a job do before it is recorded done; default: nothing. */
type Behaviour = (job: TestJob, signal: AbortSignal) => Promise<void>;
type Outcome = { runner: string; job: string; outcome: string };

describe("the job runner", () => {
  let database: Database;
  const runners: JobRunner<TestJob>[] = [];
  const behaviours = new Map<string, Behaviour>();
  const outcomes: Outcome[] = [];
  const metrics: { kind: string; outcome: string }[] = [];
  let waiters: (() => void)[] = [];

  const record = (o: Outcome) => {
    outcomes.push(o);
    for (const check of waiters.splice(0)) check();
  };
  /** Resolves once an attempt of `job` has ended with `what` (an event, not a sleep). */
  const ended = (job: string, what: string) =>
    new Promise<Outcome>((resolve) => {
      const check = () => {
        const found = outcomes.find((o) => o.job === job && o.outcome === what);
        if (found) resolve(found);
        else waiters.push(check);
      };
      check();
    });

  /** Resolves once the runner's metrics have counted an attempt of `what`. */
  const counted = (what: string) =>
    new Promise<void>((resolve) => {
      const check = () => (metrics.some((m) => m.kind === "test" && m.outcome === what) ? resolve() : waiters.push(check));
      check();
    });

  const kind = (owner: string, counters: { renewals: number }): JobKind<TestJob> => {
    const guard = (job: TestJob) => database.sql`id = ${job.id} and state = 'queued' and claimed_by = ${job.claimedBy} and claimed_at = ${job.claimedAt}::timestamptz`;
    return {
      name: "test",
      async claim(limit) {
        const rows = await database.sql<{ id: number; name: string; attempts: number; claimed_by: string; claimed_at: string }[]>`
          with due as (
            select id from test_jobs where state = 'queued' and claimed_by is null and next_at <= now()
            order by next_at, id limit ${limit} for update skip locked)
          update test_jobs j set claimed_by = ${owner}, claimed_at = now() from due where j.id = due.id
          returning j.id, j.name, j.attempts, j.claimed_by, j.claimed_at::text as claimed_at`;
        return rows.map((r) => ({ id: r.id, name: r.name, attempts: r.attempts, claimedBy: r.claimed_by, claimedAt: r.claimed_at }));
      },
      async renew(job) {
        counters.renewals++;
        const [row] = await database.sql<{ claimed_at: string }[]>`
          update test_jobs set claimed_at = now() where ${guard(job)} returning claimed_at::text as claimed_at`;
        if (row) job.claimedAt = row.claimed_at;
        return row !== undefined;
      },
      async run(job, { signal }) {
        await (behaviours.get(job.name) ?? (async () => undefined))(job, signal);
        return "ran";
      },
      async complete(job) {
        const done = await database.sql`update test_jobs set state = 'done', done_by = ${owner}, claimed_by = null, claimed_at = null where ${guard(job)} returning id`;
        const outcome = done.length === 1 ? "done" : "lost";
        record({ runner: owner, job: job.name, outcome });
        return outcome;
      },
      async fail(job, err) {
        // A fixed draw of the jitter (half the ceiling), so the test can tell the backoff's delay.
        const delayMs = backoffDelayMs(job.attempts + 1, { baseMs: 60_000, maxMs: 600_000, jitter: "full" }, () => 0.5);
        const failed = await database.sql`
          update test_jobs set attempts = attempts + 1, last_error = ${err instanceof Error ? err.message : String(err)},
            claimed_by = null, claimed_at = null, next_at = now() + ${delayMs}::int * interval '1 millisecond'
          where ${guard(job)} returning id`;
        const outcome = failed.length === 1 ? "retry" : "lost";
        record({ runner: owner, job: job.name, outcome });
        return outcome;
      },
      async takeOver() {
        await database.sql`
          update test_jobs set claimed_by = null, claimed_at = null, next_at = now()
          where state = 'queued' and claimed_at < now() - ${CLAIM_TIMEOUT_MS}::int * interval '1 millisecond'`;
      },
      describe: (job) => ({ job: job.name }),
    };
  };

  const runner = (owner: string, opts: { pollIntervalMs?: number; jobTimeoutMs?: number; counters?: { renewals: number }; listen?: boolean } = {}) => {
    const r = new JobRunner<TestJob>({
      kind: kind(owner, opts.counters ?? { renewals: 0 }),
      log: testLog,
      concurrency: 4,
      pollIntervalMs: opts.pollIntervalMs ?? 100,
      claimTimeoutMs: CLAIM_TIMEOUT_MS,
      jobTimeoutMs: opts.jobTimeoutMs ?? null,
      ...(opts.listen ? { listen: { sql: database.sql, channel: CHANNEL } } : {}),
      observe: (k, outcome) => {
        metrics.push({ kind: k, outcome });
        for (const check of waiters.splice(0)) check();
      },
    });
    runners.push(r);
    return r;
  };

  const addJob = (name: string) => database.sql`insert into test_jobs (name) values (${name})`;
  const row = async (name: string) => {
    const [r] = await database.sql<{ state: string; done_by: string | null; attempts: number; last_error: string | null; claimed_by: string | null; due_in_ms: number }[]>`
      select state, done_by, attempts, last_error, claimed_by, (extract(epoch from next_at - now()) * 1000)::int as due_in_ms
      from test_jobs where name = ${name}`;
    return r!;
  };

  beforeAll(async () => {
    database = await freshDatabase({ poolSize: 8 });
    await database.sql.unsafe(TABLE);
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop(1000)));
    behaviours.clear();
    outcomes.length = 0;
    metrics.length = 0;
    waiters = [];
  });

  afterAll(async () => {
    await database?.close();
  });

  it("takes over the job of a process killed mid-run once its claim is older than the claim timeout, not before", async () => {
    await addJob("orphan");
    // What a process killed with SIGKILL mid-run leaves behind: its claim, which nobody renews any more.
    await database.sql`update test_jobs set claimed_by = 'killed-process', claimed_at = now() where name = 'orphan'`;
    const survivor = runner("survivor");
    survivor.start();
    // Its first claims pass over the dead process's fresh claim: it might still be alive.
    await survivor.nextClaim();
    await survivor.nextClaim();
    const early = await row("orphan");
    expect(early.claimed_by === "killed-process" || early.done_by === "survivor").toBe(true);
    const claimedFor = await database.sql<{ ms: number }[]>`
      select (extract(epoch from now() - claimed_at) * 1000)::int as ms from test_jobs where name = 'orphan' and claimed_by = 'killed-process'`;
    // Unless the claim timeout had already passed, the job was not taken over yet.
    if (claimedFor[0] && claimedFor[0].ms < CLAIM_TIMEOUT_MS) expect(early.done_by).toBeNull();
    const done = await ended("orphan", "done");
    expect(done.runner).toBe("survivor");
    expect(await row("orphan")).toMatchObject({ state: "done", done_by: "survivor", attempts: 0 });
  });

  it("keeps a live job's claim renewed, so a long job is never taken over by another runner", async () => {
    const counters = { renewals: 0 };
    let renewedEnough!: () => void;
    const longEnough = new Promise<void>((resolve) => (renewedEnough = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    // The job runs until its claim has been renewed 6 times (1.5 claim timeouts): long past the point a dead one is taken over.
    behaviours.set("long", async () => {
      started();
      await longEnough;
    });
    await addJob("long");
    const worker = runner("worker", { counters });
    worker.start();
    await running;
    // Another runner polls (and takes over dead claims) all along.
    const other = runner("other", { pollIntervalMs: 50 });
    other.start();
    const watch = setInterval(() => counters.renewals >= 6 && renewedEnough(), 20);
    const done = await ended("long", "done").finally(() => clearInterval(watch));
    expect(done.runner).toBe("worker");
    expect(outcomes.filter((o) => o.job === "long")).toHaveLength(1);
    expect(await row("long")).toMatchObject({ state: "done", done_by: "worker" });
  });

  it("fails a job that runs past its timeout and retries it after the backoff", async () => {
    let aborted: unknown = null;
    // A job that hangs: only its abort signal ends it (and only to note why).
    behaviours.set("hangs", (_job, signal) => new Promise<void>((_, reject) => signal.addEventListener("abort", () => ((aborted = signal.reason), reject(signal.reason as Error)))));
    await addJob("hangs");
    const worker = runner("worker", { jobTimeoutMs: 200 });
    worker.start();
    await ended("hangs", "retry");
    const failed = await row("hangs");
    expect(failed).toMatchObject({ state: "queued", attempts: 1, claimed_by: null });
    expect(failed.last_error).toContain("took longer than its timeout of 200 ms");
    expect(aborted).toBeInstanceOf(Error);
    // Full jitter's draw of 0.5 after one failure: half of the 60 s base.
    expect(failed.due_in_ms).toBeGreaterThan(25_000);
    expect(failed.due_in_ms).toBeLessThanOrEqual(30_000);
    await counted("retry");
  });

  it("is woken by LISTEN when a job comes due, without waiting for its poll", async () => {
    // A poll every 10 minutes: only the notification can start this job within the test.
    const worker = runner("listener", { pollIntervalMs: 600_000, listen: true });
    worker.start();
    await worker.nextClaim();
    await database.sql.begin(async (tx) => {
      await tx`insert into test_jobs (name) values ('notified')`;
      await tx`select pg_notify(${CHANNEL}, '')`;
    });
    const done = await ended("notified", "done");
    expect(done.runner).toBe("listener");
    await counted("done");
  });

  it("runs jobs side by side up to its concurrency and drains a queue longer than that without waiting for the poll", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `batch-${i}`);
    for (const name of names) await addJob(name);
    const worker = runner("drainer", { pollIntervalMs: 600_000 });
    worker.start();
    await Promise.all(names.map((name) => ended(name, "done")));
    const rows = await database.sql<{ n: number }[]>`select count(*)::int as n from test_jobs where name like 'batch-%' and done_by = 'drainer'`;
    expect(rows[0]?.n).toBe(10);
  });
});
