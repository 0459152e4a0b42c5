import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm, drainVm, repairVm } from "../../src/core/admin.js";
import { checkout } from "../../src/core/checkout.js";
import type { Core } from "../../src/core/types.js";
import { waitForCheckout, type WaitOptions } from "../../src/core/wait-for-checkout.js";
import { joinQueue } from "../../src/core/waitlist.js";
import { addPoolVms, coreFor, freshDatabase, TestClock } from "../helpers/db.js";

/**
 * The rules of waiting for a VM (`checkout --wait` in the CLI, `wait` in the API), called in the
 * process: the wait is woken by the database's NOTIFY, so each test waits on the outcome itself;
 * only a timeout that must pass is a short one. The CLI keeps its own contract (messages, exit
 * codes, Ctrl-C) in test/cli/leases.test.ts.
 */
const H = 3_600_000;
const operator = { person: "operator", source: "cli" } as const;
const as = (id: string) => ({ person: { slackUserId: id }, source: "cli" }) as const;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database, { clock: new TestClock().now });
});
afterAll(async () => database.close());

/** A pool whose one VM is checked out by someone else, so a wait has to wait. */
async function busyPool(pool: string): Promise<string> {
  const [vm] = await addPoolVms(core, pool, 1);
  expect((await checkout(core, as("UBUSY001"), { pool })).ok).toBe(true);
  return vm!;
}

/** Starts a wait and resolves `joined` once its place is in the queue (nothing to poll for). */
function startWait(who: string, pool: string, opts: Partial<WaitOptions> & { forMs?: number } = {}) {
  let joinedNow: () => void = () => {};
  const joined = new Promise<void>((resolve) => (joinedNow = resolve));
  const outcome = waitForCheckout(core, as(who), { pool, forMs: opts.forMs }, { timeoutMs: 30_000, ...opts, onJoined: () => joinedNow() });
  // A refusal resolves `outcome` without a join: let the test see it rather than hang on `joined`.
  void outcome.then(() => joinedNow(), () => joinedNow());
  return { joined, outcome };
}

async function waiterStates(pool: string): Promise<{ name: string; state: string }[]> {
  return database.sql<{ name: string; state: string }[]>`
    select p.name, w.state from waiters w join people p on p.id = w.person_id where w.pool = ${pool} order by w.id`;
}

async function holderOf(vm: string): Promise<string | undefined> {
  const [row] = await database.sql<{ name: string }[]>`select p.name from vms v join checkouts c on c.id = v.checkout_id join people p on p.id = c.person_id where v.name = ${vm}`;
  return row?.name;
}

