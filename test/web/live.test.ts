import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { claimDueCleanups } from "../../src/core/cleanup/claim-due-cleanups.js";
import { finishCleanupSuccess } from "../../src/core/cleanup/finish-cleanup-success.js";
import Fastify from "fastify";
import { authenticateSession, endSession, startSession } from "../../src/core/web-sessions.js";
import { LiveFeed } from "../../src/web/live.js";
import { createLogger } from "../../src/log.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "../api/helpers.js";
import { testEnv } from "../slack/harness.js";
import { EventStreamReader } from "./live-stream.js";

/** A signed-in page's cookie for a person (as a sign-in leaves it), and the session's CSRF token. */
async function sessionCookie(h: Harness, personId: number): Promise<{ cookie: string; csrf: string }> {
  const session = await startSession(h.core, personId, "token", 3_600_000);
  return { cookie: `vmres_session=${session.secret}`, csrf: session.csrfToken };
}

describe("live updates at /web/events", () => {
  let h: Harness;
  let ann: { token: string; personId: number };
  let admin: { token: string; personId: number };
  beforeAll(async () => {
    h = await startApiHarness({ WEB_EVENT_STREAMS_PER_PERSON: "2" });
    await addVms(h.core, "linux", 3);
    await h.core.db.execute(sql`update pools set quota = 10 where name = 'linux'`);
    ann = await personWithToken(h.core, "ann");
    admin = await personWithToken(h.core, "root", { admin: true });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("refuses a stream without a signed-in session", async () => {
    const res = await fetch(`${h.url}/web/events`);
    expect(res.status).toBe(401);
  });

  it("tells an open page of every kind of change, naming the pool: checkout, check-in, cleanup finished, queue, booking made and cancelled, VM drained", async () => {
    const watcher = await personWithToken(h.core, "watcher");
    const stream = await EventStreamReader.open(h.url, (await sessionCookie(h, watcher.personId)).cookie);
    expect(stream.status).toBe(200);
    try {
      let seen = stream.events.length;
      const next = async (kind: string) => {
        await stream.change({ kind, pool: "linux" }, seen);
        seen = stream.events.length;
      };

      const out = await call(h, "POST", "/v1/checkouts", { token: ann.token, body: { pool: "linux" } });
      expect(out.status).toBe(201);
      await next("checkout");

      const back = await call(h, "DELETE", `/v1/checkouts/${out.body.id}`, { token: ann.token });
      expect(back.status).toBe(200);
      await next("vm");

      // The cleanup worker's own steps (claimed, then finished): the VM is free again.
      const [claim] = await claimDueCleanups(h.core.db.$client, "test-worker", 1);
      expect(claim?.pool).toBe("linux");
      if (claim) await h.core.db.$client.begin((tx) => finishCleanupSuccess(tx, claim, {}));
      await next("vm");

      const taken = await Promise.all([0, 1, 2].map(() => call(h, "POST", "/v1/checkouts", { token: admin.token, body: { pool: "linux" } })));
      expect(taken.map((t) => t.status)).toEqual([201, 201, 201]);
      seen = stream.events.length;
      const joined = await call(h, "POST", "/v1/queues", { token: ann.token, body: { pool: "linux" } });
      expect(joined.status).toBe(201);
      await next("queue");

      const from = new Date(Date.now() + 2 * 86_400_000);
      const to = new Date(from.getTime() + 3_600_000);
      const booked = await call(h, "POST", "/v1/reservations", { token: ann.token, body: { pool: "linux", count: 1, from: from.toISOString(), to: to.toISOString(), label: "demo" } });
      expect(booked.status).toBe(201);
      await next("booking");
      const cancelled = await call(h, "DELETE", "/v1/reservations/demo", { token: ann.token });
      expect(cancelled.status).toBe(200);
      await next("booking");

      await call(h, "DELETE", `/v1/checkouts/${taken[0]?.body.id}`, { token: admin.token });
      seen = stream.events.length;
      const vm = taken[1]?.body.vm as string;
      await call(h, "DELETE", `/v1/checkouts/${taken[1]?.body.id}`, { token: admin.token });
      await stream.change({ kind: "vm", pool: "linux" }, seen);
      await h.core.db.execute(sql`update vms set state = 'available', cleanup_next_at = null where state = 'cleaning'`);
      seen = stream.events.length;
      const drained = await call(h, "PATCH", `/v1/vms/${vm}`, { token: admin.token, body: { state: "maintenance" } });
      expect(drained.status).toBe(200);
      await next("vm");
    } finally {
      stream.close();
    }
  });

  it("sends nothing for a cleanup claim (a change no page shows)", async () => {
    // Set up one VM in cleaning, then watch only the claim: the next event must be the probe's, not the claim's.
    await addVms(h.core, "claims", 1);
    const out = await call(h, "POST", "/v1/checkouts", { token: ann.token, body: { pool: "claims" } });
    expect(out.status).toBe(201);
    expect((await call(h, "DELETE", `/v1/checkouts/${out.body.id}`, { token: ann.token })).status).toBe(200);
    await addVms(h.core, "probe", 1);
    const stream = await EventStreamReader.open(h.url, (await sessionCookie(h, ann.personId)).cookie);
    try {
      const seen = stream.events.length;
      await h.core.db.execute(sql`update vms set cleanup_next_at = now() where pool = 'claims'`);
      const claims = await claimDueCleanups(h.core.db.$client, "test-worker", 10);
      expect(claims.map((c) => c.pool)).toContain("claims");
      // A change in another pool after the claims: once it arrives, the claims' would have arrived before it.
      await h.core.db.execute(sql`update vms set tags = '{probe}' where pool = 'probe'`);
      await stream.change({ kind: "vm", pool: "probe" }, seen);
      expect(stream.events.slice(seen).map((e) => JSON.parse(e.data) as { pool: string }).filter((c) => c.pool === "claims")).toEqual([]);
    } finally {
      stream.close();
    }
  });

  it("tells open pages to fetch everything again once the service listens again after losing its database connection (what was sent meanwhile is lost)", async () => {
    const stream = await EventStreamReader.open(h.url, (await sessionCookie(h, ann.personId)).cookie);
    try {
      const seen = stream.events.length;
      const [cut] = await h.core.db.execute<{ n: number }>(
        sql`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where query ilike 'listen%' and datname = current_database() and pid <> pg_backend_pid()`,
      );
      expect(cut?.n).toBeGreaterThan(0);
      await stream.change({ kind: "resync", pool: null }, seen);
    } finally {
      stream.close();
    }
  });

  it("keeps a person to WEB_EVENT_STREAMS_PER_PERSON open streams (429 beyond), and frees a place when a page closes", async () => {
    const kim = await personWithToken(h.core, "kim");
    const { cookie } = await sessionCookie(h, kim.personId);
    const first = await EventStreamReader.open(h.url, cookie);
    const second = await EventStreamReader.open(h.url, cookie);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await fetch(`${h.url}/web/events`, { headers: { cookie } });
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("30");
    expect(((await third.json()) as { error: string }).error).toContain("WEB_EVENT_STREAMS_PER_PERSON");
    // Another person is not counted against kim.
    const other = await EventStreamReader.open(h.url, (await sessionCookie(h, ann.personId)).cookie);
    expect(other.status).toBe(200);
    other.close();
    first.close();
    await expect
      .poll(async () => {
        const again = await EventStreamReader.open(h.url, cookie);
        again.close();
        return again.status;
      })
      .toBe(200);
    second.close();
  });

  it("sends a heartbeat comment on an idle stream, and closes it at the next heartbeat once its session was signed out elsewhere", async () => {
    // The feed alone, with a short heartbeat, on the harness's database (another replica's sign-out is a row update).
    const feed = new LiveFeed(h.core, createLogger("silent", "feed"), 5, 100);
    const app = Fastify();
    app.get("/web/events", async (req, reply) => {
      const secret = (req.headers.cookie ?? "").replace(/^vmres_session=/, "");
      const found = await authenticateSession(h.core, secret);
      if ("rejected" in found) return reply.code(401).send();
      return feed.open(req, reply, found.holder, secret);
    });
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const session = await startSession(h.core, ann.personId, "token", 3_600_000);
      const stream = await EventStreamReader.open(address, `vmres_session=${session.secret}`);
      await stream.until(() => stream.comments.includes("keep-alive"));
      expect(stream.ended).toBe(false);
      expect(await endSession(h.core, session.secret)).toBe(true);
      await stream.closedByServer();
      expect(feed.size).toBe(0);
    } finally {
      feed.close();
      await app.close();
    }
  });

  it("ends a session's stream when it signs out", async () => {
    const lee = await personWithToken(h.core, "lee");
    const { cookie, csrf } = await sessionCookie(h, lee.personId);
    const stream = await EventStreamReader.open(h.url, cookie);
    const out = await fetch(`${h.url}/logout`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, origin: h.url, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf }).toString(),
    });
    expect(out.status).toBe(303);
    await stream.closedByServer();
    expect(stream.ended).toBe(true);
  });
});

