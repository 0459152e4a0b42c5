import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Core } from "../../src/core/types.js";
import { commandProvider, commandSettingsSchema } from "../../src/provision/command.js";
import { providerSettingsProblem } from "../../src/provision/providers.js";
import type { ProvisionSettings } from "../../src/provision/settings.js";
import { ProvisionWorker } from "../../src/provision/worker.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";

/** The operator's executables, as small sh scripts in a folder of the test's own. */
let dir: string;
const script = (name: string, body: string): string => {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
};
const provider = (steps: Record<string, string>, timeoutMs: number) => commandProvider(commandSettingsSchema.parse(steps), timeoutMs);

/** Whether a process is gone (a zombie nobody has reaped yet counts as gone: it runs nothing). */
const gone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
};
const eventuallyGone = async (pid: number, withinMs = 5000): Promise<boolean> => {
  const until = Date.now() + withinMs;
  while (!gone(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return gone(pid);
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vmres-command-provider-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the command provider's steps", () => {
  it("a step whose script waits on a child that hangs fails at PROVIDER_TIMEOUT_MS, and the child is killed with it", async () => {
    // `stop REF`: the script starts a long child (as `curl` or `terraform` would be) and waits for it.
    const stop = script("stop-hangs", 'sleep 300 &\necho $! > "$1"\nwait');
    const pidFile = join(dir, "hung-child.pid");
    const started = Date.now();
    await expect(provider({ create: stop, stop, delete: stop, save_image: stop, delete_image: stop, list: stop }, 1000).stop(pidFile)).rejects.toThrow(
      /stop \(.*stop-hangs\) did not finish within 1000 ms/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await eventuallyGone(Number(readFileSync(pidFile, "utf8")))).toBe(true);
  }, 30_000);

  it("a step that exits is done at once, even if it left a process behind holding its output", async () => {
    const create = script("create-leaves-child", 'sleep 300 &\necho $! > "$2.pid"\nprintf \'{"ref":"r-1","ip":"203.0.113.9"}\\n\'');
    const name = join(dir, "leaver");
    const started = Date.now();
    const made = await provider({ command: create }, 60_000).create({ name, source: "img", pool: "p" });
    expect(made).toEqual({ ref: "r-1", ip: "203.0.113.9", sshUser: "root", sshPort: 22 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await eventuallyGone(Number(readFileSync(`${name}.pid`, "utf8")))).toBe(true);
  }, 30_000);

  it("reads a step's output as UTF-8 when a character arrives split between two writes", async () => {
    // "é" is \303\251: the first write ends after its first byte, the second starts with its second.
    const list = script("list-split", "printf '[{\"name\":\"caf\\303'\nsleep 0.3\nprintf '\\251\",\"ref\":\"r-2\"}]\\n'");
    expect(await provider({ command: list }, 60_000).list("p")).toEqual([{ name: "café", ref: "r-2" }]);
  }, 30_000);
});

describe("the provisioner with a command provider whose create hangs", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let core: Core;
  beforeAll(async () => {
    database = await freshDatabase({ poolSize: 4 });
    core = coreFor(database);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("fails the job at PROVIDER_TIMEOUT_MS, frees its slot and tells the person and the admins", async () => {
    // One executable for every step: create hangs in a child, the rest (the undo's delete) succeed.
    const command = script("provider-create-hangs", 'if [ "$1" = create ]; then sleep 300 & wait; fi\nexit 0');
    const set = await setProvisioning(core, { person: "operator", source: "cli" }, "hangs", {
      provider: "command", image: "base", maxSize: 2, providerSettings: { command },
    }, providerSettingsProblem);
    expect(set.ok).toBe(true);
    const settings: ProvisionSettings = {
      concurrency: 1, maxAttempts: 1, backoffMs: 0, providerTimeoutMs: 1000, sshTimeoutMs: 1000, pollMs: 100,
      claimTimeoutMs: 10_000, imageRetentionMs: 86_400_000, listIntervalMs: 0, orphans: "report",
    };
    const worker = new ProvisionWorker({ core, log: testLog, instanceId: "test-hang", settings });
    const asked = await checkoutFromPool(core, { person: { slackUserId: "U0000001" }, source: "slack" }, { pool: "hangs" });
    if (!asked.ok || asked.value.kind !== "creating") throw new Error(`expected a create: ${JSON.stringify(asked)}`);

    const started = Date.now();
    expect(await worker.runDue("hangs")).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(worker.runningCount).toBe(0);
    const [job] = await core.db.execute<{ state: string; last_error: string }>(sql`select state::text, last_error from provider_jobs where id = ${asked.value.creating.jobId}`);
    expect(job?.state).toBe("failed");
    expect(job?.last_error).toMatch(/create .* did not finish within 1000 ms/);
    const [notice] = await core.db.execute<{ payload: { job: string; error: string } }>(sql`select payload from outbox where kind = 'provision_failed'`);
    expect(notice?.payload.job).toBe("create");
  }, 60_000);
});
