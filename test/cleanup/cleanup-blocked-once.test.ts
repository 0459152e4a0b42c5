import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { finishCleanup } from "../../src/core/cleanup/finish-cleanup.js";
import { cleanupBlockedBy } from "../../src/cleanup/private-keys.js";
import { cleanupPolicy } from "../../src/cleanup/settings.js";
import { claimDueCleanups } from "../../src/core/cleanup/claim-due-cleanups.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import type { LabHost } from "../lab/lab.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { addVmsFor, borrowAndReturnAll, outboxOf, testSettings } from "./helpers.js";

/** VMs nobody connects to: the key is missing, so no attempt ever reaches them. */
const unreachable = (n: number) => Array.from({ length: n }, (_, i) => ({ ip: `198.51.100.${i + 1}`, user: "root", port: 22, hostKeyFingerprint: null }) as unknown as LabHost);

describe("the admin alert for a missing SSH private key", () => {
  let database: Database;
  let core: Core;

  beforeEach(async () => {
    database = await freshDatabase({ poolSize: 30 });
    core = coreFor(database, { defaultQuota: 1000 });
  });
  afterEach(async () => {
    await database.close();
  });

  /** Claims every due VM as `replica` and finishes each, all at once, as blocked by `keyFile`. */
  async function blockAll(replica: string, keyFile: string): Promise<void> {
    const settings = testSettings(keyFile);
    const claims = await claimDueCleanups(core.db.$client, replica, 100);
    const error = cleanupBlockedBy(`cannot read SSH private key file ${keyFile}: ENOENT: no such file or directory`);
    const finished = await Promise.all(claims.map((claim) => finishCleanup(core.db.$client, claim, { kind: "blocked", keyFile, error }, cleanupPolicy(settings), { durationMs: 0, keyFile })));
    expect(finished.map((f) => f.kind)).toEqual(claims.map(() => "blocked"));
  }

  it("is queued once when two replicas find 24 VMs blocked by the same key at the same moment", async () => {
    await addVmsFor(core, "many", unreachable(24));
    await borrowAndReturnAll(core, "many");
    // Half for each replica, both claimed before either finishes: every finish is a VM newly blocked, racing for the alert.
    const settings = testSettings("/nowhere/id_ed25519");
    const [a, b] = await Promise.all([claimDueCleanups(core.db.$client, "replica-a", 12), claimDueCleanups(core.db.$client, "replica-b", 12)]);
    const error = cleanupBlockedBy("cannot read SSH private key file /nowhere/id_ed25519: ENOENT: no such file or directory");
    await Promise.all(
      [...a!, ...b!].map((claim) => finishCleanup(core.db.$client, claim, { kind: "blocked", keyFile: "/nowhere/id_ed25519", error }, cleanupPolicy(settings), { durationMs: 0, keyFile: "/nowhere/id_ed25519" })),
    );
    expect([...a!, ...b!]).toHaveLength(24);
    expect(await outboxOf(core.db, "cleanup_blocked")).toEqual([
      { keyFile: "/nowhere/id_ed25519", error, vms: expect.any(Array), waiting: expect.any(Number), instance: expect.stringMatching(/^replica-[ab]$/) },
    ]);
  });

  it("is queued once per key file: a second missing key is a second alert", async () => {
    await addVmsFor(core, "one", unreachable(3));
    await borrowAndReturnAll(core, "one");
    await blockAll("replica-a", "/first/key");
    await core.db.execute(sql`update vms set cleanup_next_at = now(), cleanup_last_error = null where state = 'cleaning'`);
    await blockAll("replica-a", "/second/key");
    expect((await outboxOf(core.db, "cleanup_blocked")).map((n) => n.keyFile)).toEqual(["/first/key", "/second/key"]);
  });
});
