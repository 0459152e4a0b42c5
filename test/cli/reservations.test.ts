import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { addPerson } from "../../src/core/people.js";
import type { Core } from "../../src/core/types.js";
import { cliFor, databaseSnapshot, type CliRun } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

/**
 * Reservations through the real CLI process against a real database: booking,
 * the refusal that names what is free and the nearest range, usage errors that
 * change nothing, listings (text and JSON), cancellation by the person, by
 * someone else (refused) and by an admin, a checkout cut at a booking, and
 * local times without an offset read in the machine's zone across a DST change.
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;
let vmres: ReturnType<typeof cliFor>;

const H = 3_600_000;
const operator = { person: "operator", source: "cli" } as const;
const summary = (r: CliRun) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
const iso = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/\.\d+Z$/, "Z");

async function add(name: string, n: number, pool: string): Promise<void> {
  const added = await addVm(core, operator, { name, ip: `203.0.113.${n}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
  expect(added.ok).toBe(true);
}

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database);
  await add("gpu-1", 1, "gpu");
  await add("gpu-2", 2, "gpu");
  await add("solo-1", 3, "solo");
  await add("dst-1", 4, "dst");
  for (const name of ["alice", "bob"]) expect((await addPerson(core, operator, { name, kind: "person", admin: false })).ok).toBe(true);
  // Bookings months ahead (the DST case) need more than MAX_BOOKING_AHEAD's default 90 days.
  vmres = cliFor({ databaseUrl: database.url, env: { TZ: "Europe/Berlin", MAX_BOOKING_AHEAD: "3650d" } });
});
afterAll(async () => database.close());

describe("vmres reserve", { timeout: 120_000 }, () => {
  it("books VMs and says which, when, and how to cancel", async () => {
    const r = await vmres(["reserve", "--user", "alice", "--pool", "gpu", "--count", "2", "--from", iso(2 * H), "--to", iso(4 * H), "--label", "release-4.2", "--note", "release test"]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toContain('Booked "release-4.2" for alice: 2 VMs of pool gpu');
    expect(r.stdout).toContain("Held: gpu-1, gpu-2.");
    expect(r.stdout).toContain("/bin/vmres.js reservation cancel release-4.2 --user alice");
  });

  it("refuses what does not fit (exit 3): how many are free, and the nearest range, as flags to paste", async () => {
    const before = await databaseSnapshot(database.sql);
    const r = await vmres(["reserve", "--user", "bob", "--pool", "gpu", "--count", "1", "--from", iso(3 * H), "--to", iso(5 * H), "--label", "bob-1"]);
    expect(r.code, summary(r)).toBe(3);
    expect(r.stderr).toMatch(/Cannot book 1 VM of pool "gpu" from .* none is free for that whole range\. The nearest range that fits: --from \S+ --to \S+\./);
    const json = await vmres(["reserve", "--user", "bob", "--pool", "gpu", "--count", "1", "--from", iso(3 * H), "--to", iso(5 * H), "--label", "bob-1", "--json"]);
    const refusal = JSON.parse(json.stdout) as { error: { code: string; free: number; nearest: { from: string; to: string } } };
    expect(refusal.error).toMatchObject({ code: "not_enough_free", free: 0 });
    expect(new Date(refusal.error.nearest.to).getTime() - new Date(refusal.error.nearest.from).getTime()).toBe(2 * H);
    expect(await databaseSnapshot(database.sql)).toBe(before);
  });

  it("usage errors (exit 2) say what would be right and open no database", async () => {
    const cases: [string[], RegExp][] = [
      [["reserve", "--user", "bob", "--pool", "gpu", "--count", "1", "--from", "monday", "--to", iso(5 * H), "--label", "x"], /--from: "monday" is not a time: give a date and time in ISO 8601/],
      [["reserve", "--user", "bob", "--pool", "gpu", "--count", "0", "--from", iso(3 * H), "--to", iso(5 * H), "--label", "x"], /--count: "0" is not a number of VMs/],
      [["reserve", "--user", "bob", "--pool", "gpu", "--count", "1", "--from", iso(3 * H), "--to", iso(5 * H), "--label", "Bad Label"], /--label: "Bad Label" is not a label/],
      [["reserve", "--user", "bob", "--pool", "gpu", "--from", iso(3 * H), "--to", iso(5 * H)], /--count N, --label L are required/],
      [["reserve", "--user", "bob", "--pool", "gpu", "--count", "1", "--from", iso(5 * H), "--to", iso(3 * H), "--label", "x"], /--to must be after --from/],
    ];
    for (const [args, message] of cases) {
      const r = await vmres(args);
      expect(r.code, summary(r)).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it("a label stays unique while its booking is active", async () => {
    const r = await vmres(["reserve", "--user", "bob", "--pool", "solo", "--count", "1", "--from", iso(2 * H), "--to", iso(3 * H), "--label", "release-4.2"]);
    expect(r.code, summary(r)).toBe(3);
    expect(r.stderr).toContain('The label "release-4.2" is taken by another booking');
  });

  it("times without an offset are the machine's local time, and a booking across a DST change is as long as the clocks say", async () => {
    // Europe/Berlin (TZ of the runs) leaves summer time on 2027-10-31: 00:00 to 06:00 local is 7 hours.
    const r = await vmres(["reserve", "--user", "alice", "--pool", "dst", "--count", "1", "--from", "2027-10-31T00:00", "--to", "2027-10-31T06:00", "--label", "dst-night", "--json"]);
    expect(r.code, summary(r)).toBe(0);
    const booked = JSON.parse(r.stdout) as { from: string; to: string };
    expect(booked.from).toBe("2027-10-30T22:00:00.000Z");
    expect(booked.to).toBe("2027-10-31T05:00:00.000Z");
    const [row] = await database.sql<{ hours: number }[]>`select extract(epoch from ends_at - starts_at)::float8 / 3600 as hours from reservations where label = 'dst-night'`;
    expect(row!.hours).toBe(7);
  });
});

describe("vmres reservations and reservation cancel", { timeout: 120_000 }, () => {
  it("lists bookings as a table and as JSON, filtered by label, person or pool", async () => {
    const r = await vmres(["reservations"]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toMatch(/^LABEL\s+POOL\s+N\s+FROM\s+TO\s+PERSON\s+STATE\s+VMS\s+NOTE/);
    expect(r.stdout).toMatch(/release-4\.2\s+gpu\s+2 .* alice\s+booked\s+gpu-1,gpu-2\s+release test/);
    const json = await vmres(["reservations", "--pool", "dst", "--json"]);
    expect((JSON.parse(json.stdout) as { label: string }[]).map((x) => x.label)).toEqual(["dst-night"]);
    const mine = await vmres(["reservations", "--user", "bob", "--json"]);
    expect(JSON.parse(mine.stdout)).toEqual([]);
  });

  it("someone else cannot cancel; the person can; an admin can cancel anyone's, on record, the person told", async () => {
    const other = await vmres(["reservation", "cancel", "release-4.2", "--user", "bob"]);
    expect(other.code, summary(other)).toBe(3);
    expect(other.stderr).toContain("only they (or an admin) may cancel it");
    const own = await vmres(["reservation", "cancel", "dst-night", "--user", "alice"]);
    expect(own.code, summary(own)).toBe(0);
    expect(own.stdout).toContain('Cancelled the booking "dst-night"');
    const admin = await vmres(["reservation", "cancel", "release-4.2", "--user", "UADMIN01"]);
    expect(admin.code, summary(admin)).toBe(0);
    expect(admin.stdout).toContain("(alice's, who is told)");
    const [told] = await database.sql<{ n: number }[]>`select count(*)::int as n from outbox where kind = 'reservation_cancelled' and payload->>'label' = 'release-4.2'`;
    expect(told!.n).toBe(1);
    const [logged] = await database.sql<{ n: number }[]>`select count(*)::int as n from events where kind = 'booking_cancelled' and actor = 'UADMIN01'`;
    expect(logged!.n).toBe(2);
    const again = await vmres(["reservation", "cancel", "release-4.2"]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('No booking is labelled "release-4.2"');
  });

  it("the local operator (no --user) cancelling someone's booking is told it is on record as the operator", async () => {
    const b = await vmres(["reserve", "--user", "alice", "--pool", "gpu", "--count", "1", "--from", iso(5 * H), "--to", iso(6 * H), "--label", "ops-cancel"]);
    expect(b.code, summary(b)).toBe(0);
    const r = await vmres(["reservation", "cancel", "ops-cancel"]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toMatch(/^Cancelled the booking "ops-cancel" \(alice's, who is told\): .* Done as the operator, on record \(--user NAME puts your own name on it\)\.\n$/);
    const [logged] = await database.sql<{ actor: string }[]>`select actor from events where kind = 'booking_cancelled' order by id desc limit 1`;
    expect(logged!.actor).toBe("operator");
  });

  it("a checkout of a VM booked soon gets a lease cut at the booking's start, and says so", async () => {
    const b = await vmres(["reserve", "--user", "alice", "--pool", "solo", "--count", "1", "--from", iso(2 * H), "--to", iso(3 * H), "--label", "solo-1"]);
    expect(b.code, summary(b)).toBe(0);
    const c = await vmres(["checkout", "--user", "bob", "--pool", "solo"]);
    expect(c.code, summary(c)).toBe(0);
    expect(c.stdout).toContain("The lease is cut short: solo-1 is booked from");
    const e = await vmres(["extend", "solo-1", "--user", "bob", "--by", "2h"]);
    expect(e.code, summary(e)).toBe(3);
    expect(e.stderr).toContain('solo-1 is booked from');
    expect(e.stderr).toContain('("solo-1")');
  });
});
