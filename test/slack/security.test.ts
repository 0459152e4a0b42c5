import { connect } from "node:net";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALICE, blockActions, slashCommand, urlVerification } from "../helpers/slack-requests.js";
import { addVms, outboxDrained, startHarness, textOf, vmRow, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  await h.fake.waitFor("auth.test");
  await addVms(h.core, "sec", 2);
});
afterAll(async () => h.stop());
beforeEach(() => h.fake.reset());

/** What a request could have changed: rows anywhere that matters, and any call to Slack. */
async function footprint() {
  const [row] = await h.core.db.execute<{ held: number; events: number; outbox: number; keys: number }>(sql`
    select (select count(*)::int from vms where checkout_id is not null) as held, (select count(*)::int from events) as events,
           (select count(*)::int from outbox) as outbox, (select count(*)::int from processed_interactions) as keys`);
  // Name lookups (users.info) run in the background once the outbox is idle, whatever the request: not part of a request's footprint.
  return { ...row, slackCalls: h.fake.calls().filter((c) => c.method !== "users.info").length };
}

describe("requests not from Slack", () => {
  it("refuses a forged signature with 401 and changes nothing", async () => {
    const before = await footprint();
    const res = await h.send(slashCommand({ text: "checkout sec", response_url: h.fake.responseUrl("f") }), { badSignature: true });
    expect(res.status).toBe(401);
    expect(await footprint()).toEqual(before);
  });

  it("refuses a request signed more than five minutes ago (a replay) with 401 and changes nothing", async () => {
    const before = await footprint();
    const old = Math.floor(Date.now() / 1000) - 6 * 60;
    const res = await h.send(slashCommand({ text: "checkout sec", response_url: h.fake.responseUrl("r") }), { timestamp: old });
    expect(res.status).toBe(401);
    expect(await footprint()).toEqual(before);
  });

  it("refuses a forged button click, so nobody checks in someone else's VM that way", async () => {
    await h.send(slashCommand({ text: "checkout sec", response_url: h.fake.responseUrl("c") }));
    await h.fake.waitFor("response_url");
    await outboxDrained(h.core);
    const before = await footprint();
    const click = blockActions({ actions: [{ action_id: "vm_checkin", value: JSON.stringify({ vm: "sec-1", at: Date.now() }) }] });
    expect((await h.send(click, { secret: "not-the-secret" })).status).toBe(401);
    expect(await footprint()).toEqual(before);
    expect(await vmRow(h.core, "sec-1")).toEqual({ state: "checked_out", holder: ALICE.id });
  });

  it("refuses a body over the size limit without reading it as a command", async () => {
    const before = await footprint();
    const res = await h.send(slashCommand({ text: `checkout ${"x".repeat(2 * 1024 * 1024)}` }));
    expect(res.status).toBe(413);
    expect(await footprint()).toEqual(before);
  });

  it("stops reading a body at the size limit: the sender gets 413 and the connection closes while it is still sending", async () => {
    const { hostname, port } = new URL(h.url);
    const socket = connect(Number(port), hostname);
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    socket.on("error", () => undefined); // writing on after the server closed: EPIPE or ECONNRESET, expected
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    socket.write("POST /slack/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n");
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    // A body with no end, 64 KiB at a time, up to 64 MiB: far past the 1 MiB limit.
    while (!isClosed && sent < 64 * 1024 * 1024) {
      const flushed = socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString()}\r\n`);
      sent += chunk.length;
      if (!flushed) await Promise.race([new Promise((resolve) => socket.once("drain", resolve)), closed]);
    }
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(isClosed).toBe(true);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it("refuses a body whose declared length is over the limit before it is sent", async () => {
    const before = await footprint();
    const { hostname, port } = new URL(h.url);
    const socket = connect(Number(port), hostname);
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(`POST /slack/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${100 * 1024 * 1024}\r\n\r\ncommand=%2Fvm`);
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(await footprint()).toEqual(before);
  });

  it("answers Slack's url_verification challenge", async () => {
    const req = urlVerification();
    const res = await h.send(req);
    expect(JSON.parse(res.body)).toEqual({ challenge: req.payload.challenge });
  });

  it("answers 404 for other paths under /slack/, and keeps /healthz", async () => {
    expect((await fetch(`${h.url}/slack/install`)).status).toBe(404);
    expect((await fetch(`${h.url}/slack/events`)).status).toBe(404);
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });
});

describe("signed requests that are malformed or hostile", () => {
  it("refuses a request signed more than five minutes in the future with 401 and changes nothing", async () => {
    const before = await footprint();
    const future = Math.floor(Date.now() / 1000) + 15 * 60;
    const res = await h.send(slashCommand({ text: "checkout sec", response_url: h.fake.responseUrl("future") }), { timestamp: future });
    expect(res.status).toBe(401);
    expect(await footprint()).toEqual(before);
  });

  it("answers a slash command with no user_id as bad input, without an unexpected error, and changes nothing", async () => {
    const before = await footprint();
    const res = await h.send(slashCommand({ text: "checkout sec", user_id: undefined, response_url: h.fake.responseUrl("nouser") }));
    expect(res.status).toBe(200);
    const [reply] = await h.fake.waitFor((c) => c.responseId === "nouser");
    expect(textOf(reply?.body ?? {})).toContain("could not tell who sent this request");
    expect(textOf(reply?.body ?? {})).not.toContain("unexpected error");
    expect(await footprint()).toEqual({ ...before, slackCalls: before.slackCalls + 1 });
  });

  it("answers a click whose user is not a Slack user ID as bad input and changes nothing", async () => {
    const before = await footprint();
    const click = blockActions({
      user: { id: "x'; drop table vms; --", username: "x", name: "x", team_id: "T0" },
      actions: [{ action_id: "vm_checkin", value: JSON.stringify({ vm: "sec-2", at: Date.now() }) }],
      response_url: h.fake.responseUrl("badclicker"),
    });
    expect((await h.send(click)).status).toBe(200);
    const [reply] = await h.fake.waitFor((c) => c.responseId === "badclicker");
    expect(textOf(reply?.body ?? {})).toContain("could not tell who sent this request");
    expect(await footprint()).toEqual({ ...before, slackCalls: before.slackCalls + 1 });
  });

  it("refuses a click with no user at all with 400 and changes nothing", async () => {
    const before = await footprint();
    const click = blockActions({ actions: [{ action_id: "vm_checkin", value: JSON.stringify({ vm: "sec-2", at: Date.now() }) }] });
    const { user: _user, ...withoutUser } = click.payload;
    const res = await h.send({ ...click, rawBody: new URLSearchParams({ payload: JSON.stringify(withoutUser) }).toString() });
    expect(res.status).toBe(400);
    expect(await footprint()).toEqual(before);
  });

  it("survives signed bodies that are JSON null, as a form payload or as the body, answering 400", async () => {
    const before = await footprint();
    const asForm = await h.send({ contentType: "application/x-www-form-urlencoded", rawBody: "payload=null", payload: null });
    const asJson = await h.send({ contentType: "application/json", rawBody: "null", payload: null });
    expect([asForm.status, asJson.status]).toEqual([400, 400]);
    // Still serving.
    expect((await h.send(urlVerification())).status).toBe(200);
    expect(await footprint()).toEqual(before);
  });

  it("echoes typed text with <, > and & escaped, so <!channel> never comes back as a live mention", async () => {
    await h.send(slashCommand({ text: "&lt;!channel&gt; &amp;", response_url: h.fake.responseUrl("echo") }));
    const [reply] = await h.fake.waitFor((c) => c.responseId === "echo");
    const text = textOf(reply?.body ?? {});
    expect(text).toContain("&lt;!channel&gt;");
    expect(text).not.toContain("<!channel>");
  });
});
