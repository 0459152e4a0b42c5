import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { connect } from "../../src/db/client.js";
import { testLog } from "../helpers/db.js";
import { asking, cleartextRequest, fakePostgres, md5Request, type FakePostgres } from "./fake-postgres.js";

const SECRET = "database-url-password";
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

  it("stops on a require_auth it does not know, naming it", () => {
    expect(() => connect(`${url}?require_auth=scram-sha-256,kerberos`, settings)).toThrow(/require_auth=kerberos/);
  });
});
