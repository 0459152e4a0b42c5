import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { cliFor, databaseSnapshot, type CliRun } from "../helpers/cli.js";
import { coreFor, freshDatabase, userId } from "../helpers/db.js";

const CALLERS = 60;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let vmres: ReturnType<typeof cliFor>;

beforeAll(async () => {
  database = await freshDatabase();
  const core = coreFor(database);
  // More VMs than callers: every checkout can succeed, so any failure is the CLI's.
  for (let n = 1; n <= CALLERS + 4; n++) {
    const added = await addVm(core, { person: "operator", source: "cli" }, {
      name: `vm-${String(n).padStart(2, "0")}`,
      ip: `198.51.100.${n}`,
      pool: "default",
      sshUser: "root",
      sshPort: 22,
      hostKeyFingerprint: null,
      tags: [],
    });
    expect(added.ok).toBe(true);
  }
  // 60 processes may share two cores with the rest of the test run: give each room.
  vmres = cliFor({ databaseUrl: database.url, timeoutMs: 300_000 });
});
afterAll(async () => database.close());

describe("many vmres calls at once, as a CI system makes them", () => {
  it(`${CALLERS} checkouts at once by different users: none fails as unexpected, and each success lends a different VM`, { timeout: 400_000 }, async () => {
    const users = Array.from({ length: CALLERS }, (_, i) => userId(i + 1));
    const runs = await Promise.all(users.map((user) => vmres(["checkout", "--user", user, "--json"])));

    const unexpected = runs.filter((r) => r.code !== 0 && r.code !== 4);
    expect(unexpected.map(summary)).toEqual([]);
    for (const r of runs) expect(r.stderr).not.toContain("unexpected");

    const lent = runs.flatMap((r, i) => (r.code === 0 ? [{ user: users[i]!, vm: (JSON.parse(r.stdout) as { name: string }).name }] : []));
    expect(new Set(lent.map((l) => l.vm)).size).toBe(lent.length);
    // What each success printed is what the database holds.
    const held = await database.sql<{ name: string; holder: string }[]>`select name, (select p.slack_user_id from checkouts c join people p on p.id = c.person_id where c.id = vms.checkout_id) as holder from vms where checkout_id is not null`;
    expect(new Map(held.map((h) => [h.holder, h.name]))).toEqual(new Map(lent.map((l) => [l.user, l.vm])));
    // Nothing here waits on another caller's lock, so every call goes through.
    expect(lent).toHaveLength(CALLERS);
  });
});

describe("a database busy past LOCK_TIMEOUT_MS", () => {
  it("is a retryable refusal: exit 4, words saying to retry, retryable in JSON, and nothing changed", async () => {
    const other = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      await other.begin(async (tx) => {
        // A long admin transaction holding the table, as a slow `pool sync` of a huge file would.
        await tx`lock table vms in exclusive mode`;
        const before = await databaseSnapshot(database.sql);
        const r = await vmres(["checkout", "--user", "ULATE001", "--json"], { env: { LOCK_TIMEOUT_MS: "200" } });
        expect(summary(r)).toMatchObject({ code: 4 });
        expect(r.stderr).toMatch(/^vmres: the database is busy \(.*lock timeout.*\); nothing was changed\. Try again in a moment\.\n$/);
        expect(JSON.parse(r.stdout)).toEqual({ error: { code: "database_busy", message: expect.stringContaining("Try again"), retryable: true } });
        expect(await databaseSnapshot(database.sql)).toBe(before);
      });
    } finally {
      await other.end();
    }
  });
});

describe("a database that cannot be reached", () => {
  it("is a retryable refusal (exit 4) naming what failed, not an unexpected error", async () => {
    const nowhere = cliFor({ databaseUrl: "postgres://vmres@127.0.0.1:1/vmres" });
    const r = await nowhere(["status", "--json"]);
    expect(summary(r)).toMatchObject({ code: 4 });
    expect(r.stderr).toMatch(/^vmres: cannot reach the database \(.*ECONNREFUSED.*\)\. Try again in a moment; if it persists, check DATABASE_URL and that the server is running\.\n$/);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "database_unreachable", retryable: true } });
  });
});

/** Enough of a run to see why it failed. */
const summary = (r: CliRun) => ({ code: r.code, stderr: r.stderr.slice(0, 300) });
