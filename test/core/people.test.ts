import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm, drainVm } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { addPerson, applyAdminBootstrap, isAdmin, listPeople, recordDisplayName, resolvePerson, setAdmin } from "../../src/core/people.js";
import { allVms, findVm, listCheckouts, vmHistory, vmsOfPerson } from "../../src/core/queries.js";
import type { Actor, Core } from "../../src/core/types.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

const operator: Actor = { person: "operator", source: "cli" };
const slack = (id: string): Actor => ({ person: { slackUserId: id }, source: "slack" });
const named = (name: string): Actor => ({ person: { lookup: name }, source: "cli" });

let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;

async function addVms(pool: string, count: number) {
  for (let i = 0; i < count; i++) {
    const r = await addVm(core, operator, { name: `${pool}-${i}`, ip: `198.51.100.${i + 1}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
    expect(r.ok).toBe(true);
  }
}

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database, { bootstrapAdmins: new Set(["UBOOT0001"]) });
});
afterAll(async () => database.close());

describe("people", () => {
  it("lists everyone to admins, and refuses the list to anyone else as the core's not_admin", async () => {
    expect((await listPeople(core, slack("UBOOT0001"))).ok).toBe(true);
    expect(await listPeople(core, slack("U0PLAIN01"))).toEqual({ ok: false, refusal: { code: "not_admin", operation: "list people" } });
  });

  it("knows the two built-ins, and someone first seen in Slack by their Slack ID", async () => {
    const seen = await resolvePerson(core, { slackUserId: "U0NEW0001" });
    expect(seen).toEqual({ ok: true, value: { id: expect.any(Number), name: "U0NEW0001", slackUserId: "U0NEW0001", displayName: null } });
    const again = await resolvePerson(coreFor(database), { slackUserId: "U0NEW0001" });
    expect(again.ok && seen.ok && again.value.id).toBe(seen.ok && seen.value.id);
    const listed = await listPeople(core, operator);
    const names = listed.ok ? listed.value.map((p) => p.name) : [];
    expect(names).toEqual(expect.arrayContaining(["operator", "system", "U0NEW0001"]));
  });

  it("records one person when many first requests of theirs arrive at once", async () => {
    const cores = Array.from({ length: 12 }, () => coreFor(database));
    const results = await Promise.all(cores.map((c) => resolvePerson(c, { slackUserId: "U0RACE001" })));
    expect(new Set(results.map((r) => (r.ok ? r.value.id : -1))).size).toBe(1);
    const [row] = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from people where slack_user_id = 'U0RACE001'`);
    expect(row?.n).toBe(1);
  });

  it("adds people and services, gives a Slack person met before their name, and refuses what is taken", async () => {
    expect((await addPerson(core, slack("U0PLAIN01"), { name: "mallory", kind: "person", admin: true })).ok).toBe(false);
    const alice = await addPerson(core, operator, { name: "alice", slackUserId: "U0NEW0001", kind: "person", admin: false });
    expect(alice).toMatchObject({ ok: true, value: { name: "alice", slackUserId: "U0NEW0001", adopted: true } });
    // Still the same person, found by Slack ID, name, or display name.
    const cached = await resolvePerson(coreFor(database), { slackUserId: "U0NEW0001" });
    expect(cached.ok && alice.ok && cached.value.id).toBe(alice.ok && alice.value.id);
    await recordDisplayName(core, "U0NEW0001", "Alice Smith");
    for (const who of ["alice", "U0NEW0001", "alice smith", "ALICE"]) {
      expect(await resolvePerson(core, { lookup: who }), who).toMatchObject({ ok: true, value: { name: "alice", displayName: "Alice Smith" } });
    }
    const ci = await addPerson(core, operator, { name: "ci-nightly", kind: "service", admin: false });
    expect(ci).toMatchObject({ ok: true, value: { name: "ci-nightly", slackUserId: null, adopted: false } });
    expect(await addPerson(core, operator, { name: "ci-nightly", kind: "service", admin: false })).toEqual({ ok: false, refusal: { code: "person_exists", who: "ci-nightly" } });
    expect(await addPerson(core, operator, { name: "bob", slackUserId: "U0NEW0001", kind: "person", admin: false })).toEqual({
      ok: false,
      refusal: { code: "person_exists", who: "alice" },
    });
    expect((await addPerson(core, operator, { name: "U0SOMEONE", kind: "person", admin: false })).ok).toBe(false);
    expect((await addPerson(core, operator, { name: "bad name", kind: "person", admin: false })).ok).toBe(false);
    expect(await resolvePerson(core, { lookup: "nobody" })).toEqual({ ok: false, refusal: { code: "unknown_person", who: "nobody" } });
  });

  it("says which people a loose name could be", async () => {
    await addPerson(core, operator, { name: "sam-a", kind: "person", admin: false, displayName: "Sam" });
    await addPerson(core, operator, { name: "sam-b", kind: "person", admin: false, displayName: "Sam" });
    expect(await resolvePerson(core, { lookup: "sam" })).toEqual({ ok: false, refusal: { code: "ambiguous_person", who: "sam", matches: ["sam-a", "sam-b"] } });
  });

  it("keeps who is an admin in the database, applied at once; SLACK_ADMINS stays an admin", async () => {
    expect(await isAdmin(core, named("alice"))).toBe(false);
    expect((await drainVm(core, named("alice"), "nope")).ok && false).toBe(false);
    expect(await setAdmin(core, operator, "alice", true)).toMatchObject({ ok: true, value: { admin: true, changed: true } });
    expect(await isAdmin(core, slack("U0NEW0001"))).toBe(true);
    expect(await setAdmin(core, slack("U0NEW0001"), "alice", false)).toMatchObject({ ok: true, value: { admin: false, changed: true } });
    expect(await isAdmin(core, named("alice"))).toBe(false);
    // The bootstrap: listed in SLACK_ADMINS, admin without a row saying so, and recorded at start.
    expect(await isAdmin(core, slack("UBOOT0001"))).toBe(true);
    await applyAdminBootstrap(core, ["UBOOT0001"]);
    const listed = await listPeople(core, operator);
    expect(listed.ok && listed.value.find((p) => p.slackUserId === "UBOOT0001")?.isAdmin).toBe(true);
    expect(await setAdmin(core, operator, "UBOOT0001", false)).toMatchObject({ ok: false, refusal: { code: "invalid_input" } });
    expect(await setAdmin(core, operator, "system", true)).toMatchObject({ ok: false, refusal: { code: "invalid_input" } });
    expect(await setAdmin(core, named("alice"), "ci-nightly", true)).toEqual({ ok: false, refusal: { code: "not_admin", operation: "change who is an admin" } });
  });
});

