import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { ALICE, BOB } from "../helpers/slack-requests.js";
import { ADMIN, addVms, slash, startHarness, textOf, vmRow, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  await h.fake.waitFor("auth.test");
});
afterAll(async () => h.stop());
beforeEach(() => h.fake.reset());

const vm = (text: string, user: string = ALICE.id) => slash(h, text, user);
const lastEvent = async (name: string) =>
  (await h.core.db.execute<{ kind: string; actor: string; source: string; detail: { reason?: string } }>(sql`select kind, actor, source, detail from events where vm_name = ${name} order by id desc limit 1`))[0];

/** Checks the pool's one VM out to Bob and back in, leaving it in cleaning (no worker cleans it in this harness's time). */
async function leaveInCleaning(pool: string): Promise<string> {
  const [name] = await addVms(h.core, pool, 1);
  const taken = await checkout(h.core, { person: { slackUserId: BOB.id }, source: "slack" }, { pool });
  if (!taken.ok) throw new Error(JSON.stringify(taken.refusal));
  await checkin(h.core, { person: { slackUserId: BOB.id }, source: "slack" }, name!);
  // The harness's cleanup worker may try the VM: keep it in cleaning, as a blocked cleanup would.
  await h.core.db.execute(sql`update vms set state = 'cleaning', claimed_by = null, claimed_at = null, cleanup_next_at = now() + interval '1 day' where name = ${name!} and state <> 'checked_out'`);
  return name!;
}

describe("/vm cleanup done", () => {
  it("lets an admin end a stuck cleanup with the reason in words, on record", async () => {
    const name = await leaveInCleaning("sierra");
    const reply = await vm(`cleanup done ${name} the key is gone, wiped /tmp by hand`, ADMIN.id);
    expect(textOf(reply.body)).toContain(`Ended *${name}*'s cleanup by hand; it is available again. On record: _the key is gone, wiped /tmp by hand_.`);
    expect(await vmRow(h.core, name)).toEqual({ state: "available", holder: null });
    expect(await lastEvent(name)).toMatchObject({ kind: "cleanup_done_by_hand", source: "slack", detail: { reason: "the key is gone, wiped /tmp by hand" } });
  });

  it("refuses someone who is not an admin and changes nothing", async () => {
    const name = await leaveInCleaning("tango");
    const reply = await vm(`cleanup done ${name} I need it`);
    expect(textOf(reply.body)).toContain("Only vmres admins can end a cleanup by hand");
    expect((await vmRow(h.core, name))?.state).toBe("cleaning");
  });

  it("asks for a reason, and refuses a VM that is not being cleaned, saying its state", async () => {
    const [idle] = await addVms(h.core, "uniform", 1);
    expect(textOf((await vm(`cleanup done ${idle}`, ADMIN.id)).body)).toContain(`Say why, it is kept on record: \`/vm cleanup done ${idle} wiped /tmp by hand\``);
    const reply = await vm(`cleanup done ${idle} nothing to do`, ADMIN.id);
    expect(textOf(reply.body)).toContain(`*${idle}* is available; that works only for a VM that is being cleaned. Nothing changed.`);
  });
});

describe("/vm pool set --cleanup and /vm checkout", () => {
  it("sets a pool to no cleanup, and a check-in then returns the VM at once", async () => {
    const [name] = await addVms(h.core, "victor", 1);
    expect(textOf((await vm("pool set victor --cleanup none", ADMIN.id)).body)).toContain("no cleanup (a checked-in VM is available again at once, nothing wiped)");
    expect(textOf((await vm("pool set victor --cleanup never", ADMIN.id)).body)).toContain('"never" is not a cleanup: use none');
    await vm("checkout victor");
    const back = await vm(`checkin ${name}`);
    expect(textOf(back.body)).toContain("It is back in the pool at once: pool *victor* has no cleanup, so nothing was wiped.");
    expect(await vmRow(h.core, name!)).toEqual({ state: "available", holder: null });
    expect(textOf((await vm("status")).body)).toContain("*victor* — ");
    expect(textOf((await vm("status")).body)).toMatch(/\*victor\* — [^\n]*no cleanup/);
  });

  it("warns at checkout and booking while the pool's cleanup is blocked", async () => {
    await addVms(h.core, "whiskey", 2);
    await h.core.db.execute(sql`update pools set cleanup_blocked = 'cleanup blocked: cannot read SSH private key file /k: ENOENT' where name = 'whiskey'`);
    const reply = await vm("checkout whiskey");
    expect(textOf(reply.body)).toContain("Cleanup is blocked in pool *whiskey* (vmres cannot use its SSH key): VMs checked in there stay in cleaning until an admin runs `/vm cleanup done VM reason`");
    const day = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const booked = await vm(`reserve 1 whiskey from "${day} 09:00" to "${day} 10:00" label w-1`, BOB.id);
    expect(textOf(booked.body)).toMatch(/Booked \*w-1\*.*Cleanup is blocked in pool \*whiskey\*/s);
  });
});
