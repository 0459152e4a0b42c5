import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupBlockedBy } from "../../src/cleanup/private-keys.js";
import { addVm } from "../../src/core/admin.js";
import { CLEANUP_BLOCKED_PREFIX } from "../../src/core/queries.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { ALERT_KINDS, stepsFor } from "../../src/slack/deliveries/index.js";
import type { DeliveryContext } from "../../src/slack/deliveries/step.js";
import { renderHome } from "../../src/slack/home/publish-home.js";
import { coreFor, freshDatabase, userId } from "../helpers/db.js";

const ADMIN = "UADMIN01";
const KEY_GONE = cleanupBlockedBy("cannot read SSH private key file /etc/vmres/id_ed25519: ENOENT: no such file or directory");
const KEY_USELESS = cleanupBlockedBy("cannot use SSH private key file /etc/vmres/pool-b: it holds no private key");

describe("App Home while cleanup is blocked by vmres's own key", () => {
  let database: Database;
  let core: Core;

  beforeAll(async () => {
    database = await freshDatabase();
    core = coreFor(database, { bootstrapAdmins: new Set([ADMIN]) });
    // Three VMs wait for one key, one for another, one failed for a reason of its own (not blocked).
    const lastErrors = [KEY_GONE, KEY_GONE, KEY_GONE, KEY_USELESS, "could not connect: ECONNREFUSED"];
    for (const [i, error] of lastErrors.entries()) {
      const added = await addVm(core, { person: "operator", source: "cli" }, { name: `vm-${i}`, ip: `198.51.100.${i + 1}`, pool: "p", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
      expect(added.ok).toBe(true);
      await core.db.execute(sql`update vms set state = 'cleaning', cleanup_next_at = now(), cleanup_last_error = ${error} where name = ${`vm-${i}`}`);
    }
  });
  afterAll(async () => database.close());

  const text = async (user: string) => JSON.stringify(await renderHome(core, user));

  it("tells an admin that cleanup is blocked, why, and how many VMs wait for each reason", async () => {
    const home = await text(ADMIN);
    expect(home).toContain("*Cleanup is blocked*");
    expect(home).toContain("cannot read SSH private key file /etc/vmres/id_ed25519: ENOENT: no such file or directory\\n3 VMs wait in cleaning.");
    expect(home).toContain("cannot use SSH private key file /etc/vmres/pool-b: it holds no private key\\n1 VM waits in cleaning.");
    expect(home).not.toContain("ECONNREFUSED");
  });

  it("shows nothing of it to someone who is not an admin", async () => {
    expect(await text(userId(7))).not.toContain("Cleanup is blocked");
  });

  it("says nothing once no VM waits for a key", async () => {
    await core.db.execute(sql`update vms set cleanup_last_error = null`);
    expect(await text(ADMIN)).not.toContain("Cleanup is blocked");
  });
});

describe("the cleanup_blocked notice", () => {
  it("is found by the Home query in the words the cleanup writes", () => {
    expect(KEY_GONE.startsWith(CLEANUP_BLOCKED_PREFIX)).toBe(true);
  });

  it("is an admin alert, summarised with the others when older than NOTICE_MAX_AGE", () => {
    const ctx = { core: { admins: new Set<string>() } } as unknown as DeliveryContext;
    const steps = stepsFor({ kind: "cleanup_blocked", keyFile: "/k", error: cleanupBlockedBy("cannot read SSH private key file /k: ENOENT"), vms: ["v"], waiting: 1, instance: "h:1" }, ctx);
    expect(steps.filter((s) => s.once).map((s) => s.once && s.audience)).toEqual([{ kind: "admins", staleLine: "cleanup blocked: vmres could not read its SSH private key file `/k`" }]);
    expect(ALERT_KINDS).toContain("cleanup_blocked");
  });
});
