import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { drainVm, repairVm, removeVm } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { syncInventory } from "../../src/core/sync.js";
import type { Core } from "../../src/core/types.js";
import { parseInventory } from "../../src/inventory/file.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

const operator = { userId: null, source: "cli" } as const;
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
  const held = await checkout(core, { userId: "UHOLDER1", source: "slack" });
  expect(held.ok && held.value.name).toBe("vm-a");
  const r = await syncInventory(core, operator, inventory("      - {name: vm-a, ip: 198.51.100.2}\n"));
  expect(r.ok && r.value.pending).toEqual(["vm-a"]);
  expect((await core.db.execute(sql`select host(ip) as ip from vms where name = 'vm-a'`))[0]).toEqual({ ip: "198.51.100.1" });
  await checkin(core, { userId: "UHOLDER1", source: "slack" }, "vm-a");
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
  await checkout(core, { userId: "UHOLDER1", source: "slack" });
  expect(await drainVm(core, operator, "vm-a")).toEqual({
    ok: false,
    refusal: { code: "wrong_state", vm: "vm-a", state: "checked_out", allowed: ["available", "quarantined"] },
  });
  expect(await drainVm(core, { userId: "UNOBODY1", source: "slack" }, "vm-a")).toEqual({
    ok: false,
    refusal: { code: "not_admin", operation: "drain a VM" },
  });
});
