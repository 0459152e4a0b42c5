import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkout } from "../../src/core/checkout.js";
import { ALICE, BOB } from "../helpers/slack-requests.js";
import { ADMIN, addVms, buttonsOf, dmsTo, outboxDrained, slash, startHarness, textOf, vmRow, waitForDm, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  await h.fake.waitFor("auth.test");
});
afterAll(async () => h.stop());
beforeEach(() => h.fake.reset());

const vm = (text: string, user: string = ALICE.id) => slash(h, text, user);

describe("/vm checkout", () => {
  it("answers where it was typed and sends the VM's IP, SSH line and lease end by DM with Check in and Extend buttons", async () => {
    await addVms(h.core, "alpha", 1);
    const reply = await vm("checkout alpha");

    expect(reply.body.response_type).toBe("ephemeral");
    expect(textOf(reply.body)).toContain("alpha-1");
    const [dm] = await waitForDm(h.fake, ALICE.id);
    const text = textOf(dm?.body ?? {});
    expect(text).toContain("ssh root@127.0.0.2 -p 22");
    expect(text).toContain("alpha");
    expect(text).toContain("Lease ends");
    expect(buttonsOf(dm?.body ?? {}).map((b) => b.action_id)).toEqual(["vm_checkin", "lease_extend"]);
    expect(await vmRow(h.core, "alpha-1")).toEqual({ state: "checked_out", holder: ALICE.id });
  });

  it("keeps a quoted note (phone quotes too) on the checkout, shows it in the DM, and lists it with /vm checkouts", async () => {
    await addVms(h.core, "notes", 2);
    await vm("checkout notes --note “team demo”", "U0NOTE001");
    const [dm] = await waitForDm(h.fake, "U0NOTE001");
    expect(textOf(dm?.body ?? {})).toContain("team demo");
    const [row] = await h.core.db.execute<{ note: string }>(sql`
      select c.note from checkouts c join people p on p.id = c.person_id where p.slack_user_id = 'U0NOTE001' and c.ended_at is null`);
    expect(row).toEqual({ note: "team demo" });

    const listed = await vm("checkouts --open", BOB.id);
    expect(textOf(listed.body)).toMatch(/\*notes-\d\* \(notes\) · <@U0NOTE001> · .*still out.*team demo/);
    expect(textOf((await vm("checkouts --vm no-such-vm", BOB.id)).body)).toContain("There is no VM *no-such-vm*");
  });

  it("refuses a note that would not fit, and checks nothing out", async () => {
    await addVms(h.core, "nonote", 1);
    const reply = await vm(`checkout nonote --note "${"x".repeat(501)}"`, "U0NOTE002");
    expect(textOf(reply.body)).toContain("keep it to 500");
    expect(await vmRow(h.core, "nonote-1")).toEqual({ state: "available", holder: null });
  });

  it("says no VM is free, with counts by state, a Notify me button and to try again later", async () => {
    await addVms(h.core, "bravo", 1);
    await checkout(h.core, { person: { slackUserId: BOB.id }, source: "cli" }, { pool: "bravo" });
    const reply = await vm("checkout bravo");

    expect(textOf(reply.body)).toMatch(/No VM is free in pool \*bravo\*.*1 checked out.*Notify me.*try again later/s);
    expect(await vmRow(h.core, "bravo-1")).toMatchObject({ holder: BOB.id });
  });

  it("names the VM already held over the quota, with a Check in button for it", async () => {
    await addVms(h.core, "charlie", 2);
    await vm("checkout charlie", "U0CAROL01");
    const reply = await vm("checkout charlie", "U0CAROL01");

    expect(textOf(reply.body)).toContain("You already hold *charlie-1*");
    expect(buttonsOf(reply.body)).toEqual([{ action_id: "vm_checkin", value: expect.stringContaining('"vm":"charlie-1"') }]);
  });

  it("lists the pools when the pool named does not exist", async () => {
    await addVms(h.core, "zulu", 1);
    const reply = await vm("checkout nosuchpool");
    expect(textOf(reply.body)).toMatch(/There is no pool \*nosuchpool\*\. Pools: .*`zulu`/);
  });
});

