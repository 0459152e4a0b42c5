import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drainVm, repairVm, removeVm } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { syncInventory } from "../../src/core/sync.js";
import type { Core } from "../../src/core/types.js";
import { connect } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { parseInventory } from "../../src/inventory/file.js";
import { coreFor, freshDatabase, testLog, userId } from "../helpers/db.js";

const operator = { person: "operator", source: "cli" } as const;
const KEY = "SHA256:" + "A".repeat(43);
let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;

const inventory = (vms: string) => parseInventory(`pools:\n  default:\n    vms:\n${vms}`, "vms.yml", 1);
const stateOf = async (name: string) =>
  (await core.db.execute<{ state: string; key: string | null }>(sql`select state, host_key_fingerprint as key from vms where name = ${name}`))[0];

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database);
});
afterAll(async () => database.close());

it("keeps a host key recorded by trust-on-first-use when the file names none", async () => {
  expect((await syncInventory(core, operator, inventory("      - {name: vm-a, ip: 198.51.100.1}\n"))).ok).toBe(true);
  await core.db.execute(sql`update vms set host_key_fingerprint = ${KEY} where name = 'vm-a'`);
  const again = await syncInventory(core, operator, inventory("      - {name: vm-a, ip: 198.51.100.1}\n"));
  expect(again.ok && again.value.unchanged).toBe(1);
  expect(await stateOf("vm-a")).toEqual({ state: "available", key: KEY });
});

it("holds back changes to a checked-out VM until it is checked in", async () => {
  const held = await checkout(core, { person: { slackUserId: "UHOLDER1" }, source: "slack" });
  expect(held.ok && held.value.name).toBe("vm-a");
  const r = await syncInventory(core, operator, inventory("      - {name: vm-a, ip: 198.51.100.2}\n"));
  expect(r.ok && r.value.pending).toEqual(["vm-a"]);
  expect((await core.db.execute(sql`select host(ip) as ip from vms where name = 'vm-a'`))[0]).toEqual({ ip: "198.51.100.1" });
  await checkin(core, { person: { slackUserId: "UHOLDER1" }, source: "slack" }, "vm-a");
  expect((await core.db.execute(sql`select host(ip) as ip, state from vms where name = 'vm-a'`))[0]).toEqual({ ip: "198.51.100.2", state: "cleaning" });
});

it("retires a VM removed while being cleaned instead of repairing it back into the pool", async () => {
  const removed = await removeVm(core, operator, "vm-a");
  expect(removed).toEqual({ ok: true, value: { vm: "vm-a", retired: "after_cleanup" } });
  await core.db.execute(sql`update vms set state = 'quarantined', cleanup_next_at = null where name = 'vm-a'`);
  const repaired = await repairVm(core, operator, "vm-a");
  expect(repaired.ok && repaired.value.to).toBe("retired");
  expect((await stateOf("vm-a"))?.state).toBe("retired");
});

it("brings a retired VM back when the file lists it again, and refuses to drain a held one", async () => {
  const r = await syncInventory(core, operator, inventory("      - {name: vm-a, ip: 198.51.100.2}\n"));
  expect(r.ok && r.value.restored).toEqual(["vm-a"]);
  await checkout(core, { person: { slackUserId: "UHOLDER1" }, source: "slack" });
  expect(await drainVm(core, operator, "vm-a")).toEqual({
    ok: false,
    refusal: { code: "wrong_state", vm: "vm-a", state: "checked_out", allowed: ["available", "held", "quarantined"] },
  });
  expect(await drainVm(core, { person: { slackUserId: "UNOBODY1" }, source: "slack" }, "vm-a")).toEqual({
    ok: false,
    refusal: { code: "not_admin", operation: "drain a VM" },
  });
});

/**
 * Inventory sync at the scale it hurt (thousands of VMs), run beside checkouts and check-ins.
 * To catch the sync mid-transaction without a timing race, another session inserts a VM
 * without committing: the sync, listing that VM too, waits on it when it adds it, and the
 * test acts while it waits.
 */
