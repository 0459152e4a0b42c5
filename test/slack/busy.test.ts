import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE } from "../helpers/slack-requests.js";
import { addVms, slash, startHarness, textOf, vmRow, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ LOCK_TIMEOUT_MS: "300" });
  await h.fake.waitFor("auth.test");
  await addVms(h.core, "busy", 1);
});
afterAll(async () => h.stop());

describe("a database busy past LOCK_TIMEOUT_MS", () => {
  it("answers a check-in that could not get the VM's lock as busy and retryable, and changes nothing", async () => {
    await slash(h, "checkout busy", ALICE.id);
    // Another session holds the VM's row, as a long admin transaction would.
    const other = postgres(h.database.url, { max: 1, onnotice: () => {} });
    try {
      await other.begin(async (tx) => {
        await tx`select id from vms where name = 'busy-1' for update`;
        const reply = await slash(h, "checkin busy-1", ALICE.id);
        expect(textOf(reply.body)).toContain("vmres is busy right now and nothing changed");
        expect(textOf(reply.body)).not.toContain("unexpected error");
      });
    } finally {
      await other.end();
    }
    expect(await vmRow(h.core, "busy-1")).toEqual({ state: "checked_out", holder: ALICE.id });
    const again = await slash(h, "checkin busy-1", ALICE.id);
    expect(textOf(again.body)).toContain("is checked in");
  });
});