describe("/vm checkin", () => {
  it("checks in the one VM held when no name is given", async () => {
    await addVms(h.core, "delta", 1);
    await vm("checkout delta", "U0DAVE001");
    const reply = await vm("checkin", "U0DAVE001");

    expect(textOf(reply.body)).toContain("*delta-1* is checked in");
    expect(await vmRow(h.core, "delta-1")).toEqual({ state: "cleaning", holder: null });
  });

  it("offers a button per VM when several are held and none is named", async () => {
    await addVms(h.core, "echo", 1);
    await addVms(h.core, "foxtrot", 1);
    await vm("checkout echo", "U0ERIN001");
    await vm("checkout foxtrot", "U0ERIN001");
    const reply = await vm("checkin", "U0ERIN001");

    expect(textOf(reply.body)).toContain("Which one");
    expect(buttonsOf(reply.body).map((b) => JSON.parse(b.value).vm)).toEqual(["echo-1", "foxtrot-1"]);
    expect(await vmRow(h.core, "echo-1")).toMatchObject({ state: "checked_out" });
  });

  it("refuses someone else's VM and leaves it with its holder", async () => {
    await addVms(h.core, "golf", 1);
    await vm("checkout golf", ALICE.id);
    const reply = await vm("checkin golf-1", BOB.id);

    expect(textOf(reply.body)).toContain("golf-1* is held by <@U0ALICE01>, not you. Ask them to check it in");
    expect(await vmRow(h.core, "golf-1")).toEqual({ state: "checked_out", holder: ALICE.id });
  });
});

describe("/vm list, status and help", () => {
  it("lists the caller's VMs with their SSH lines", async () => {
    await addVms(h.core, "india", 1);
    await vm("checkout india", "U0IVAN001");
    const reply = await vm("list", "U0IVAN001");
    expect(textOf(reply.body)).toContain("*india-1* · pool india");
    expect(textOf(reply.body)).toContain("ssh root@127.0.0.2 -p 22");
    expect(buttonsOf(reply.body).map((b) => b.action_id)).toEqual(["vm_checkin"]);
  });

  it("shows every pool by state", async () => {
    await addVms(h.core, "juliet", 2);
    await vm("checkout juliet", "U0JUDY001");
    const reply = await vm("status");
    expect(textOf(reply.body)).toContain("*juliet* — 1 available · 1 checked out");
  });

  it("shows admin commands only to admins", async () => {
    expect(textOf((await vm("help", BOB.id)).body)).not.toContain("force-checkin");
    expect(textOf((await vm("help", ADMIN.id)).body)).toContain("force-checkin");
  });
});

describe("input that is not a command", () => {
  it("answers a typo with usage help that says what was wrong and suggests the command", async () => {
    const reply = await vm("chekout");
    expect(textOf(reply.body)).toContain("`chekout` is not a /vm command. Did you mean `/vm checkout`?");
    expect(textOf(reply.body)).toContain("/vm checkin [VM]");
  });

  it("answers malformed names with what a name may contain, and changes nothing", async () => {
    const before = await h.core.db.execute(sql`select count(*)::int as n from events`);
    for (const text of ["checkout 'drop table vms;--", "checkin Vm_1", "checkout ../../etc", "checkin \u0000x"]) {
      const reply = await vm(text);
      expect(textOf(reply.body)).toMatch(/is not a (pool|VM) name|not a \/vm command|takes one|quote in .* is never closed/);
    }
    const after = await h.core.db.execute(sql`select count(*)::int as n from events`);
    expect(after).toEqual(before);
  });

  it("answers oversized text without parsing it", async () => {
    const reply = await vm(`checkout ${"x".repeat(10_000)}`);
    expect(textOf(reply.body)).toContain("10,009 characters");
    await outboxDrained(h.core);
    expect(dmsTo(h.fake, ALICE.id)).toEqual([]);
  });

  it("refuses an admin command from a non-admin and changes nothing", async () => {
    await addVms(h.core, "hotel", 2);
    await vm("checkout hotel", "U0HELEN01");
    const reply = await vm("admin drain hotel-2", BOB.id);
    expect(textOf(reply.body)).toContain("Only vmres admins can drain a VM");
    expect(textOf(reply.body)).toContain(`<@${ADMIN.id}>`);
    expect(await vmRow(h.core, "hotel-2")).toEqual({ state: "available", holder: null });
    const forced = await vm("admin force-checkin hotel-1", BOB.id);
    expect(textOf(forced.body)).toContain("Only vmres admins can force check-in");
    expect(await vmRow(h.core, "hotel-1")).toEqual({ state: "checked_out", holder: "U0HELEN01" });
  });

  it("lets an admin add a VM with the CLI's options", async () => {
    const reply = await vm("admin add kilo-1 127.0.0.9 --pool kilo --ssh-user ubuntu --ssh-port 2222", ADMIN.id);
    expect(textOf(reply.body)).toContain("Added *kilo-1* (`127.0.0.9`) to pool *kilo*");
    await vm("checkout kilo", "U0KIRA001");
    const [dm] = await waitForDm(h.fake, "U0KIRA001");
    expect(textOf(dm?.body ?? {})).toContain("ssh ubuntu@127.0.0.9 -p 2222");
  });
});

