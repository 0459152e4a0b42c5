import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { TLSSocket } from "node:tls";
import postgres from "postgres";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { connect } from "../../src/db/client.js";
import { openEmbedded, type EmbeddedServer } from "../../src/db/embedded.js";
import { guardedConnections, type LoginPolicy } from "../../src/db/login-guard.js";
import { testLog } from "../helpers/db.js";
import { asking, cleartextRequest, fakePostgres, loggedIn, md5Request, type FakePostgres } from "./fake-postgres.js";

const SECRET = "database-url-password";

/** A StartupMessage (protocol 3.0, user vmres), as postgres.js sends it first. */
function startupMessage(): Buffer {
  const body = Buffer.from("user\0vmres\0\0");
  const message = Buffer.alloc(8 + body.length);
  message.writeUInt32BE(message.length, 0);
  message.writeUInt32BE(196608, 4);
  body.copy(message, 8);
  return message;
}

/** postgres.js's `socket` option over a guard, keeping every socket it hands out. */
function keptSockets(policy: LoginPolicy): { options: ReturnType<typeof guardedConnections>; made: unknown[] } {
  const guard = guardedConnections(policy);
  const made: unknown[] = [];
  return {
    made,
    options: { ...guard, socket: async (options) => { const socket = await guard.socket(options); made.push(socket); return socket; } },
  };
}
const settings = { lockTimeoutMs: 1000, poolSize: 1, log: testLog };