describe("checkouts as records", () => {
  it("lends to a service known only by name, with a note, and lists it by person, VM and openness", async () => {
    await addVms("ci", 2);
    const lent = await checkout(core, named("ci-nightly"), { pool: "ci", note: "nightly build #42" });
    if (!lent.ok) throw new Error(lent.refusal.code);
    expect(lent.value).toMatchObject({ checkoutId: expect.any(Number), note: "nightly build #42", endsAt: expect.any(Date) });
    const [notice] = await database.db.execute<{ payload: { holder: unknown; note: string } }>(
      sql`select payload from outbox where kind = 'vm_checked_out' and (payload->>'checkoutId')::bigint = ${lent.value.checkoutId}`,
    );
    expect(notice?.payload).toMatchObject({ holder: { name: "ci-nightly", slackUserId: null }, note: "nightly build #42" });

    const mine = await listCheckouts(core, operator, { person: { lookup: "ci-nightly" }, open: true });
    expect(mine).toMatchObject({ ok: true, value: [{ id: lent.value.checkoutId, vm: lent.value.name, person: { name: "ci-nightly" }, endedAt: null, note: "nightly build #42" }] });
    expect((await checkin(core, named("ci-nightly"), lent.value.name)).ok).toBe(true);
    const ended = await listCheckouts(core, operator, { vm: lent.value.name });
    expect(ended).toMatchObject({ ok: true, value: [{ id: lent.value.checkoutId, endReason: "checked_in", endedBy: "ci-nightly", endedAt: expect.any(Date) }] });
    expect(await listCheckouts(core, operator, { vm: lent.value.name, open: true })).toEqual({ ok: true, value: [] });
    expect(await listCheckouts(core, operator, { vm: "no-such-vm" })).toEqual({ ok: false, refusal: { code: "unknown_vm", vm: "no-such-vm" } });
    expect(await listCheckouts(core, operator, { person: { lookup: "nobody" } })).toEqual({ ok: false, refusal: { code: "unknown_person", who: "nobody" } });
  });

  it("counts the quota per person, whatever adapter they come through", async () => {
    const first = await checkout(core, named("alice"), { pool: "ci" });
    expect(first.ok).toBe(true);
    const second = await checkout(core, slack("U0NEW0001"), { pool: "ci" });
    expect(second).toMatchObject({ ok: false, refusal: { code: "quota_reached", held: [first.ok ? first.value.name : ""] } });
    const held = await vmsOfPerson(core, { lookup: "Alice Smith" });
    expect(held.ok && held.value.map((v) => v.holder?.name)).toEqual(["alice"]);
  });

  it("refuses a note that is empty, too long or more than one line, and changes nothing", async () => {
    const before = await database.db.execute(sql`select count(*)::int as n from checkouts`);
    for (const note of ["", "   ", "x".repeat(501), "two\nlines"]) {
      expect(await checkout(core, named("ci-nightly"), { pool: "ci", note }), JSON.stringify(note)).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "note" } });
    }
    expect(await database.db.execute(sql`select count(*)::int as n from checkouts`)).toEqual(before);
  });
});

