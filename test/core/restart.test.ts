import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm, drainVm } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { migrateDatabase, openDatabase, type Database } from "../../src/db/client.js";
import { openEmbedded } from "../../src/db/embedded.js";
import { coreFor, testLog } from "../helpers/db.js";

/**
 * These tests run their own embedded PostgreSQL in a folder of their own, the
 * way the bot and the CLI share .data/postgres. The folder is made directly
 * under the system temp dir: as root the server runs as `postgres`, which must
 * reach it (openEmbedded makes the folder itself 0755, not its parents).
 */
let dir: string;
const open = () => openDatabase({ embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: 4, log: testLog });
const portOf = (database: Database) => Number(new URL(database.url).port);
const ownerRecord = () => JSON.parse(readFileSync(join(dir, "owner.json"), "utf8")) as { pid: number; port: number };
const operator = { person: "operator", source: "cli" } as const;

/** Whether anything accepts TCP connections on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Every VM's state, holder and times, exactly as stored (text, so no precision is lost). */
async function vmStates(database: Database) {
  return database.db.execute(sql`
    select v.name, v.state, p.name as holder, c.started_at::text as checked_out_at, v.state_changed_at::text, v.cleanup_next_at::text
    from vms v left join checkouts c on c.id = v.checkout_id left join people p on p.id = c.person_id order by v.name`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vmres-restart-"));
});

afterAll(async () => {
  // A failed test may leave the server running: adopt it and stop it before removing its folder.
  if (existsSync(join(dir, "owner.json"))) await (await openEmbedded(dir, { port: 0, log: testLog })).release();
  rmSync(dir, { recursive: true, force: true });
});

describe("the embedded server across restarts", () => {
  it("keeps every VM's state, holder and checkout time when the server stops and starts again", async () => {
    const first = await open();
    await migrateDatabase(first);
    const core = coreFor(first);
    for (let i = 1; i <= 5; i++) {
      const added = await addVm(core, operator, { name: `vm-0${i}`, ip: `198.51.100.${i}`, pool: "default", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
      expect(added.ok).toBe(true);
    }
    const lent: string[] = [];
    for (const user of ["UALICE01", "UBOB0001", "UCAROL01"]) {
      const r = await checkout(core, { person: { slackUserId: user }, source: "slack" });
      if (!r.ok) throw new Error(`checkout for ${user} refused: ${r.refusal.code}`);
      lent.push(r.value.name);
    }
    expect((await checkin(core, { person: { slackUserId: "UALICE01" }, source: "slack" }, lent[0]!)).ok).toBe(true);
    const idle = ["vm-01", "vm-02", "vm-03", "vm-04", "vm-05"].find((n) => !lent.includes(n))!;
    expect((await drainVm(core, operator, idle)).ok).toBe(true);
    const before = await vmStates(first);
    expect(before.map((v) => v.state).sort()).toEqual(["available", "checked_out", "checked_out", "cleaning", "maintenance"]);
    const port = portOf(first);

    await first.close();
    expect(existsSync(join(dir, "owner.json"))).toBe(false);
    expect(await listening(port)).toBe(false);

    const second = await open();
    try {
      expect(await vmStates(second)).toEqual(before);
    } finally {
      await second.close();
    }
  });

  it("recovers from an owner.json left by a dead process pointing at a port nothing listens on", async () => {
    const deadPid = await pidOfFinishedProcess();
    const unusedPort = await freePort();
    writeFileSync(join(dir, "owner.json"), JSON.stringify({ pid: deadPid, port: unusedPort }) + "\n");

    const database = await open();
    try {
      expect(ownerRecord()).toEqual({ pid: process.pid, port: portOf(database) });
      const [row] = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from vms`);
      expect(row).toEqual({ n: 5 });
    } finally {
      await database.close();
    }
    expect(existsSync(join(dir, "owner.json"))).toBe(false);
  });

  it("lets a second opener join the running server, and the first one's close leaves it running for the second", async () => {
    const first = await open();
    const second = await open();
    const port = portOf(first);
    expect(portOf(second)).toBe(port);
    // postgres.js connects lazily: a query makes the second opener actually connected.
    await second.db.execute(sql`select 1`);

    await first.close();
    expect(await listening(port)).toBe(true);
    const [row] = await second.db.execute<{ n: number }>(sql`select count(*)::int as n from vms`);
    expect(row).toEqual({ n: 5 });

    await second.close();
    expect(await listening(port)).toBe(false);
    expect(existsSync(join(dir, "owner.json"))).toBe(false);
  });
});

/** The pid of a process that has already exited (so no process has it, barring reuse). */
function pidOfFinishedProcess(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", () => resolve(child.pid!));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (address && typeof address === "object" ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
