import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliFor } from "../helpers/cli.js";
import { addVms, call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

// Reading never creates a person: a Slack-ID-shaped name nobody has used is an answer ("no such
// person"), not a new row, over the API and in the CLI alike. Only a real Slack request, or an
// admin giving someone something, makes a person.
let h: Harness;
let alice: { token: string; id: number; personId: number };
let admin: { token: string; id: number; personId: number };
let vmres: ReturnType<typeof cliFor>;

beforeAll(async () => {
  h = await startApiHarness();
  alice = await personWithToken(h.core, "alice");
  admin = await personWithToken(h.core, "root-lookups", { admin: true });
  vmres = cliFor({ databaseUrl: h.database.url });
});
afterAll(async () => h?.stop());

const people = async () => {
  const [row] = await h.core.db.execute<{ names: string }>(sql`select string_agg(name, ',' order by name) as names from people`);
  return row?.names ?? "";
};

describe("reading over the API", () => {
  for (const [path, who] of [
    ["/v1/checkouts?user=UZZZ00001", "alice"],
    ["/v1/reservations?user=UZZZ00002", "alice"],
    ["/v1/tokens?user=UZZZ00003", "admin"],
  ] as const) {
    it(`answers ${path.split("?")[0]} filtered by an unknown Slack ID with 404 unknown_person, and creates nobody`, async () => {
      const before = await snapshot(h.core);
      const r = await call(h, "GET", path, { token: who === "admin" ? admin.token : alice.token });
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ code: "unknown_person", who: path.split("=")[1] });
      expect(await snapshot(h.core)).toBe(before);
    });
  }

  it("refuses a non-admin's token for an unknown Slack ID as not_admin, creating nobody", async () => {
    const before = await snapshot(h.core);
    const r = await call(h, "POST", "/v1/tokens", { token: alice.token, body: { user: "UZZZ00004" } });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("not_admin");
    expect(await snapshot(h.core)).toBe(before);
  });

  it("lets an admin make a token for a Slack user vmres has not met yet, who becomes a person", async () => {
    const r = await call(h, "POST", "/v1/tokens", { token: admin.token, body: { user: "UZZZ00005" } });
    expect(r.status).toBe(201);
    expect(r.body.person).toMatchObject({ name: "UZZZ00005", slackUserId: "UZZZ00005" });
  });
});

describe("reading with the CLI", () => {
  for (const args of [
    ["list", "--user", "UZZZ00011"],
    ["checkouts", "--user", "UZZZ00012"],
    ["reservations", "--user", "UZZZ00013"],
    ["token", "list", "--user", "UZZZ00014"],
    ["images", "--user", "UZZZ00015"],
    ["checkin", "some-vm", "--user", "UZZZ00016"],
  ]) {
    it(`vmres ${args.join(" ")} says nobody is called that, and creates nobody`, async () => {
      const before = await people();
      const r = await vmres(args);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`Nobody called "${args.at(-1)}" is known`);
      expect(await people()).toBe(before);
    });
  }

  it("vmres checkout --user with a Slack ID vmres has not met yet lends them a VM, making that person (the operator is an admin)", async () => {
    await addVms(h.core, "lookups", 1);
    const r = await vmres(["checkout", "--user", "UZZZ00017", "--pool", "lookups", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await people()).toContain("UZZZ00017");
  });
});
