/**
 * Slack names learned with users.info and kept in `people`: after a request
 * is answered, and by the periodic sweep. The service runs whole, over signed
 * HTTP, against the fake Slack and a real PostgreSQL.
 */
import { sql } from "drizzle-orm";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { resolvePerson } from "../../src/core/people.js";
import type { Core } from "../../src/core/types.js";
import { RESPONSE_URL } from "../helpers/fake-slack.js";
import { ALICE, BOB } from "../helpers/slack-requests.js";
import { ADMIN, addVms, eventually, slash, startHarness, textOf, type Harness } from "./harness.js";

const CAROL = "U0CAROL01";
const DAVE = "U0DAVE001";
const ERIN = "U0ERIN001";
const FRANK = "U0FRANK01";
const GINA = "U0GINA001";

type Profile = { display_name: string | null; fetched: boolean };

async function profileOf(core: Core, slackUserId: string): Promise<Profile | undefined> {
  const [row] = await core.db.execute<Profile>(sql`select display_name, profile_fetched_at is not null as fetched from people where slack_user_id = ${slackUserId}`);
  return row;
}

const named = (core: Core, id: string, name: string) => async () => (await profileOf(core, id))?.display_name === name;

describe("after a request", () => {
  let h: Harness;
  const infoCalls = (user: string) => h.fake.calls("users.info").filter((c) => c.body.user === user);

  beforeAll(async () => {
    h = await startHarness();
    await h.fake.waitFor("auth.test");
    await addVms(h.core, "names", 10);
  });
  afterAll(async () => h.stop());
  beforeEach(() => h.fake.reset());

  it("learns the display name of someone who checks out, once their answer is sent", async () => {
    h.fake.setUser({ id: ALICE.id, name: "alice", real_name: "Alice Smith-Jones", display_name: "Alice Smith" });
    const reply = await slash(h, "checkout names", ALICE.id);
    expect(textOf(reply.body)).toContain("names-");

    await eventually("Alice's name is learned", named(h.core, ALICE.id, "Alice Smith"));
    const row = await profileOf(h.core, ALICE.id);
    expect(row?.fetched).toBe(true);
    const [info] = infoCalls(ALICE.id);
    // Asked only after the answer went out: the lookup never delays it.
    expect(info?.at.getTime()).toBeGreaterThanOrEqual(reply.at.getTime());
    expect(h.fake.calls().findIndex((c) => c === info)).toBeGreaterThan(h.fake.calls().findIndex((c) => c.method === RESPONSE_URL));
  });

  it("learns the time zone with the name, and keeps none that this runtime does not know", async () => {
    const zoneOf = async (id: string) => (await h.core.db.execute<{ time_zone: string | null }>(sql`select time_zone from people where slack_user_id = ${id}`))[0]?.time_zone;
    h.fake.setUser({ id: "U0ZONE001", display_name: "Zoe", tz: "Asia/Tokyo" });
    h.fake.setUser({ id: "U0ZONE002", display_name: "Zed", tz: "Mars/Olympus_Mons" });
    await slash(h, "list", "U0ZONE001");
    await slash(h, "list", "U0ZONE002");
    await eventually("Zoe's name is learned", named(h.core, "U0ZONE001", "Zoe"));
    await eventually("Zed's name is learned", named(h.core, "U0ZONE002", "Zed"));
    expect(await zoneOf("U0ZONE001")).toBe("Asia/Tokyo");
    expect(await zoneOf("U0ZONE002")).toBeNull();
  });

  it("falls back to the full name when the person chose no display name", async () => {
    h.fake.setUser({ id: BOB.id, name: "bob", real_name: "Bob Brown", display_name: "" });
    await slash(h, "list", BOB.id);
    await eventually("Bob's full name is learned", named(h.core, BOB.id, "Bob Brown"));
  });

  it("does not ask Slack again within a day, even after a restart, but does once the name is older", async () => {
    h.fake.setUser({ id: CAROL, real_name: "Carol Chen", display_name: "carol" });
    await slash(h, "status", CAROL);
    await eventually("Carol's name is learned", named(h.core, CAROL, "carol"));
    await slash(h, "list", CAROL);
    await slash(h, "status", CAROL);
    await sleep(200);
    expect(infoCalls(CAROL)).toHaveLength(1);

    // A new process knows nothing of this one's lookups: the database says the name is fresh.
    // Dave's name is two days old, so the same new process does ask about him.
    await resolvePerson(h.core, { slackUserId: DAVE });
    await h.core.db.execute(sql`update people set display_name = 'Old Dave', profile_fetched_at = now() - interval '2 days' where slack_user_id = ${DAVE}`);
    h.fake.setUser({ id: DAVE, real_name: "Dave Doe", display_name: "Dave D" });
    await h.restart();
    await h.fake.waitFor("auth.test");
    await eventually("the new process is connected", async () => {
      const res = await fetch(`${h.url}/healthz`);
      return ((await res.json()) as { checks?: { slack?: { ready?: boolean } } }).checks?.slack?.ready === true;
    });
    await slash(h, "status", CAROL);
    await slash(h, "status", DAVE);
    await eventually("Dave's newer name is learned", named(h.core, DAVE, "Dave D"));
    expect(infoCalls(CAROL)).toHaveLength(1);
    expect(infoCalls(DAVE)).toHaveLength(1);
  });

  it("changes nothing when users.info fails, and the command is answered all the same", async () => {
    h.fake.setUser({ id: ERIN, display_name: "Erin" });
    h.fake.failNext("users.info", 1, { kind: "error", error: "user_not_found" });
    const reply = await slash(h, "checkout names", ERIN);
    expect(textOf(reply.body)).toContain("names-");

    await h.fake.waitFor((c) => c.method === "users.info" && c.body.user === ERIN);
    await sleep(100);
    expect(await profileOf(h.core, ERIN)).toEqual({ display_name: null, fetched: false });
    // Not asked again at once: a person Slack does not know would otherwise cost a call per request.
    await slash(h, "list", ERIN);
    await sleep(200);
    expect(infoCalls(ERIN)).toHaveLength(1);
  });

  it("asks about a person once when two of their requests arrive together", async () => {
    h.fake.setUser({ id: GINA, display_name: "Gina" });
    h.fake.failNext("users.info", 1, { kind: "late", delayMs: 600 });
    await Promise.all([slash(h, "status", GINA), slash(h, "list", GINA)]);
    await eventually("Gina's name is learned", named(h.core, GINA, "Gina"));
    await sleep(100);
    expect(infoCalls(GINA)).toHaveLength(1);
  });

  it("waits out Slack's Retry-After when rate limited, asking nobody meanwhile, then learns again", async () => {
    h.fake.setUser({ id: FRANK, display_name: "Frank" });
    h.fake.failNext("users.info", 1, { kind: "rate_limited", retryAfterSeconds: 1 });
    const limited = await slash(h, "status", FRANK);
    expect(textOf(limited.body)).toContain("names");
    await h.fake.waitFor((c) => c.method === "users.info" && c.failure === "rate_limited");
    expect(await profileOf(h.core, FRANK)).toEqual({ display_name: null, fetched: false });

    const rested = Date.now();
    await slash(h, "list", FRANK);
    await sleep(200);
    expect(infoCalls(FRANK)).toHaveLength(1);

    await sleep(Math.max(0, 1100 - (Date.now() - rested)));
    await slash(h, "list", FRANK);
    await eventually("Frank's name is learned after the pause", named(h.core, FRANK, "Frank"));
    expect(infoCalls(FRANK)).toHaveLength(2);
  });
});

