import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addPerson } from "../../src/core/people.js";
import { cliFor } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
let vmres: ReturnType<typeof cliFor>;

beforeAll(async () => {
  database = await freshDatabase();
  const sql = database.sql;
  await sql`insert into pools (name, quota) values ('lab', 1)`;
  await sql`insert into vms (name, ip, pool, state, cleanup_attempts, cleanup_last_error) values ('lab-1', '198.51.100.91', 'lab', 'quarantined', 3, 'ssh: host key mismatch')`;
  await sql`insert into vms (name, ip, pool, state_changed_at) values ('lab-2', '198.51.100.92', 'lab', now() - interval '9 days')`;
  expect((await addPerson(coreFor(database), { person: "operator", source: "cli" }, { name: "bob", slackUserId: undefined, kind: "person", admin: false })).ok).toBe(true);
  vmres = cliFor({ databaseUrl: database.url });
});
afterAll(async () => database.close());

describe("vmres report", () => {
  it("prints each part of the admin report, saying none where there is nothing", async () => {
    const run = await vmres(["report"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/^Admin report, \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n/);
    expect(run.stdout).toMatch(/Quarantined \(1\):\nVM\s+POOL\s+SINCE\s+ATTEMPTS\s+LAST ERROR\nlab-1\s+lab\s+\S+ \S+\s+3\s+ssh: host key mismatch\n/);
    expect(run.stdout).toMatch(/VMs idle for 7 days \(1\):\nVM\s+POOL\s+FREE SINCE\s+LAST CHECKOUT\nlab-2\s+lab\s+\S+ \S+\s+never\n/);
    expect(run.stdout).toContain("Longest holds:\n  none\n");
    expect(run.stdout).toContain("Bookings in the next 3 days (0):\n  none\n");
  });

  it("prints the report alone as JSON with --json, bookings as many days ahead as --days says", async () => {
    const run = await vmres(["report", "--json", "--days", "7"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { days: number; quarantined: { total: number; vms: { vm: string; lastError: string }[] }; idle: { total: number } };
    expect(report).toMatchObject({ days: 7, quarantined: { total: 1, vms: [{ vm: "lab-1", lastError: "ssh: host key mismatch" }] }, idle: { total: 1 } });
  });

  it("refuses someone who is not an admin (exit 3), and a bad --days with usage (exit 2)", async () => {
    const refused = await vmres(["report", "--user", "bob"]);
    expect(refused).toMatchObject({ code: 3, stdout: "" });
    expect(refused.stderr).toContain("bob is not an admin");
    const bad = await vmres(["report", "--days", "40"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--days: \"40\" is not a number of days: use a whole number from 1 to 30");
  });
});
