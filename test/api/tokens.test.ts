import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliFor } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { FakeSlack, RESPONSE_URL } from "../helpers/fake-slack.js";
import { killService, startServiceProcess, type ServiceProcess } from "../helpers/service-process.js";
import { sendSigned, slashCommand } from "../helpers/slack-requests.js";
import { SECRET, addVms, testEnv, textOf } from "../slack/harness.js";
import type { Core } from "../../src/core/types.js";

// The service as it runs in production (a child process, logging at debug), the CLI beside it on
// the same database, and Slack as the fake: tokens made by each are used over HTTP, and the
// service's whole log is then searched for them.
let fake: FakeSlack;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;
let service: ServiceProcess;
let url: string;
let vmres: ReturnType<typeof cliFor>;
const seen: string[] = [];

beforeAll(async () => {
  fake = await FakeSlack.start();
  database = await freshDatabase({ poolSize: 4 });
  core = coreFor(database);
  await addVms(core, "default", 2);
  service = await startServiceProcess({ ...testEnv(fake, database.url), PORT: "0", LOG_LEVEL: "trace", API_RATE_LIMIT: "1000/min" });
  const port = /"port":(\d+)/.exec(service.logs())?.[1];
  if (!port) throw new Error("no port in the service's log");
  url = `http://127.0.0.1:${port}`;
  vmres = cliFor({ databaseUrl: database.url });
});
afterAll(async () => {
  await killService(service);
  await database?.close();
  await fake?.close();
});

const api = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe("vmres token", () => {
  it("creates a token for a service, printed once; list shows it without its value; revoke makes the API refuse it", async () => {
    expect((await vmres(["people", "add", "ci-nightly", "--service"])).code).toBe(0);
    const made = await vmres(["token", "create", "--user", "ci-nightly", "--label", "nightly", "--expires", "90d"]);
    expect(made.code).toBe(0);
    const token = /vmres_[A-Za-z0-9_-]{43}/.exec(made.stdout)?.[0];
    expect(token).toBeDefined();
    seen.push(token as string);
    const id = Number(/Token (\d+) for ci-nightly \(nightly\)/.exec(made.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    const me = await api("GET", "/v1/me", token as string);
    expect(me.status).toBe(200);
    expect(me.body.person).toMatchObject({ name: "ci-nightly" });
    const checkout = await api("POST", "/v1/checkouts", token as string, { note: "nightly build" });
    expect(checkout.status).toBe(201);

    const list = await vmres(["token", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(token);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id, label: "nightly", person: expect.objectContaining({ name: "ci-nightly" }) })]);
    expect((await vmres(["token", "list"])).stdout).toMatch(/^ID\s+PERSON\s+PREFIX/);

    expect(await vmres(["token", "revoke", String(id)])).toMatchObject({ code: 0, stdout: `Revoked token ${id} of ci-nightly: it is refused from now on.\n` });
    expect((await api("GET", "/v1/me", token as string)).status).toBe(401);
    const unknown = await vmres(["token", "revoke", "9999"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain("There is no token 9999");
  });

  it("refuses bad arguments before touching the database (exit 2)", async () => {
    expect((await vmres(["token", "create"])).code).toBe(2);
    expect((await vmres(["token", "create", "--user", "ci-nightly", "--expires", "soon"])).code).toBe(2);
    expect((await vmres(["token", "revoke", "abc"])).code).toBe(2);
    const [row] = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from api_tokens`);
    expect(row?.n).toBe(1);
  });
});

describe("/vm token in Slack", () => {
  it("gives the caller a token of their own in the ephemeral reply only; it acts as them over HTTP", async () => {
    const res = await sendSigned(url, slashCommand({ text: "token --label laptop", user_id: "U0TOKEN01", response_url: fake.responseUrl("tok-1") }), { secret: SECRET });
    expect(res.status).toBe(200);
    const [reply] = await fake.waitFor((c) => c.method === RESPONSE_URL && c.responseId === "tok-1");
    const text = textOf(reply?.body ?? {});
    const token = /vmres_[A-Za-z0-9_-]{43}/.exec(text)?.[0];
    expect(token).toBeDefined();
    seen.push(token as string);
    expect(reply?.body.response_type ?? "ephemeral").toBe("ephemeral");
    // Never posted anywhere (no channel, no DM).
    expect(JSON.stringify(fake.calls("chat.postMessage"))).not.toContain(token);
    const me = await api("GET", "/v1/me", token as string);
    expect(me.body.person).toMatchObject({ slackUserId: "U0TOKEN01" });
    const [row] = await database.db.execute<{ label: string; days: number }>(
      sql`select label, round(extract(epoch from t.expires_at - t.created_at) / 86400)::int as days from api_tokens t join people p on p.id = t.person_id where p.slack_user_id = 'U0TOKEN01'`,
    );
    expect(row).toEqual({ label: "laptop", days: 90 });
  });
});

it("never writes a token to the service's log, even at trace level, whether accepted, refused or made", async () => {
  const forged = "vmres_" + "B".repeat(43);
  seen.push(forged);
  await api("GET", "/v1/me", forged);
  await api("POST", "/v1/checkouts", seen[1] as string, { pool: "nope" });
  await fetch(url + "/v1/me", { headers: { authorization: "Bearer not-even-close-secret-123" } });
  seen.push("not-even-close-secret-123");
  const logs = service.logs();
  expect(logs).toContain("api request");
  for (const token of seen) {
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(token.slice(6));
  }
});