describe("live updates across replicas and at shutdown", () => {
  let h: Harness;
  let second: RunningService;
  beforeAll(async () => {
    h = await startApiHarness();
    await addVms(h.core, "linux", 2);
    const config = loadConfig({ ...testEnv(h.fake, h.database.url), API_RATE_LIMIT: "100000/min" }, null);
    second = await startService(config, createLogger("silent", "replica-2"));
  });
  afterAll(async () => {
    await second?.stop();
    await h?.stop();
  });

  it("tells a page served by one replica of a checkout made through another", async () => {
    const ann = await personWithToken(h.core, "ann");
    const { cookie } = await sessionCookie(h, ann.personId);
    const onSecond = await EventStreamReader.open(`http://127.0.0.1:${second.port}`, cookie);
    try {
      const out = await call(h, "POST", "/v1/checkouts", { token: ann.token, body: { pool: "linux" } });
      expect(out.status).toBe(201);
      await onSecond.change({ kind: "checkout", pool: "linux" });
    } finally {
      onSecond.close();
    }
  });

  it("ends open streams when the service stops, so stopping does not wait on them", async () => {
    const bob = await personWithToken(h.core, "bob");
    const { cookie } = await sessionCookie(h, bob.personId);
    const stream = await EventStreamReader.open(`http://127.0.0.1:${second.port}`, cookie);
    expect(stream.status).toBe(200);
    await second.stop();
    await stream.closedByServer();
    // Stopped already: afterAll's stop finds nothing left to do.
    second = { ...second, stop: async () => undefined };
  });
});