/** Runs one query on a fresh pool over `url`: null when it worked, else the error. */
async function firstQuery(url: string): Promise<Error | null> {
  const sql = connect(url, settings);
  try {
    await sql`select 1`;
    return null;
  } catch (err) {
    return err as Error;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

describe("DATABASE_URL pointing at a server that asks for the password the weak ways", () => {
  let stranger: FakePostgres | undefined;
  afterEach(async () => stranger?.close());
  const urlOf = (port: number, query = "") => `postgres://vmres:${SECRET}@127.0.0.1:${port}/vmres${query}`;

  it("sends no password in clear text, unless require_auth=password allows it", async () => {
    stranger = await fakePostgres(asking(cleartextRequest));
    const refused = await firstQuery(urlOf(stranger.port));
    expect(refused?.message).toMatch(/clear text.*not sent.*require_auth/);
    expect(stranger.answers()).toEqual([]);

    await firstQuery(urlOf(stranger.port, "?require_auth=scram-sha-256,password"));
    expect(stranger.answers().map((answer) => answer.body.toString("utf8"))).toEqual([`${SECRET}\0`]);
  });

  it("sends no MD5 hash of the password, unless require_auth=md5 allows it", async () => {
    stranger = await fakePostgres(asking(md5Request));
    const refused = await firstQuery(urlOf(stranger.port));
    expect(refused?.message).toMatch(/MD5.*not sent/);
    expect(stranger.answers()).toEqual([]);

    await firstQuery(urlOf(stranger.port, "?require_auth=md5"));
    expect(stranger.answers().map((answer) => answer.body.toString("utf8").slice(0, 3))).toEqual(["md5"]);
  });

  describe("over TLS (sslmode=require)", () => {
    let certs: string;
    let tls: { key: string; cert: string };
    beforeAll(() => {
      certs = mkdtempSync(join(tmpdir(), "vmres-tls-"));
      execFileSync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
        "-subj", "/CN=stranger", "-keyout", join(certs, "key.pem"), "-out", join(certs, "cert.pem"),
      ], { stdio: "ignore" });
      tls = { key: readFileSync(join(certs, "key.pem"), "utf8"), cert: readFileSync(join(certs, "cert.pem"), "utf8") };
    });
    afterAll(() => rmSync(certs, { recursive: true, force: true }));

    it("hands the TLS socket itself on once the server has logged us in, with what came along", async () => {
      const readyForQuery = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]); // "Z", idle
      stranger = await fakePostgres((message, send) => {
        if (message.kind === "startup") send(Buffer.concat([loggedIn(), readyForQuery]));
      }, tls);
      const policy: LoginPolicy = { methods: new Set(["none"]), tls: "require", hint: "" };
      const socket = await guardedConnections(policy).socket({ host: ["127.0.0.1"], port: [stranger.port], path: undefined });
      const received: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      socket.write(startupMessage());
      while (Buffer.concat(received).length < loggedIn().length + readyForQuery.length) await once(socket, "data");
      expect(Buffer.concat(received)).toEqual(Buffer.concat([loggedIn(), readyForQuery]));
      expect(socket).toBeInstanceOf(TLSSocket);
      expect(Object.hasOwn(socket, "emit")).toBe(false); // the login's watch took itself out
      socket.destroy();
    });

    it("gives up on a server that never answers the TLS request at connect_timeout, as not connected", async () => {
      const held = new Set<Socket>();
      const silent = createServer((socket) => held.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = silent.address() as { port: number };
        const policy: LoginPolicy = { methods: new Set(["scram-sha-256"]), tls: "require", hint: "" };
        const socket = await guardedConnections(policy).socket({ host: ["127.0.0.1"], port: [port], path: undefined, connect_timeout: 1 });
        const failed = once(socket, "error");
        socket.write(startupMessage());
        expect(((await failed)[0] as { code?: string }).code).toBe("CONNECT_TIMEOUT");
      } finally {
        for (const socket of held) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it("still sends no password in clear text inside the TLS session", async () => {
      stranger = await fakePostgres(asking(cleartextRequest), tls);
      const refused = await firstQuery(urlOf(stranger.port, "?sslmode=require"));
      expect(refused?.message).toMatch(/clear text.*not sent/);
      expect(stranger.tlsSessions).toBe(1);
      expect(stranger.answers()).toEqual([]);
    });
  });
});

describe("DATABASE_URL pointing at a real PostgreSQL that uses SCRAM", () => {
  const url = inject("postgresUrl");

  it("logs in, and the pool closes without waiting", async () => {
    const sql = connect(url, settings);
    const [row] = await sql<{ answer: number }[]>`select 42 as answer`;
    expect(row?.answer).toBe(42);
    await sql.end(); // no timeout: a socket postgres.js cannot say goodbye on would hang here
  });

  it("with sslmode=prefer falls back to a plain connection; with sslmode=require says the server has no TLS", async () => {
    expect(await firstQuery(`${url}?sslmode=prefer`)).toBeNull();
    expect((await firstQuery(`${url}?sslmode=require`))?.message).toMatch(/does not offer TLS, which sslmode=require in DATABASE_URL requires/);
  });

  it("after logging in, postgres.js talks over the plain socket, with nothing of the guard left in its path", async () => {
    const { options, made } = keptSockets({ methods: new Set(["scram-sha-256", "none"]), tls: "disable", hint: "" });
    const sql = postgres(url, { max: 1, ...options });
    try {
      const [row] = await sql<{ answer: number }[]>`select ${41}::int + 1 as answer`;
      expect(row?.answer).toBe(42);
      expect(made).toHaveLength(1);
      expect(made[0]).toBeInstanceOf(Socket);
      expect(Object.hasOwn(made[0] as object, "emit")).toBe(false);
    } finally {
      await sql.end();
    }
  });

  it("stops on a require_auth it does not know, naming it", () => {
    expect(() => connect(`${url}?require_auth=scram-sha-256,kerberos`, settings)).toThrow(/require_auth=kerberos/);
  });
});

/** How long `work` took to settle, and how: "ok", the error's message, or "no answer" after `limitMs`. */
async function timed(work: () => Promise<unknown>, limitMs: number): Promise<{ ms: number; outcome: string }> {
  const start = performance.now();
  const outcome = await Promise.race([
    work().then(
      () => "ok",
      (err: unknown) => (err as Error).message,
    ),
    sleep(limitMs).then(() => "no answer"),
  ]);
  return { ms: performance.now() - start, outcome };
}

describe("a PostgreSQL that stops and comes back", () => {
  let dir: string;
  let server: EmbeddedServer;
  let sql: postgres.Sql;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vmres-restart-"));
    chmodSync(dir, 0o755); // as root the server runs as `postgres`, which must enter the folder
    server = await openEmbedded(join(dir, "pg"), { port: 0, log: testLog });
    // One connection: a connection that a failed login left unable to write would be the only one.
    sql = connect(server.url, { ...settings, poolSize: 1 }, server.login);
  });
  afterAll(async () => {
    await sql?.end({ timeout: 1 });
    await server?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("fails queries at once while it is down, and answers again within seconds of its return, LISTEN included", async () => {
    const heard: string[] = [];
    await sql.listen("restart_test", (payload) => heard.push(payload));
    await sql`select 1`;
    const port = server.port;
    await server.release();

    // postgres.js's own backoff made these wait up to 20 s; connect_timeout is 30 s.
    for (let i = 0; i < 3; i++) {
      const down = await timed(() => sql`select 1`, 10_000);
      expect(down.outcome).toMatch(/ECONNREFUSED|shutting down/);
      expect(down.ms).toBeLessThan(3000);
    }
    await sleep(1000); // the LISTEN connection keeps trying meanwhile

    server = await openEmbedded(join(dir, "pg"), { port, log: testLog });
    // Before the fix this connection had been left unable to write, and hung until connect_timeout.
    const back = await timed(() => sql`select 1`, 10_000);
    expect(back.outcome).toBe("ok");
    expect(back.ms).toBeLessThan(5000);
    const deadline = performance.now() + 5000;
    while (!heard.includes("back") && performance.now() < deadline) {
      await sql.notify("restart_test", "back");
      await sleep(200);
    }
    expect(heard).toContain("back");
  }, 60_000);

  it("says, as net.Socket does, that an error closed the connection: postgres.js backs off only then", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const socket = await guardedConnections(server.login).socket({ host: ["127.0.0.1"], port: [port], path: undefined });
    const failed = once(socket, "error");
    const closed = new Promise<unknown>((resolve) => socket.once("close", resolve));
    socket.write(startupMessage()); // as postgres.js does as soon as it has the socket
    expect(((await failed)[0] as Error).message).toMatch(/ECONNREFUSED/);
    expect(await closed).toBe(true);
  });
});