describe("/vm in the CLI's words, and in Slack's older ones", () => {
  const tagsOf = async (name: string) =>
    (await h.core.db.execute<{ tags: string[] }>(sql`select tags from vms where name = ${name}`))[0]?.tags;

  it("lets an admin add a VM with repeated --tag, quoted values and --flag=value, as vmres pool add takes them", async () => {
    const reply = await vm('pool add lima-1 127.0.0.10 --pool=lima --tag a100 --tag \u201cbig\u201d', ADMIN.id);
    expect(textOf(reply.body)).toContain("Added *lima-1* (`127.0.0.10`) to pool *lima*");
    expect(await tagsOf("lima-1")).toEqual(["a100", "big"]);
  });

  it("still takes the old /vm admin add … --tags a,b", async () => {
    await vm("admin add lima-2 127.0.0.11 --pool lima --tags ssd,fast", ADMIN.id);
    expect(await tagsOf("lima-2")).toEqual(["ssd", "fast"]);
  });

  it("lets an admin take a VM back with /vm checkin VM --force, and show its history with /vm history VM", async () => {
    await addVms(h.core, "mike", 1);
    await vm("checkout mike", "U0MIKE001");
    const forced = await vm("checkin mike-1 --force", ADMIN.id);
    expect(textOf(forced.body)).toContain("*mike-1*");
    expect(await vmRow(h.core, "mike-1")).toEqual({ state: "cleaning", holder: null });
    const history = await vm("history mike-1", ADMIN.id);
    expect(textOf(history.body)).toContain("History of mike-1");
    expect(textOf(history.body)).toMatch(/checked out/);
  });

  it("refuses --force from someone who is not an admin and changes nothing; history is everyone's (HIDE_HOLDERS off)", async () => {
    await addVms(h.core, "oscar", 1);
    await vm("checkout oscar", "U0OSCAR01");
    expect(textOf((await vm("checkin oscar-1 --force", BOB.id)).body)).toContain("Only vmres admins can force check-in");
    expect(textOf((await vm("history oscar-1", BOB.id)).body)).toContain("*checked out* by <@U0OSCAR01>");
    expect(await vmRow(h.core, "oscar-1")).toEqual({ state: "checked_out", holder: "U0OSCAR01" });
  });

  it("answers an unknown flag by naming the flags the command takes, and adds nothing", async () => {
    const reply = await vm("pool add november-1 127.0.0.12 --colour red", ADMIN.id);
    expect(textOf(reply.body)).toContain("`--colour` is not an option of `/vm pool add`; it takes `--pool`, `--ssh-user`, `--ssh-port`, `--host-key`, `--tag`, `--lease`, `--max-lease`.");
    expect(textOf(reply.body)).toContain("/vm pool add NAME IP");
    expect(await vmRow(h.core, "november-1")).toBeUndefined();
  });

  it("answers a quote never closed with usage, and checks nothing out", async () => {
    await addVms(h.core, "papa", 1);
    const reply = await vm('checkout "papa');
    expect(textOf(reply.body)).toContain("is never closed");
    expect(await vmRow(h.core, "papa-1")).toEqual({ state: "available", holder: null });
  });
});