describe("waiting for a VM", () => {
  it("ends on the timeout with no VM, and leaves the queue it joined", async () => {
    await busyPool("wt-timeout");
    const r = await waitForCheckout(core, as("UHANK001"), { pool: "wt-timeout" }, { timeoutMs: 100 });
    expect(r).toMatchObject({ ok: true, value: { end: { kind: "timeout" }, inQueue: false, place: { position: 1, already: false } } });
    expect(await waiterStates("wt-timeout")).toEqual([{ name: "UHANK001", state: "left" }]);
    expect(await database.sql`select 1 from waits`).toHaveLength(0);
  });

  it("ends when its signal aborts (Ctrl-C), and leaves the queue", async () => {
    await busyPool("wt-stop");
    const stop = new AbortController();
    const wait = startWait("UHANK002", "wt-stop", { signal: stop.signal });
    await wait.joined;
    stop.abort();
    expect(await wait.outcome).toMatchObject({ ok: true, value: { end: { kind: "stopped" }, inQueue: false } });
    expect(await waiterStates("wt-stop")).toEqual([{ name: "UHANK002", state: "left" }]);
  });

  it("gets a VM an admin adds to the pool while it waits, with the lease it asked for", async () => {
    await busyPool("wt-add");
    const wait = startWait("UIVAN001", "wt-add", { forMs: 2 * H });
    await wait.joined;
    expect((await addVm(core, operator, { name: "wt-add-new", ip: "198.51.100.200", pool: "wt-add", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] })).ok).toBe(true);
    const r = await wait.outcome;
    if (!r.ok || r.value.end.kind !== "granted") throw new Error(`no VM: ${JSON.stringify(r)}`);
    expect(r.value.end.vm).toMatchObject({ name: "wt-add-new", pool: "wt-add" });
    expect(r.value.end.vm.endsAt!.getTime() - r.value.end.vm.startedAt.getTime()).toBe(2 * H);
    expect(await holderOf("wt-add-new")).toBe("UIVAN001");
    expect(await waiterStates("wt-add")).toEqual([{ name: "UIVAN001", state: "taken" }]);
  });

  it("gets a VM an admin returns to service (repair) while it waits", async () => {
    const [vm] = await addPoolVms(core, "wt-repair", 1);
    expect((await drainVm(core, operator, vm!)).ok).toBe(true);
    const wait = startWait("UJUDY001", "wt-repair");
    await wait.joined;
    expect((await repairVm(core, operator, vm!)).ok).toBe(true);
    expect(await wait.outcome).toMatchObject({ ok: true, value: { end: { kind: "granted", vm: { name: vm, pool: "wt-repair" } } } });
    expect(await holderOf(vm!)).toBe("UJUDY001");
  });

  it("keeps a place taken before (vmres wait, Slack) on timeout, then takes the VM offered to it", async () => {
    await busyPool("wt-place");
    expect(await joinQueue(core, as("UOLGA001"), { pool: "wt-place" })).toMatchObject({ ok: true, value: { position: 1 } });
    const timedOut = await waitForCheckout(core, as("UOLGA001"), { pool: "wt-place" }, { timeoutMs: 100 });
    expect(timedOut).toMatchObject({ ok: true, value: { end: { kind: "timeout" }, inQueue: true, place: { already: true, position: 1 } } });
    expect(await waiterStates("wt-place")).toEqual([{ name: "UOLGA001", state: "waiting" }]);
    // The place is not an auto-take one: the VM is offered (held for them), and the waiting request takes it.
    const wait = startWait("UOLGA001", "wt-place");
    await wait.joined;
    expect((await addVm(core, operator, { name: "wt-place-new", ip: "198.51.100.201", pool: "wt-place", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] })).ok).toBe(true);
    expect(await wait.outcome).toMatchObject({ ok: true, value: { end: { kind: "granted", vm: { name: "wt-place-new" } } } });
    expect(await holderOf("wt-place-new")).toBe("UOLGA001");
  });

  it("gives several waiting at once distinct VMs, in queue order", async () => {
    await busyPool("wt-many");
    const people = ["ULEO0001", "UMIA0001", "UNED0001"];
    const waits = [];
    for (const who of people) {
      const wait = startWait(who, "wt-many");
      await wait.joined;
      waits.push(wait);
    }
    expect((await waiterStates("wt-many")).map((w) => w.name)).toEqual(people);
    // Three VMs at once: whichever wait wakes first grants them in queue order.
    const added = await addPoolVms(core, "wt-many", 3);
    const results = await Promise.all(waits.map((w) => w.outcome));
    const names = results.map((r) => (r.ok && r.value.end.kind === "granted" ? r.value.end.vm.name : "none"));
    expect(new Set(names)).toEqual(new Set(added));
    const granted = await database.sql<{ name: string }[]>`
      select p.name from waiters w join people p on p.id = w.person_id where w.pool = 'wt-many' and w.state = 'taken' order by w.checkout_id`;
    expect(granted.map((g) => g.name)).toEqual(people);
    for (const [i, who] of people.entries()) expect(await holderOf(names[i]!)).toBe(who);
  });

  it("refuses a person's waits beyond the cap (too_many_waits), joining nothing; once one ends, another may wait", async () => {
    await busyPool("wt-cap");
    const capped = coreFor(database, { clock: new TestClock().now, waitsPerPerson: 2 });
    const stop = new AbortController();
    const waits = [1, 2].map(() => {
      let joined: () => void = () => {};
      const ready = new Promise<void>((resolve) => (joined = resolve));
      const outcome = waitForCheckout(capped, as("UERIN001"), { pool: "wt-cap" }, { timeoutMs: 30_000, signal: stop.signal, onJoined: () => joined() });
      return { ready, outcome };
    });
    for (const w of waits) await w.ready;
    const third = await waitForCheckout(capped, as("UERIN001"), { pool: "wt-cap" }, { timeoutMs: 100 });
    expect(third).toMatchObject({ ok: false, refusal: { code: "too_many_waits", person: "UERIN001", limit: 2 } });
    expect(await database.sql`select 1 from waits where pool = 'wt-cap'`).toHaveLength(2);
    expect(await waiterStates("wt-cap")).toEqual([{ name: "UERIN001", state: "waiting" }]);
    stop.abort();
    for (const w of waits) expect(await w.outcome).toMatchObject({ ok: true, value: { end: { kind: "stopped" } } });
    expect(await waitForCheckout(capped, as("UERIN001"), { pool: "wt-cap" }, { timeoutMs: 100 })).toMatchObject({ ok: true, value: { end: { kind: "timeout" } } });
  });

  it("refuses an unknown pool and leaves no waiting request behind", async () => {
    expect(await waitForCheckout(core, as("UNOPE001"), { pool: "wt-nope" }, { timeoutMs: 100 })).toMatchObject({ ok: false, refusal: { code: "unknown_pool" } });
    expect(await database.sql`select 1 from waits`).toHaveLength(0);
  });
});