describe("who sees who holds what", () => {
  it("everyone, by default: listings, refusals and histories name the holder", async () => {
    const held = await vmsOfPerson(core, { lookup: "alice" });
    const vm = held.ok ? (held.value[0]?.name ?? "") : "";
    const seen = await findVm(core, slack("U0PLAIN01"), vm);
    expect(seen?.holder).toMatchObject({ name: "alice", displayName: "Alice Smith" });
    expect(await checkin(core, slack("U0PLAIN01"), vm)).toMatchObject({ ok: false, refusal: { code: "not_holder", holder: { name: "alice" } } });
    const history = await vmHistory(core, slack("U0PLAIN01"), vm);
    expect(history.ok && history.value[0]).toMatchObject({ kind: "checked_out", actor: "alice", person: { name: "alice" } });
  });

  it("with HIDE_HOLDERS, only admins and the holder", async () => {
    const hidden = coreFor(database, { hideHolders: true, bootstrapAdmins: new Set(["UBOOT0001"]) });
    const stranger = slack("U0PLAIN01");
    const held = await vmsOfPerson(core, { lookup: "alice" });
    const vm = held.ok ? (held.value[0]?.name ?? "") : "";
    expect((await findVm(hidden, stranger, vm))?.holder).toBeNull();
    expect((await allVms(hidden, stranger)).every((v) => v.holder === null)).toBe(true);
    expect(await checkin(hidden, stranger, vm)).toMatchObject({ ok: false, refusal: { code: "not_holder", holder: null } });
    expect(await vmHistory(hidden, stranger, vm)).toMatchObject({ ok: false, refusal: { code: "not_admin" } });
    const open = await listCheckouts(hidden, stranger, { open: true });
    expect(open.ok && open.value).toEqual([]);

    expect((await findVm(hidden, named("alice"), vm))?.holder).toMatchObject({ name: "alice" });
    expect((await findVm(hidden, slack("UBOOT0001"), vm))?.holder).toMatchObject({ name: "alice" });
    expect((await vmHistory(hidden, operator, vm)).ok).toBe(true);
  });
});
