import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openEmbedded, type EmbeddedServer } from "../../src/db/embedded.js";
import { createLogger } from "../../src/log.js";
import {
  asking,
  cleartextRequest,
  fakePostgres,
  loggedIn,
  md5Request,
  scramWithoutProof,
  type ClientMessage,
  type FakePostgres,
} from "./fake-postgres.js";

const log = createLogger("silent", "test");
const PASSWORD = "the-embedded-superuser-password";
const modeOf = (path: string) => statSync(path).mode & 0o777;

/** A pid no process has any more. */
const deadPid = () => spawnSync("true").pid ?? 2 ** 22 + 1;

describe("a start over a record left by an older vmres, whose port a stranger now holds", () => {
  const dir = mkdtempSync(join(tmpdir(), "vmres-embedded-"));
  chmodSync(dir, 0o755); // run as root, the server runs as `postgres`, which must enter it
  const root = join(dir, "postgres");
  let stranger: FakePostgres;
  let server: EmbeddedServer | undefined;

  beforeAll(async () => {
    stranger = await fakePostgres(asking(cleartextRequest));
    // As vmres used to leave it: folder and owner.json readable by everyone, the owner gone.
    mkdirSync(root, { mode: 0o755 });
    chmodSync(root, 0o755);
    writeFileSync(join(root, "password"), PASSWORD + "\n", { mode: 0o600 });
    writeFileSync(join(root, "owner.json"), JSON.stringify({ pid: deadPid(), port: stranger.port }) + "\n");
    chmodSync(join(root, "owner.json"), 0o644);
    server = await openEmbedded(root, { port: 0, log });
  });
  afterAll(async () => {
    await server?.release();
    await stranger.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends the stranger no password, and starts its own server on another port", () => {
    expect(stranger.answers()).toEqual([]);
    expect(server?.port).not.toBe(stranger.port);
    expect(JSON.parse(readFileSync(join(root, "owner.json"), "utf8"))).toEqual({ pid: process.pid, port: server?.port });
  });

  it("leaves owner.json, the password and their folder closed to other users", () => {
    expect(modeOf(join(root, "owner.json"))).toBe(0o600);
    expect(modeOf(join(root, "password"))).toBe(0o600);
    if (process.getuid?.() === 0) {
      // The server runs as `postgres`: it may pass through to pgdata, but not list the folder or read the files.
      expect(modeOf(root)).toBe(0o710);
      expect(statSync(root).gid).toBe(statSync(join(root, "pgdata")).gid);
    } else {
      expect(modeOf(root)).toBe(0o700);
    }
  });
});

describe("a start that finds, on the port its data folder names, a server that is not ours", () => {
  let dir: string;
  let stranger: FakePostgres | undefined;
  let startedAnyway: EmbeddedServer | undefined;
  afterEach(async () => {
    await startedAnyway?.release();
    startedAnyway = undefined;
    await stranger?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A folder whose postmaster.pid names this very process and the stranger's
   * port: it passes every check made before connecting (a live pid, holding
   * the listening socket), as a recycled pid might, so only the login is left
   * to tell the stranger apart.
   */
  async function startFacing(script: (message: ClientMessage, send: (bytes: Buffer) => void) => void): Promise<Error | null> {
    stranger = await fakePostgres(script);
    dir = mkdtempSync(join(tmpdir(), "vmres-embedded-"));
    const pgdata = join(dir, "pgdata");
    mkdirSync(pgdata, { mode: 0o700 });
    const started = Math.floor(Date.now() / 1000);
    writeFileSync(join(pgdata, "postmaster.pid"), `${process.pid}\n${pgdata}\n${started}\n${stranger.port}\n\n127.0.0.1\n0 0\nready\n`);
    writeFileSync(join(dir, "password"), PASSWORD + "\n", { mode: 0o600 });
    writeFileSync(join(dir, "owner.json"), JSON.stringify({ pid: process.pid, port: stranger.port }) + "\n", { mode: 0o600 });
    return openEmbedded(dir, { port: 0, log }).then(
      (server) => ((startedAnyway = server), null),
      (err: unknown) => err as Error,
    );
  }

  it("does not answer a request for the password in clear text, and says why it stops", async () => {
    const refused = await startFacing(asking(cleartextRequest));
    expect(refused?.message).toMatch(/clear text.*not sent.*not it/);
    expect(stranger?.answers()).toEqual([]);
  });

  it("does not answer a request for an MD5 hash of the password", async () => {
    const refused = await startFacing(asking(md5Request));
    expect(refused?.message).toMatch(/MD5.*not sent/);
    expect(stranger?.answers()).toEqual([]);
  });

  it("does not take a server that lets it in without asking for the password", async () => {
    const refused = await startFacing(asking(loggedIn));
    expect(refused?.message).toMatch(/without a password/);
  });

  it("does not take a server that goes through SCRAM but never proves it knows the password", async () => {
    const refused = await startFacing(scramWithoutProof());
    expect(refused?.message).toMatch(/without proving it knows the password/);
    // SCRAM answers only prove knowledge to the server's own salt and nonce: the password itself never travels.
    for (const answer of stranger?.answers() ?? []) expect(answer.body.toString("utf8")).not.toContain(PASSWORD);
  });
});
