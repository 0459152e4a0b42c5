/**
 * The outbox dispatcher has a pool of its own (OUTBOX_DB_CONNECTIONS): a burst
 * of checkouts holding every connection of the service's pool does not keep
 * the DMs they caused waiting for one (issue 18, "command → DM").
 */
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkout } from "../../src/core/checkout.js";
import { loadConfig } from "../../src/config.js";
import { coreFor } from "../helpers/db.js";
import { addVms, dmsTo, isDmTo, startHarness, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ OUTBOX_DB_CONNECTIONS: "2" });
  await h.fake.waitFor("auth.test");
  await addVms(h.core, "busy", 2);
});
afterAll(async () => h.stop());

describe("the outbox dispatcher's own pool", () => {
  it("delivers a checkout's DM while every connection of the service's pool is held", async () => {
    const main = h.service.context.database.sql;
    const size = main.options.max;
    // Every connection of the service's pool, held as fifty checkouts in their transactions hold them.
    const held: postgres.ReservedSql[] = await Promise.all(Array.from({ length: size }, () => main.reserve()));
    try {
      expect(held).toHaveLength(size);
      // Checked out by another process (the test's own pool), which notifies the service's dispatcher.
      const elsewhere = coreFor(h.database, { defaultPool: "busy" });
      const out = await checkout(elsewhere, { person: { slackUserId: "U0BUSY0001" }, source: "cli" }, { pool: "busy" });
      expect(out.ok).toBe(true);
      const [dm] = await h.fake.waitFor((c) => c.method === "chat.postMessage" && c.failure === undefined && isDmTo(c.body.channel, "U0BUSY0001"), { timeoutMs: 8000 });
      expect(JSON.stringify(dm?.body)).toMatch(/busy-\d/);
    } finally {
      for (const connection of held) connection.release();
    }
    expect(dmsTo(h.fake, "U0BUSY0001")).toHaveLength(1);
  });

  it("refuses a size of 0 or above 20, naming the setting and what it takes", () => {
    for (const bad of ["0", "21", "two"]) {
      expect(() => loadConfig({ OUTBOX_DB_CONNECTIONS: bad }, null)).toThrow(/OUTBOX_DB_CONNECTIONS.*a number of connections from 1 to 20/s);
    }
    expect(loadConfig({}, null).OUTBOX_DB_CONNECTIONS).toBe(4);
  });
});
