import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { cliFor, databaseSnapshot } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
let vmres: ReturnType<typeof cliFor>;

beforeAll(async () => {
  database = await freshDatabase();
  const core = coreFor(database);
  for (const [name, ip] of [["ci-01", "198.51.100.1"], ["ci-02", "198.51.100.2"]] as const) {
    const added = await addVm(core, { person: "operator", source: "cli" }, { name, ip, pool: "default", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
    expect(added.ok).toBe(true);
  }
  vmres = cliFor({ databaseUrl: database.url });
});
afterAll(async () => database.close());

describe("vmres people", () => {
  it("adds a service and a person, lists them, and makes an admin", async () => {
    expect(await vmres(["people", "add", "ci-nightly", "--service"])).toMatchObject({ code: 0, stdout: "Added service ci-nightly.\n" });
    expect(await vmres(["people", "add", "alice", "--slack-id", "U0ALICE01"])).toMatchObject({ code: 0, stdout: "Added person alice (Slack U0ALICE01).\n" });
    const again = await vmres(["people", "add", "alice"]);
    expect(again).toMatchObject({ code: 3, stdout: "" });
    expect(again.stderr).toContain('"alice" is already known');

    const list = await vmres(["people", "list", "--json"]);
    expect(list.code).toBe(0);
    const people = JSON.parse(list.stdout) as { name: string; kind: string; isAdmin: boolean; slackUserId: string | null }[];
    expect(people).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "operator", kind: "service", isAdmin: true }),
        expect.objectContaining({ name: "ci-nightly", kind: "service", isAdmin: false, slackUserId: null }),
        expect.objectContaining({ name: "alice", kind: "person", slackUserId: "U0ALICE01" }),
      ]),
    );
    expect((await vmres(["people", "list"])).stdout).toMatch(/^NAME\s+DISPLAY NAME\s+SLACK ID\s+KIND\s+ADMIN\s+HOLDING\n/);

    // Not an admin yet: alice cannot make herself one.
    const before = await databaseSnapshot(database.sql);
    const refused = await vmres(["people", "admin", "alice", "on", "--user", "alice"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("alice is not an admin");
    expect(await databaseSnapshot(database.sql)).toBe(before);
    expect(await vmres(["people", "admin", "alice", "on"])).toMatchObject({ code: 0, stdout: "alice is now an admin.\n" });
    expect(await vmres(["people", "admin", "alice", "on"])).toMatchObject({ code: 0, stdout: "alice was already an admin; nothing changed.\n" });
  });

  it("answers bad input with usage (exit 2) and changes nothing", async () => {
    const before = await databaseSnapshot(database.sql);
    for (const args of [
      ["people", "admin", "alice", "maybe"],
      ["people", "add", "bad name"],
      ["people", "add", "bob", "--slack-id", "not-an-id"],
      ["people", "add"],
    ]) {
      const r = await vmres(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
    }
    const unknown = await vmres(["people", "admin", "nobody", "on"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('Nobody called "nobody" is known');
    expect(await databaseSnapshot(database.sql)).toBe(before);
  });
});

describe("vmres people link and unlink (OpenID Connect sign-in)", () => {
  it("links an identity to a person, refuses it to a second one, and unlinking ends the web sessions it opened", async () => {
    expect(await vmres(["people", "add", "dora"])).toMatchObject({ code: 0 });
    expect(await vmres(["people", "add", "emil"])).toMatchObject({ code: 0 });
    expect(await vmres(["people", "link", "dora", "Dora@Example.com"])).toMatchObject({ code: 0, stdout: "dora now signs in to the web page as Dora@Example.com.\n" });
    expect((await vmres(["people", "list"])).stdout).toMatch(/^NAME\s+DISPLAY NAME\s+SLACK ID\s+KIND\s+ADMIN\s+HOLDING\s+SIGN-IN\n[\s\S]*\ndora\s.*Dora@Example\.com\n/);
    const core = coreFor(database);
    const [dora] = await core.db.$client<{ id: number }[]>`select id from people where name = 'dora'`;
    const { startSession } = await import("../../src/core/web-sessions.js");
    await startSession(core, dora!.id, "oidc", 3_600_000);
    await startSession(core, dora!.id, "token", 3_600_000);

    const links = async () => JSON.stringify(await database.sql`select name, sign_in_identity from people order by name`);
    const before = (await databaseSnapshot(database.sql)) + (await links());
    const taken = await vmres(["people", "link", "emil", "dora@example.com"]);
    expect(taken.code).toBe(3);
    expect(taken.stderr).toContain("dora@example.com already signs in dora: unlink it first (vmres people unlink dora)");
    const service = await vmres(["people", "link", "ci-nightly", "ci@example.com"]);
    expect(service.code).toBe(3);
    expect(service.stderr).toContain("ci-nightly is a service");
    const spaced = await vmres(["people", "link", "emil", "emil at example.com"]);
    expect(spaced.code).toBe(3);
    expect(spaced.stderr).toContain("one word without spaces");
    const notAdmin = await vmres(["people", "link", "emil", "emil@example.com", "--user", "emil"]);
    expect(notAdmin.code).toBe(3);
    expect((await databaseSnapshot(database.sql)) + (await links())).toBe(before);

    expect(await vmres(["people", "unlink", "dora"])).toMatchObject({ code: 0, stdout: "dora no longer signs in as Dora@Example.com; the web sessions it opened ended.\n" });
    const open = await core.db.$client<{ via: string }[]>`select via from web_sessions where person_id = ${dora!.id} and ended_at is null`;
    expect(open.map((s) => s.via)).toEqual(["token"]);
    expect(await vmres(["people", "unlink", "dora"])).toMatchObject({ code: 0, stdout: "dora had no sign-in identity; nothing changed.\n" });
  });
});

describe("vmres checkout --note and vmres checkouts", () => {
  it("lends to a person named by name, keeps the note, and lists checkouts with ids", async () => {
    const lent = await vmres(["checkout", "--user", "ci-nightly", "--note", "nightly build #42", "--json"]);
    expect(lent.code).toBe(0);
    const vm = JSON.parse(lent.stdout) as { name: string; checkoutId: number; note: string };
    expect(vm).toMatchObject({ note: "nightly build #42", checkoutId: expect.any(Number) });

    const open = await vmres(["checkouts", "--open", "--json"]);
    expect(open.code).toBe(0);
    expect(JSON.parse(open.stdout)).toEqual([
      expect.objectContaining({ id: vm.checkoutId, vm: vm.name, person: expect.objectContaining({ name: "ci-nightly" }), endedAt: null, note: "nightly build #42" }),
    ]);
    const table = await vmres(["checkouts", "--user", "ci-nightly"]);
    expect(table.stdout).toMatch(/^ID\s+VM\s+POOL\s+PERSON\s+STARTED\s+ENDS\s+ENDED\s+HOW\s+NOTE\n/);
    expect(table.stdout).toMatch(new RegExp(`\\n${vm.checkoutId} +${vm.name} +default +ci-nightly `));
    expect(table.stdout).toContain("nightly build #42");

    expect((await vmres(["checkin", vm.name, "--user", "ci-nightly"])).stdout).toContain(`ending checkout ${vm.checkoutId}`);
    const ended = JSON.parse((await vmres(["checkouts", "--vm", vm.name, "--json"])).stdout) as { endReason: string; endedBy: string }[];
    expect(ended[0]).toMatchObject({ endReason: "checked_in", endedBy: "ci-nightly" });
    expect(JSON.parse((await vmres(["checkouts", "--open", "--json"])).stdout)).toEqual([]);
  });

  it("refuses a bad note, an unknown person or VM, and a bad limit, and changes nothing", async () => {
    const before = await databaseSnapshot(database.sql);
    const long = await vmres(["checkout", "--user", "alice", "--note", "x".repeat(501)]);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain("--note: that is 501 characters; keep it to 500");
    const nobody = await vmres(["checkout", "--user", "nobody"]);
    expect(nobody.code).toBe(3);
    expect(nobody.stderr).toContain('Nobody called "nobody" is known');
    expect((await vmres(["checkouts", "--vm", "no-such"])).code).toBe(3);
    expect((await vmres(["checkouts", "--vm", "Not A Name"])).code).toBe(2);
    expect((await vmres(["checkouts", "--limit", "lots"])).code).toBe(2);
    expect(await databaseSnapshot(database.sql)).toBe(before);
  });
});