describe("the sweep", () => {
  let h: Harness;
  const people = ["U0HANA001", "U0IVAN001", "U0JUNE001"];

  beforeAll(async () => {
    h = await startHarness({ SLACK_PROFILE_SWEEP_INTERVAL_MS: "100" });
    await h.fake.waitFor("auth.test");
  });
  afterAll(async () => h.stop());

  it("names people known only by their Slack ID, each asked about once a day", async () => {
    h.fake.setUser({ id: "U0HANA001", real_name: "Hana Ito", display_name: "" });
    h.fake.setUser({ id: "U0IVAN001", real_name: "Ivan Petrov", display_name: "ivan" });
    h.fake.setUser({ id: "U0JUNE001", real_name: "June Park", display_name: "June", deleted: true });
    h.fake.setUser({ id: ADMIN.id, real_name: "Root Admin", display_name: "" });
    for (const id of people) await resolvePerson(h.core, { slackUserId: id });

    await eventually("everyone is named", async () => {
      const rows = await Promise.all([...people, ADMIN.id].map((id) => profileOf(h.core, id)));
      return rows.every((r) => r?.display_name !== null && r?.fetched === true);
    });
    expect((await Promise.all(people.map((id) => profileOf(h.core, id)))).map((r) => r?.display_name)).toEqual(["Hana Ito", "ivan", "June"]);
    expect((await profileOf(h.core, ADMIN.id))?.display_name).toBe("Root Admin");

    // Several sweeps later, nobody was asked twice.
    await sleep(500);
    for (const id of [...people, ADMIN.id]) expect(h.fake.calls("users.info").filter((c) => c.body.user === id)).toHaveLength(1);
  });
});