describe("inventory sync beside checkouts and check-ins", () => {
  const COUNT = 3000;
  let big: Awaited<ReturnType<typeof freshDatabase>>;
  let bigCore: Core;
  /** A second pool of connections whose lock_timeout is short, as in production with LOCK_TIMEOUT_MS. */
  let impatient: ReturnType<typeof connect>;
  let impatientCore: Core;
  /** The file's VMs (name → IP), in order. */
  const listed = new Map<string, string>();

  const vmName = (n: number) => `vm-${String(n).padStart(4, "0")}`;
  const file = () =>
    parseInventory(
      `pools:\n  big:\n    quota: 1000\n    vms:\n${[...listed].map(([name, ip]) => `      - {name: ${name}, ip: ${ip}}\n`).join("")}`,
      "vms.yml",
      1,
    );
  /** Every row's version: equal before and after means nothing was written. */
  const versions = async () =>
    (await big.db.execute<{ vms: string; pools: string; events: number }>(sql`
      select (select string_agg(xmin::text, ',' order by id) from vms) as vms,
             (select string_agg(xmin::text, ',' order by name) from pools) as pools,
             (select count(*)::int from events) as events`))[0];

  /** Opens a transaction in another session that inserts `name` and keeps it uncommitted; the sync will wait on it. */
  async function holdBackInsert(name: string) {
    const session = await big.sql.reserve();
    await session`begin`;
    await session`insert into vms (name, ip, pool) values (${name}, '198.51.100.1', 'big')`;
    return async () => {
      await session`rollback`;
      session.release();
    };
  }
  /** Resolves once the sync is waiting on the uncommitted insert, that is, mid-transaction. */
  async function syncWaiting(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const [row] = await big.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query like '%insert into vms%'`;
      if (row!.n > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("the sync never reached its insert");
  }

  beforeAll(async () => {
    big = await freshDatabase();
    bigCore = coreFor(big);
    impatient = connect(big.url, { lockTimeoutMs: 300, poolSize: 4, log: testLog });
    impatientCore = coreFor({ db: drizzle(impatient, { schema }) });
    for (let n = 1; n <= COUNT; n++) listed.set(vmName(n), `10.0.${Math.floor(n / 256)}.${n % 256}`);
    // Seeded in one statement (a first sync would add them one by one); the file matches it exactly.
    await big.db.execute(sql`insert into pools (name, quota) values ('big', 1000)`);
    await big.db.execute(sql`
      insert into vms (name, ip, pool)
      select 'vm-' || lpad(n::text, 4, '0'), ('10.0.' || n / 256 || '.' || n % 256)::inet, 'big' from generate_series(1, ${COUNT}) n`);
  });
  afterAll(async () => {
    await impatient.end();
    await big.close();
  });

  it("a sync of an unchanged file locks nothing and writes nothing, even while a VM and its pool are locked elsewhere", async () => {
    const before = await versions();
    const other = await big.sql.reserve();
    try {
      await other`begin`;
      await other`select 1 from vms where name = ${vmName(7)} for update`;
      await other`select 1 from pools where name = 'big' for update`;
      const r = await syncInventory(impatientCore, operator, file());
      expect(r).toEqual({ ok: true, value: { added: [], updated: [], pending: [], restored: [], retired: [], unchanged: COUNT } });
    } finally {
      await other`rollback`;
      other.release();
    }
    expect(await versions()).toEqual(before);
  });

  it("while a sync runs, checkouts get VMs, no pool-exhausted alert goes out, and a check-in does not time out", async () => {
    const earlier = await checkout(bigCore, { person: { slackUserId: userId(1) }, source: "slack" }, { pool: "big" });
    if (!earlier.ok) throw new Error("setup: a checkout before the sync");
    listed.set("vm-new", "198.51.100.10");
    const release = await holdBackInsert("vm-new");
    const sync = syncInventory(bigCore, operator, file());
    try {
      await syncWaiting();
      const takes = await Promise.all(
        Array.from({ length: 40 }, (_, i) => checkout(bigCore, { person: { slackUserId: userId(100 + i) }, source: "slack" }, { pool: "big" })),
      );
      expect(takes.filter((t) => !t.ok)).toEqual([]);
      const back = await checkin(impatientCore, { person: { slackUserId: userId(1) }, source: "slack" }, earlier.value.name);
      expect(back.ok).toBe(true);
    } finally {
      await release();
    }
    const r = await sync;
    expect(r.ok && r.value).toMatchObject({ added: ["vm-new"], updated: [], pending: [], retired: [], unchanged: COUNT });
    const [alerts] = await big.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox where kind = 'pool_exhausted'`);
    expect(alerts).toEqual({ n: 0 });
  });

  it("holds back the change of a VM checked out after the sync read it, and the same file again writes nothing", async () => {
    // The VM the next checkout will get, changed in the file.
    const [next] = await big.db.execute<{ name: string }>(sql`
      select name from vms where state = 'available' and pool = 'big' order by state_changed_at, id limit 1`);
    const target = next!.name;
    const original = listed.get(target);
    listed.set(target, "203.0.113.77");
    listed.set("vm-new2", "198.51.100.11");
    const release = await holdBackInsert("vm-new2");
    const sync = syncInventory(bigCore, operator, file());
    try {
      await syncWaiting();
      const taken = await checkout(bigCore, { person: { slackUserId: userId(500) }, source: "slack" }, { pool: "big" });
      expect(taken.ok && taken.value.name).toBe(target);
    } finally {
      await release();
    }
    const r = await sync;
    expect(r.ok && r.value).toMatchObject({ added: ["vm-new2"], updated: [], pending: [target] });
    const [row] = await big.db.execute(sql`select host(ip) as ip, state, pending_update from vms where name = ${target}`);
    expect(row).toEqual({ ip: original, state: "checked_out", pending_update: { ip: "203.0.113.77" } });

    const before = await versions();
    const again = await syncInventory(bigCore, operator, file());
    expect(again.ok && again.value).toEqual({ added: [], updated: [], pending: [], restored: [], retired: [], unchanged: COUNT + 2 });
    expect(await versions()).toEqual(before);

    // The file goes back to the old address: nothing is left to apply at check-in.
    listed.set(target, original!);
    const reverted = await syncInventory(bigCore, operator, file());
    expect(reverted.ok && reverted.value).toMatchObject({ pending: [], unchanged: COUNT + 2 });
    const [after] = await big.db.execute(sql`select host(ip) as ip, pending_update from vms where name = ${target}`);
    expect(after).toEqual({ ip: original, pending_update: null });
  });

  it("an IPv6 address written another way is no change", async () => {
    listed.set(vmName(COUNT), "2001:DB8:0:0::1");
    const first = await syncInventory(bigCore, operator, file());
    expect(first.ok && first.value.updated).toEqual([vmName(COUNT)]);
    const before = await versions();
    listed.set(vmName(COUNT), "2001:db8::0:1");
    const again = await syncInventory(bigCore, operator, file());
    expect(again.ok && again.value.updated).toEqual([]);
    expect(await versions()).toEqual(before);
  });
});
